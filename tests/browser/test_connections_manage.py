"""Enabling a connection and changing its settings in its row, with the keyboard alone, on the
sandbox over HTTP: the picker and the edit step take focus, Esc gives it back
to the button that opened them, the refusals Org Desk decides itself send nothing to Auth0."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from adminsite import auth0
from tests.browser.helpers import htmx_idle, message, open_org, press_until
from tests.helpers import mutations

pytestmark = pytest.mark.browser


def tenant_connection(name: str) -> auth0.Connection:
    return next(c for c in auth0.list_connections() if c.name == name)


def test_enable_then_edit_a_connection_with_keys(operator_page: Page, site: str, http_tenant):
    page = operator_page
    open_org(page, site, "acme")
    add = page.get_by_role("button", name="Add connection…")
    press_until(page, "Tab", add)
    page.keyboard.press("Enter")
    picker = page.get_by_test_id("add-connection")
    search = picker.get_by_role("searchbox", name="Filter by name or strategy")
    expect(search).to_be_focused()
    expect(picker.get_by_test_id("connection-option")).to_have_count(6)
    page.keyboard.press("Escape")  # closes the picker; focus back on its opener
    expect(page.get_by_test_id("add-connection")).to_have_count(0)
    expect(add).to_be_focused()

    page.keyboard.press("Enter")
    expect(search).to_be_focused()
    page.keyboard.type("partners")
    options = picker.get_by_test_id("connection-option")
    expect(options).to_have_count(1)
    expect(options.first).to_have_text("partners-db")
    expect(picker.locator(".badge")).to_have_text("auth0")  # the strategy, shown
    htmx_idle(page)  # the option settled (its hx-* bound) before Enter
    page.keyboard.press("Tab")
    expect(options.first).to_be_focused()
    page.keyboard.press("Enter")  # the chosen connection's settings
    step = page.get_by_test_id("add-connection-settings")
    membership = step.get_by_role("checkbox", name=re.compile("Membership on login"))
    signup = step.get_by_role("checkbox", name=re.compile("Signup"))
    expect(membership).to_be_focused()
    expect(membership).not_to_be_checked()
    expect(step.get_by_role("checkbox", name=re.compile("Show as button"))).to_have_count(0)
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(signup).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(step.get_by_role("button", name="Enable the connection")).to_be_focused()
    page.keyboard.press("Enter")

    db = tenant_connection("partners-db")
    row = page.locator(f"#conn-{db.id}")
    expect(message(page)).to_contain_text("Enabled the connection partners-db")
    expect(row).to_be_focused()  # the new row, in place
    expect(row.locator('td[data-label="Signup"]')).to_have_text("Yes")
    expect(page.get_by_test_id("connection-row")).to_have_count(7)
    assert [m["method"] for m in mutations(http_tenant)] == ["POST"]

    # The edit step: Esc closes it and gives focus back to its opener.
    edit = row.get_by_role("button", name="Edit settings…")
    press_until(page, "Tab", edit, limit=5)
    page.keyboard.press("Enter")
    editing = page.get_by_test_id("edit-settings")
    membership = editing.get_by_role("checkbox", name=re.compile("Membership on login"))
    expect(membership).to_be_focused()
    expect(membership).to_be_checked()  # prefilled from Auth0
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("edit-settings")).to_have_count(0)
    expect(edit).to_be_focused()

    # Signup without membership on login is refused before the call; the step stays open.
    page.keyboard.press("Enter")
    expect(membership).to_be_focused()
    page.keyboard.press("Space")  # membership off, signup still on
    press_until(page, "Tab", editing.get_by_role("button", name="Save settings"), limit=5)
    page.keyboard.press("Enter")
    expect(message(page)).to_contain_text("needs membership on login")
    expect(editing.locator("[data-row-outcome]")).to_have_text("Not saved: see the message")
    expect(editing).to_be_focused()  # the step, unlocked again: Esc can close it now
    assert [m["method"] for m in mutations(http_tenant)] == ["POST"]

    page.keyboard.press("Escape")
    expect(edit).to_be_focused()
    page.keyboard.press("Enter")  # open again, from what Auth0 says now
    expect(membership).to_be_focused()  # the step is in and bound: Tab starts from here
    expect(membership).to_be_checked()
    signup = editing.get_by_role("checkbox", name=re.compile("Signup"))
    press_until(page, "Tab", signup, limit=3)
    page.keyboard.press("Space")  # signup off
    press_until(page, "Tab", editing.get_by_role("button", name="Save settings"), limit=3)
    page.keyboard.press("Enter")
    expect(message(page)).to_contain_text("Saved the settings of partners-db here: signup off")
    expect(row).to_be_focused()
    expect(row.locator('td[data-label="Signup"]')).to_have_text("No")
    patch = mutations(http_tenant)[-1]
    assert patch["method"] == "PATCH" and patch["json"] == {"is_signup_enabled": False}


def test_enterprise_connection_offers_a_button_and_no_signup(
    operator_page: Page, site: str, http_tenant
):
    page = operator_page
    open_org(page, site, "acme")
    page.get_by_role("button", name="Add connection…").focus()
    page.keyboard.press("Enter")
    picker = page.get_by_test_id("add-connection")
    expect(picker.get_by_role("searchbox")).to_be_focused()
    page.keyboard.type("azure")
    expect(picker.get_by_test_id("connection-option")).to_have_count(1)
    # The filtered options are swapped in, then settled by htmx (their hx-* bound): Enter on
    # an option not yet settled does nothing (CI saw the step never open).
    htmx_idle(page)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    step = page.get_by_test_id("add-connection-settings")
    expect(step.get_by_role("checkbox", name=re.compile("Show as button"))).to_be_checked()
    expect(step.get_by_role("checkbox", name=re.compile("Signup"))).to_have_count(0)
    expect(step).to_contain_text("Signup: only for database connections")
    expect(step.locator(":focus")).to_have_count(1)  # settled: the step holds focus
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Add connection…")).to_be_focused()
    assert mutations(http_tenant) == []


def test_the_eleventh_connection_is_refused_before_any_call(
    operator_page: Page, site: str, http_tenant
):
    page = operator_page
    oid = open_org(page, site, "acme")
    for name in ("partners-db", "contoso-azure-ad", "github", "linkedin"):
        auth0.add_enabled_connection(org_id=oid, connection_id=tenant_connection(name).id)
    page.reload()
    expect(page.get_by_test_id("connection-row")).to_have_count(10)
    http_tenant.clear_log()
    add = page.get_by_role("button", name="Add connection…")
    press_until(page, "Tab", add)
    page.keyboard.press("Enter")
    picker = page.get_by_test_id("add-connection")
    expect(picker).to_contain_text("already has 10 enabled connections, Auth0's limit of 10")
    expect(picker.get_by_test_id("connection-option")).to_have_count(0)
    expect(picker.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(add).to_be_focused()
    assert mutations(http_tenant) == []
