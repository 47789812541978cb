"""One function per Management API operation Org Desk uses; keyword-only, typed results.

Every id is validated before any HTTP call (InvalidId) and sent as one percent-encoded path
segment: user ids contain `|` and `/`. Lists use at most 50 items per page (Public Cloud).
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
import unicodedata
from collections.abc import Callable
from typing import Any, TypeGuard
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache

from . import client, models
from .errors import InvalidId, NotFound
from .models import (
    Connection,
    EnabledConnection,
    Member,
    MemberPage,
    Organization,
    OrganizationPage,
    Role,
    User,
)

PER_PAGE = 50
MAX_OFFSET_PAGES = 20  # Auth0 refuses offset paging past 1000 records
MAX_CHECKPOINT_PAGES = 200
INDEX_TTL = 60
CONNECTION_FIELDS = "id,name,strategy,is_domain_connection"
MEMBER_FIELDS = "user_id,email,name,picture,roles"
USER_FIELDS = "user_id,email,name,picture"
FIND_LIMIT = 10
PROFILE_FIELDS = "user_id,email,name,identities"
SEARCH_MAX = 200  # characters of search text
SEARCH_TAKE = 100  # Auth0's maximum `take` for organization search
SUBSTRING_MIN = 3  # Auth0's organization search: `co`/`ew` need at least 3 characters
MAX_EMAIL = 254
# Lucene's special characters, escaped with a backslash in a user-search term.
LUCENE_SPECIAL = re.compile(r'([+\-=&|><!(){}\[\]^"~*?:\\/])')


# The shapes of Auth0's ids and organization names; the one definition Org Desk checks against
# (URL converters, forms and the jump box use these too).
ORG_ID = re.compile(r"org_[A-Za-z0-9]{1,46}")
CONNECTION_ID = re.compile(r"con_[A-Za-z0-9]{1,46}")
ROLE_ID = re.compile(r"rol_[A-Za-z0-9]{1,46}")
ORG_NAME = re.compile(r"[a-z0-9_-]{1,50}")


# --- Validation --------------------------------------------------------------------------------


def _checked(pattern: re.Pattern[str], value: object, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidId(f"{value!r:.60} is not a valid {what}.")
    return quote(value, safe="")


def _org(org_id: object) -> str:
    return _checked(ORG_ID, org_id, "organization id")


def _connection(connection_id: object) -> str:
    return _checked(CONNECTION_ID, connection_id, "connection id")


MAX_USER_ID = 255
MAX_CURSOR = 1024


def _controls(value: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cs") for c in value)


def is_user_id(value: object) -> TypeGuard[str]:
    """Whether `value` can be sent as a user id: 1-255 characters, not blank, no control
    characters, and not a dot segment (which would change the path it is sent in).

    The one rule: the service module refuses anything else (InvalidId), and forms use it to
    refuse the same values with a message before any call."""
    return (
        isinstance(value, str)
        and 1 <= len(value) <= MAX_USER_ID
        and bool(value.strip())
        and value not in (".", "..")
        and not _controls(value)
    )


def is_cursor(value: object) -> TypeGuard[str]:
    """Whether `value` can be sent as a checkpoint cursor (`from`): Auth0's `next` is opaque,
    so only its length and the absence of control characters are checked; Auth0 judges the
    rest. The one rule, shared by the service module and the views' paging links."""
    return isinstance(value, str) and 1 <= len(value) <= MAX_CURSOR and not _controls(value)


def _user(user_id: object) -> str:
    if not is_user_id(user_id):
        raise InvalidId(f"{user_id!r:.60} is not a valid user id.")
    return quote(user_id, safe="")


def _roles(role_ids: list[str]) -> list[str]:
    if not role_ids:
        raise InvalidId("At least one role id is required.")
    for role_id in role_ids:
        _checked(ROLE_ID, role_id, "role id")
    return list(role_ids)


def _from(cursor: str | None) -> str | None:
    if not cursor:
        return None
    if not is_cursor(cursor):
        raise InvalidId("Not a valid page cursor.")
    return cursor


def _clamp(value: int, low: int = 1, high: int = PER_PAGE) -> int:
    return max(low, min(high, int(value)))


def _offset_pages[T](
    path: str, key: str, parse: Callable[[Any], T], params: list[tuple[str, str | int]]
) -> list[T]:
    """Every item of an offset-paged list (stops on a short page or when `total` is reached)."""
    found: list[T] = []
    for page in range(MAX_OFFSET_PAGES):
        query = [*params, ("page", page), ("per_page", PER_PAGE), ("include_totals", "true")]
        body = client.call("GET", path, params=query)
        batch = models.items(body, key, key)
        found.extend(parse(item) for item in batch)
        if len(batch) < PER_PAGE:
            break
        start, total = (
            (body.get("start"), body.get("total")) if isinstance(body, dict) else (0, None)
        )
        if isinstance(start, int) and isinstance(total, int) and start + len(batch) >= total:
            break
    return found


# --- Organizations -----------------------------------------------------------------------------


def list_organizations(*, from_: str | None = None, take: int = 50) -> OrganizationPage:
    """One checkpoint page of organizations; `next` is None on the last page."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/get-organizations
    params: list[tuple[str, str | int]] = [("take", _clamp(take))]
    if cursor := _from(from_):
        params.append(("from", cursor))
    body = models.obj(client.call("GET", "/organizations", params=params), "organizations")
    orgs = [models.organization(o) for o in models.items(body, "organizations", "organizations")]
    nxt = models.cursor(body, "organizations")
    return OrganizationPage(orgs, nxt if orgs else None)


def get_organization(*, org_id: str) -> Organization:
    """One organization by id."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/get-organizations-by-id
    return models.organization(client.call("GET", f"/organizations/{_org(org_id)}"))


def get_organization_by_name(*, name: str) -> Organization:
    """One organization by its exact name."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/get-name-by-name
    segment = _checked(ORG_NAME, name, "organization name")
    return models.organization(client.call("GET", f"/organizations/name/{segment}"))


def check_search_text(text: object) -> str:
    """The search text as it will be sent (stripped), or InvalidId saying why it cannot be."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidId("Type part of a name to search for.")
    needle = text.strip()
    if len(needle) > SEARCH_MAX:
        raise InvalidId(f"The search text is longer than {SEARCH_MAX} characters.")
    if _controls(needle):
        raise InvalidId("The search text contains control characters.")
    return needle


def _scim_string(value: str) -> str:
    """A SCIM string literal: only `\\` and `"` are special inside the quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def search_organizations(
    *, text: str, from_: str | None = None, take: int = 50
) -> OrganizationPage:
    """One checkpoint page of organizations whose name or display name contains `text`
    (case-insensitive; 1-2 characters: starts with it, since Auth0 needs 3 for a substring).

    The text only ever becomes a quoted SCIM string literal compared with `name` and
    `display_name`, so nothing in it can widen the query. Empty text, more than SEARCH_MAX
    characters or control characters: InvalidId, without a call. Results are eventually
    consistent (a just-created organization may be missing).
    """
    # Reference: https://auth0.com/docs/api/management/v2/organizations/get-search
    needle = check_search_text(text)
    op = "co" if len(needle) >= SUBSTRING_MIN else "sw"
    literal = _scim_string(needle)
    params: list[tuple[str, str | int]] = [
        ("q", f"name {op} {literal} or display_name {op} {literal}"),
        ("parser", "scim"),
        ("take", _clamp(take, 1, SEARCH_TAKE)),
    ]
    if cursor := _from(from_):
        params.append(("from", cursor))
    path = "/organizations/search"
    body = models.obj(client.call("GET", path, params=params), "organizations")
    orgs = [models.organization(o) for o in models.items(body, "organizations", "organizations")]
    nxt = models.cursor(body, "organizations")
    return OrganizationPage(orgs, nxt if orgs else None)


# --- Organization enabled connections ----------------------------------------------------------


def list_enabled_connections(*, org_id: str) -> list[EnabledConnection]:
    """Every connection enabled for the organization (at most 10 exist; paged anyway)."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/get-enabled-connections
    path = f"/organizations/{_org(org_id)}/enabled_connections"
    return _offset_pages(path, "enabled_connections", models.enabled_connection, [])


def get_enabled_connection(*, org_id: str, connection_id: str) -> EnabledConnection:
    """One connection enabled for the organization, with its per-organization settings."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/get-enabled-connections-by-connection-id
    path = f"/organizations/{_org(org_id)}/enabled_connections/{_connection(connection_id)}"
    return models.enabled_connection(client.call("GET", path))


def add_enabled_connection(
    *,
    org_id: str,
    connection_id: str,
    assign_membership_on_login: bool,
    show_as_button: bool,
    is_signup_enabled: bool | None,
) -> EnabledConnection:
    """Enable a connection for the organization (201); is_signup_enabled omitted when None."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/post-enabled-connections
    path = f"/organizations/{_org(org_id)}/enabled_connections"
    _connection(connection_id)
    body: dict[str, Any] = {
        "connection_id": connection_id,
        "assign_membership_on_login": bool(assign_membership_on_login),
        "show_as_button": bool(show_as_button),
    }
    if is_signup_enabled is not None:
        body["is_signup_enabled"] = bool(is_signup_enabled)
    return models.enabled_connection(client.call("POST", path, json_body=body))


def remove_enabled_connection(*, org_id: str, connection_id: str) -> None:
    """Disable a connection for the organization (204)."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/delete-enabled-connections-by-connection-id
    path = f"/organizations/{_org(org_id)}/enabled_connections/{_connection(connection_id)}"
    client.call("DELETE", path, no_content=True)


# --- Connections (tenant-wide) -----------------------------------------------------------------


def _index_key() -> str:
    return f"auth0:connections:{settings.AUTH0_BASE_URL}"


def _index_from_cache() -> tuple[dict[str, Connection], float] | None:
    cached = cache.get(_index_key())
    try:
        rows, expires = cached["rows"], float(cached["expires"])
        return {row[0]: Connection(*row) for row in rows}, expires
    except (KeyError, TypeError, ValueError):  # nothing cached, or another version's layout
        return None


def _index_to_cache(index: dict[str, Connection], expires: float) -> None:
    rows = [(c.id, c.name, c.strategy, c.is_domain_connection) for c in index.values()]
    timeout = max(1, math.ceil(expires - time.time()))
    cache.set(_index_key(), {"rows": rows, "expires": expires}, timeout=timeout)


def domain_connection_index() -> dict[str, Connection]:
    """Every tenant connection keyed by id (cached for 60 s), for domain-level status."""
    # Reference: https://auth0.com/docs/api/management/v2/connections/get-connections
    if (cached := _index_from_cache()) is not None:
        return cached[0]
    index: dict[str, Connection] = {}
    cursor: str | None = None
    for _ in range(MAX_CHECKPOINT_PAGES):
        params: list[tuple[str, str | int]] = [
            ("fields", CONNECTION_FIELDS),
            ("include_fields", "true"),
            ("take", PER_PAGE),
        ]
        if cursor:
            params.append(("from", cursor))
        body = client.call("GET", "/connections", params=params)
        batch = models.items(body, "connections", "connections")
        index.update((c.id, c) for c in map(models.connection, batch))
        cursor = models.cursor(body, "connections") if isinstance(body, dict) else None
        if not batch or cursor is None:
            break
    _index_to_cache(index, time.time() + INDEX_TTL)
    return index


def set_domain_connection(*, connection_id: str, enabled: bool) -> Connection:
    """Promote a connection to domain level, or demote it (tenant-wide)."""
    # Reference: https://auth0.com/docs/api/management/v2/connections/patch-connections-by-id
    # Exactly this one key: a PATCH replaces `options` wholesale, so never send a whole object.
    path = f"/connections/{_connection(connection_id)}"
    updated = models.connection(
        client.call("PATCH", path, json_body={"is_domain_connection": bool(enabled)})
    )
    if (cached := _index_from_cache()) is not None:
        index, expires = cached
        index[updated.id] = updated
        _index_to_cache(index, expires)
    return updated


# --- Members and roles -------------------------------------------------------------------------


def list_members(*, org_id: str, from_: str | None = None, take: int = 50) -> MemberPage:
    """One checkpoint page of members with their roles; `next` is None at the end."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/get-members
    path = f"/organizations/{_org(org_id)}/members"
    params: list[tuple[str, str | int]] = [
        ("fields", MEMBER_FIELDS),
        ("include_fields", "true"),
        ("take", _clamp(take)),
    ]
    if cursor := _from(from_):
        params.append(("from", cursor))
    body = models.obj(client.call("GET", path, params=params), "members")
    members = [models.member(m) for m in models.items(body, "members", "members")]
    # Auth0 sends `next` even on a short page, then ends with an empty page.
    nxt = models.cursor(body, "members")
    return MemberPage(members, nxt if members else None)


def _lucene_phrase(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def find_members(*, org_id: str, email: str, limit: int = FIND_LIMIT) -> list[Member]:
    """Members with this email (case-insensitive), or, when it is not a whole address, whose
    email or name starts with it (part of a name such as "Jane Sm" too); at most `limit`, with
    their roles.

    One user search, whatever the organization's size (the members list has no email filter,
    so walking it would cost one call per 50 members), then one roles call per member found:
    a whole address is normally one member, so two calls.
    """
    # Reference: https://auth0.com/docs/manage-users/organizations/configure-organizations/search-organization-members
    # Reference: https://auth0.com/docs/api/management/v2/users/get-users (needs read:users)
    _org(org_id)
    needle, limit = email.strip(), _clamp(limit)
    if not needle or any(unicodedata.category(c) == "Cc" for c in needle):
        return []
    needle = " ".join(needle.split())  # one space between words, as names have
    local, _, domain = needle.rpartition("@")
    # A whole address matches exactly (email is a normalized field: case-insensitive); anything
    # else is a prefix of the email or of the name (spaces escaped: one Lucene term).
    if local and domain and " " not in needle:
        match = f"email:{_lucene_phrase(needle)}"
    else:
        term = LUCENE_SPECIAL.sub(r"\\\1", needle).replace(" ", "\\ ") + "*"
        match = f"(email:{term} OR name:{term})"
    params: list[tuple[str, str | int]] = [
        ("q", f'organization_id:"{org_id}" AND {match}'),
        ("search_engine", "v3"),
        ("fields", USER_FIELDS),
        ("include_fields", "true"),
        ("per_page", limit),
        ("page", 0),
    ]
    found = [
        models.member(u)
        for u in models.items(client.call("GET", "/users", params=params), "users", "users")
    ]
    wanted = needle.casefold()
    found.sort(
        key=lambda m: (wanted not in (m.email.casefold(), m.name.casefold()), m.email.casefold())
    )
    members: list[Member] = []
    for member in found[:limit]:
        try:
            roles = get_member_roles(org_id=org_id, user_id=member.user_id)
        except NotFound:  # the search index lags: no longer a member of this organization
            continue
        members.append(dataclasses.replace(member, roles=tuple(roles)))
    return members


def get_member_roles(*, org_id: str, user_id: str) -> list[Role]:
    """Every role the member holds in this organization."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/get-organization-member-roles
    path = f"/organizations/{_org(org_id)}/members/{_user(user_id)}/roles"
    return _offset_pages(path, "roles", models.role, [])


def list_roles(*, name_filter: str = "", page: int = 0, per_page: int = 50) -> list[Role]:
    """One page of tenant roles, optionally filtered by name (case-insensitive, upstream)."""
    # Reference: https://auth0.com/docs/api/management/v2/roles/get-roles
    params: list[tuple[str, str | int]] = [
        ("per_page", _clamp(per_page)),
        ("page", max(0, int(page))),
        ("include_totals", "true"),
    ]
    if name_filter:
        params.append(("name_filter", name_filter))
    body = client.call("GET", "/roles", params=params)
    return [models.role(r) for r in models.items(body, "roles", "roles")]


def assign_member_roles(*, org_id: str, user_id: str, role_ids: list[str]) -> None:
    """Give the member these roles in the organization (204)."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/post-organization-member-roles
    path = f"/organizations/{_org(org_id)}/members/{_user(user_id)}/roles"
    client.call("POST", path, json_body={"roles": _roles(role_ids)}, no_content=True)


def remove_member_roles(*, org_id: str, user_id: str, role_ids: list[str]) -> None:
    """Take these roles from the member in the organization (204)."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/delete-organization-member-roles
    path = f"/organizations/{_org(org_id)}/members/{_user(user_id)}/roles"
    client.call("DELETE", path, json_body={"roles": _roles(role_ids)}, no_content=True)


# --- Users -------------------------------------------------------------------------------------


def users_by_email(*, email: str) -> list[User]:
    """Every user (account) with this email, tenant-wide: several accounts (connections) can
    share one. The email is sent as given (stripped); Auth0 compares it with the stored email,
    which it keeps in lower case for its own database connections."""
    # Reference: https://auth0.com/docs/api/management/v2/users-by-email/get-users-by-email
    address = email.strip() if isinstance(email, str) else ""
    if "@" not in address or len(address) > MAX_EMAIL or _controls(address):
        raise InvalidId(f"{email!r:.60} is not an email address.")
    params: list[tuple[str, str | int]] = [
        ("email", address),
        ("fields", PROFILE_FIELDS),
        ("include_fields", "true"),
    ]
    body = client.call("GET", "/users-by-email", params=params)
    return [models.user(u) for u in models.items(body, "users", "users")]


def get_user(*, user_id: str) -> User:
    """One user by id (NotFound when the tenant has no such user)."""
    # Reference: https://auth0.com/docs/api/management/v2/users/get-users-by-id
    params: list[tuple[str, str | int]] = [
        ("fields", PROFILE_FIELDS),
        ("include_fields", "true"),
    ]
    return models.user(client.call("GET", f"/users/{_user(user_id)}", params=params))


def list_user_organizations(*, user_id: str) -> list[Organization]:
    """Every organization the user is a member of, walking every offset page (50 a page).

    Capped at 1,000 organizations: Auth0 refuses offset paging past 1,000 records, so a user in
    more organizations gets the first 1,000 (checkpoint paging would be needed beyond that).
    """
    # Reference: https://auth0.com/docs/api/management/v2/users/get-user-organizations
    path = f"/users/{_user(user_id)}/organizations"
    return _offset_pages(path, "organizations", models.organization, [])
