"""Handlers: organization search, users by email, a user, and a user's organizations.

Organization search speaks the SCIM subset Org Desk sends (`parser=scim`): comparisons
`<field> <op> "<literal>"` with field `name`, `display_name` (case-insensitive) or `id` (exact),
op `eq`, `sw`, `ew` or `co`, joined by `or`; inside the literal only `\\"` and `\\\\` are escapes.
`co` and `ew` need at least 3 characters, as on Auth0. `parser=lucene` (Auth0's default) is
refused with a 400 that says so, rather than answered wrongly.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from .context import Ctx, totals
from .params import (
    FIELDS_PARAMS,
    OFFSET_PARAMS,
    STR,
    TAKE,
    ApiError,
    Q,
    checkpoint_window,
    offset_page,
    parse_query,
    query_error,
)

USER_NOT_FOUND = "The user does not exist."
MAX_FILTERS = 5
SUBSTRING_MIN = 3
SEARCH_PARAMS = {
    "q": Q("str", max_length=1024),
    "parser": Q("str", pattern=r"scim|lucene"),
    "take": TAKE,
    "from": STR,
    "sort": Q("str", pattern=r"(name|display_name|created_at)(:1)?"),
}
COMPARISON = re.compile(
    r'\s*(?P<field>[A-Za-z_.]+)\s+(?P<op>[A-Za-z]+)\s+"(?P<value>(?:[^"\\]|\\["\\])*)"\s*'
)
OR = re.compile(r"or\s", re.IGNORECASE)
OPS = ("eq", "sw", "ew", "co")


def _scim(q: str) -> list[tuple[str, str, str]]:
    """(field, op, value) for each comparison of `q`, or a 400 invalid_query_string."""
    found: list[tuple[str, str, str]] = []
    pos = 0
    while True:
        match = COMPARISON.match(q, pos)
        if match is None:
            raise query_error(f"Invalid filter expression at position {pos}", "q")
        field, op = match["field"], match["op"].lower()
        if field not in ("name", "display_name", "id"):
            raise query_error(f"Unsupported filter field: {field}", "q")
        if op not in OPS:
            raise query_error(f"Unsupported filter operator: {match['op']}", "q")
        value = re.sub(r"\\(.)", r"\1", match["value"])
        if op in ("co", "ew") and len(value) < SUBSTRING_MIN:
            raise query_error(
                f"Substring matching (contains, ends-with) requires at least {SUBSTRING_MIN} "
                "characters",
                "q",
            )
        found.append((field, op, value))
        if len(found) > MAX_FILTERS:
            raise query_error(f"A query can have at most {MAX_FILTERS} filter operations", "q")
        pos = match.end()
        if pos == len(q):
            return found
        joiner = OR.match(q, pos)
        if joiner is None:
            raise query_error(f"Invalid filter expression at position {pos}", "q")
        pos = joiner.end()


def _matching(folded: dict[str, tuple[str, str]], field: str, op: str, want: str) -> set[str]:
    """The organizations one comparison selects; `folded` holds each one's (name, display_name)
    and `want` the value, both case-folded (only `id` is compared as it is)."""
    if field == "id":
        return {want} if op == "eq" and want in folded else set()
    i = 0 if field == "name" else 1
    if op == "eq":
        return {oid for oid, names in folded.items() if names[i] == want}
    if op == "sw":
        return {oid for oid, names in folded.items() if names[i].startswith(want)}
    if op == "ew":
        return {oid for oid, names in folded.items() if names[i].endswith(want)}
    return {oid for oid, names in folded.items() if want in names[i]}


def search_orgs(ctx: Ctx) -> tuple[int, Any]:
    q = parse_query(ctx.raw_query, SEARCH_PARAMS)
    if q.get("parser", "lucene") != "scim":
        raise query_error("The sandbox's organization search understands only parser=scim", "q")
    filters = _scim(q["q"]) if q.get("q", "").strip() else []
    store = ctx.store
    sort = q.get("sort", "created_at").partition(":")[0]
    order = store.org_order(f"{sort}:1")

    folded = store.folded_org_names()
    if filters:  # comparisons joined by "or": the union of what each selects
        matched: set[str] = set()
        for field, op, value in filters:
            want = value if field == "id" else value.casefold()
            matched |= _matching(folded, field, op, want)
        rank = store.org_rank(f"{sort}:1")
        picked = sorted(rank[oid] for oid in matched)
    else:
        picked = list(range(len(order.ids)))
    ids = [order.ids[i] for i in picked]
    keys = [order.keys[i] for i in picked]
    position = None if order.position is None else {oid: i for i, oid in enumerate(ids)}
    start, end, cursor, more = checkpoint_window(keys, q, position=position)
    body: dict[str, Any] = {"organizations": copy.deepcopy([store.orgs[o] for o in ids[start:end]])}
    if more and cursor:
        body["next"] = cursor
    return 200, body


# --- users --------------------------------------------------------------------------------------


def _project(user: dict[str, Any], q: dict[str, Any]) -> dict[str, Any]:
    """Apply fields/include_fields (user_id always comes back)."""
    out = dict(user)
    if q.get("fields"):
        fields = {f.strip() for f in q["fields"].split(",") if f.strip()}
        if q.get("include_fields", True):
            out = {k: v for k, v in out.items() if k in fields or k == "user_id"}
        else:
            out = {k: v for k, v in out.items() if k not in fields or k == "user_id"}
    return copy.deepcopy(out)


def users_by_email(ctx: Ctx) -> tuple[int, Any]:
    q = parse_query(ctx.raw_query, {**FIELDS_PARAMS, "email": STR})
    if "email" not in q:
        raise query_error("Missing required property: email")
    store = ctx.store
    ids = store.users_by_email().get(q["email"].casefold(), [])
    return 200, [_project(store.users[u], q) for u in ids]


def _user(ctx: Ctx) -> dict[str, Any]:
    user = ctx.store.users.get(ctx.params["user_id"])
    if user is None:
        raise ApiError(404, USER_NOT_FOUND, "inexistent_user")
    return user


def get_user(ctx: Ctx) -> tuple[int, Any]:
    q = parse_query(ctx.raw_query, FIELDS_PARAMS)
    return 200, _project(_user(ctx), q)


def user_orgs(ctx: Ctx) -> tuple[int, Any]:
    """The user's organizations by created_at; an unknown user has none (an empty list)."""
    q = parse_query(ctx.raw_query, OFFSET_PARAMS)
    store = ctx.store
    user_id = ctx.params["user_id"]
    ids = [oid for oid in store.org_order().ids if user_id in store.members[oid]]
    chunk, start, limit = offset_page(ids, q)
    items = copy.deepcopy([store.orgs[oid] for oid in chunk])
    if q.get("include_totals"):
        return 200, totals("organizations", items, start, limit, len(ids))
    return 200, items
