"""What Org Desk last read roles and people to be called, in Django's cache, and how messages
name them.

Two indexes: role id → name, and user id → (name, email). The pages already read these from
Auth0 (the members part's roles, names and emails; the role picker's GET /roles; a member's
roles; the person page's GET /users/{id}; the search's users by email), and those answers fill
the indexes. A change that names a role or a person by id only (assigning, removing a role) can
then label its audit entry and message with what Auth0 said, never with what the browser
posted, and without an extra upstream call. What is not in an index is unknown: the label shows
the id and says so.

A third, per organization: the user ids its members pages listed (`members_of`), which the add
step uses to list people who are already members apart (orgs/membership.py). It rides on the
same read and write as the names, so listing members writes no session.

Cost: one `cache.get_many` reads the indexes, and one `cache.set_many` writes only the index
that changed (none when nothing is new), so a page seen again costs one cache read. Each index
is bounded (the names seen longest ago are forgotten first) and expires after a day.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings

from adminsite import auth0, memo

TTL = 24 * 3600  # renamed roles and people: every page that shows them refreshes the name
MAX_ROLES = 2000  # bound each cached value; the oldest names are forgotten first
MAX_PEOPLE = 500  # 10 pages of members: the members part reads (unpickles) it on every view
MAX_TEXT = 120  # characters kept of a name or an email (Auth0's may run to thousands)
MAX_SEEN = 300  # user ids kept per organization as listed members (six pages of members)
UNKNOWN = "name unknown to Org Desk"

Person = tuple[str, str]  # (name, email), either possibly ""


class PersonLike(Protocol):
    """What Auth0 sent about a person: a member of an organization or a user of the tenant."""

    @property
    def user_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str: ...


def keys() -> tuple[str, str]:
    """The cache keys of both indexes (a request may read them with other keys: adminsite.memo)."""
    base = settings.AUTH0_BASE_URL
    return f"orgs:role-names:{base}", f"orgs:people:{base}"


def read_ahead(*also: str) -> None:
    """Both indexes and the keys `also` in one cache round trip, kept for the request
    (adminsite.memo): a view that names things from several reads them at once."""
    memo.get_many([*keys(), *also])


def seen_key(org_id: str) -> str:
    """The cache key of the members Org Desk listed in this organization."""
    return f"orgs:members-seen:{settings.AUTH0_BASE_URL}:{org_id}"


def _seen_ids(value: Any) -> list[str]:
    return [u for u in value if isinstance(u, str)] if isinstance(value, list) else []


def _with_seen(ids: list[str], listed: Iterable[str], gone: Iterable[str] = ()) -> list[str] | None:
    """`ids` with `listed` added (newest last, at most MAX_SEEN) and `gone` removed; None when
    that changes nothing (nothing to write)."""
    listed, gone = list(listed), set(gone)
    known = set(ids)
    if known.issuperset(listed) and not gone & known:
        return None
    kept = [u for u in dict.fromkeys([*ids, *listed]) if u not in gone]
    return kept[-MAX_SEEN:]


def members_seen(org_id: str) -> set[str]:
    """User ids Org Desk listed as members of this organization (its members pages, the people
    it added), minus those it removed since: one cache read."""
    return set(_seen_ids(memo.get(seen_key(org_id))))


def note_members(org_id: str, listed: Iterable[str] = (), gone: Iterable[str] = ()) -> None:
    """Record members Org Desk added (`listed`) or removed (`gone`); written only when new."""
    key = seen_key(org_id)
    merged = _with_seen(_seen_ids(memo.get(key)), listed, gone)
    if merged is not None:
        memo.set_after_answer({key: merged}, timeout=TTL)  # the answer does not use it


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


@dataclass(frozen=True, slots=True)
class Known:
    """Both indexes as one cache read found them."""

    roles: dict[str, str] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)

    def role_name(self, role_id: str) -> str:
        """The role's name as Auth0 last sent it to Org Desk, or "" when unknown."""
        name = self.roles.get(role_id)
        return name if isinstance(name, str) else ""

    def person(self, user_id: str) -> Person:
        """(name, email) as Auth0 last sent them to Org Desk; "" for what is unknown."""
        value = self.people.get(user_id)
        if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value):
            return value
        return "", ""

    def role_label(self, role_id: str) -> str:
        return role_label(role_id, self.role_name(role_id))

    def person_label(self, user_id: str) -> str:
        return person_label(user_id, *self.person(user_id))


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def known() -> Known:
    """Both indexes, in one cache read."""
    roles_key, people_key = keys()
    found = memo.get_many([roles_key, people_key])
    return Known(_as_dict(found.get(roles_key)), _as_dict(found.get(people_key)))


def _merged(index: dict[str, Any], seen: dict[str, Any], bound: int) -> dict[str, Any] | None:
    """`index` with what was just seen, newest last and at most `bound` long; None when the
    index already holds all of it (nothing to write)."""
    if all(index.get(key) == value for key, value in seen.items()):
        return None
    index = dict(index)
    for key in seen:
        index.pop(key, None)  # re-inserted last: the newest names survive the bound
    index.update(seen)
    if len(index) > bound:
        index = dict(list(index.items())[-bound:])
    return index


def remember(
    *,
    roles: Iterable[auth0.Role] = (),
    people: Iterable[PersonLike] = (),
    members_of: str | None = None,
) -> None:
    """Record the names Auth0 just sent (and, with `members_of`, that `people` are members of
    that organization): one cache read, and one write of the index(es) in which something is
    new or changed (a page seen before writes nothing)."""
    seen_roles = {r.id: r.name for r in roles if r.id and r.name}
    seen_people: dict[str, Person] = {}
    listed: list[str] = []
    for p in people:
        name, email = _short(p.name), _short(p.email)
        if p.user_id:
            listed.append(p.user_id)
            if name or email:
                seen_people[p.user_id] = (name, email)
    listed_key = seen_key(members_of) if members_of and listed else None
    if not seen_roles and not seen_people and listed_key is None:
        return
    roles_key, people_key = keys()
    wanted = {k: seen for k, seen in ((roles_key, seen_roles), (people_key, seen_people)) if seen}
    found = memo.get_many([*wanted, *([listed_key] if listed_key else [])])
    changed: dict[str, Any] = {}
    for key, seen in wanted.items():
        bound = MAX_ROLES if key == roles_key else MAX_PEOPLE
        merged = _merged(_as_dict(found.get(key)), seen, bound)
        if merged is not None:
            changed[key] = merged
    if listed_key is not None:
        ids = _with_seen(_seen_ids(found.get(listed_key)), listed)
        if ids is not None:
            changed[listed_key] = ids
    if changed:
        memo.set_after_answer(changed, timeout=TTL)  # the answer does not use it


def roles_to_pick(query: str, picked: Iterable[str]) -> list[auth0.Role]:
    """The tenant's roles named like `query` (one call; Auth0's errors are raised), after the
    roles already ticked (`picked`, role ids) that this search did not find: a form whose role
    list is searched keeps its ticks (the add members and bulk change forms)."""
    roles = auth0.list_roles(name_filter=query)
    remember(roles=roles)
    names, listed = known(), {r.id for r in roles}
    return [auth0.Role(r, names.role_name(r), "") for r in picked if r not in listed] + roles


def picked_roles(values: Iterable[str], most: int = 50) -> list[str]:
    """The role ids a form sent as ticked, at most `most`, those shaped like Auth0's only."""
    return [r for r in list(values)[:most] if auth0.ROLE_ID.fullmatch(r)]


def _isolated(text: str) -> str:
    """Text that holds right-to-left script or bidi controls, wrapped in a first-strong
    isolate, so that it cannot reorder the rest of the message (the id shown after it)."""
    if any(unicodedata.bidirectional(c) in _BIDI for c in text):
        return f"\u2068{text}\u2069"
    return text


_BIDI = frozenset({"R", "AL", "LRE", "LRO", "RLE", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})


def role_label(role_id: str, name: str) -> str:
    """How a message names a role: its name, or its id and that the name is unknown."""
    return _isolated(name) if name else f"{role_id} ({UNKNOWN})"


def person_label(user_id: str, name: str = "", email: str = "") -> str:
    """How a message names a person: name and email with the id as detail; the email alone
    when Auth0 gave no name (or the email as the name); the id and that the name is unknown
    when Org Desk has neither."""
    if name and email and name.casefold() == email.casefold():
        name = ""
    if name and email:
        return f"{_isolated(name)} ({_isolated(email)} · {user_id})"
    if name or email:
        return f"{_isolated(name or email)} ({user_id})"
    return f"{user_id} ({UNKNOWN})"
