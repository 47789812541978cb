"""Adding and removing members with the keyboard alone, on the sandbox over HTTP: add a member
by email with a role through the review, remove one through its confirm step, Esc cancels both
(focus back on what opened them), and restore the removed member from the audit log."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from adminsite import auth0
from adminsite.templatetags.orgdesk import dom_id
from tests.browser.helpers import focused, message, open_org, press_until
from tests.helpers import mutations, org_id

pytestmark = pytest.mark.browser

ZOE = "auth0|60a7c3e2f1b8d90068c1e2a3"  # Zoë Ångström, a member of Acme with one role


def _outsider() -> auth0.Member:
    """Someone of the tenant who is not a member of Acme."""
    return auth0.list_members(org_id=org_id("big-co"), take=1).members[0]


def test_add_a_member_by_email_with_a_role(operator_page: Page, site: str, http_tenant):
    page = operator_page
    oid = open_org(page, site, "acme")
    person = _outsider()
    role = auth0.list_roles(per_page=50)[0]
    opener = page.get_by_role("button", name="Add members…")
    press_until(page, "Tab", opener)
    page.keyboard.press("Enter")
    form = page.get_by_test_id("add-members-form")
    expect(form).to_be_visible()
    expect(form.get_by_label(re.compile("one email or user id a line"))).to_be_focused()
    page.keyboard.type(person.email)
    press_until(page, "Tab", form.get_by_role("checkbox", name=role.name))
    page.keyboard.press("Space")
    http_tenant.clear_log()
    press_until(page, "Tab", form.get_by_role("button", name="Review…"))
    page.keyboard.press("Enter")

    confirm = page.get_by_test_id("add-members-confirm")
    expect(confirm).to_contain_text(person.name)
    expect(confirm).to_contain_text(person.user_id)
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice first
    assert mutations(http_tenant) == []  # only the lookup so far
    page.keyboard.press("Shift+Tab")
    expect(focused(page)).to_have_text("Add the ticked people")
    page.keyboard.press("Enter")

    expect(message(page)).to_contain_text(f"Added {person.name}")
    expect(page.get_by_test_id("add-members-form")).to_have_count(0)
    expect(page.get_by_test_id("add-members-confirm")).to_have_count(0)
    expect(opener).to_be_focused()  # ready to add more
    row = page.locator(f"#{dom_id(person.user_id, 'member')}")
    expect(row).to_contain_text(person.email)
    expect(row.get_by_test_id("roles-cell")).to_contain_text(role.name)
    assert person.user_id in {m.user_id for m in auth0.list_members(org_id=oid).members}


def test_esc_closes_the_add_form_and_the_remove_step(operator_page: Page, site: str, http_tenant):
    page = operator_page
    open_org(page, site, "acme")
    opener = page.get_by_role("button", name="Add members…")
    press_until(page, "Tab", opener)
    page.keyboard.press("Enter")
    form = page.get_by_test_id("add-members-form")
    expect(form.get_by_role("textbox")).to_be_focused()  # htmx has settled the new content
    page.keyboard.type("someone@example.com")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("add-members-form")).to_have_count(0)
    expect(opener).to_be_focused()

    row = page.locator(f"#{dom_id(ZOE, 'member')}")
    remove = row.get_by_role("button", name=re.compile("^Remove Zoë"))
    press_until(page, "Tab", remove, limit=200)
    page.keyboard.press("Enter")
    confirm = page.get_by_test_id("confirm-remove-member")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("confirm-remove-member")).to_have_count(0)
    expect(row.get_by_role("button", name=re.compile("^Remove Zoë"))).to_be_focused()
    assert mutations(http_tenant) == []


def test_remove_a_member_then_restore_from_the_audit_log(
    operator_page: Page, site: str, http_tenant
):
    page = operator_page
    oid = open_org(page, site, "acme")
    held = auth0.get_member_roles(org_id=oid, user_id=ZOE)
    row = page.locator(f"#{dom_id(ZOE, 'member')}")
    following = row.locator("xpath=following-sibling::tr[1]")
    next_id = following.get_attribute("id")
    press_until(page, "Tab", row.get_by_role("button", name=re.compile("^Remove Zoë")), limit=200)
    page.keyboard.press("Enter")
    confirm = page.get_by_test_id("confirm-remove-member")
    expect(confirm).to_contain_text("Zoë Ångström")
    expect(confirm).to_contain_text("zoe.angstrom@acme.example")
    expect(confirm).to_contain_text("lose access through this organization")
    for role in held:
        expect(confirm).to_contain_text(role.name)
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(focused(page)).to_have_text("Remove the member")
    page.keyboard.press("Enter")
    expect(message(page)).to_contain_text("Removed Zoë Ångström")
    expect(row).to_have_count(0)
    expect(page.locator(f"#{next_id}")).to_be_focused()  # the next row
    assert ZOE not in {m.user_id for m in auth0.list_members(org_id=oid).members}

    page.goto(f"{site}/audit/")
    entry = page.locator("main table.grid tbody tr").first
    expect(entry).to_contain_text("Remove member")
    expect(entry).to_contain_text("Zoë Ångström")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    restore = page.get_by_role("button", name="Restore the member")
    expect(restore).to_be_visible()
    press_until(page, "Tab", restore)
    page.keyboard.press("Enter")
    expect(message(page)).to_contain_text("Restored Zoë Ångström")
    assert {r.id for r in auth0.get_member_roles(org_id=oid, user_id=ZOE)} == {r.id for r in held}
