"""Browser: keyboard first, phone-proof. Every page and state a support person meets,
checked by axe-core (every rule it runs by default) at 1280 and 390 px wide, in light and in dark;
and none of them may scroll sideways on a 390 px phone or in a 1280 px window at 400% zoom (320 px).

One test per page and state: it is opened once through the UI (signing in, loading the parts,
opening the confirm step or the role picker, making a change for the audit log), then the window
is resized and the colour scheme switched, and every combination is checked before the test
fails, so a failure lists all of them. Each check also finds the content it is about visible, so
no test can pass on an empty page. The states are `PAGE_STATES` in tests/browser/helpers.py,
shared with `make a11y-figures` (tests/perf/a11y_figures.py).
"""

from __future__ import annotations

from typing import Literal

import pytest
from playwright.sync_api import Page

from tests.browser.helpers import (
    DESKTOP,
    PAGE_STATES,
    PHONE,
    ZOOM_400,
    PageState,
    axe_violations,
    describe_sideways,
    describe_violations,
    hidden_among,
    set_window,
    sideways_scroll,
    sign_in,
)

pytestmark = pytest.mark.browser

Scheme = Literal["light", "dark"]
AXE_WINDOWS: list[tuple[tuple[int, int], Scheme]] = [
    (DESKTOP, "light"),
    (DESKTOP, "dark"),
    (PHONE, "light"),
    (PHONE, "dark"),
]


def _open(page: Page, site: str, state: PageState, console_errors: list[str]):
    if state.signed_in:
        sign_in(page, site, "olivia", "pw-operator")
    content = state.open(page, site)
    if state.expected_console_error:  # e.g. chromium logs the 404 page's own status
        expected = state.expected_console_error
        console_errors[:] = [e for e in console_errors if expected not in e]
    return content, content.count()


def _present(content, count: int, where: str) -> None:
    found, hidden = hidden_among(content)
    assert (found, hidden) == (count, 0), (
        f"{where}: {found} of the {count} checked elements there, {hidden} of them hidden"
    )


@pytest.mark.parametrize("state", PAGE_STATES, ids=lambda s: s.name)
def test_axe_finds_no_violation(
    page: Page, site: str, operator, console_errors: list[str], state: PageState
) -> None:
    set_window(page, DESKTOP)
    content, count = _open(page, site, state, console_errors)
    assert count > 0
    failures = []
    for size, scheme in AXE_WINDOWS:
        set_window(page, size)
        page.emulate_media(color_scheme=scheme)
        where = f"{state.name} at {size[0]} px, {scheme}"
        _present(content, count, where)
        violations = axe_violations(page)
        if violations:
            failures.append(describe_violations(where, violations))
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("state", PAGE_STATES, ids=lambda s: s.name)
def test_no_page_scrolls_sideways(
    page: Page, site: str, operator, console_errors: list[str], state: PageState
) -> None:
    set_window(page, PHONE)  # opened on the phone, as a phone user would
    content, count = _open(page, site, state, console_errors)
    assert count > 0
    failures = []
    for size in (PHONE, ZOOM_400):
        set_window(page, size)
        where = f"{state.name} at {size[0]} px"
        _present(content, count, where)
        found = sideways_scroll(page)
        if found["overflow"] > 0:
            failures.append(describe_sideways(where, found))
    assert not failures, "\n\n".join(failures)
