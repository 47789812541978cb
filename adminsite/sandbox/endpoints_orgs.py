"""Handlers: organizations, their enabled connections, and tenant connections."""

from __future__ import annotations

import copy
from typing import Any

from .context import (
    MAX_ORG_CONNECTIONS,
    ORG_CONN_NOT_FOUND,
    ORG_NOT_FOUND,
    SIGNUP_RULE,
    Ctx,
    find_org,
    totals,
)
from .params import (
    CHECKPOINT_PARAMS,
    FIELDS_PARAMS,
    OFFSET_PARAMS,
    STR,
    ApiError,
    Q,
    checkpoint_page,
    checkpoint_window,
    is_checkpoint,
    offset_page,
    parse_body,
    parse_query,
)
from .seed import Store

# --- organizations ------------------------------------------------------------------------------

SORT = Q("str", max_length=15, pattern=r"(name|display_name|created_at):(1|-1)")


def list_orgs(ctx: Ctx) -> tuple[int, Any]:
    q = parse_query(
        ctx.raw_query,
        {**OFFSET_PARAMS, **CHECKPOINT_PARAMS, "sort": SORT, "include_client_association_for": STR},
    )
    store = ctx.store
    order = store.org_order(q.get("sort"))
    if is_checkpoint(q):
        start, end, cursor, more = checkpoint_window(order.keys, q, position=order.position)
        chunk = [store.orgs[oid] for oid in order.ids[start:end]]
        body: dict[str, Any] = {"organizations": copy.deepcopy(chunk)}
        if more and cursor:
            body["next"] = cursor
        return 200, body
    ids, start, limit = offset_page(order.ids, q)
    items = copy.deepcopy([store.orgs[oid] for oid in ids])
    if q.get("include_totals"):
        return 200, totals("organizations", items, start, limit, len(order.ids))
    return 200, items


def get_org(ctx: Ctx) -> tuple[int, Any]:
    parse_query(ctx.raw_query, {})
    return 200, copy.deepcopy(ctx.store.orgs[find_org(ctx)])


def get_org_by_name(ctx: Ctx) -> tuple[int, Any]:
    parse_query(ctx.raw_query, {})
    name = ctx.params["name"]
    if len(name) > 50:
        raise ApiError(
            400,
            f"Path validation error: 'String is too long ({len(name)} chars), maximum 50' "
            "on property name.",
            "invalid_uri",
        )
    oid = ctx.store.org_by_name.get(name)
    if oid is None:
        raise ApiError(404, ORG_NOT_FOUND)
    return 200, copy.deepcopy(ctx.store.orgs[oid])


# --- organization enabled connections -----------------------------------------------------------

ENABLED_BODY = {
    "assign_membership_on_login": "boolean",
    "show_as_button": "boolean",
    "is_signup_enabled": "boolean",
}


def _enabled_item(store: Store, cid: str, settings: dict[str, bool]) -> dict[str, Any]:
    conn = store.connections[cid]
    item: dict[str, Any] = {
        "connection_id": cid,
        "assign_membership_on_login": settings["assign_membership_on_login"],
        "show_as_button": settings["show_as_button"],
    }
    if conn["strategy"] == "auth0":
        item["is_signup_enabled"] = settings["is_signup_enabled"]
    item["connection"] = {"name": conn["name"], "strategy": conn["strategy"]}
    return item


def _check_signup(strategy: str, settings: dict[str, bool]) -> None:
    if settings["is_signup_enabled"] and (
        strategy != "auth0" or not settings["assign_membership_on_login"]
    ):
        raise ApiError(400, SIGNUP_RULE, "invalid_body")


def list_enabled(ctx: Ctx) -> tuple[int, Any]:
    q = parse_query(ctx.raw_query, OFFSET_PARAMS)
    oid = find_org(ctx)
    enabled = ctx.store.enabled[oid]
    all_items = [_enabled_item(ctx.store, cid, s) for cid, s in enabled.items()]
    items, start, per_page = offset_page(all_items, q)
    if q.get("include_totals"):
        limit = len(items) if ctx.limit_quirk else per_page
        return 200, totals("enabled_connections", items, start, limit, len(all_items))
    return 200, items


def add_enabled(ctx: Ctx) -> tuple[int, Any]:
    parse_query(ctx.raw_query, {})
    body = parse_body(
        ctx.payload, {"connection_id": "string", **ENABLED_BODY}, required=["connection_id"]
    )
    oid = find_org(ctx)
    cid = body["connection_id"]
    conn = ctx.store.connections.get(cid)
    if conn is None:
        raise ApiError(404, "The connection does not exist", "inexistent_connection")
    settings = {
        "assign_membership_on_login": body.get("assign_membership_on_login", False),
        "show_as_button": body.get("show_as_button", True),
        "is_signup_enabled": body.get("is_signup_enabled", False),
    }
    _check_signup(conn["strategy"], settings)
    enabled = ctx.store.enabled[oid]
    if cid in enabled:
        raise ApiError(409, "The organization connection already exists.")
    if len(enabled) >= MAX_ORG_CONNECTIONS:
        raise ApiError(
            409, f"An organization can have at most {MAX_ORG_CONNECTIONS} enabled connections."
        )
    enabled[cid] = settings
    return 201, _enabled_item(ctx.store, cid, settings)


def _enabled_settings(ctx: Ctx) -> tuple[str, str, dict[str, bool]]:
    oid = find_org(ctx)
    cid = ctx.params["cid"]
    settings = ctx.store.enabled[oid].get(cid)
    if settings is None:
        raise ApiError(404, ORG_CONN_NOT_FOUND)
    return oid, cid, settings


def get_enabled(ctx: Ctx) -> tuple[int, Any]:
    parse_query(ctx.raw_query, {})
    _, cid, settings = _enabled_settings(ctx)
    return 200, _enabled_item(ctx.store, cid, settings)


def patch_enabled(ctx: Ctx) -> tuple[int, Any]:
    parse_query(ctx.raw_query, {})
    body = parse_body(ctx.payload, ENABLED_BODY)
    oid, cid, settings = _enabled_settings(ctx)
    merged = {**settings, **body}
    _check_signup(ctx.store.connections[cid]["strategy"], merged)
    ctx.store.enabled[oid][cid] = merged
    return 200, _enabled_item(ctx.store, cid, merged)


def delete_enabled(ctx: Ctx) -> tuple[int, Any]:
    parse_query(ctx.raw_query, {})
    oid, cid, _ = _enabled_settings(ctx)
    del ctx.store.enabled[oid][cid]
    return 204, None


# --- connections --------------------------------------------------------------------------------

CONNECTION_PATCH = {
    "display_name": "string",
    "options": "object",
    "enabled_clients": "array_str",
    "is_domain_connection": "boolean",
    "show_as_button": "boolean",
    "realms": "array_str",
    "metadata": "object",
    "authentication": "object",
    "connected_accounts": "object",
    "cross_app_access_requesting_app": "object",
}


def _project(ctx: Ctx, conn: dict[str, Any], q: dict[str, Any], single: bool) -> dict[str, Any]:
    """Apply fields/include_fields loosely (the server adds some keys) and the options scope."""
    out = {
        k: v for k, v in conn.items() if k != "options" or "read:connections_options" in ctx.scopes
    }
    if q.get("fields"):
        wanted = {f.strip() for f in q["fields"].split(",") if f.strip()}
        always = {"id", "is_domain_connection"}
        if single:
            always |= {"authentication", "connected_accounts"}
        if q.get("include_fields", True):
            out = {k: v for k, v in out.items() if k in wanted | always}
        else:
            out = {k: v for k, v in out.items() if k not in wanted or k in always}
    return copy.deepcopy(out)


def list_connections(ctx: Ctx) -> tuple[int, Any]:
    q = parse_query(
        ctx.raw_query,
        {
            **OFFSET_PARAMS,
            **CHECKPOINT_PARAMS,
            **FIELDS_PARAMS,
            "strategy": Q("multi"),
            "name": STR,
        },
    )
    store = ctx.store
    ids = sorted(store.connections, key=lambda cid: (store.conn_created[cid], cid))
    conns = [store.connections[cid] for cid in ids]
    if "strategy" in q:
        conns = [c for c in conns if c["strategy"] in q["strategy"]]
    if "name" in q:
        conns = [c for c in conns if c["name"] == q["name"]]
    if is_checkpoint(q):
        chunk, cursor, more = checkpoint_page(
            conns, lambda c: (store.conn_created[c["id"]], c["id"]), q
        )
        body: dict[str, Any] = {"connections": [_project(ctx, c, q, False) for c in chunk]}
        if more and cursor:
            body["next"] = cursor
        return 200, body
    chunk, start, limit = offset_page(conns, q, default_per_page=100)
    items = [_project(ctx, c, q, False) for c in chunk]
    if q.get("include_totals"):
        return 200, {"total": len(conns), "start": start, "limit": limit, "connections": items}
    return 200, items


def _connection(ctx: Ctx) -> dict[str, Any]:
    conn = ctx.store.connections.get(ctx.params["cid"])
    if conn is None:
        raise ApiError(404, "The connection does not exist", "inexistent_connection")
    return conn


def get_connection(ctx: Ctx) -> tuple[int, Any]:
    q = parse_query(ctx.raw_query, FIELDS_PARAMS)
    return 200, _project(ctx, _connection(ctx), q, True)


def patch_connection(ctx: Ctx) -> tuple[int, Any]:
    parse_query(ctx.raw_query, {})
    body = parse_body(ctx.payload, CONNECTION_PATCH, max_lengths={"display_name": 128})
    conn = _connection(ctx)
    for key, value in body.items():
        conn[key] = copy.deepcopy(value)  # options (like every key) is replaced wholesale
    return 200, _project(ctx, conn, {}, True)
