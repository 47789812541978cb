"""Fixtures of the browser tests: the live server with the sandbox over real HTTP, chromium's
console errors (any one fails the test), a signed-in operator's page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, Page

from tests.browser.helpers import sign_in


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def on_dialog(dialog: Dialog) -> None:
        errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return errors


@pytest.fixture
def site(live_server, http_tenant, console_errors):
    """The live server's URL; after the test, no console error may have happened."""
    yield live_server.url
    assert console_errors == []


@pytest.fixture
def operator_page(page: Page, site: str, operator) -> Page:
    sign_in(page, site, "olivia", "pw-operator")
    return page
