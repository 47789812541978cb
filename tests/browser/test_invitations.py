"""Invitations in Debian's chromium, on the sandbox over HTTP: invite by keyboard (a link to copy),
revoke through its confirm step (Esc cancels), resend, expired ones in words, and the limits
refused before any call."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from adminsite.audit.models import Action, AuditEntry, Outcome
from tests.browser.helpers import message, open_org, press_until
from tests.helpers import mutations

pytestmark = pytest.mark.browser


def to_invitation_row(page: Page, email: str):
    """j, row by row (connections, members, then invitations), to the invitation for `email`."""
    row = page.get_by_test_id("invitation-row").filter(has_text=email)
    press_until(page, "j", row, limit=150)
    return row


def open_invitations(page: Page, site: str) -> str:
    oid = open_org(page, site, "acme")
    expect(page.get_by_test_id("invitation-row")).to_have_count(4)
    page.wait_for_load_state()
    return oid


def test_expired_invitations_are_marked_in_words(operator_page: Page, site: str) -> None:
    open_invitations(operator_page, site)
    late = operator_page.get_by_test_id("invitation-row").filter(has_text="late.joiner@")
    expect(late.get_by_test_id("expired")).to_have_text("Expired")
    expect(operator_page.get_by_test_id("expired")).to_have_count(1)


def test_invite_by_keyboard_for_a_link_to_copy(operator_page: Page, site: str, http_tenant):
    page = operator_page
    open_invitations(page, site)
    to_invitation_row(page, "late.joiner@acme.example")  # the last invitation
    opener = page.get_by_role("button", name="Invite…")
    press_until(page, "Shift+Tab", opener, limit=20)
    page.keyboard.press("Enter")
    form = page.get_by_test_id("invite-form")
    email = form.get_by_label("Email", exact=True)
    expect(email).to_be_focused()
    page.keyboard.type("keyboard.person@example.org")
    page.keyboard.press("Tab")
    expect(form.get_by_label("Application")).to_be_focused()
    press_until(page, "Tab", form.get_by_role("checkbox").first, limit=5)
    page.keyboard.press("Space")
    expect(form.get_by_role("checkbox").first).to_be_checked()
    press_until(page, "Tab", form.get_by_label("Send the invitation email"), limit=80)
    page.keyboard.press("ArrowDown")  # the radio group: "Just give me the link"
    expect(form.get_by_label("Just give me the link (to copy; no email)")).to_be_checked()
    press_until(page, "Tab", form.get_by_role("button", name="Send the invitation"), limit=3)
    page.keyboard.press("Enter")

    panel = page.get_by_test_id("invite-link")
    link = panel.get_by_label("Invitation link")
    expect(link).to_be_focused()
    expect(link).to_have_value(re.compile(r"[?&]invitation=[A-Za-z0-9]+"))
    expect(message(page)).to_contain_text("Invited keyboard.person@example.org")
    page.keyboard.press("Tab")
    expect(panel.get_by_role("button", name="Copy link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(panel.get_by_role("status")).to_have_text(re.compile(r"Copied\.|Press Ctrl\+C"))
    page.keyboard.press("Escape")  # closes the panel, focus back on "Invite…"
    expect(page.get_by_test_id("invite-link")).to_have_count(0)
    expect(opener).to_be_focused()
    expect(page.get_by_test_id("invitation-row").filter(has_text="keyboard.person@")).to_have_count(
        1
    )
    [post] = mutations(http_tenant)
    assert post["json"]["send_invitation_email"] is False and len(post["json"]["roles"]) == 1
    entry = AuditEntry.objects.get(action=Action.INVITE)
    assert entry.outcome == Outcome.SUCCESS and "invitation=" not in str(entry.after)


def test_escape_cancels_the_invite_form(operator_page: Page, site: str, http_tenant):
    page = operator_page
    open_invitations(page, site)
    opener = page.get_by_role("button", name="Invite…")
    opener.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("invite-form").get_by_label("Email", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("invite-form")).to_have_count(0)
    expect(opener).to_be_focused()
    assert mutations(http_tenant) == []


def test_revoke_through_its_confirm_step_by_keyboard(operator_page: Page, site: str, http_tenant):
    page = operator_page
    open_invitations(page, site)
    row = to_invitation_row(page, "late.joiner@acme.example")
    expect(row).to_be_focused()
    page.keyboard.press("Enter")  # the row's opener: Revoke…
    confirm = page.get_by_test_id("confirm-revoke")
    expect(confirm).to_contain_text("Revoke the invitation for late.joiner@acme.example?")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")  # cancels; focus back on the button that opened it
    expect(page.get_by_test_id("confirm-revoke")).to_have_count(0)
    revoke = page.get_by_role("button", name=re.compile(r"^Revoke… \(the invitation for late"))
    expect(revoke).to_be_focused()
    assert mutations(http_tenant) == []

    page.keyboard.press("Enter")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(confirm.get_by_role("button", name="Revoke the invitation")).to_be_focused()
    page.keyboard.press("Enter")
    expect(message(page)).to_contain_text("Revoked the invitation for late.joiner@acme.example")
    expect(page.get_by_test_id("invitation-row")).to_have_count(3)
    assert [m["method"] for m in mutations(http_tenant)] == ["DELETE"]
    entry = AuditEntry.objects.get(action=Action.REVOKE_INVITATION)
    assert entry.is_restorable


def test_resend_by_keyboard_puts_the_new_invitation_in_place(
    operator_page: Page, site: str, http_tenant
):
    page = operator_page
    open_invitations(page, site)
    old = to_invitation_row(page, "late.joiner@acme.example")
    old_id = old.get_attribute("id")
    page.keyboard.press("Tab")  # the row's first button: Resend
    expect(old.get_by_role("button", name=re.compile("^Resend"))).to_be_focused()
    page.keyboard.press("Enter")
    expect(message(page)).to_contain_text("Sent the invitation to late.joiner@acme.example again")
    new = page.get_by_test_id("invitation-row").filter(has_text="late.joiner@")
    expect(new).to_be_focused()
    assert new.get_attribute("id") != old_id
    expect(new.get_by_test_id("expired")).to_have_count(0)  # a fresh lifetime
    assert [m["method"] for m in mutations(http_tenant)] == ["DELETE", "POST"]


def _expect_400(console_errors: list[str]) -> None:
    """A refusal answers 400 (htmx keeps the page; the message says why): chromium logs it."""
    console_errors[:] = [e for e in console_errors if "status of 400" not in e]


def test_51_roles_are_refused_before_any_call(
    operator_page: Page, site: str, http_tenant, console_errors
):
    page = operator_page
    open_invitations(page, site)
    page.get_by_role("button", name="Invite…").click()
    form = page.get_by_test_id("invite-form")
    form.get_by_label("Email", exact=True).fill("many.roles@example.org")
    boxes = form.get_by_role("checkbox")
    expect(boxes).to_have_count(50)  # the first page of tenant roles
    for i in range(50):
        boxes.nth(i).check()
    search = form.get_by_role("searchbox", name="Search roles")
    search.fill("Viewer")
    expect(form.get_by_role("checkbox", checked=False).first).to_be_visible()
    form.get_by_role("checkbox", checked=False).first.check()  # a 51st
    expect(form.get_by_role("checkbox", checked=True)).to_have_count(51)
    form.get_by_role("button", name="Send the invitation").click()
    expect(message(page)).to_contain_text("Pick at most 50 roles.")
    _expect_400(console_errors)
    assert mutations(http_tenant) == []
    assert not AuditEntry.objects.exists()


def test_more_than_30_days_is_refused_before_any_call(
    operator_page: Page, site: str, http_tenant, console_errors
):
    page = operator_page
    open_invitations(page, site)
    page.get_by_role("button", name="Invite…").click()
    form = page.get_by_test_id("invite-form")
    form.get_by_label("Email", exact=True).fill("long.lived@example.org")
    days = form.get_by_label("Valid for (days, 1 to 30)")
    days.fill("31")
    form.get_by_role("button", name="Send the invitation").click()
    assert days.evaluate("e => !e.checkValidity()")  # the browser says so first
    days.evaluate("e => e.removeAttribute('max')")  # and the server, without the browser
    form.get_by_role("button", name="Send the invitation").click()
    expect(message(page)).to_contain_text("Auth0 keeps an invitation valid for at most 30 days.")
    _expect_400(console_errors)
    assert mutations(http_tenant) == []
