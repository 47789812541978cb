"""The Auth0 Management API service module: views call `auth0.<fn>(...)`, never `requests`.

`client` holds the transport (session, token, retries), `errors` the typed failures,
`models` the typed results and `api` one function per operation.
"""

from __future__ import annotations

from .api import (
    add_enabled_connection,
    assign_member_roles,
    domain_connection_index,
    find_members,
    get_enabled_connection,
    get_member_roles,
    get_organization,
    get_organization_by_name,
    list_enabled_connections,
    list_members,
    list_organizations,
    list_roles,
    remove_enabled_connection,
    remove_member_roles,
    set_domain_connection,
)
from .client import RateBudget, Stats, rate_budget, reset_upstream_stats, upstream_stats
from .errors import (
    Auth0Error,
    BadRequest,
    Conflict,
    Forbidden,
    InvalidId,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from .models import (
    Connection,
    EnabledConnection,
    Member,
    MemberPage,
    Organization,
    OrganizationPage,
    Role,
)

__all__ = [
    "Auth0Error",
    "BadRequest",
    "Conflict",
    "Connection",
    "EnabledConnection",
    "Forbidden",
    "InvalidId",
    "Member",
    "MemberPage",
    "NotFound",
    "Organization",
    "OrganizationPage",
    "RateBudget",
    "RateLimited",
    "Role",
    "Stats",
    "Unauthorized",
    "Unavailable",
    "add_enabled_connection",
    "assign_member_roles",
    "domain_connection_index",
    "find_members",
    "get_enabled_connection",
    "get_member_roles",
    "get_organization",
    "get_organization_by_name",
    "list_enabled_connections",
    "list_members",
    "list_organizations",
    "list_roles",
    "rate_budget",
    "remove_enabled_connection",
    "remove_member_roles",
    "reset_upstream_stats",
    "set_domain_connection",
    "upstream_stats",
]
