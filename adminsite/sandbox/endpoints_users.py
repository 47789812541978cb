"""Handler: user search (GET /api/v2/users?q=...), the subset Org Desk uses to find a member.

Auth0 parses `q` as Lucene (search engine v3). The sandbox understands the clauses Org Desk
sends, joined by AND: `organization_id:"org_…"` and `email:"exact"` (case-insensitive, like
Auth0's normalized fields) or `email:prefix*`, with backslash escapes. Any other query is refused
with a 400 that says so, rather than answered wrongly.
"""

from __future__ import annotations

import re
from typing import Any

from .context import Ctx, totals
from .params import BOOL, FIELDS_PARAMS, OFFSET_PARAMS, STR, ApiError, Q, offset_page, parse_query

USERS_PARAMS = {
    **OFFSET_PARAMS,
    **FIELDS_PARAMS,
    "q": STR,
    "search_engine": Q("str", pattern=r"v1|v2|v3"),
    "sort": Q("str", pattern=r"[a-z_.]+:(1|-1)"),
    "connection": STR,
    "primary_order": BOOL,
}
USER_FIELDS = ("user_id", "email", "picture", "name")
CLAUSE = re.compile(
    r'(?P<field>[a-z_]+):(?:"(?P<phrase>(?:[^"\\]|\\.)*)"|(?P<term>(?:[^\s"\\*]|\\.)+)(?P<star>\*)?)'
)
AND = re.compile(r"\s+AND\s+")
UNSUPPORTED = (
    'The sandbox\'s user search understands only organization_id:"…" and email:"…" or '
    "email:prefix* clauses joined by AND."
)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _clauses(q: str) -> list[tuple[str, str, bool]]:
    """(field, value, is_prefix) for each clause of `q`, or a 400."""
    found: list[tuple[str, str, bool]] = []
    pos = 0
    text = q.strip()
    while True:
        match = CLAUSE.match(text, pos)
        if match is None or match["field"] not in ("organization_id", "email"):
            raise ApiError(400, UNSUPPORTED, "invalid_query_string")
        if match["phrase"] is not None:
            found.append((match["field"], _unescape(match["phrase"]), False))
        else:
            found.append((match["field"], _unescape(match["term"]), bool(match["star"])))
        pos = match.end()
        if pos == len(text):
            return found
        joiner = AND.match(text, pos)
        if joiner is None:
            raise ApiError(400, UNSUPPORTED, "invalid_query_string")
        pos = joiner.end()


def _email(user: dict[str, Any]) -> str:
    return str(user.get("email", "")).casefold()


def search_users(ctx: Ctx) -> tuple[int, Any]:
    q = parse_query(ctx.raw_query, USERS_PARAMS)
    if q.get("search_engine") == "v1":
        raise ApiError(
            400, "You are not allowed to use search_engine=v1.", "operation_not_supported"
        )
    store = ctx.store
    clauses = _clauses(q["q"]) if q.get("q") else []
    exact = [
        value.casefold() for field, value, prefix in clauses if field == "email" and not prefix
    ]
    # An exact email is looked up in an index; otherwise every user is a candidate.
    pool = store.users_by_email().get(exact[0], []) if exact else list(store.users)
    emails: list[tuple[str, bool]] = []  # (value, is_prefix)
    for field, value, prefix in clauses:
        if field == "organization_id":
            members = store.members.get(value, {})
            pool = [u for u in pool if u in members]
        else:
            emails.append((value.casefold(), prefix))

    def matches(user: dict[str, Any]) -> bool:
        email = _email(user)
        return all(email.startswith(v) if prefix else email == v for v, prefix in emails)

    users = [store.users[u] for u in pool if matches(store.users[u])]
    users.sort(key=lambda u: (_email(u), u["user_id"]))
    fields = list(USER_FIELDS)
    if q.get("fields"):
        wanted = {f.strip() for f in q["fields"].split(",") if f.strip()}
        if q.get("include_fields", True):
            fields = [f for f in USER_FIELDS if f in wanted]
        else:
            fields = [f for f in USER_FIELDS if f not in wanted]
    chunk, start, limit = offset_page(users, q)
    items = [{k: u[k] for k in fields if k in u} for u in chunk]
    if q.get("include_totals"):
        body = totals("users", items, start, limit, len(users))
        body["length"] = len(items)
        return 200, body
    return 200, items
