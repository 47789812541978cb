"""Typed results of the Management API, parsed defensively from its JSON.

Unknown keys are ignored (Auth0 adds fields freely); a missing required key or a value of the
wrong type means the body is not what Auth0 sends, so it becomes Unavailable("bad_response").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import Unavailable


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    display_name: str


@dataclass(frozen=True, slots=True)
class OrganizationPage:
    organizations: list[Organization]
    next: str | None


@dataclass(frozen=True, slots=True)
class EnabledConnection:
    connection_id: str
    name: str
    strategy: str
    assign_membership_on_login: bool
    show_as_button: bool
    is_signup_enabled: bool | None  # Auth0 returns it for database connections only


@dataclass(frozen=True, slots=True)
class Connection:
    id: str
    name: str
    strategy: str
    is_domain_connection: bool


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class Member:
    user_id: str
    email: str
    name: str
    picture: str
    roles: tuple[Role, ...]


@dataclass(frozen=True, slots=True)
class User:
    """A user of the tenant, as a search for people shows one: the connection is that of the
    user's first (primary) identity."""

    user_id: str
    email: str
    name: str
    connection: str


@dataclass(frozen=True, slots=True)
class MemberPage:
    members: list[Member]
    next: str | None


def bad_response(what: str) -> Unavailable:
    return Unavailable(
        f"Auth0 sent a response Org Desk could not read ({what}).", reason="bad_response"
    )


def obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_response(f"{where} is not an object")
    return value


def items(body: Any, key: str, where: str) -> list[Any]:
    """The list under `key` of a paged body (or the body itself when it is a bare array)."""
    value = body if isinstance(body, list) else obj(body, where).get(key)
    if not isinstance(value, list):
        raise bad_response(f"{where}.{key} is not a list")
    return value


def cursor(body: dict[str, Any], where: str) -> str | None:
    value = body.get("next")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad_response(f"{where}.next is not a string")
    return value


def _str(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise bad_response(f"{where}.{key} is missing or not a string")
    return value


def _opt_str(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_response(f"{where}.{key} is not a string")
    return value


def _opt_bool(data: dict[str, Any], key: str, where: str, default: bool | None) -> bool | None:
    value = data.get(key, default)
    if value is not None and not isinstance(value, bool):
        raise bad_response(f"{where}.{key} is not a boolean")
    return value


def organization(value: Any) -> Organization:
    data = obj(value, "organization")
    name = _str(data, "name", "organization")
    return Organization(
        id=_str(data, "id", "organization"),
        name=name,
        display_name=_opt_str(data, "display_name", "organization") or name,
    )


def enabled_connection(value: Any) -> EnabledConnection:
    where = "enabled connection"
    data = obj(value, where)
    conn = obj(data.get("connection"), f"{where}.connection")
    return EnabledConnection(
        connection_id=_str(data, "connection_id", where),
        name=_str(conn, "name", f"{where}.connection"),
        strategy=_str(conn, "strategy", f"{where}.connection"),
        assign_membership_on_login=bool(
            _opt_bool(data, "assign_membership_on_login", where, False)
        ),
        show_as_button=bool(_opt_bool(data, "show_as_button", where, True)),
        is_signup_enabled=_opt_bool(data, "is_signup_enabled", where, None),
    )


def connection(value: Any) -> Connection:
    data = obj(value, "connection")
    return Connection(
        id=_str(data, "id", "connection"),
        name=_str(data, "name", "connection"),
        strategy=_str(data, "strategy", "connection"),
        is_domain_connection=bool(_opt_bool(data, "is_domain_connection", "connection", False)),
    )


def role(value: Any) -> Role:
    data = obj(value, "role")
    return Role(
        id=_str(data, "id", "role"),
        name=_str(data, "name", "role"),
        description=_opt_str(data, "description", "role"),
    )


def member(value: Any) -> Member:
    data = obj(value, "member")
    roles = data.get("roles")
    if roles is not None and not isinstance(roles, list):
        raise bad_response("member.roles is not a list")
    return Member(
        user_id=_str(data, "user_id", "member"),
        email=_opt_str(data, "email", "member"),
        name=_opt_str(data, "name", "member"),
        picture=_opt_str(data, "picture", "member"),
        roles=tuple(role(r) for r in roles or ()),
    )


def user(value: Any) -> User:
    data = obj(value, "user")
    identities = data.get("identities")
    if identities is not None and not isinstance(identities, list):
        raise bad_response("user.identities is not a list")
    connection = ""
    if identities:
        first = obj(identities[0], "user.identities[0]")
        connection = _opt_str(first, "connection", "user.identities[0]")
    return User(
        user_id=_str(data, "user_id", "user"),
        email=_opt_str(data, "email", "user"),
        name=_opt_str(data, "name", "user"),
        connection=connection,
    )
