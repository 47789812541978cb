"""Browser tests for the audit log (F7): a removal shows up with its before-state and is restored
with its old settings; a failed change is in the log too; viewers read it but cannot restore.

Same set-up as tests/browser/test_pages.py: the live server, the sandbox over real HTTP,
chromium, and no console error allowed.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from adminsite import auth0
from adminsite.audit.models import Action, AuditEntry, Outcome
from tests.browser.helpers import message, open_org, sign_in
from tests.helpers import mutations, org_id

pytestmark = pytest.mark.browser

CONNECTION = "Username-Password-Authentication"  # membership, button and signup all on


def cells(page: Page, conn_id: str) -> list[str]:
    return [t.strip() for t in page.locator(f"#conn-{conn_id} td").all_inner_texts()]


def test_removed_connection_is_restored_from_the_audit_log(
    page: Page,
    site: str,  # noqa: F811
    http_tenant,
    operator,
) -> None:
    sign_in(page, site, "olivia", "pw-operator")
    oid = open_org(page, site, "acme")
    conn = next(c for c in auth0.list_enabled_connections(org_id=oid) if c.name == CONNECTION)
    assert (conn.assign_membership_on_login, conn.show_as_button, conn.is_signup_enabled) == (
        True,
        True,
        True,
    )
    before = cells(page, conn.connection_id)
    assert before[2:5] == ["Yes", "Yes", "Yes"]

    row = page.locator(f"#conn-{conn.connection_id}")
    row.get_by_role("button", name="Remove…").click()
    page.get_by_role("button", name="Remove the connection").click()
    expect(row).to_have_count(0)

    page.get_by_test_id("nav-audit").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    entry = page.get_by_test_id("audit-entry").first
    expect(entry).to_contain_text("Remove connection")
    expect(entry).to_contain_text(CONNECTION)
    expect(entry).to_contain_text("olivia")
    expect(entry).to_contain_text("Acme Corporation")
    expect(entry).to_contain_text("Membership on login: Yes")
    expect(entry).to_contain_text("Show as button: Yes")
    expect(entry).to_contain_text("Signup: Yes")
    expect(entry.get_by_test_id("audit-outcome")).to_have_text("Success")

    entry.get_by_role("link", name=re.compile("Restore…")).click()
    restore = page.get_by_test_id("audit-restore")
    expect(restore).to_contain_text("Membership on login: Yes")
    http_tenant.clear_log()
    restore.get_by_role("button", name="Restore the connection").click()
    expect(message(page)).to_contain_text(f"Restored the connection {CONNECTION}")
    expect(page.get_by_test_id("audit-restore")).to_contain_text("was restored by olivia")
    [post] = mutations(http_tenant)
    assert post["json"] == {
        "connection_id": conn.connection_id,
        "assign_membership_on_login": True,
        "show_as_button": True,
        "is_signup_enabled": True,
    }

    page.get_by_test_id("audit-org-link").click()
    expect(page.locator(f"#conn-{conn.connection_id}")).to_be_visible()
    assert cells(page, conn.connection_id)[:5] == before[:5]  # name, strategy and settings

    # The restore itself is in the log, linked to the removal.
    page.get_by_test_id("org-audit-link").click()
    newest = page.get_by_test_id("audit-entry").first
    expect(newest).to_contain_text("Restore connection")
    expect(newest).to_contain_text("of #")


def test_a_failed_change_appears_in_the_audit_log(
    page: Page,
    site: str,  # noqa: F811
    http_tenant,
    operator,
) -> None:
    sign_in(page, site, "olivia", "pw-operator")
    oid = open_org(page, site, "acme")
    index = auth0.domain_connection_index()
    conn = next(
        c
        for c in auth0.list_enabled_connections(org_id=oid)
        if not index[c.connection_id].is_domain_connection
    )
    http_tenant.add_fault(method="PATCH", path=r"^/api/v2/connections/", status=500)
    row = page.locator(f"#conn-{conn.connection_id}")
    row.get_by_role("button", name="Make domain-level…").click()
    page.get_by_role("button", name=re.compile("Yes, make it domain-level")).click()
    expect(message(page)).to_contain_text("500 server error")

    page.get_by_test_id("nav-audit").click()
    entry = page.get_by_test_id("audit-entry").first
    expect(entry).to_contain_text("Domain-level status")
    expect(entry).to_contain_text(conn.name)
    expect(entry).to_contain_text("Domain-level: No")  # the state before
    expect(entry.get_by_test_id("audit-outcome")).to_have_text("Failed (500)")
    expect(entry).not_to_contain_text("Restore…")


def test_viewer_reads_the_log_but_has_no_restore(
    page: Page,
    site: str,  # noqa: F811
    http_tenant,
    viewer,
) -> None:
    oid = org_id("acme")
    conn = auth0.list_enabled_connections(org_id=oid)[0]
    removal = AuditEntry.objects.create(
        username="olivia",
        action=Action.REMOVE_CONNECTION,
        org_id=oid,
        org_name="Acme Corporation",
        connection_id=conn.connection_id,
        connection_name=conn.name,
        outcome=Outcome.SUCCESS,
        before={"name": conn.name, "assign_membership_on_login": True, "show_as_button": True},
    )
    sign_in(page, site, "victor", "pw-viewer")
    page.get_by_test_id("nav-audit").click()
    entry = page.get_by_test_id("audit-entry").first
    expect(entry).to_contain_text(conn.name)
    expect(entry).not_to_contain_text("Restore…")
    entry.get_by_role("link", name=f"#{removal.pk}").click()
    expect(page.get_by_test_id("audit-restore")).to_contain_text("read-only access (viewer)")
    expect(page.get_by_role("button", name="Restore the connection")).to_have_count(0)
    # The filter by person narrows the list to nobody for the viewer himself.
    page.get_by_role("link", name="← Audit log").click()
    page.get_by_label("Person (username)").fill("victor")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("audit-entries")).to_contain_text("No changes match")
