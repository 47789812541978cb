"""Browser: Next → follows the tenant's opaque cursors (`|`, `+`, `/`, `=`, `&` in them) on the
organizations list and on an organization's members, in Debian's chromium over real HTTP."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from adminsite import auth0
from tests.helpers import org_id

pytestmark = pytest.mark.browser


def test_next_follows_opaque_cursors(operator_page: Page, site: str) -> None:  # noqa: F811
    page = operator_page
    first = auth0.list_organizations(take=50)
    second = auth0.list_organizations(from_=first.next, take=50)
    assert first.next and {"|", "+", "/", "=", "&"} <= set(first.next)
    rows = page.locator("#org-table tbody tr")
    expect(rows.first).to_contain_text(first.organizations[0].id)
    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"\?from=ck~1%7C"))
    expect(rows.first).to_contain_text(second.organizations[0].id)
    expect(rows.last).to_contain_text(second.organizations[-1].id)
    page.reload()  # the pushed URL is a real page: the cursor survives the address bar
    expect(rows.first).to_contain_text(second.organizations[0].id)

    big = org_id("big-co")
    members_first = auth0.list_members(org_id=big, take=50)
    members_second = auth0.list_members(org_id=big, from_=members_first.next, take=50)
    page.goto(f"{site}/orgs/{big}/")
    members = page.get_by_test_id("member-row")
    expect(members.first).to_contain_text(members_first.members[0].user_id)
    page.locator("#member-list").get_by_role("link", name="Next →").click()
    expect(members.first).to_contain_text(members_second.members[0].user_id)
    expect(members).to_have_count(len(members_second.members))
