"""What Org Desk last read each role to be called: role id → name, in Django's cache.

Roles are tenant-wide, and the pages already read their names from Auth0 (the member list's
roles, the role picker's GET /roles, a member's roles). Those answers fill this index, so that
a change that names a role by id only (removing one) can label its audit entry and message
with a name Auth0 gave, not one the browser posted, and without an extra upstream call.
A name not in the index is unknown: callers show the id and say so.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache

from adminsite import auth0

TTL = 24 * 3600  # renamed roles: every page that shows the role refreshes its name
MAX_ROLES = 2000  # bound the cached value; the oldest names are forgotten first


def _key() -> str:
    return f"orgs:role-names:{settings.AUTH0_BASE_URL}"


def _index() -> dict[str, str]:
    value = cache.get(_key())
    return value if isinstance(value, dict) else {}


def remember(roles: Iterable[auth0.Role]) -> None:
    """Record the names Auth0 just sent: one cache read, and one write only if a name is new or
    changed (a page seen before writes nothing)."""
    seen = {r.id: r.name for r in roles if r.id and r.name}
    if not seen:
        return
    index = _index()
    if all(index.get(role_id) == name for role_id, name in seen.items()):
        return
    for role_id in seen:
        index.pop(role_id, None)  # re-inserted last: the newest names survive the bound
    index.update(seen)
    if len(index) > MAX_ROLES:
        index = dict(list(index.items())[-MAX_ROLES:])
    cache.set(_key(), index, timeout=TTL)


def name_of(role_id: str) -> str:
    """The role's name as Auth0 last sent it to Org Desk, or "" when unknown."""
    name = _index().get(role_id)
    return name if isinstance(name, str) else ""


def label(role_id: str, name: str) -> str:
    """How a message names a role: its name, or its id and that the name is unknown."""
    return name if name else f"{role_id} (name unknown to Org Desk)"
