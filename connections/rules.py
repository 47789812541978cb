"""Auth0's rules for a connection's per-organization settings, checked before any call.

`is_signup_enabled` applies to database connections only and needs `assign_membership_on_login`;
`show_as_button` applies to enterprise connections (the organization's login prompt); an
organization has at most 10 enabled connections. (Auth0's docs: "Enable Organization
Connections"; Management API: organizations/post-enabled-connections.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_ENABLED = 10  # Auth0's entity limit: enabled connections per organization
DATABASE = "auth0"
# Auth0's enterprise strategies: "show as button" (the organization's login prompt) is theirs.
ENTERPRISE = frozenset(
    {
        "ad",
        "adfs",
        "auth0-adldap",
        "custom",
        "google-apps",
        "ip",
        "office365",
        "oidc",
        "okta",
        "pingfederate",
        "samlp",
        "sharepoint",
        "waad",
    }
)
SETTINGS = ("assign_membership_on_login", "show_as_button", "is_signup_enabled")
SETTING_NAMES = {
    "assign_membership_on_login": "membership on login",
    "show_as_button": "show as button",
    "is_signup_enabled": "signup",
}


# --- The rules (Auth0's, checked before any call) ----------------------------------------------


def applicable(strategy: str) -> tuple[str, ...]:
    """The settings that mean something for a connection of this strategy."""
    keys = ["assign_membership_on_login"]
    if strategy in ENTERPRISE:
        keys.append("show_as_button")
    if strategy == DATABASE:
        keys.append("is_signup_enabled")
    return tuple(keys)


def defaults(strategy: str) -> dict[str, bool]:
    """What the enable step starts from: no automatic membership, a button for enterprise
    connections, no signup."""
    return {
        "assign_membership_on_login": False,
        "show_as_button": strategy in ENTERPRISE,
        "is_signup_enabled": False,
    }


def rule_problem(name: str, strategy: str, wanted: Mapping[str, Any]) -> str | None:
    """Why Auth0 would refuse these settings (signup only for database connections, and only
    with membership on login), or None."""
    if not wanted.get("is_signup_enabled"):
        return None
    if strategy != DATABASE:
        return (
            f"signup can only be turned on for database connections, and {name} is a "
            f"{strategy} connection"
        )
    if not wanted.get("assign_membership_on_login"):
        return (
            f"signup for {name} needs membership on login: turn membership on login on too, "
            "or leave signup off"
        )
    return None


def changed_settings(before: Mapping[str, Any], posted: Mapping[str, bool]) -> dict[str, bool]:
    """The applicable settings whose posted value differs from Auth0's (before)."""
    keys = applicable(str(before.get("strategy") or ""))
    return {k: posted[k] for k in keys if posted[k] != bool(before.get(k))}


def wanted_settings(before: Mapping[str, Any], posted: Mapping[str, bool]) -> dict[str, Any]:
    """The settings after the change: Auth0's, with the applicable ones as posted; a posted
    signup on a connection that has none is kept, for the rules to refuse."""
    wanted = {k: before.get(k) for k in SETTINGS}
    wanted.update({k: posted[k] for k in applicable(str(before.get("strategy") or ""))})
    if posted["is_signup_enabled"]:
        wanted["is_signup_enabled"] = True
    return wanted
