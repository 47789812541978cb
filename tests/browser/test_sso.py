"""Browser tests behind the SSO proxy: Chromium sends the proxy's headers itself.

The live server runs in this process, so the `settings` fixture switches SSO on for it; Chromium
connects from 127.0.0.1, which the tests either trust (the proxy's address) or do not.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Browser, BrowserContext, Page, expect

from adminsite import auth0
from tests.helpers import mutations, org_id

pytestmark = pytest.mark.browser

ALICE = "alice@example.com"
OPERATOR_GROUPS = "staff,orgdesk-operators"


@pytest.fixture
def sso(settings):
    settings.SSO_USER_HEADER = "X-Forwarded-Email"
    settings.SSO_GROUPS_HEADER = "X-Forwarded-Groups"
    settings.SSO_OPERATOR_GROUPS = ["orgdesk-operators"]
    settings.SSO_TRUSTED_PROXIES = ["127.0.0.1/32", "::1"]
    return settings


@pytest.fixture
def console_errors() -> list[str]:
    return []


@pytest.fixture
def proxied(browser: Browser, live_server, http_tenant, sso, console_errors):
    """A browser context whose every request carries the proxy's headers, like behind it."""
    contexts: list[BrowserContext] = []

    def open_as(email: str, groups: str) -> Page:
        context = browser.new_context(
            extra_http_headers={"X-Forwarded-Email": email, "X-Forwarded-Groups": groups}
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda e: console_errors.append(str(e)))
        page.on(
            "console",
            lambda m: (
                console_errors.append(m.text)
                if m.type == "error" and "status of 403" not in m.text  # the expected refusals
                else None
            ),
        )
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert console_errors == []


def open_acme(page: Page, site: str) -> str:
    oid = org_id("acme")
    page.goto(f"{site}/orgs/{oid}/")
    expect(page.get_by_test_id("connection-row").first).to_be_visible()
    expect(page.get_by_test_id("member-row").first).to_be_visible()
    return oid


def test_operator_and_viewer_see_different_controls(proxied, live_server, http_tenant) -> None:
    operator = proxied(ALICE, OPERATOR_GROUPS)
    oid = open_acme(operator, live_server.url)
    expect(operator.locator(".who")).to_have_text(f"{ALICE} · operator")
    rows = operator.get_by_test_id("connection-row")
    expect(rows.first.get_by_role("button", name="Remove…")).to_be_visible()
    expect(rows.first.get_by_role("button", name="domain-level…")).to_be_visible()
    expect(operator.get_by_role("button", name="Add roles…").first).to_be_visible()
    expect(operator.get_by_role("button", name="Remove role").first).to_be_visible()
    expect(operator.get_by_role("button", name="Sign out")).to_have_count(0)

    viewer = proxied("victor@example.com", "staff")
    open_acme(viewer, live_server.url)
    expect(viewer.locator(".who")).to_have_text("victor@example.com · viewer")
    for name in ("Remove…", "domain-level…", "Add roles…", "Remove role"):
        expect(viewer.get_by_role("button", name=name)).to_have_count(0)
    assert set(get_user_model().objects.values_list("username", flat=True)) == {
        ALICE,
        "victor@example.com",
    }

    # The operator's controls work: remove a connection, the row goes.
    conn = auth0.list_enabled_connections(org_id=oid)[0]
    http_tenant.clear_log()
    row = operator.locator(f"#conn-{conn.connection_id}")
    row.get_by_role("button", name="Remove…").click()
    operator.get_by_role("button", name="Remove the connection").click()
    expect(row).to_have_count(0)
    assert [m["method"] for m in mutations(http_tenant)] == ["DELETE"]


def test_leaving_the_operator_group_demotes_on_the_next_request(
    proxied, live_server, http_tenant
) -> None:
    page = proxied(ALICE, OPERATOR_GROUPS)
    oid = open_acme(page, live_server.url)
    conn = auth0.list_enabled_connections(org_id=oid)[0]
    row = page.locator(f"#conn-{conn.connection_id}")
    expect(row.get_by_role("button", name="Remove…")).to_be_visible()

    # The IdP drops Alice from the group; the page on screen still shows an operator's button.
    page.context.set_extra_http_headers({"X-Forwarded-Email": ALICE, "X-Forwarded-Groups": "staff"})
    http_tenant.clear_log()
    row.get_by_role("button", name="Remove…").click()
    expect(page.locator("#messages .message").first).to_contain_text("read-only access (viewer)")
    expect(row.get_by_role("button", name="Remove…")).to_be_visible()  # row left as it was
    assert mutations(http_tenant) == []

    page.reload()
    expect(page.get_by_test_id("connection-row").first).to_be_visible()
    expect(page.locator(".who")).to_have_text(f"{ALICE} · viewer")
    expect(page.get_by_role("button", name="Remove…")).to_have_count(0)


def test_headers_from_an_untrusted_address_are_not_honoured(
    proxied, live_server, http_tenant, sso
) -> None:
    sso.SSO_TRUSTED_PROXIES = ["10.0.3.0/24"]  # the proxy lives elsewhere; 127.0.0.1 is not it
    page = proxied(ALICE, OPERATOR_GROUPS)
    oid = org_id("acme")
    http_tenant.clear_log()
    response = page.goto(f"{live_server.url}/orgs/{oid}/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not signed in (403)")).to_be_visible()
    expect(page.get_by_test_id("sso-refused")).to_contain_text("did not come through it")
    expect(page.get_by_test_id("connection-row")).to_have_count(0)
    expect(page.locator(".who")).to_have_count(0)
    expect(page.get_by_label("Password")).to_have_count(0)  # no login form either
    assert not get_user_model().objects.filter(username=ALICE).exists()
    assert [c for c in http_tenant.requests_log if c["raw_path"].startswith("/api/")] == []


def test_missing_user_header_behind_the_proxy_is_refused(
    browser: Browser, live_server, http_tenant, sso
) -> None:
    context = browser.new_context(extra_http_headers={"X-Forwarded-Groups": "orgdesk-operators"})
    try:
        page = context.new_page()
        response = page.goto(live_server.url + "/")
        assert response is not None and response.status == 403
        expect(page.get_by_test_id("sso-refused")).to_contain_text(
            "did not say who you are (no X-Forwarded-Email header)"
        )
    finally:
        context.close()
