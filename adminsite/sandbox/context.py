"""What every endpoint handler gets, and the lookups and error texts they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .params import ApiError
from .seed import Store

ORG_NOT_FOUND = "No organization found by that id or name"
ORG_CONN_NOT_FOUND = "No connection found by that id"
SIGNUP_RULE = (
    "Only database connections with assign_membership_on_login = true support "
    "is_signup_enabled = true."
)
# Auth0's entity limit is 10 enabled connections per organization; the status and message of
# the refusal of an 11th are not documented (unverified): the sandbox answers 409, like the
# other "no more" limit Auth0 documents (member roles).
MAX_ORG_CONNECTIONS = 10
# "You can send a maximum of 10 members per organization per request" (docs: assign-members).
MAX_MEMBERS_PER_CALL = 10
MAX_MEMBER_ROLES = 50
MEMBER_FIELDS = ("user_id", "email", "picture", "name")


@dataclass
class Ctx:
    store: Store
    params: dict[str, str]
    raw_query: str
    payload: Any
    scopes: tuple[str, ...]
    limit_quirk: bool = True


Handler = Callable[[Ctx], tuple[int, Any]]


def find_org(ctx: Ctx) -> str:
    oid = ctx.params["id"]
    if oid not in ctx.store.orgs:
        raise ApiError(404, ORG_NOT_FOUND)
    return oid


def find_member(ctx: Ctx, oid: str) -> str:
    user_id = ctx.params["user_id"]
    if user_id not in ctx.store.members[oid]:
        raise ApiError(404, "The user does not exist.", "inexistent_user")
    return user_id


def totals(key: str, items: list[Any], start: int, limit: int, total: int) -> dict[str, Any]:
    return {key: items, "start": start, "limit": limit, "total": total}
