"""Handler: user search (GET /api/v2/users?q=...), the subset Org Desk uses to find a member.

Auth0 parses `q` as Lucene (search engine v3). The sandbox understands the clauses Org Desk
sends, joined by AND: `organization_id:"org_…"` and `email:"exact"` (case-insensitive, like
Auth0's normalized fields) or `email:prefix*`, or a group `(email:prefix* OR name:prefix*)` (a
name matches when it or one of its words starts with the prefix), with backslash escapes. Any
other query is refused with a 400 that says so, rather than answered wrongly.
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
    r'(?P<field>[a-z_]+):(?:"(?P<phrase>(?:[^"\\]|\\.)*)"|(?P<term>(?:[^\s"\\*()]|\\.)+)(?P<star>\*)?)'
)
AND = re.compile(r"\s+AND\s+")
OR = re.compile(r"\s+OR\s+")
FIELDS = ("organization_id", "email", "name")
UNSUPPORTED = (
    'The sandbox\'s user search understands only organization_id:"…", email:"…" or '
    "email:prefix* and name:prefix* clauses, joined by AND, or by OR inside parentheses."
)
Clause = tuple[str, str, bool]  # (field, value, is_prefix)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _clause(text: str, pos: int) -> tuple[Clause, int]:
    match = CLAUSE.match(text, pos)
    if match is None or match["field"] not in FIELDS:
        raise ApiError(400, UNSUPPORTED, "invalid_query_string")
    if match["phrase"] is not None:
        return (match["field"], _unescape(match["phrase"]), False), match.end()
    return (match["field"], _unescape(match["term"]), bool(match["star"])), match.end()


def _group(text: str, pos: int) -> tuple[list[Clause], int]:
    """One clause, or `(clause OR clause …)`: a user matches a group if any clause matches."""
    if not text.startswith("(", pos):
        clause, pos = _clause(text, pos)
        return [clause], pos
    alternatives: list[Clause] = []
    pos += 1
    while True:
        clause, pos = _clause(text, pos)
        alternatives.append(clause)
        if text.startswith(")", pos):
            return alternatives, pos + 1
        joiner = OR.match(text, pos)
        if joiner is None:
            raise ApiError(400, UNSUPPORTED, "invalid_query_string")
        pos = joiner.end()


def _clauses(q: str) -> list[list[Clause]]:
    """The groups of `q` (all must match), or a 400."""
    found: list[list[Clause]] = []
    pos = 0
    text = q.strip()
    while True:
        group, pos = _group(text, pos)
        found.append(group)
        if pos == len(text):
            return found
        joiner = AND.match(text, pos)
        if joiner is None:
            raise ApiError(400, UNSUPPORTED, "invalid_query_string")
        pos = joiner.end()


def _email(user: dict[str, Any]) -> str:
    return str(user.get("email", "")).casefold()


def _matches(user: dict[str, Any], clause: Clause) -> bool:
    field, value, prefix = clause
    wanted = value.casefold()
    if field == "email":
        return _email(user).startswith(wanted) if prefix else _email(user) == wanted
    name = str(user.get("name", "")).casefold()
    if not prefix:
        return name == wanted
    return name.startswith(wanted) or any(word.startswith(wanted) for word in name.split())


def search_users(ctx: Ctx) -> tuple[int, Any]:
    q = parse_query(ctx.raw_query, USERS_PARAMS)
    if q.get("search_engine") == "v1":
        raise ApiError(
            400, "You are not allowed to use search_engine=v1.", "operation_not_supported"
        )
    store = ctx.store
    groups = _clauses(q["q"]) if q.get("q") else []
    exact = [
        value.casefold()
        for group in groups
        if len(group) == 1
        for field, value, prefix in group
        if field == "email" and not prefix
    ]
    # An exact email is looked up in an index; otherwise every user is a candidate.
    pool = store.users_by_email().get(exact[0], []) if exact else list(store.users)
    others: list[list[Clause]] = []
    for group in groups:
        if len(group) == 1 and group[0][0] == "organization_id":
            members = store.members.get(group[0][1], {})
            pool = [u for u in pool if u in members]
        else:
            others.append(group)
    users = [
        store.users[u]
        for u in pool
        if all(any(_matches(store.users[u], c) for c in group) for group in others)
    ]
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
