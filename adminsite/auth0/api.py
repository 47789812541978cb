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

from adminsite import memo

from . import client, models
from .errors import Auth0Error, BadRequest, Conflict, InvalidId, NotFound
from .models import (
    BatchFailure,
    Client,
    Connection,
    EnabledConnection,
    Invitation,
    InvitationPage,
    Member,
    MemberBatches,
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
INVITATION_ID = re.compile(r"uinv_[A-Za-z0-9]{1,45}")
# Auth0 generates 32 alphanumerics; `_` and `-` are allowed for ids a tenant was given by an
# import. Nothing that could change a path or a query (no `/`, `.`, `%`, `?`, `#`).
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")

MEMBERS_PER_CALL = 10  # Auth0: "a maximum of 10 members per organization per request"
INVITATION_MAX_ROLES = 50  # Auth0: "Maximum of 50 roles per member"
INVITATION_MAX_TTL = 2_592_000  # 30 days; 0 or absent means Auth0's default of 7 days
INVITER_NAME_MAX = 300
CLIENT_FIELDS = "client_id,name,app_type"


# --- Validation --------------------------------------------------------------------------------


def _checked(pattern: re.Pattern[str], value: object, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidId(f"{value!r:.60} is not a valid {what}.")
    return quote(value, safe="")


def _org(org_id: object) -> str:
    return _checked(ORG_ID, org_id, "organization id")


def _connection(connection_id: object) -> str:
    return _checked(CONNECTION_ID, connection_id, "connection id")


def _invitation(invitation_id: object) -> str:
    return _checked(INVITATION_ID, invitation_id, "invitation id")


def _client_id(client_id: object) -> str:
    return _checked(CLIENT_ID, client_id, "application (client) id")


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
    assign_membership_on_login: bool = False,
    show_as_button: bool = True,
    is_signup_enabled: bool | None = None,
) -> EnabledConnection:
    """Enable a connection for the organization (201); is_signup_enabled omitted when None.

    The defaults are Auth0's. Auth0 refuses (400 invalid_body) signup on a connection that is
    not a database connection, or without membership on login; a connection that does not
    exist is a 404, one already enabled a 409, and an organization has at most 10 (the 11th:
    an error whose status Auth0 does not document; the sandbox answers 409).
    """
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


def update_enabled_connection(
    *,
    org_id: str,
    connection_id: str,
    assign_membership_on_login: bool | None = None,
    show_as_button: bool | None = None,
    is_signup_enabled: bool | None = None,
) -> EnabledConnection:
    """Change a connection's settings for this organization (200 with the whole result).

    Only the settings given (not None) are sent; nothing given is InvalidId, without a call.
    Auth0 judges the combination with the settings it already has: signup on a connection
    that is not a database connection, or without membership on login, is a 400 with
    Auth0's own sentence. `show_as_button` matters for enterprise connections (the login
    prompt's button); Auth0 accepts and returns it for every kind.
    """
    # Reference: https://auth0.com/docs/api/management/v2/organizations/patch-enabled-connections-by-connection-id
    path = f"/organizations/{_org(org_id)}/enabled_connections/{_connection(connection_id)}"
    given = {
        "assign_membership_on_login": assign_membership_on_login,
        "show_as_button": show_as_button,
        "is_signup_enabled": is_signup_enabled,
    }
    body = {key: bool(value) for key, value in given.items() if value is not None}
    if not body:
        raise InvalidId("Choose at least one setting to change.")
    return models.enabled_connection(client.call("PATCH", path, json_body=body))


def remove_enabled_connection(*, org_id: str, connection_id: str) -> None:
    """Disable a connection for the organization (204)."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/delete-enabled-connections-by-connection-id
    path = f"/organizations/{_org(org_id)}/enabled_connections/{_connection(connection_id)}"
    client.call("DELETE", path, no_content=True)


# --- Connections (tenant-wide) -----------------------------------------------------------------


def connection_index_key() -> str:
    """The cache key of the tenant's connection index (`domain_connection_index`), for a view
    that reads it with other keys in one round trip (adminsite.memo)."""
    return f"auth0:connections:{settings.AUTH0_BASE_URL}"


def _index_from_cache() -> tuple[dict[str, Connection], float] | None:
    cached = memo.get(connection_index_key())
    try:
        rows, expires = cached["rows"], float(cached["expires"])
        return {row[0]: Connection(*row) for row in rows}, expires
    except (KeyError, TypeError, ValueError):  # nothing cached, or another version's layout
        return None


def _index_to_cache(index: dict[str, Connection], expires: float) -> None:
    rows = [(c.id, c.name, c.strategy, c.is_domain_connection) for c in index.values()]
    timeout = max(1, math.ceil(expires - time.time()))
    memo.set(connection_index_key(), {"rows": rows, "expires": expires}, timeout=timeout)


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


def known_connections() -> dict[str, Connection]:
    """The connection index if it is in the cache, else {}: names for free (no call)."""
    cached = _index_from_cache()
    return cached[0] if cached is not None else {}


def list_connections() -> list[Connection]:
    """Every tenant connection (id, name, strategy, domain level), by name: the choice of
    connections to enable for an organization. The same read as domain_connection_index
    (one `GET /connections` walk, cached 60 s), not a second one."""
    index = domain_connection_index()
    return sorted(index.values(), key=lambda c: (c.name.casefold(), c.id))


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


def count_members(*, org_id: str) -> int | None:
    """How many members the organization has (one call: offset paging's `total`, a page of
    one), or None when Auth0 does not say."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/get-members
    path = f"/organizations/{_org(org_id)}/members"
    params: list[tuple[str, str | int]] = [
        ("fields", "user_id"),
        ("include_fields", "true"),
        ("page", 0),
        ("per_page", 1),
        ("include_totals", "true"),
    ]
    body = client.call("GET", path, params=params)
    total = body.get("total") if isinstance(body, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) else None


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


# --- Adding and removing members ----------------------------------------------------------------

# A batch refused for what it contains (a user id Auth0 does not accept, say): the next batch
# may well succeed. Any other failure (rate limit, credentials, scope, Auth0 down or an answer
# lost) would stop the next batches too, or leave their outcome unknown: they are not sent.
_BATCH_SPECIFIC: tuple[type[Auth0Error], ...] = (BadRequest, NotFound, Conflict)


def _member_ids(user_ids: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(user_ids, str):
        raise InvalidId("Give a list of user ids, not one string.")
    ids = tuple(dict.fromkeys(user_ids))  # each once, in the order given
    if not ids:
        raise InvalidId("At least one user id is required.")
    for user_id in ids:
        _user(user_id)
    return ids


def _member_batches(
    method: str, org_id: str, user_ids: list[str] | tuple[str, ...]
) -> MemberBatches:
    """Send `{"members": [...]}` in batches of 10 (Auth0's maximum per call), in order.

    Everything is validated before the first call. When no batch was applied, the first
    failure is raised as its typed error (so a missing scope or a rate limit reads as it
    does everywhere else); otherwise the result tells which user ids were done, which
    batches failed and why, and which were not sent.
    """
    path = f"/organizations/{_org(org_id)}/members"
    ids = _member_ids(user_ids)
    batches = [ids[i : i + MEMBERS_PER_CALL] for i in range(0, len(ids), MEMBERS_PER_CALL)]
    done: list[str] = []
    failed: list[BatchFailure] = []
    not_sent: list[str] = []
    for index, batch in enumerate(batches):
        try:
            client.call(method, path, json_body={"members": list(batch)}, no_content=True)
        except Auth0Error as exc:
            failed.append(BatchFailure(batch, exc))
            if not isinstance(exc, _BATCH_SPECIFIC):
                not_sent = [u for rest in batches[index + 1 :] for u in rest]
                break
            continue
        done.extend(batch)
    if failed and not done:
        raise failed[0].error
    return MemberBatches(ids, tuple(done), tuple(failed), tuple(not_sent))


def add_members(*, org_id: str, user_ids: list[str] | tuple[str, ...]) -> MemberBatches:
    """Make existing users members of the organization, 10 per call (204 each).

    Adding someone who is already a member is not an error (Auth0 documents no 409 here).
    A user who does not exist: Auth0 documents only 400 for a bad body; the sandbox answers
    404 "The user does not exist." Either way that batch fails and the next ones are sent.
    """
    # Reference: https://auth0.com/docs/api/management/v2/organizations/post-members
    # Reference: https://auth0.com/docs/manage-users/organizations/configure-organizations/assign-members
    return _member_batches("POST", org_id, user_ids)


def remove_members(*, org_id: str, user_ids: list[str] | tuple[str, ...]) -> MemberBatches:
    """Remove members from the organization (and their roles in it), 10 per call (204 each).

    Removing someone who is not a member is not an error. Member lists are eventually
    consistent: a removed member may still be listed for a few seconds.
    """
    # Reference: https://auth0.com/docs/api/management/v2/organizations/delete-members
    # Reference: https://auth0.com/docs/manage-users/organizations/configure-organizations/remove-members
    return _member_batches("DELETE", org_id, user_ids)


# --- Invitations -------------------------------------------------------------------------------


def list_invitations(*, org_id: str, page: int = 0, per_page: int = PER_PAGE) -> InvitationPage:
    """One offset page of the organization's invitations, newest first (Auth0's order),
    expired ones included until Auth0 deletes them. Auth0 gives no total for invitations;
    offset paging stops at 1,000 records, so there is no next page past that."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/get-invitations
    path = f"/organizations/{_org(org_id)}/invitations"
    page, per_page = max(0, int(page)), _clamp(per_page)
    if (page + 1) * per_page > MAX_OFFSET_PAGES * PER_PAGE:
        raise InvalidId("Auth0 lists at most the first 1,000 invitations.")
    params: list[tuple[str, str | int]] = [
        ("page", page),
        ("per_page", per_page),
        ("include_totals", "true"),
    ]
    body = client.call("GET", path, params=params)
    found = [models.invitation(i) for i in models.items(body, "invitations", "invitations")]
    more = len(found) >= per_page and (page + 2) * per_page <= MAX_OFFSET_PAGES * PER_PAGE
    return InvitationPage(found, page, page + 1 if more else None)


def get_invitation(*, org_id: str, invitation_id: str) -> Invitation:
    """One invitation (NotFound once it was revoked, accepted or deleted after expiring)."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/get-invitations-by-invitation-id
    path = f"/organizations/{_org(org_id)}/invitations/{_invitation(invitation_id)}"
    return models.invitation(client.call("GET", path))


def delete_invitation(*, org_id: str, invitation_id: str) -> None:
    """Revoke an invitation (204); its link stops working."""
    # Reference: https://auth0.com/docs/api/management/v2/organizations/delete-invitations-by-invitation-id
    path = f"/organizations/{_org(org_id)}/invitations/{_invitation(invitation_id)}"
    client.call("DELETE", path, no_content=True)


def _invitee_email(email: object) -> str:
    address = email.strip() if isinstance(email, str) else ""
    local, _, domain = address.rpartition("@")
    if (
        not local
        or not domain
        or len(address) > MAX_EMAIL
        or _controls(address)
        or any(c.isspace() for c in address)
    ):
        raise InvalidId(f"{email!r:.60} is not an email address.")
    return address


def _inviter_name(name: object) -> str:
    text = " ".join(name.split()) if isinstance(name, str) else ""
    if not text or _controls(text):
        raise InvalidId("Say who the invitation is from (the inviter's name).")
    if len(text) > INVITER_NAME_MAX:
        raise InvalidId(f"The inviter's name is longer than {INVITER_NAME_MAX} characters.")
    return text


def create_invitation(
    *,
    org_id: str,
    inviter_name: str,
    invitee_email: str,
    client_id: str,
    connection_id: str | None = None,
    roles: list[str] | tuple[str, ...] = (),
    ttl_sec: int | None = None,
    send_invitation_email: bool = True,
) -> Invitation:
    """Invite someone by email to join the organization through an application (200/201).

    Checked before any call (InvalidId): the ids, the email, the inviter's name (1-300
    characters), at most 50 roles, and `ttl_sec` between 0 and 30 days (0 or None: Auth0's
    7 days). Auth0 then refuses with 400 invalid_body an application or connection that does
    not exist, a passwordless connection, unknown roles, or an application without a login
    route (a machine-to-machine one: offer only `Client.accepts_invitations`).

    Inviting someone who is already a member: Auth0 documents no refusal (the invitation is
    by email, not by account), so one is created; check the members first if that matters.
    """
    # Reference: https://auth0.com/docs/api/management/v2/organizations/post-invitations
    # Reference: https://auth0.com/docs/manage-users/organizations/configure-organizations/send-membership-invitations
    path = f"/organizations/{_org(org_id)}/invitations"
    body: dict[str, Any] = {
        "inviter": {"name": _inviter_name(inviter_name)},
        "invitee": {"email": _invitee_email(invitee_email)},
        "client_id": client_id,
    }
    _client_id(client_id)
    if connection_id is not None:
        _connection(connection_id)
        body["connection_id"] = connection_id
    if isinstance(roles, str):
        raise InvalidId("Give a list of role ids, not one string.")
    role_ids = list(dict.fromkeys(roles))
    if len(role_ids) > INVITATION_MAX_ROLES:
        raise InvalidId(f"An invitation can carry at most {INVITATION_MAX_ROLES} roles.")
    for role_id in role_ids:
        _checked(ROLE_ID, role_id, "role id")
    if role_ids:
        body["roles"] = role_ids
    if ttl_sec is not None:
        if isinstance(ttl_sec, bool) or not isinstance(ttl_sec, int):
            raise InvalidId("The invitation's lifetime must be a whole number of seconds.")
        if not 0 <= ttl_sec <= INVITATION_MAX_TTL:
            raise InvalidId("An invitation can be valid for at most 30 days (2,592,000 s).")
        body["ttl_sec"] = ttl_sec
    body["send_invitation_email"] = bool(send_invitation_email)
    return models.invitation(client.call("POST", path, json_body=body))


# --- Applications (clients) --------------------------------------------------------------------


def list_clients() -> list[Client]:
    """Every application of the tenant except the global "All Applications" one, with
    name and type, walking offset pages of 50 (at most 1,000). Invitations should offer
    only those whose `accepts_invitations` is true (not machine-to-machine ones)."""
    # Reference: https://auth0.com/docs/api/management/v2/clients/get-clients
    # client_id, app_type and name are readable with any of Auth0's client read scopes
    # (read:clients, read:client_summary, ...).
    params: list[tuple[str, str | int]] = [
        ("fields", CLIENT_FIELDS),
        ("include_fields", "true"),
        ("is_global", "false"),
    ]
    return _offset_pages("/clients", "clients", models.client, params)


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
