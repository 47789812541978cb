"""Steps shared by the browser tests."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.helpers import org_id


def sign_in(page: Page, site: str, username: str, password: str) -> None:
    page.goto(site + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Organizations")).to_be_visible()


def open_org(page: Page, site: str, name: str) -> str:
    oid = org_id(name)
    page.goto(f"{site}/orgs/{oid}/")
    expect(page.get_by_test_id("connection-row").first).to_be_visible()
    expect(page.get_by_test_id("member-row").first).to_be_visible()
    return oid


def message(page: Page):
    """The newest flash message (htmx adds new ones on top)."""
    return page.locator("#messages .message").first
