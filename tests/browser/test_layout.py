"""Browser tests of the layout: no page scrolls sideways on a phone or at 400 % zoom, table headers
never break inside a word, and the dark scheme and the focus ring apply."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import open_org

pytestmark = pytest.mark.browser

SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"

# Words of the visible table headers that the browser laid out over two lines.
BROKEN_HEADER_WORDS = """() => {
  const broken = [];
  for (const th of document.querySelectorAll('thead th, th[scope=row]')) {
    const head = th.closest('thead');
    if (head && getComputedStyle(head).position === 'absolute') continue;  // visually hidden
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      for (const m of n.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(n, m.index);
        range.setEnd(n, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


@pytest.mark.parametrize("width", [390, 320])  # a phone; a 1280 px window at 400 % zoom
def test_no_page_scrolls_sideways(operator_page: Page, site: str, width: int) -> None:
    page = operator_page
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(site + "/orgs/")
    assert page.evaluate(SIDEWAYS) == 0, "/orgs/"

    open_org(page, site, "acme")
    assert page.evaluate(SIDEWAYS) == 0, "organization page"
    rows = page.get_by_test_id("connection-row")
    rows.nth(0).get_by_role("button", name=re.compile("domain-level…")).click()
    rows.nth(1).get_by_role("button", name="Remove…").click()
    expect(page.get_by_test_id("confirm-domain-level")).to_be_visible()
    expect(page.get_by_test_id("confirm-remove")).to_be_visible()
    member = page.get_by_test_id("member-row").filter(has_text="jane/doe@acme.example")
    member.get_by_role("button", name="Add roles…").click()
    expect(page.locator(".role-options label").first).to_be_visible()
    assert page.evaluate(SIDEWAYS) == 0, "confirm steps and role picker open"

    page.get_by_role("button", name=re.compile("Yes, (make|remove)")).click()
    expect(page.get_by_test_id("confirm-domain-level")).to_have_count(0)
    page.goto(site + "/audit/")
    assert page.evaluate(SIDEWAYS) == 0, "audit log"
    page.get_by_test_id("audit-entry").first.locator("td.actions a").click()
    expect(page.get_by_test_id("audit-detail")).to_be_visible()
    assert page.evaluate(SIDEWAYS) == 0, "audit entry"

    page.goto(site + "/orgs/search/?q=acme")
    assert page.evaluate(SIDEWAYS) == 0, "search by name"
    page.goto(site + "/orgs/search/?q=jane%40acme.example")  # one account: the person's page
    expect(page.get_by_test_id("roles-cell").first).to_be_visible()
    assert page.evaluate(SIDEWAYS) == 0, "person page"


@pytest.mark.parametrize("width", [1280, 1024, 900, 800, 390])
def test_table_headers_never_break_inside_a_word(
    operator_page: Page, site: str, width: int
) -> None:
    page = operator_page
    page.set_viewport_size({"width": width, "height": 800})
    open_org(page, site, "acme")
    assert page.evaluate(BROKEN_HEADER_WORDS) == []
    page.goto(site + "/orgs/")
    assert page.evaluate(BROKEN_HEADER_WORDS) == []


def test_dark_scheme_and_focus_ring(operator_page: Page, site: str) -> None:
    page = operator_page
    colours = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(site + "/orgs/")
        colours[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        page.get_by_label("Go to organization").focus()
        outline = page.evaluate(
            "(() => { const s = getComputedStyle(document.activeElement);"
            " return [s.outlineStyle, s.outlineWidth]; })()"
        )
        assert outline == ["solid", "3px"], scheme
    assert colours == {"light": "rgb(245, 247, 250)", "dark": "rgb(17, 21, 28)"}
