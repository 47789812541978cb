"""Checkpoint paging shared by the organization and member lists.

Auth0's cursors (`next`) are opaque and go forward only: the service module's rule
(auth0.is_cursor) is the only check, and the way back is remembered per session.
"""

from __future__ import annotations

from adminsite import auth0
from adminsite.http import HtmxHttpRequest

PAGE_SIZE = 50
BAD_CURSOR = (
    "That page link is not one Org Desk can follow (a page cursor has at most 1,024 characters "
    "and no control characters), so no page was loaded. Start again from the first page."
)
TRAIL_LIMIT = 500


class BadCursor(Exception):
    """The `from` parameter is present but is not a cursor (auth0.is_cursor)."""


def page_cursor(request: HtmxHttpRequest, key: str = "from") -> str | None:
    """The page cursor to follow: None for the first page (no or an empty parameter).

    A value outside the service module's rule raises BadCursor instead of silently showing
    the first page again."""
    value = request.GET.get(key, "")
    if not value:
        return None
    if not auth0.is_cursor(value):
        raise BadCursor
    return value


def previous_cursor(
    request: HtmxHttpRequest, trail: str, cursor: str | None, nxt: str | None
) -> str | None:
    """Remember, per session, which page led to which; the cursor of the page before `cursor`
    ("" for the first page), or None if unknown."""
    pages: dict[str, str] = request.session.get(trail, {})
    if nxt and pages.get(nxt) != (cursor or ""):  # a page seen before: no session write
        pages[nxt] = cursor or ""
        if len(pages) > TRAIL_LIMIT:  # bound the session: forget the oldest links
            pages = dict(list(pages.items())[-TRAIL_LIMIT:])
        request.session[trail] = pages
    return pages.get(cursor) if cursor else None
