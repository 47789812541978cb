"""Browser: htmx keeps no copy of the pages it swaps in the tab's storage (people's data is never
cached by the browser), and Back still shows the page before, fetched afresh from Org Desk."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from adminsite import auth0

pytestmark = pytest.mark.browser


def test_back_works_without_a_history_cache(operator_page: Page, site: str) -> None:
    page = operator_page
    first = auth0.list_organizations(take=50)
    second = auth0.list_organizations(from_=first.next, take=50)
    rows = page.locator("#org-table tbody tr")
    expect(rows.first).to_contain_text(first.organizations[0].id)
    page.get_by_role("link", name="Next →").click()
    expect(rows.first).to_contain_text(second.organizations[0].id)
    stored = page.evaluate("Object.keys(sessionStorage).concat(Object.keys(localStorage))")
    assert "htmx-history-cache" not in stored, stored
    page.go_back()
    expect(rows.first).to_contain_text(first.organizations[0].id)
    stored = page.evaluate("Object.keys(sessionStorage).concat(Object.keys(localStorage))")
    assert "htmx-history-cache" not in stored, stored
