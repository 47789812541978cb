"""Handlers: organization invitations and the tenant's applications (clients).

Shapes and messages from go-auth0's recordings (TestOrganizationManager_CreateInvitation,
_Invitations, _DeleteInvitation) and the status table of Auth0's "Send Organization Membership
Invitations" page. Where Auth0 documents nothing, the choice is noted where it is made.
"""

from __future__ import annotations

import copy
import random
import re
from datetime import UTC, datetime
from typing import Any

from .context import Ctx, find_org
from .params import (
    FIELDS_PARAMS,
    OFFSET_PARAMS,
    ApiError,
    Q,
    body_error,
    offset_page,
    parse_body,
    parse_query,
)
from .seed import new_invitation

INVITATION_NOT_FOUND = "The invitation does not exist."
MAX_TTL = 2_592_000  # 30 days
DEFAULT_TTL = 604_800  # 7 days: when ttl_sec is absent or 0
MAX_ROLES = 50
MAX_INVITER_NAME = 300
PASSWORDLESS = frozenset({"email", "sms"})
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
NO_LOGIN_ROUTE = (
    "A default login route is required to generate the invitation url. To learn more, see "
    "https://auth0.com/docs/authenticate/login/auth0-universal-login/configure-default-login-routes"
)

INVITATION_BODY = {
    "inviter": "object",
    "invitee": "object",
    "client_id": "string",
    "connection_id": "string",
    "app_metadata": "object",
    "user_metadata": "object",
    "ttl_sec": "integer",
    "roles": "array_str",
    "send_invitation_email": "boolean",
}
_rng = random.SystemRandom()


def _project(item: dict[str, Any], q: dict[str, Any]) -> dict[str, Any]:
    """fields/include_fields: the listed keys only (or all but them)."""
    if not q.get("fields"):
        return copy.deepcopy(item)
    wanted = {f.strip() for f in q["fields"].split(",") if f.strip()}
    keep = q.get("include_fields", True)
    return copy.deepcopy({k: v for k, v in item.items() if (k in wanted) == keep})


# --- invitations --------------------------------------------------------------------------------


def list_invitations(ctx: Ctx) -> tuple[int, Any]:
    """Newest first by default (`sort=created_at:-1`). With include_totals the body is
    `{"invitations", "start", "limit"}`: Auth0 gives no total, and `limit` was recorded as the
    number of items returned (1 for per_page=50), as with enabled connections."""
    q = parse_query(
        ctx.raw_query,
        {**OFFSET_PARAMS, **FIELDS_PARAMS, "sort": Q("str", pattern=r"created_at:(1|-1)")},
    )
    oid = find_org(ctx)
    items = list(ctx.store.invitations.get(oid, {}).values())  # creation order
    if q.get("sort", "created_at:-1") == "created_at:-1":
        items.reverse()
    chunk, start, per_page = offset_page(items, q)
    out = [_project(i, q) for i in chunk]
    if q.get("include_totals"):
        limit = len(out) if ctx.limit_quirk else per_page
        return 200, {"invitations": out, "start": start, "limit": limit}
    return 200, out


def _invitation(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    oid = find_org(ctx)
    found = ctx.store.invitations.get(oid, {}).get(ctx.params["iid"])
    if found is None:
        raise ApiError(404, INVITATION_NOT_FOUND, "inexistent_invitation")
    return oid, found


def get_invitation(ctx: Ctx) -> tuple[int, Any]:
    q = parse_query(ctx.raw_query, FIELDS_PARAMS)
    _, found = _invitation(ctx)
    return 200, _project(found, q)


def delete_invitation(ctx: Ctx) -> tuple[int, Any]:
    parse_query(ctx.raw_query, {})
    oid, found = _invitation(ctx)
    del ctx.store.invitations[oid][found["id"]]
    return 204, None


def _inviter_invitee(body: dict[str, Any]) -> tuple[str, str]:
    inviter = body["inviter"]
    name = inviter.get("name")
    if set(inviter) - {"name"}:
        extra = ",".join(sorted(set(inviter) - {"name"}))
        raise body_error(f"Additional properties not allowed: {extra}", "inviter")
    if not isinstance(name, str) or not name:
        raise body_error("Missing required property: name", "inviter")
    if len(name) > MAX_INVITER_NAME:
        raise body_error(
            f"String is too long ({len(name)} chars), maximum {MAX_INVITER_NAME}", "inviter.name"
        )
    invitee = body["invitee"]
    email = invitee.get("email")
    if set(invitee) - {"email"}:
        extra = ",".join(sorted(set(invitee) - {"email"}))
        raise body_error(f"Additional properties not allowed: {extra}", "invitee")
    if not isinstance(email, str):
        raise body_error("Missing required property: email", "invitee")
    if not EMAIL.fullmatch(email):
        raise body_error(
            f"Object didn't pass validation for format email: {email}", "invitee.email"
        )
    return name, email


def create_invitation(ctx: Ctx) -> tuple[int, Any]:
    """201 with the invitation (the docs' table says 200; the recordings say 201).

    400 invalid_body: a ttl_sec over 30 days, more than 50 roles, an application, connection or
    role that does not exist, a passwordless connection, an application without a login route
    (a machine-to-machine one). Inviting someone who is already a member is accepted, as Auth0
    documents no refusal (an invitation is by email, not by account; unverified). The email is
    never sent: `send_invitation_email` is accepted and ignored.
    """
    parse_query(ctx.raw_query, {})
    body = parse_body(
        ctx.payload,
        INVITATION_BODY,
        required=["inviter", "invitee", "client_id"],
        max_lengths={"roles": MAX_ROLES},
    )
    oid = find_org(ctx)
    name, email = _inviter_invitee(body)
    ttl = body.get("ttl_sec", 0)
    if ttl < 0:
        raise body_error(f"Value {ttl} is less than minimum 0", "ttl_sec")
    if ttl > MAX_TTL:
        raise body_error(f"Value {ttl} is greater than maximum {MAX_TTL}", "ttl_sec")
    app = ctx.store.clients.get(body["client_id"])
    if app is None or app.get("global"):
        raise ApiError(400, "The specified client_id does not exist.", "invalid_body")
    connection_id = body.get("connection_id")
    if connection_id is not None:
        conn = ctx.store.connections.get(connection_id)
        if conn is None:
            raise ApiError(400, "The specified connection does not exist.", "invalid_body")
        if conn["strategy"] in PASSWORDLESS:
            raise ApiError(400, "Passwordless connections are not supported.", "invalid_body")
    roles = list(dict.fromkeys(body.get("roles", [])))
    unknown = [r for r in roles if r not in ctx.store.roles]
    if unknown:
        raise ApiError(
            400,
            f"One or more of the specified roles do not exist: {', '.join(unknown)}",
            "invalid_body",
        )
    if not app.get("initiate_login_uri"):
        raise ApiError(400, NO_LOGIN_ROUTE, "invalid_body")
    item = new_invitation(
        ctx.store,
        _rng,
        oid,
        client_id=body["client_id"],
        inviter=name,
        email=email,
        created=datetime.now(UTC),
        ttl_sec=ttl or DEFAULT_TTL,
        connection_id=connection_id,
        roles=roles,
        app_metadata=body.get("app_metadata"),
        user_metadata=body.get("user_metadata"),
    )
    return 201, copy.deepcopy(item)


# --- applications (clients) ---------------------------------------------------------------------


def list_clients(ctx: Ctx) -> tuple[int, Any]:
    """Offset pages (50 by default, at most 100) with `{"clients","start","limit","total"}`
    under include_totals; filters is_global, is_first_party and app_type (comma-separated)."""
    q = parse_query(
        ctx.raw_query,
        {
            **OFFSET_PARAMS,
            **FIELDS_PARAMS,
            "is_global": Q("bool"),
            "is_first_party": Q("bool"),
            "app_type": Q("str"),
        },
    )
    apps = list(ctx.store.clients.values())
    if "is_global" in q:
        apps = [a for a in apps if bool(a.get("global")) == q["is_global"]]
    if "is_first_party" in q:
        apps = [a for a in apps if bool(a.get("is_first_party")) == q["is_first_party"]]
    if q.get("app_type"):
        kinds = {k.strip() for k in q["app_type"].split(",") if k.strip()}
        apps = [a for a in apps if a.get("app_type") in kinds]
    chunk, start, limit = offset_page(apps, q)
    items = [_project(a, q) for a in chunk]
    if q.get("include_totals"):
        return 200, {"clients": items, "start": start, "limit": limit, "total": len(apps)}
    return 200, items
