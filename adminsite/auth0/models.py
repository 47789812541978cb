"""Typed results of the Management API, parsed defensively from its JSON.

Unknown keys are ignored (Auth0 adds fields freely); a missing required key or a value of the
wrong type means the body is not what Auth0 sends, so it becomes Unavailable("bad_response").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import Auth0Error, Unavailable


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

    @property
    def label(self) -> str:
        """How a control names the member: the name, else the email, else the user id."""
        return self.name or self.email or self.user_id


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


@dataclass(frozen=True, slots=True)
class BatchFailure:
    """One batch of at most 10 user ids that Auth0 refused, or whose outcome is unknown
    (`error` is an Unavailable: a timeout or dropped connection after the batch was sent)."""

    user_ids: tuple[str, ...]
    error: Auth0Error


@dataclass(frozen=True, slots=True)
class MemberBatches:
    """What adding or removing members in batches of 10 did.

    `done`: user ids in batches Auth0 answered 204. `failed`: batches refused (in order), each
    with its typed error. `not_sent`: user ids in the batches after a failure that made going on
    pointless (rate limit, credentials, scope, Auth0 down); the last failure says why.
    "Added 20 of 23" is `len(done)` of `requested`.
    """

    requested: tuple[str, ...]
    done: tuple[str, ...]
    failed: tuple[BatchFailure, ...]
    not_sent: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.failed and not self.not_sent

    @property
    def stopped_by(self) -> Auth0Error | None:
        """The failure that stopped the remaining batches from being sent, if any."""
        return self.failed[-1].error if self.not_sent and self.failed else None


@dataclass(frozen=True, slots=True)
class Invitation:
    """An invitation to join an organization. `connection_id` is "" when the invitee may
    use any of the organization's connections; dates are None when Auth0 leaves them out."""

    id: str
    organization_id: str
    invitee_email: str
    inviter_name: str
    client_id: str
    connection_id: str
    roles: tuple[str, ...]
    invitation_url: str
    ticket_id: str
    created_at: datetime | None
    expires_at: datetime | None

    def expired(self, now: datetime | None = None) -> bool:
        """Whether the invitation can no longer be accepted (Auth0 lists expired invitations
        until it deletes them)."""
        if self.expires_at is None:
            return False
        return self.expires_at <= (now or datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class InvitationPage:
    """One offset page of invitations, newest first. Auth0 gives no total for invitations,
    so `next_page` is the next page's number when this page was full, else None."""

    invitations: list[Invitation]
    page: int
    next_page: int | None


# Application types whose users sign in interactively: the only ones an invitation link can
# bring someone into (a machine-to-machine application has no login route for a person).
INTERACTIVE_APP_TYPES = frozenset({"regular_web", "spa", "native"})


@dataclass(frozen=True, slots=True)
class Client:
    """An application of the tenant; `app_type` is "" when Auth0 has none for it."""

    client_id: str
    name: str
    app_type: str

    @property
    def accepts_invitations(self) -> bool:
        """Whether a person can be invited into this application (regular web, SPA, native).
        Machine-to-machine and unknown types are not offered."""
        return self.app_type in INTERACTIVE_APP_TYPES


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


def _opt_time(data: dict[str, Any], key: str, where: str) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_response(f"{where}.{key} is not a string")
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise bad_response(f"{where}.{key} is not an ISO 8601 time") from None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def invitation(value: Any) -> Invitation:
    where = "invitation"
    data = obj(value, where)
    inviter = data.get("inviter")
    invitee = data.get("invitee")
    roles = data.get("roles")
    if roles is not None and (
        not isinstance(roles, list) or not all(isinstance(r, str) for r in roles)
    ):
        raise bad_response(f"{where}.roles is not a list of strings")
    return Invitation(
        id=_str(data, "id", where),
        organization_id=_opt_str(data, "organization_id", where),
        invitee_email=_opt_str(obj(invitee, f"{where}.invitee"), "email", f"{where}.invitee"),
        inviter_name=(
            _opt_str(obj(inviter, f"{where}.inviter"), "name", f"{where}.inviter")
            if inviter is not None
            else ""
        ),
        client_id=_opt_str(data, "client_id", where),
        connection_id=_opt_str(data, "connection_id", where),
        roles=tuple(roles or ()),
        invitation_url=_opt_str(data, "invitation_url", where),
        ticket_id=_opt_str(data, "ticket_id", where),
        created_at=_opt_time(data, "created_at", where),
        expires_at=_opt_time(data, "expires_at", where),
    )


def client(value: Any) -> Client:
    data = obj(value, "client")
    client_id = _str(data, "client_id", "client")
    return Client(
        client_id=client_id,
        name=_opt_str(data, "name", "client") or client_id,
        app_type=_opt_str(data, "app_type", "client"),
    )
