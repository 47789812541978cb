"""Browser tests: every support task (F1–F6) and the error messages, in Debian's chromium.

Org Desk runs on pytest-django's live server and talks to the sandbox tenant over real HTTP, as it
would to Auth0. Each test also fails on any console error (a CSP violation, an htmx error).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from adminsite import auth0
from tests.browser.helpers import message, open_org, sign_in
from tests.helpers import mutations, org_id

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_embedded_sandbox_banner_and_screenshot(
    page: Page, live_server, tenant, operator, console_errors, tmp_path
) -> None:
    """`make run`'s set-up: the in-process sandbox, with its banner. Also the README's picture
    (written to docs/ when ORGDESK_SCREENSHOT is set)."""
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server.url, "olivia", "pw-operator")
    expect(page.get_by_test_id("sandbox-banner")).to_be_visible()
    open_org(page, live_server.url, "acme")
    expect(page.get_by_test_id("sandbox-banner")).to_be_visible()
    target = DOCS if os.environ.get("ORGDESK_SCREENSHOT") else tmp_path
    page.screenshot(path=target / "screenshot.png")
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=target / "dark.png")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_test_id("member-row").first).to_be_visible()
    page.screenshot(path=target / "phone.png", full_page=False)
    for name in ("screenshot.png", "dark.png", "phone.png"):
        assert (target / name).stat().st_size > 10_000
    assert console_errors == []


# --- F1: organizations --------------------------------------------------------------------


def test_f1_sign_in_page_through_and_jump(page: Page, site: str, operator) -> None:
    page.goto(site + "/")
    page.get_by_label("Username").fill("olivia")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn't match")
    sign_in(page, site, "olivia", "pw-operator")

    rows = page.locator("#org-table tbody tr")
    expect(rows).to_have_count(50)
    first_page = rows.first.inner_text()
    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"\?from="))
    expect(rows.first).not_to_have_text(first_page)
    second_page = rows.first.inner_text()
    page.get_by_role("link", name="Next →").click()
    expect(rows.first).not_to_have_text(second_page)
    page.get_by_role("link", name="← Previous").click()
    expect(rows.first).to_have_text(second_page)
    page.get_by_role("link", name="← Previous").click()
    expect(rows.first).to_have_text(first_page)

    page.get_by_label("Go to organization").fill("no-such-org")
    page.get_by_role("button", name="Go").click()
    expect(message(page)).to_have_text("No organization has the name “no-such-org”.")
    page.get_by_label("Go to organization").fill("Acme")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_test_id("org-display-name")).to_have_text("Acme Corporation")


def test_f1_jump_by_id(operator_page: Page, site: str) -> None:
    oid = org_id("kabushiki")
    operator_page.get_by_label("Go to organization").fill(oid)
    operator_page.get_by_role("button", name="Go").click()
    expect(operator_page.get_by_test_id("org-display-name")).to_have_text("株式会社サンプル商事")
    expect(operator_page).to_have_url(re.compile(rf"/orgs/{oid}/$"))


# --- F2–F4: connections -------------------------------------------------------------------


def test_f2_connections_of_an_organization(operator_page: Page, site: str) -> None:
    oid = open_org(operator_page, site, "acme")
    enabled = auth0.list_enabled_connections(org_id=oid)
    rows = operator_page.get_by_test_id("connection-row")
    expect(rows).to_have_count(len(enabled))
    for conn in enabled:
        row = operator_page.locator(f"#conn-{conn.connection_id}")
        expect(row).to_contain_text(conn.name)


def test_f3_toggle_domain_level(operator_page: Page, site: str, http_tenant) -> None:
    oid = open_org(operator_page, site, "acme")
    index = auth0.domain_connection_index()
    conn = next(
        c
        for c in auth0.list_enabled_connections(org_id=oid)
        if not index[c.connection_id].is_domain_connection
    )
    row = operator_page.locator(f"#conn-{conn.connection_id}")
    expect(row).to_contain_text("Not domain-level")
    row.get_by_role("button", name="Make domain-level…").click()
    confirm = operator_page.get_by_test_id("confirm-domain-level")
    expect(confirm).to_contain_text("tenant-wide change")
    confirm.get_by_role("button", name="Cancel").click()
    expect(row.locator(".badge")).to_have_text("Not domain-level")
    assert mutations(http_tenant) == []

    row.get_by_role("button", name="Make domain-level…").click()
    operator_page.get_by_role("button", name=re.compile("Yes, make it domain-level")).click()
    expect(row.locator(".badge")).to_have_text("Domain-level")
    expect(message(operator_page)).to_contain_text("is now domain-level for the whole tenant")
    [patch] = mutations(http_tenant)
    assert patch["method"] == "PATCH" and patch["json"] == {"is_domain_connection": True}

    operator_page.reload()  # the change persisted upstream
    expect(row.locator(".badge")).to_have_text("Domain-level")
    row.get_by_role("button", name="Remove domain-level…").click()
    operator_page.get_by_role("button", name=re.compile("Yes, remove domain-level")).click()
    expect(row.locator(".badge")).to_have_text("Not domain-level")


def test_f4_remove_connection(operator_page: Page, site: str, http_tenant) -> None:
    oid = open_org(operator_page, site, "acme")
    before = auth0.list_enabled_connections(org_id=oid)
    conn = before[0]
    rows = operator_page.get_by_test_id("connection-row")
    row = operator_page.locator(f"#conn-{conn.connection_id}")
    row.get_by_role("button", name="Remove…").click()
    confirm = operator_page.get_by_test_id("confirm-remove")
    expect(confirm).to_contain_text("stops working for this organization's users")
    confirm.get_by_role("button", name="Remove the connection").click()
    expect(row).to_have_count(0)
    expect(rows).to_have_count(len(before) - 1)
    expect(message(operator_page)).to_contain_text(f"Removed the connection {conn.name}")
    assert [c.connection_id for c in auth0.list_enabled_connections(org_id=oid)] == [
        c.connection_id for c in before[1:]
    ]


# --- F5–F6: members and roles -------------------------------------------------------------


def test_f5_members_paging_and_email_search(operator_page: Page, site: str) -> None:
    open_org(operator_page, site, "big-co")
    rows = operator_page.get_by_test_id("member-row")
    expect(rows).to_have_count(50)
    first = rows.first.inner_text()
    members = operator_page.locator("#member-list")
    members.get_by_role("link", name="Next →").click()
    expect(rows.first).not_to_have_text(first, use_inner_text=True)
    members.get_by_role("link", name="← Previous").click()
    expect(rows.first).to_have_text(first, use_inner_text=True)

    open_org(operator_page, site, "acme")
    operator_page.get_by_label("Find by email or name").fill("jane.doe@acme.example")
    operator_page.get_by_role("button", name="Find").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("samlp|acme-saml|jane/doe@acme.example")
    operator_page.get_by_label("Find by email or name").fill("nobody@nowhere.example")
    operator_page.get_by_role("button", name="Find").click()
    expect(operator_page.locator("#member-list")).to_contain_text(
        "No member's email or name matches"
    )
    operator_page.get_by_label("Find by email or name").fill("Jane Sm")  # part of a name
    operator_page.get_by_role("button", name="Find").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("jane@acme.example")


@pytest.mark.parametrize(
    "user_id", ["samlp|acme-saml|jane/doe@acme.example", "oidc|corp/okta|00u1abc"]
)
def test_f6_assign_and_remove_roles(
    operator_page: Page, site: str, http_tenant, user_id: str
) -> None:
    oid = open_org(operator_page, site, "acme")
    before = {r.id for r in auth0.get_member_roles(org_id=oid, user_id=user_id)}
    role = next(r for r in auth0.list_roles() if r.id not in before)
    row = operator_page.get_by_test_id("member-row").filter(has_text=user_id)
    row.get_by_role("button", name="Add roles…").click()
    picker = row.get_by_test_id("role-picker")
    # Check the option only once the search's answer is in: checking one in the list it
    # replaces would be lost with it (and the assignment would carry no role).
    matching = len(auth0.list_roles(name_filter=role.name))
    picker.get_by_label("Search roles").fill(role.name)
    expect(picker.locator(".role-options label")).to_have_count(matching)
    expect(picker.locator(".role-options")).to_contain_text(role.name)
    option = picker.get_by_role("checkbox", name=role.name, exact=False).first
    option.check()
    expect(option).to_be_checked()
    picker.get_by_role("button", name="Assign selected roles").click()
    cell = row.get_by_test_id("roles-cell")
    expect(cell).to_contain_text(role.name)
    expect(message(operator_page)).to_contain_text(f"Assigned the role {role.name} to ")
    expect(message(operator_page)).to_contain_text(f"{user_id})")  # the id, as detail
    assert role.id in {r.id for r in auth0.get_member_roles(org_id=oid, user_id=user_id)}
    posts = [m for m in mutations(http_tenant) if m["method"] == "POST"]
    assert posts and posts[-1]["json"] == {"roles": [role.id]}

    cell.get_by_role("button", name=f"Remove role {role.name}…").click()
    keep = cell.get_by_role("button", name=f"Keep role {role.name}")
    expect(keep).to_be_focused()  # asks first, the safe choice focused
    keep.click()  # keeps it: nothing is sent
    expect(cell).to_contain_text(role.name)
    expect(keep).to_be_hidden()
    cell.get_by_role("button", name=f"Remove role {role.name}…").click()
    cell.get_by_role("button", name=f"Yes, remove role {role.name}").click()
    expect(cell).not_to_contain_text(role.name)
    expect(message(operator_page)).to_contain_text(f"Removed the role {role.name}")
    assert {r.id for r in auth0.get_member_roles(org_id=oid, user_id=user_id)} == before


def test_f6_role_limit_is_checked_before_calling(
    operator_page: Page, site: str, http_tenant
) -> None:
    oid = open_org(operator_page, site, "acme")
    user_id = "auth0|65f0a1b2c3d4e5f60718293a"  # 49 roles in acme
    assigned = {r.id for r in auth0.get_member_roles(org_id=oid, user_id=user_id)}
    row = operator_page.get_by_test_id("member-row").filter(has_text=user_id)
    row.get_by_role("button", name="Add roles…").click()
    picker = row.get_by_test_id("role-picker")
    expect(picker).to_contain_text("49 of 50 roles assigned")
    free = picker.locator(".role-options input[type=checkbox]:not([disabled])")
    expect(free.first).to_be_visible()
    free.nth(0).check()
    free.nth(1).check()
    http_tenant.clear_log()
    picker.get_by_role("button", name="Assign selected roles").click()
    expect(message(operator_page)).to_contain_text("Auth0 allows at most 50")
    assert mutations(http_tenant) == []
    assert {r.id for r in auth0.get_member_roles(org_id=oid, user_id=user_id)} == assigned


# --- Hostile data is text -----------------------------------------------------------------


def test_hostile_names_show_as_text(operator_page: Page, site: str) -> None:
    oid = org_id("hostile-html")
    operator_page.goto(f"{site}/orgs/{oid}/")
    expect(operator_page.get_by_test_id("org-display-name")).to_have_text(
        "<img src=x onerror=alert(1)>"
    )
    assert operator_page.locator("main img").count() == 0
    open_org(operator_page, site, "acme")
    expect(operator_page.get_by_test_id("members")).to_contain_text("<b>Bob</b> <script>x</script>")
    # (the `site` fixture fails the test on any dialog or console error)


# --- Error messages (spec section 2) ------------------------------------------------------


def test_403_missing_scope_message(operator_page: Page, site: str, http_tenant) -> None:
    oid = org_id("acme")
    http_tenant.set_scopes(["read:organizations", "read:organization_connections"])
    operator_page.goto(f"{site}/orgs/{oid}/")
    expect(operator_page.locator("#messages")).to_contain_text("missing the scope read:connections")
    expect(operator_page.locator("#member-list")).to_contain_text("could not be loaded")


def test_403_on_a_change_leaves_the_row(operator_page: Page, site: str, http_tenant) -> None:
    oid = open_org(operator_page, site, "acme")
    conn = auth0.list_enabled_connections(org_id=oid)[0]
    http_tenant.add_fault(
        method="DELETE",
        path=r"/enabled_connections/",
        status=403,
        body={
            "statusCode": 403,
            "error": "Forbidden",
            "message": "Insufficient scope, expected any of: delete:organization_connections",
            "errorCode": "insufficient_scope",
        },
    )
    row = operator_page.locator(f"#conn-{conn.connection_id}")
    row.get_by_role("button", name="Remove…").click()
    operator_page.get_by_role("button", name="Remove the connection").click()
    expect(message(operator_page)).to_contain_text("delete:organization_connections")
    expect(operator_page.get_by_test_id("confirm-remove")).to_be_visible()  # still there
    assert conn.connection_id in {
        c.connection_id for c in auth0.list_enabled_connections(org_id=oid)
    }


def test_429_message(operator_page: Page, site: str, http_tenant) -> None:
    reset = int(time.time()) + 120
    http_tenant.add_fault(
        method="GET",
        path=r"^/api/v2/organizations$",
        status=429,
        body={
            "statusCode": 429,
            "error": "Too Many Requests",
            "message": "Global limit has been reached",
            "errorCode": "too_many_requests",
        },  # noqa: E501
        headers={
            "x-ratelimit-limit": "50",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(reset),
        },
    )
    operator_page.goto(site + "/orgs/")
    expect(operator_page.locator("#messages")).to_contain_text("rate limiting Org Desk (429")
    expect(operator_page.locator("#org-table")).to_contain_text("could not be loaded")


def test_timeout_message(operator_page: Page, site: str, http_tenant, settings) -> None:
    settings.AUTH0_TIMEOUT = 0.5
    oid = open_org(operator_page, site, "acme")
    conn = auth0.list_enabled_connections(org_id=oid)[0]
    http_tenant.add_fault(method="PATCH", path=r"/api/v2/connections/", delay=2)
    row = operator_page.locator(f"#conn-{conn.connection_id}")
    row.get_by_role("button", name=re.compile("domain-level…")).click()
    operator_page.get_by_role("button", name=re.compile("Yes, ")).click()
    expect(message(operator_page)).to_contain_text("did not answer")
    expect(operator_page.get_by_test_id("confirm-domain-level")).to_be_visible()


def test_loading_indicator_shows_during_requests(
    operator_page: Page, site: str, http_tenant
) -> None:
    oid = org_id("acme")
    http_tenant.add_fault(method="GET", path=r"/enabled_connections", delay=1.0)
    operator_page.goto(f"{site}/orgs/{oid}/", wait_until="domcontentloaded")
    expect(operator_page.locator("#loading")).to_be_visible()
    expect(operator_page.get_by_test_id("connection-row").first).to_be_visible()
    expect(operator_page.locator("#loading")).to_be_hidden()
