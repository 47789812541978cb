"""Browser: the header's search box takes what a ticket gives to the right page, with the
keyboard, on the sandbox over real HTTP."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from adminsite import auth0

pytestmark = pytest.mark.browser


def _search(page: Page, text: str) -> None:
    page.keyboard.press("/")  # the shortcut puts the cursor in the box
    box = page.get_by_role("searchbox", name="Search")
    expect(box).to_be_focused()
    box.fill(text)
    box.press("Enter")


def test_part_of_a_name_pages_through_results_and_back(operator_page: Page, site: str) -> None:
    page = operator_page
    _search(page, "holdings")
    expect(page).to_have_url(re.compile(r"/orgs/search/\?q=holdings$"))
    results = page.get_by_test_id("search-results").get_by_role("link")
    expect(results).to_have_count(50)
    first = results.first.inner_text()
    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"q=holdings&from="))
    expect(results.first).not_to_have_text(first)
    expect(results.first).to_contain_text(re.compile("holdings", re.I))
    page.go_back()
    expect(results.first).to_have_text(first)
    page.reload()  # the URL is the search: a reload (or a link in a ticket) shows it again
    expect(results.first).to_have_text(first)
    results.first.focus()  # the keyboard moves through results and opens one
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("org-display-name")).to_have_text(first)


def test_an_organization_id_opens_it(operator_page: Page, site: str) -> None:
    acme = auth0.get_organization_by_name(name="acme")
    _search(operator_page, acme.id)
    expect(operator_page.get_by_test_id("org-display-name")).to_have_text(acme.display_name)


def test_a_shared_email_lists_accounts_and_one_opens(
    operator_page: Page, site: str, http_tenant
) -> None:
    page = operator_page
    counts: dict[str, int] = {}
    for user in http_tenant.store.users.values():
        email = (user.get("email") or "").lower()
        counts[email] = counts.get(email, 0) + 1
    shared = next(e for e, n in counts.items() if e and n >= 2)
    _search(page, shared)
    links = page.get_by_test_id("search-results").get_by_role("link")
    expect(links).to_have_count(counts[shared])
    links.first.click()
    expect(page.get_by_test_id("person")).to_contain_text(re.compile(re.escape(shared), re.I))


def test_a_user_id_opens_the_person_with_roles_in_each_organization(
    operator_page: Page, site: str
) -> None:
    page = operator_page
    user_id = "samlp|acme-saml|jane/doe@acme.example"
    orgs = auth0.list_user_organizations(user_id=user_id)
    assert orgs
    _search(page, user_id)
    expect(page).to_have_url(re.compile(re.escape(quote(user_id, safe=""))))
    expect(page.get_by_test_id("person")).to_contain_text(user_id)
    rows = page.get_by_test_id("person-organization")
    expect(rows).to_have_count(len(orgs))
    for org in orgs:
        roles = auth0.get_member_roles(org_id=org.id, user_id=user_id)
        row = rows.filter(has_text=org.display_name)
        cell = row.get_by_test_id("roles-cell")
        expect(cell).to_be_visible()  # loaded as the row appeared
        for role in roles:
            expect(cell).to_contain_text(role.name)
        if not roles:
            expect(cell).to_contain_text("No roles")


def test_the_person_page_assigns_a_role_in_one_organization(operator_page: Page, site: str) -> None:
    page = operator_page
    [jane] = auth0.users_by_email(email="jane@acme.example")
    org = auth0.list_user_organizations(user_id=jane.user_id)[0]
    held = {r.id for r in auth0.get_member_roles(org_id=org.id, user_id=jane.user_id)}
    role = next(r for r in auth0.list_roles(per_page=50) if r.id not in held)
    _search(page, "jane@acme.example")
    row = page.get_by_test_id("person-organization").filter(has_text=org.display_name)
    row.get_by_role("button", name="Add roles…").click()
    picker = row.get_by_test_id("role-picker")
    picker.locator(f'input[name="roles"][value="{role.id}"]').check()
    picker.get_by_role("button", name="Assign selected roles").click()
    expect(row.get_by_test_id("roles-cell")).to_contain_text(role.name)
    assert role.id in {r.id for r in auth0.get_member_roles(org_id=org.id, user_id=jane.user_id)}


def test_without_auth0_search_the_page_says_results_may_be_incomplete(
    operator_page: Page, site: str, http_tenant
) -> None:
    http_tenant.disable_search(404)
    _search(operator_page, "acme")
    expect(operator_page.get_by_test_id("search-incomplete")).to_contain_text("(404)")
    expect(operator_page.get_by_test_id("search-results")).to_contain_text("Acme")


def test_roles_of_a_persons_organizations_load_four_at_a_time(
    operator_page: Page, site: str, http_tenant
) -> None:
    page = operator_page
    [jane] = auth0.users_by_email(email="jane@acme.example")
    orgs = auth0.list_user_organizations(user_id=jane.user_id)
    assert len(orgs) > 4  # more rows than may load at once
    in_flight: list[str] = []
    most = [0]

    def started(request) -> None:
        if "/members/roles/" in request.url:
            in_flight.append(request.url)
            most[0] = max(most[0], len(in_flight))

    def answered(response) -> None:  # its headers are in: the script may start the next one
        if response.request.url in in_flight:
            in_flight.remove(response.request.url)

    page.on("request", started)
    page.on("response", answered)
    http_tenant.latency = 0.3  # slow enough for the rows' requests to overlap
    page.goto(f"{site}/orgs/people/?user_id={quote(jane.user_id, safe='')}")
    expect(page.get_by_test_id("roles-cell")).to_have_count(len(orgs))
    assert most[0] == 4


def test_person_page_screenshot(operator_page: Page, site: str, tmp_path) -> None:
    """The README's picture of a person across organizations (written to docs/ when
    ORGDESK_SCREENSHOT is set)."""
    page = operator_page
    page.set_viewport_size({"width": 1280, "height": 820})
    _search(page, "jane@acme.example")
    expect(page.get_by_test_id("roles-cell")).to_have_count(5)
    docs = Path(__file__).resolve().parents[2] / "docs"
    target = docs if os.environ.get("ORGDESK_SCREENSHOT") else tmp_path
    page.screenshot(path=target / "person.png")
    assert (target / "person.png").stat().st_size > 10_000


def test_the_header_search_box_fits_a_phone(operator_page: Page, site: str) -> None:
    """The box in the header must not push the page sideways at 390 px."""
    page = operator_page
    page.set_viewport_size({"width": 390, "height": 800})
    for path in ("/orgs/", "/orgs/search/?q=jane%40acme.example"):
        page.goto(site + path)
        expect(page.get_by_role("searchbox", name="Search")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
