"""Every support task with the keyboard alone: no click, no mouse, only keys, in Debian's chromium.

Focus follows the work (a confirm step takes it, Esc and Cancel give it back, a change leaves it
on its row), a running change owns its row, messages can be dismissed from the keyboard, and
the shortcuts (/ j k Enter Esc ?) never fire while typing in a field.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from adminsite import auth0
from tests.browser.helpers import focused, message, open_org, press_until
from tests.helpers import mutations, org_id

pytestmark = pytest.mark.browser


def first_connection(oid: str) -> auth0.EnabledConnection:
    return auth0.list_enabled_connections(org_id=oid)[0]


def test_open_an_organization_from_the_list_and_from_search(operator_page: Page, site: str):
    page = operator_page
    page.keyboard.press("j")
    first = page.locator("#org-table tbody tr").first
    expect(first).to_be_focused()
    name = first.get_by_role("link").inner_text()
    page.keyboard.press("j")
    expect(page.locator("#org-table tbody tr").nth(1)).to_be_focused()
    page.keyboard.press("k")
    expect(first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("org-display-name")).to_have_text(name)
    page.wait_for_load_state()  # the shortcuts work once the page's script has run

    page.keyboard.press("/")
    expect(page.get_by_role("searchbox", name="Search")).to_be_focused()
    page.keyboard.type("Acme")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/orgs/search/\?q=Acme"))
    page.keyboard.press("j")
    result = page.locator("main ul.results > li").first
    expect(result).to_be_focused()
    target = result.get_by_role("link").first.inner_text()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("org-display-name")).to_have_text(target)


def test_domain_level_through_its_confirm_with_keys(operator_page: Page, site: str, http_tenant):
    page = operator_page
    oid = open_org(page, site, "acme")
    conn = first_connection(oid)
    row = page.locator(f"#conn-{conn.connection_id}")
    page.keyboard.press("j")  # the first row of the page: this connection
    expect(row).to_be_focused()
    page.keyboard.press("Enter")  # opens the row's confirm step
    confirm = page.get_by_test_id("confirm-domain-level")
    expect(confirm).to_be_visible()
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice first
    page.keyboard.press("Shift+Tab")
    expect(confirm.get_by_role("button", name=re.compile("^Yes, "))).to_be_focused()
    page.keyboard.press("Enter")
    expect(message(page)).to_contain_text(conn.name)
    expect(row).to_be_focused()  # focus stays on the changed row
    expect(row.locator(".badge")).to_have_text("Domain-level")
    expect(row.locator("[data-row-outcome]")).to_have_text("Saved")
    assert [m["method"] for m in mutations(http_tenant)] == ["PATCH"]


def test_escape_and_cancel_give_focus_back_to_the_opener(operator_page: Page, site: str):
    page = operator_page
    oid = open_org(page, site, "acme")
    conn = first_connection(oid)
    row = page.locator(f"#conn-{conn.connection_id}")
    opener = row.get_by_role("button", name=re.compile("domain-level…"))
    remove = row.get_by_role("button", name="Remove…")
    page.keyboard.press("j")
    expect(focused(page)).to_have_attribute("data-testid", "connection-row")
    page.keyboard.press("Tab")
    expect(opener).to_be_focused()
    page.keyboard.press("Tab")
    expect(remove).to_be_focused()
    page.keyboard.press("Enter")
    expect(
        page.get_by_test_id("confirm-remove").get_by_role("button", name="Cancel")
    ).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("confirm-remove")).to_have_count(0)
    expect(remove).to_be_focused()  # the button that opened it, re-rendered

    page.keyboard.press("Shift+Tab")
    expect(opener).to_be_focused()
    page.keyboard.press("Enter")
    cancel = page.get_by_test_id("confirm-domain-level").get_by_role("button", name="Cancel")
    expect(cancel).to_be_focused()
    page.keyboard.press("Enter")  # Cancel, from the keyboard
    expect(page.get_by_test_id("confirm-domain-level")).to_have_count(0)
    expect(opener).to_be_focused()


def test_remove_a_connection_focus_goes_to_the_next_row(
    operator_page: Page, site: str, http_tenant
):
    page = operator_page
    oid = open_org(page, site, "acme")
    first, second = auth0.list_enabled_connections(org_id=oid)[:2]
    page.keyboard.press("j")
    expect(focused(page)).to_have_attribute("data-testid", "connection-row")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(
        page.locator(f"#conn-{first.connection_id}").get_by_role("button", name="Remove…")
    ).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Shift+Tab")  # from Cancel to the removal
    expect(page.get_by_role("button", name="Remove the connection")).to_be_focused()
    page.keyboard.press("Enter")
    expect(message(page)).to_contain_text(f"Removed the connection {first.name}")
    expect(page.locator(f"#conn-{first.connection_id}")).to_have_count(0)
    expect(page.locator(f"#conn-{second.connection_id}")).to_be_focused()
    assert [m["method"] for m in mutations(http_tenant)] == ["DELETE"]


def test_roles_picker_search_check_assign_and_remove_with_keys(
    operator_page: Page, site: str, http_tenant
):
    page = operator_page
    open_org(page, site, "acme")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to members")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("j")  # the first row after the focus: the first member
    row = page.get_by_test_id("member-row").first
    expect(row).to_be_focused()
    have = " ".join(row.locator(".chip").all_inner_texts())
    role = next(
        r for r in ("Compliance Manager", "Content Admin", "Partner Agent") if r not in have
    )
    page.keyboard.press("Enter")  # opens the role picker
    picker = row.get_by_test_id("role-picker")
    search = picker.get_by_role("searchbox", name="Search roles")
    expect(search).to_be_focused()
    page.keyboard.press("Escape")  # closes it, focus back on "Add roles…"
    expect(row.get_by_test_id("role-picker")).to_have_count(0)
    expect(row.get_by_role("button", name="Add roles…")).to_be_focused()

    page.keyboard.press("Enter")
    expect(search).to_be_focused()
    page.keyboard.type("j")  # typing in a field: no shortcut fires
    expect(search).to_be_focused()
    expect(search).to_have_value("j")
    page.keyboard.press("Backspace")
    page.keyboard.type(role)
    expect(picker.locator(".role-options label")).to_have_count(1)
    box = picker.get_by_role("checkbox", name=re.compile(role))
    expect(box).to_be_enabled()
    press_until(page, "Tab", box, limit=5)
    page.keyboard.press("Space")
    expect(box).to_be_checked()
    press_until(page, "Tab", picker.get_by_role("button", name="Assign selected roles"), limit=5)
    page.keyboard.press("Enter")
    chip = row.locator(".chip", has_text=role)
    expect(chip).to_be_visible()
    expect(row).to_be_focused()
    expect(message(page)).to_contain_text(role)

    remove = chip.get_by_role("button", name=re.compile("^Remove role"))
    press_until(page, "Tab", remove, limit=10)
    page.keyboard.press("Enter")  # asks first: focus on Keep
    expect(chip.get_by_role("button", name=re.compile("^Keep role"))).to_be_focused()
    page.keyboard.press("Escape")  # keeps it, focus back on ×
    expect(remove).to_be_focused()
    expect(chip.get_by_role("button", name=re.compile("^Keep role"))).to_be_hidden()
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Tab")  # from Keep to Remove
    expect(chip.get_by_role("button", name=re.compile("^Yes, remove role"))).to_be_focused()
    page.keyboard.press("Enter")
    expect(row.locator(".chip", has_text=role)).to_have_count(0)
    expect(row).to_be_focused()
    assert [m["method"] for m in mutations(http_tenant)] == ["POST", "DELETE"]


def test_paging_members_moves_focus_to_the_first_row(operator_page: Page, site: str):
    page = operator_page
    big = org_id("big-co")
    page.goto(f"{site}/orgs/{big}/")
    expect(page.get_by_test_id("member-row").first).to_be_visible()
    first_page = page.get_by_test_id("member-row").first.inner_text()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Skip to members
    pager = page.get_by_role("navigation", name="Pages of members")
    presses = press_until(page, "Tab", pager.get_by_role("link", name="Next →"), limit=5)
    assert presses <= 4  # the search box, its button, "Add members…", the pager: no rows
    page.keyboard.press("Enter")
    first = page.get_by_test_id("member-row").first
    expect(first).not_to_have_text(first_page, use_inner_text=True)
    expect(first).to_be_focused()


def test_paging_organizations_moves_focus_to_the_first_row(operator_page: Page, site: str):
    page = operator_page
    rows = page.locator("#org-table tbody tr")
    first_page = rows.first.inner_text()
    page.get_by_role("link", name="Next →").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"\?from="))
    expect(rows.first).not_to_have_text(first_page)
    expect(rows.first).to_be_focused()


def test_audit_rows_open_with_enter(operator_page: Page, site: str, http_tenant):
    page = operator_page
    oid = open_org(page, site, "acme")
    conn = first_connection(oid)
    page.keyboard.press("j")
    expect(focused(page)).to_have_attribute("data-testid", "connection-row")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(message(page)).to_contain_text(conn.name)
    page.goto(f"{site}/audit/")
    page.wait_for_load_state()
    page.keyboard.press("j")
    entry = page.get_by_test_id("audit-entry").first
    expect(entry).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/audit/\d+/$"))


def test_tab_count_from_the_top_to_the_members_pager(operator_page: Page, site: str):
    page = operator_page
    big = org_id("big-co")
    page.goto(f"{site}/orgs/{big}/")
    expect(page.get_by_test_id("member-row").first).to_be_visible()
    expect(page.get_by_test_id("connection-row").first).to_be_visible()
    pager = page.get_by_role("navigation", name="Pages of members")
    presses = press_until(page, "Tab", pager.get_by_role("link", name="Next →"))
    connections = page.get_by_test_id("connection-row").count()
    # skip links, header (with "Jobs"), crumbs, the organization's audit and jobs links, three
    # buttons a connection and "Add connection…", the members' search box and button, "Add
    # members…": nothing of the 50 member rows.
    assert presses <= 16 + 3 * connections, presses


def test_help_panel_and_shortcuts_do_not_fire_while_typing(operator_page: Page, site: str):
    page = operator_page
    page.keyboard.press("?")
    panel = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(panel).to_be_visible()
    for key in ("/", "j", "k", "Enter", "Esc", "?"):
        expect(
            panel.locator("kbd", has_text=re.compile(f"^{re.escape(key)}$")).first
        ).to_be_visible()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()

    page.keyboard.press("/")
    box = page.get_by_role("searchbox", name="Search")
    page.keyboard.type("j?k/")
    expect(box).to_have_value("j?k/")
    expect(panel).to_be_hidden()
    expect(page.locator("#org-table tbody tr").first).not_to_be_focused()


def test_a_running_change_owns_its_row(operator_page: Page, site: str, http_tenant):
    """While Auth0 is slow, the row is aria-busy, says Saving…, and neither its buttons nor Esc
    can start anything; the row then shows what Auth0 did, never a later Cancel."""
    page = operator_page
    oid = open_org(page, site, "acme")
    conn = first_connection(oid)
    http_tenant.add_fault(method="PATCH", path=r"/api/v2/connections/", delay=1.2)
    row = page.locator(f"#conn-{conn.connection_id}")
    page.keyboard.press("j")
    expect(focused(page)).to_have_attribute("data-testid", "connection-row")
    page.keyboard.press("Enter")
    confirm = page.get_by_test_id("confirm-domain-level")
    yes = confirm.get_by_role("button", name=re.compile("^Yes, "))
    cancel = confirm.get_by_role("button", name="Cancel")
    expect(cancel).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(confirm).to_have_attribute("aria-busy", "true")
    expect(confirm).to_contain_text("Saving…")
    expect(yes).to_be_disabled()
    expect(cancel).to_be_disabled()
    page.keyboard.press("Escape")  # would be Cancel: refused while the change runs
    cancel.dispatch_event("click")  # even a script's click on the disabled button does nothing
    expect(row.locator(".badge")).to_have_text("Domain-level")
    expect(row).not_to_have_attribute("aria-busy", "true")
    expect(row).to_be_focused()
    page.wait_for_timeout(300)  # a late Cancel would have swapped the row back by now
    expect(row.locator(".badge")).to_have_text("Domain-level")
    expect(page.get_by_test_id("confirm-domain-level")).to_have_count(0)
    assert [m["method"] for m in mutations(http_tenant)] == ["PATCH"]  # one change, no Cancel


def test_messages_are_dismissed_by_keyboard_successes_fade_errors_stay(
    operator_page: Page, site: str, http_tenant
):
    page = operator_page
    oid = open_org(page, site, "acme")
    conn = first_connection(oid)
    page.locator("#messages").evaluate("m => m.dataset.fadeMs = '400'")
    http_tenant.add_fault(method="PATCH", path=r"/api/v2/connections/", status=500)
    page.keyboard.press("j")
    expect(focused(page)).to_have_attribute("data-testid", "connection-row")
    page.keyboard.press("Enter")
    cancel = page.get_by_test_id("confirm-domain-level").get_by_role("button", name="Cancel")
    expect(cancel).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    error = page.locator("#messages .message-error")
    expect(error).to_contain_text("Auth0")
    expect(page.get_by_test_id("confirm-domain-level").locator("[data-row-outcome]")).to_have_text(
        "Not saved: see the message"
    )
    page.keyboard.press("Escape")  # closes the confirm step, focus back on its opener
    row = page.locator(f"#conn-{conn.connection_id}")
    expect(row.get_by_role("button", name=re.compile("domain-level…"))).to_be_focused()
    page.keyboard.press("Enter")
    expect(cancel).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # the fault was used up: this one succeeds
    success = page.locator("#messages .message-success")
    expect(success).to_contain_text(conn.name)
    expect(success).to_have_count(0, timeout=3000)  # faded
    expect(error).to_be_visible()  # errors stay
    dismiss = error.get_by_role("button", name="Dismiss message")
    press_until(page, "Tab", dismiss, limit=200)
    page.keyboard.press("Enter")
    expect(page.locator("#messages .message-error")).to_have_count(0)
