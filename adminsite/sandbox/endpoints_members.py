"""Handlers: organization members, their roles, and tenant roles."""

from __future__ import annotations

import copy
from typing import Any

from .context import (
    MAX_MEMBER_ROLES,
    MAX_MEMBERS_PER_CALL,
    MEMBER_FIELDS,
    Ctx,
    find_member,
    find_org,
    totals,
)
from .params import (
    CHECKPOINT_PARAMS,
    FIELDS_PARAMS,
    OFFSET_PARAMS,
    STR,
    ApiError,
    checkpoint_window,
    is_checkpoint,
    offset_page,
    parse_body,
    parse_query,
)
from .seed import Store

# --- members and member roles -------------------------------------------------------------------


def _member_item(store: Store, oid: str, user_id: str, fields: list[str]) -> dict[str, Any]:
    user = store.users.get(user_id, {"user_id": user_id})
    item = {k: user[k] for k in fields if k in user}
    if "roles" in fields:
        item["roles"] = [
            {"id": rid, "name": store.roles[rid]["name"]}
            for rid in store.member_roles.get((oid, user_id), [])
            if rid in store.roles
        ]
    return item


def list_members(ctx: Ctx) -> tuple[int, Any]:
    q = parse_query(ctx.raw_query, {**OFFSET_PARAMS, **CHECKPOINT_PARAMS, **FIELDS_PARAMS})
    oid = find_org(ctx)
    fields = list(MEMBER_FIELDS)
    if q.get("fields"):
        wanted = [f.strip() for f in q["fields"].split(",") if f.strip()]
        if q.get("include_fields", True):
            fields = [f for f in (*MEMBER_FIELDS, "roles") if f in wanted]
        else:
            fields = [f for f in MEMBER_FIELDS if f not in wanted]
    order = ctx.store.member_order(oid)
    ids = order.ids
    if is_checkpoint(q):
        # Observed: `next` on every non-empty page (even a short last one), then a final empty
        # page without it.
        start, end, cursor, _ = checkpoint_window(order.keys, q)
        chunk = ids[start:end]
        body: dict[str, Any] = {"members": [_member_item(ctx.store, oid, u, fields) for u in chunk]}
        if cursor:
            body["next"] = cursor
        return 200, body
    chunk, start, limit = offset_page(ids, q)
    items = [_member_item(ctx.store, oid, u, fields) for u in chunk]
    if q.get("include_totals"):
        return 200, totals("members", items, start, limit, len(ids))
    return 200, items


def _members_body(ctx: Ctx) -> list[str]:
    parse_query(ctx.raw_query, {})
    body = parse_body(
        ctx.payload,
        {"members": "array_str"},
        required=["members"],
        min_items={"members": 1},
        max_lengths={"members": MAX_MEMBERS_PER_CALL},
    )
    members: list[str] = body["members"]
    return members


def add_members(ctx: Ctx) -> tuple[int, Any]:
    """204; a user already a member stays one (Auth0 documents no 409 here). A user the tenant
    does not have: 404 "The user does not exist." (Auth0's table lists only 400 for a bad
    body; unverified), and nobody in the call is added."""
    members = _members_body(ctx)
    oid = find_org(ctx)
    for user_id in members:
        if user_id not in ctx.store.users:
            raise ApiError(404, "The user does not exist.", "inexistent_user")
    for user_id in members:
        ctx.store.members[oid].setdefault(user_id, ctx.store.now())
    ctx.store.touch("members")
    return 204, None


def delete_members(ctx: Ctx) -> tuple[int, Any]:
    """204, also for a user who is not a member (Auth0 documents no 404 here); the member's
    roles in the organization go with the membership."""
    members = _members_body(ctx)
    oid = find_org(ctx)
    for user_id in members:
        ctx.store.members[oid].pop(user_id, None)
        ctx.store.member_roles.pop((oid, user_id), None)
    ctx.store.touch("members")
    return 204, None


def get_member_roles(ctx: Ctx) -> tuple[int, Any]:
    q = parse_query(ctx.raw_query, OFFSET_PARAMS)
    oid = find_org(ctx)
    user_id = find_member(ctx, oid)
    roles = [
        copy.deepcopy(ctx.store.roles[rid])
        for rid in ctx.store.member_roles.get((oid, user_id), [])
        if rid in ctx.store.roles
    ]
    items, start, limit = offset_page(roles, q)
    if q.get("include_totals"):
        return 200, totals("roles", items, start, limit, len(roles))
    return 200, items


def _role_change(ctx: Ctx) -> tuple[str, str, list[str]]:
    parse_query(ctx.raw_query, {})
    body = parse_body(
        ctx.payload, {"roles": "array_str"}, required=["roles"], min_items={"roles": 1}
    )
    oid = find_org(ctx)
    user_id = find_member(ctx, oid)
    for rid in body["roles"]:
        if rid not in ctx.store.roles:
            raise ApiError(404, "The role does not exist.")
    return oid, user_id, body["roles"]


def add_member_roles(ctx: Ctx) -> tuple[int, Any]:
    oid, user_id, roles = _role_change(ctx)
    held = ctx.store.member_roles.setdefault((oid, user_id), [])
    new = [rid for rid in dict.fromkeys(roles) if rid not in held]
    if len(held) + len(new) > MAX_MEMBER_ROLES:
        raise ApiError(409, "No more roles can be assigned to this organization member.")
    held.extend(new)
    return 204, None


def delete_member_roles(ctx: Ctx) -> tuple[int, Any]:
    oid, user_id, roles = _role_change(ctx)
    held = ctx.store.member_roles.get((oid, user_id), [])
    held[:] = [rid for rid in held if rid not in roles]
    return 204, None


# --- roles --------------------------------------------------------------------------------------


def list_roles(ctx: Ctx) -> tuple[int, Any]:
    q = parse_query(ctx.raw_query, {**OFFSET_PARAMS, "name_filter": STR})
    roles = list(ctx.store.roles.values())
    if q.get("name_filter"):
        needle = q["name_filter"].casefold()
        roles = [r for r in roles if needle in r["name"].casefold()]
    items, start, limit = offset_page(roles, q)
    items = copy.deepcopy(items)
    if q.get("include_totals"):
        return 200, totals("roles", items, start, limit, len(roles))
    return 200, items


def get_role(ctx: Ctx) -> tuple[int, Any]:
    parse_query(ctx.raw_query, {})
    role = ctx.store.roles.get(ctx.params["rid"])
    if role is None:
        raise ApiError(404, "The role does not exist.")
    return 200, copy.deepcopy(role)
