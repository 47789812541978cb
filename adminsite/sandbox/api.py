"""Routing for the Management API endpoints the sandbox speaks, with the scopes each needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from .context import Ctx, Handler
from .endpoints_invitations import (
    create_invitation,
    delete_invitation,
    get_invitation,
    list_clients,
    list_invitations,
)
from .endpoints_members import (
    add_member_roles,
    add_members,
    delete_member_roles,
    delete_members,
    get_member_roles,
    get_role,
    list_members,
    list_roles,
)
from .endpoints_orgs import (
    add_enabled,
    delete_enabled,
    get_connection,
    get_enabled,
    get_org,
    get_org_by_name,
    list_connections,
    list_enabled,
    list_orgs,
    patch_connection,
    patch_enabled,
)
from .endpoints_search import get_user, search_orgs, user_orgs, users_by_email
from .endpoints_users import search_users

__all__ = ["ROUTES", "Ctx", "Route", "match"]

# --- routing ------------------------------------------------------------------------------------

Scopes = Callable[[str, Any], list[tuple[str, ...]]]


def _fixed(*groups: tuple[str, ...]) -> Scopes:
    return lambda raw_query, payload: list(groups)


def _members_scopes(raw_query: str, payload: Any) -> list[tuple[str, ...]]:
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    fields = {f.strip() for k, v in pairs if k == "fields" for f in v.split(",")}
    exclude = ("include_fields", "false") in pairs
    groups: list[tuple[str, ...]] = [("read:organization_members",)]
    if "roles" in fields and not exclude:
        groups.append(("read:organization_member_roles",))
    return groups


def _patch_connection_scopes(raw_query: str, payload: Any) -> list[tuple[str, ...]]:
    groups: list[tuple[str, ...]] = [("update:connections",)]
    if isinstance(payload, dict) and "options" in payload:
        groups.append(("update:connections_options",))
    return groups


@dataclass(frozen=True)
class Route:
    method: str
    pattern: tuple[str, ...]
    handler: Handler
    scopes: Scopes


READ_ORGS = ("read:organizations", "read:organizations_summary")
ORG_CONN = ("organizations", "{id}", "enabled_connections")
MEMBER_ROLES = ("organizations", "{id}", "members", "{user_id}", "roles")
INVITATIONS = ("organizations", "{id}", "invitations")
# GET /clients takes any of these (docs: clients/get-clients); Org Desk asks for read:clients.
READ_CLIENTS = (
    "read:clients",
    "read:client_keys",
    "read:client_credentials",
    "read:client_summary",
)

ROUTES: tuple[Route, ...] = (
    Route("GET", ("organizations",), list_orgs, _fixed(READ_ORGS)),
    Route("GET", ("organizations", "search"), search_orgs, _fixed(("read:organizations",))),
    Route(
        "GET", ("organizations", "name", "{name}"), get_org_by_name, _fixed(("read:organizations",))
    ),
    Route("GET", ("organizations", "{id}"), get_org, _fixed(READ_ORGS)),
    Route("GET", ORG_CONN, list_enabled, _fixed(("read:organization_connections",))),
    Route("POST", ORG_CONN, add_enabled, _fixed(("create:organization_connections",))),
    Route("GET", (*ORG_CONN, "{cid}"), get_enabled, _fixed(("read:organization_connections",))),
    Route(
        "PATCH", (*ORG_CONN, "{cid}"), patch_enabled, _fixed(("update:organization_connections",))
    ),
    Route(
        "DELETE", (*ORG_CONN, "{cid}"), delete_enabled, _fixed(("delete:organization_connections",))
    ),
    Route("GET", ("organizations", "{id}", "members"), list_members, _members_scopes),
    Route(
        "POST",
        ("organizations", "{id}", "members"),
        add_members,
        _fixed(("create:organization_members",)),
    ),
    Route(
        "DELETE",
        ("organizations", "{id}", "members"),
        delete_members,
        _fixed(("delete:organization_members",)),
    ),
    Route("GET", MEMBER_ROLES, get_member_roles, _fixed(("read:organization_member_roles",))),
    Route("POST", MEMBER_ROLES, add_member_roles, _fixed(("create:organization_member_roles",))),
    Route(
        "DELETE", MEMBER_ROLES, delete_member_roles, _fixed(("delete:organization_member_roles",))
    ),
    Route("GET", INVITATIONS, list_invitations, _fixed(("read:organization_invitations",))),
    Route("POST", INVITATIONS, create_invitation, _fixed(("create:organization_invitations",))),
    Route(
        "GET", (*INVITATIONS, "{iid}"), get_invitation, _fixed(("read:organization_invitations",))
    ),
    Route(
        "DELETE",
        (*INVITATIONS, "{iid}"),
        delete_invitation,
        _fixed(("delete:organization_invitations",)),
    ),
    Route("GET", ("clients",), list_clients, _fixed(READ_CLIENTS)),
    Route("GET", ("connections",), list_connections, _fixed(("read:connections",))),
    Route("GET", ("connections", "{cid}"), get_connection, _fixed(("read:connections",))),
    Route("PATCH", ("connections", "{cid}"), patch_connection, _patch_connection_scopes),
    Route("GET", ("roles",), list_roles, _fixed(("read:roles",))),
    Route("GET", ("users",), search_users, _fixed(("read:users",))),
    Route("GET", ("users-by-email",), users_by_email, _fixed(("read:users",))),
    Route("GET", ("users", "{user_id}"), get_user, _fixed(("read:users",))),
    Route(
        "GET",
        ("users", "{user_id}", "organizations"),
        user_orgs,
        _fixed(("read:organizations",)),
    ),
    Route("GET", ("roles", "{rid}"), get_role, _fixed(("read:roles",))),
)


def match(method: str, segments: list[str]) -> tuple[Route, dict[str, str]] | None:
    """The route for these decoded path segments (after /api/v2); literals win over params."""
    for route in ROUTES:
        if route.method != method or len(route.pattern) != len(segments):
            continue
        params: dict[str, str] = {}
        for part, segment in zip(route.pattern, segments, strict=True):
            if part.startswith("{"):
                if not segment:
                    break
                params[part[1:-1]] = segment
            elif part != segment:
                break
        else:
            return route, params
    return None
