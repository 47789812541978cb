"""Deterministic seed data for the sandbox tenant (random.Random(seed); fast enough to reseed)."""

from __future__ import annotations

import copy
import hashlib
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .seed_data import (
    ACME_CONNECTIONS,
    ACME_PEOPLE,
    CLIENTS,
    CONNECTIONS,
    FIRST,
    HOLDINGS_EVERY,
    HOSTILE_ROLE_DESCRIPTIONS,
    INVITATIONS,
    LAST,
    NAMED_ORGS,
    RENAMED_ORGS,
    ROLE_AREAS,
    ROLE_KINDS,
    SEARCH_PEOPLE,
    SUFFIXES,
    WORDS_A,
    WORDS_B,
)

ALNUM = string.ascii_letters + string.digits
EPOCH = datetime(2022, 3, 1, 9, 0, 0)  # naive UTC, like the cursors' "...UTC"


@dataclass(frozen=True)
class Order:
    """A list in one sort order: ids, their (created_at, id) cursor keys, and (for an order
    other than the cursor's) each id's position."""

    ids: list[str]
    keys: list[tuple[str, str]]
    position: dict[str, int] | None = None


def _rank(ids: list[str]) -> dict[str, int]:
    return {oid: i for i, oid in enumerate(ids)}


@dataclass
class Store:
    """The tenant's data. Not thread-safe by itself: the Tenant's lock guards it.

    Sort orders and the email index are computed once and cached (a page of a 20,000-organization
    tenant costs a bisection, not a sort); `touch()` after a change drops them.
    """

    orgs: dict[str, dict[str, Any]] = field(default_factory=dict)
    org_created: dict[str, str] = field(default_factory=dict)
    org_by_name: dict[str, str] = field(default_factory=dict)
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    conn_created: dict[str, str] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    # org id -> {user_id: membership created_at}
    members: dict[str, dict[str, str]] = field(default_factory=dict)
    # (org id, user id) -> role ids, in assignment order
    member_roles: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # org id -> {connection id: {assign_membership_on_login, show_as_button, is_signup_enabled}}
    enabled: dict[str, dict[str, dict[str, bool]]] = field(default_factory=dict)
    # client id -> the application, as GET /clients answers it (no secrets are kept)
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    # org id -> {invitation id: the invitation, as Auth0 answers it}, in creation order
    invitations: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    clock: datetime = EPOCH
    versions: dict[str, int] = field(default_factory=dict)  # "orgs", "users", "members"
    _orders: dict[tuple[str, str], tuple[tuple[int, int], Any]] = field(
        default_factory=dict, repr=False
    )

    def touch(self, kind: str = "") -> None:
        """Forget the cached orders of one kind ("orgs", "users", "members") after adding or
        removing some, or of every kind; a member added does not re-sort 20,000 organizations."""
        for each in (kind,) if kind else ("orgs", "users", "members"):
            self.versions[each] = self.versions.get(each, 0) + 1

    def _cached[T](self, what: tuple[str, str], size: int, build: Callable[[], T]) -> T:
        # the size also catches a change made without touch()
        stamp = (self.versions.get(what[0], 0), size)
        hit = self._orders.get(what)
        if hit is None or hit[0] != stamp:
            hit = (stamp, build())
            self._orders[what] = hit
        return hit[1]

    def org_order(self, sort: str | None = None) -> Order:
        """Organizations by created_at (Auth0's default), or by `sort` ("field:1|-1")."""
        sort = sort or "created_at:1"
        return self._cached(("orgs", sort), len(self.orgs), lambda: self._org_order(sort))

    def _org_order(self, sort: str) -> Order:
        keys = sorted((self.org_created[oid], oid) for oid in self.orgs)
        if sort == "created_at:1":
            return Order([k[1] for k in keys], keys)
        name, direction = sort.split(":")
        if name == "created_at":
            keys.reverse()
        else:
            keys.sort(key=lambda k: (self.orgs[k[1]][name], k[1]), reverse=direction == "-1")
        ids = [k[1] for k in keys]
        return Order(ids, keys, {oid: i for i, oid in enumerate(ids)})

    def org_rank(self, sort: str | None = None) -> dict[str, int]:
        """Each organization's position in `org_order(sort)`."""
        order = self.org_order(sort)
        size = len(self.orgs)
        return self._cached(("orgs", f"rank:{sort}"), size, lambda: _rank(order.ids))

    def folded_org_names(self) -> dict[str, tuple[str, str]]:
        """Each organization's name and display name, case-folded: what the search compares,
        folded once per change of the organizations rather than once per search."""

        def build() -> dict[str, tuple[str, str]]:
            return {
                oid: (
                    str(org.get("name", "")).casefold(),
                    str(org.get("display_name", "")).casefold(),
                )
                for oid, org in self.orgs.items()
            }

        return self._cached(("orgs", "folded"), len(self.orgs), build)

    def users_by_email(self) -> dict[str, list[str]]:
        """User ids by case-folded email (what an exact email search looks up)."""

        def build() -> dict[str, list[str]]:
            index: dict[str, list[str]] = {}
            for uid, user in self.users.items():
                if user.get("email"):
                    index.setdefault(str(user["email"]).casefold(), []).append(uid)
            return index

        return self._cached(("users", "email"), len(self.users), build)

    def member_order(self, oid: str) -> Order:
        """An organization's members by membership created_at."""
        members = self.members[oid]

        def build() -> Order:
            keys = sorted((created, uid) for uid, created in members.items())
            return Order([k[1] for k in keys], keys)

        return self._cached(("members", oid), len(members), build)

    def now(self) -> str:
        """A created_at later than everything seeded, strictly increasing."""
        now = datetime.now(UTC).replace(tzinfo=None)
        self.clock = max(self.clock, now) + timedelta(microseconds=1000)
        return self.clock.isoformat(" ", "microseconds")


def _ident(rng: random.Random, prefix: str, taken: set[str]) -> str:
    while True:
        ident = prefix + "".join(rng.choices(ALNUM, k=16))
        if ident not in taken:
            taken.add(ident)
            return ident


def _stamp(seconds: float) -> str:
    return (EPOCH + timedelta(seconds=seconds)).isoformat(" ", "microseconds")


def picture(name: str, email: str | None) -> str:
    digest = hashlib.md5((email or name).encode(), usedforsecurity=False).hexdigest()
    initials = "".join(w[0] for w in name.split()[:2] if w[:1].isascii() and w[:1].isalpha())
    initials = (initials or "u").lower()
    return (
        f"https://s.gravatar.com/avatar/{digest}?s=480&r=pg&d=https%3A%2F%2Fcdn.auth0.com"
        f"%2Favatars%2F{initials}.png"
    )


def build(seed: int, organizations: int, big_org_members: int) -> Store:
    rng = random.Random(seed)
    store = Store()
    taken: set[str] = set()

    for i, (name, strategy, display, domain, options) in enumerate(CONNECTIONS):
        cid = _ident(rng, "con_", taken)
        conn: dict[str, Any] = {
            "id": cid,
            "options": copy.deepcopy(options),
            "strategy": strategy,
            "name": name,
        }
        if display:
            conn["display_name"] = display
        conn["is_domain_connection"] = domain
        if strategy in ("samlp", "okta", "waad", "oidc", "ad"):
            conn["show_as_button"] = True
        conn["authentication"] = {"active": True}
        conn["connected_accounts"] = {"active": False}
        conn["realms"] = [name]
        if strategy == "ad":
            conn["provisioning_ticket_url"] = (
                f"https://sandbox.orgdesk.invalid/p/ad/{''.join(rng.choices(ALNUM, k=8))}"
            )
        store.connections[cid] = conn
        store.conn_created[cid] = _stamp(i * 3600.5)
    conn_by_name = {c["name"]: cid for cid, c in store.connections.items()}
    conn_ids = list(store.connections)

    for area in ROLE_AREAS:
        for kind, verb in ROLE_KINDS:
            name = f"{area} {kind}"
            rid = _ident(rng, "rol_", taken)
            description = HOSTILE_ROLE_DESCRIPTIONS.get(name, f"{verb} {area.lower()}")
            if len(store.roles) % 11 == 5:
                description = ""
            store.roles[rid] = {"id": rid, "name": name, "description": description}
    for role in ("Read Only", "Org Owner", "Tenant Auditor", "Developer", "Break-glass Admin"):
        rid = _ident(rng, "rol_", taken)
        store.roles[rid] = {"id": rid, "name": role, "description": f"{role} (sandbox)"}
    role_ids = list(store.roles)

    # Organizations: named ones first (earliest created_at, so on the first page by default).
    pairs = [(a, b) for a in WORDS_A for b in WORDS_B]
    rng.shuffle(pairs)
    for i in range(max(organizations, len(NAMED_ORGS))):
        oid = _ident(rng, "org_", taken)
        if i < len(NAMED_ORGS):
            name, display, extra = NAMED_ORGS[i]
            org: dict[str, Any] = {"id": oid, "name": name, "display_name": display[:255]}
            org.update(copy.deepcopy(extra))
        else:
            a, b = pairs[(i - len(NAMED_ORGS)) % len(pairs)]
            lap = (i - len(NAMED_ORGS)) // len(pairs)
            name = f"{a}-{b}" + (f"-{lap + 1}" if lap else "")
            display = f"{a.title()} {b.title()} {rng.choice(SUFFIXES)}" + (
                f" {lap + 1}" if lap else ""
            )
            org = {"id": oid, "name": name, "display_name": display}
            if i % 7 == 0:
                org["branding"] = {"logo_url": f"https://cdn.orgdesk.invalid/logos/{name}.png"}
            if i % 5 == 0:
                org["metadata"] = {"tier": rng.choice(["free", "pro", "enterprise"])}
        store.orgs[oid] = org
        store.org_by_name[org["name"]] = oid
        store.org_created[oid] = _stamp(86400 + i * 1800 + rng.randint(0, 999) / 1000)
        store.members[oid] = {}
        store.enabled[oid] = {}
        if i >= len(NAMED_ORGS):
            for cid in rng.sample(conn_ids, rng.randint(0, 3)):
                store.enabled[oid][cid] = {
                    "assign_membership_on_login": False,
                    "show_as_button": True,
                    "is_signup_enabled": False,
                }
    org_ids = list(store.orgs)
    acme, big = org_ids[0], org_ids[1]

    for cname, assign, button, signup in ACME_CONNECTIONS:
        store.enabled[acme][conn_by_name[cname]] = {
            "assign_membership_on_login": assign,
            "show_as_button": button,
            "is_signup_enabled": signup,
        }
    store.enabled[big][conn_by_name["contoso-azure-ad"]] = {
        "assign_membership_on_login": True,
        "show_as_button": True,
        "is_signup_enabled": False,
    }

    clock = 200 * 86400.0
    for user_id, name, email, n_roles in ACME_PEOPLE:
        _add_user(store, user_id, name, email, _stamp(clock))
        clock += 61.25
        store.members[acme][user_id] = _stamp(clock)
        if n_roles:
            store.member_roles[(acme, user_id)] = rng.sample(role_ids, n_roles)

    pool: list[str] = []
    for i in range(big_org_members):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        local = f"{first}.{last}".lower().replace("'", "")
        email = f"{local}{i}@bigco.example"
        if i % 97 == 13:
            user_id = f"samlp|bigco-saml|{local}/{i}"
        elif i % 4 == 1:
            user_id = f"google-oauth2|{rng.randrange(10**20, 10**21)}"
        else:
            user_id = f"auth0|{rng.getrandbits(96):024x}"
        _add_user(store, user_id, name, email, _stamp(clock))
        clock += 13.5 + rng.randint(0, 999) / 1000
        store.members[big][user_id] = _stamp(clock)
        if i % 3 == 0:
            store.member_roles[(big, user_id)] = [rng.choice(role_ids)]
        pool.append(user_id)

    if pool:
        for oid in org_ids[len(NAMED_ORGS) :]:
            for user_id in rng.sample(pool, min(len(pool), rng.randint(0, 3))):
                clock += 7.0
                store.members[oid][user_id] = _stamp(clock)
    clock = _search_fixtures(store, org_ids[len(NAMED_ORGS) :], clock)
    store.clock = EPOCH + timedelta(seconds=clock + 86400)
    _applications_and_invitations(store, seed)
    return store


def iso_z(moment: datetime) -> str:
    """Auth0's timestamp format: `2023-01-25T17:49:32.656Z` (UTC, milliseconds)."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def new_invitation(
    store: Store,
    rng: random.Random,
    oid: str,
    *,
    client_id: str,
    inviter: str,
    email: str,
    created: datetime,
    ttl_sec: int,
    connection_id: str | None = None,
    roles: list[str] | None = None,
    app_metadata: dict[str, Any] | None = None,
    user_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store an invitation with Auth0's shape (key order of the recorded answer) and return it.

    The link is the application's login route with `invitation`, `organization` and
    `organization_name`, as Auth0 builds it; optional keys are left out when not given."""
    taken = {i for invs in store.invitations.values() for i in invs}
    iid = _ident(rng, "uinv_", taken)
    ticket = "".join(rng.choices(ALNUM, k=32))
    login = store.clients[client_id]["initiate_login_uri"]
    org = store.orgs[oid]
    url = f"{login}?invitation={ticket}&organization={oid}&organization_name={org['name']}"
    item: dict[str, Any] = {
        "id": iid,
        "client_id": client_id,
        "inviter": {"name": inviter},
        "invitee": {"email": email},
        "invitation_url": url,
        "ticket_id": ticket,
        "created_at": iso_z(created),
        "expires_at": iso_z(created + timedelta(seconds=ttl_sec)),
        "organization_id": oid,
    }
    if connection_id:
        item["connection_id"] = connection_id
    if roles:
        item["roles"] = list(roles)
    if app_metadata:
        item["app_metadata"] = copy.deepcopy(app_metadata)
    if user_metadata:
        item["user_metadata"] = copy.deepcopy(user_metadata)
    store.invitations.setdefault(oid, {})[iid] = item
    return item


def _applications_and_invitations(store: Store, seed: int) -> None:
    """Applications of several types and a few invitations (one expired), from a random
    sequence of their own: the ids seeded before stay as they were. Invitation times are
    relative to now, so that "expired" and "pending" stay true whenever the tenant is reset."""
    rng = random.Random(f"{seed}:applications")
    for name, app_type, login in CLIENTS:
        client_id = "".join(rng.choices(ALNUM, k=32))
        app: dict[str, Any] = {"client_id": client_id, "name": name}
        if app_type is not None:
            app["app_type"] = app_type
        app["is_first_party"] = True
        app["global"] = name == "All Applications"
        if login:
            app["initiate_login_uri"] = login
        store.clients[client_id] = app
    client_by_name = {c["name"]: cid for cid, c in store.clients.items()}
    conn_by_name = {c["name"]: cid for cid, c in store.connections.items()}
    role_by_name = {r["name"]: rid for rid, r in store.roles.items()}
    now = datetime.now(UTC)
    oldest_first = sorted(INVITATIONS, key=lambda row: -row[4])  # stored in creation order
    for org_name, app_name, inviter, email, age_days, ttl_days, conn, roles in oldest_first:
        oid = store.org_by_name.get(org_name)
        if oid is None:
            continue
        new_invitation(
            store,
            rng,
            oid,
            client_id=client_by_name[app_name],
            inviter=inviter,
            email=email,
            created=now - timedelta(days=age_days),
            ttl_sec=int(ttl_days * 86400),
            connection_id=conn_by_name[conn] if conn else None,
            roles=[role_by_name[r] for r in roles],
        )


def _search_fixtures(store: Store, generated: list[str], clock: float) -> float:
    """What finding things needs, without touching the random sequence above: a common word
    ("Holdings") in many display names, non-Latin and accented names, one person in several
    organizations with different roles, and two accounts sharing one email."""
    for i, oid in enumerate(generated):
        if i % HOLDINGS_EVERY == 5:
            org = store.orgs[oid]
            words = " ".join(w.title() for w in org["name"].split("-"))
            org["display_name"] = f"{words} Holdings"
    for index, name, display in RENAMED_ORGS:
        if index >= len(generated):
            continue
        oid = generated[index]
        del store.org_by_name[store.orgs[oid]["name"]]
        store.orgs[oid]["name"] = name
        store.orgs[oid]["display_name"] = display
        store.org_by_name[name] = oid
    role_by_name = {r["name"]: rid for rid, r in store.roles.items()}
    holdings = [oid for i, oid in enumerate(generated) if i % HOLDINGS_EVERY == 5]
    for user_id, name, email, connection, memberships in SEARCH_PEOPLE:
        if user_id not in store.users:
            _add_user(store, user_id, name, email, _stamp(clock), connection)
        for org_ref, roles in memberships:
            if org_ref.startswith("holdings:"):
                index = int(org_ref.partition(":")[2])
                if index >= len(holdings):
                    continue
                oid = holdings[index]
            elif org_ref in store.org_by_name:
                oid = store.org_by_name[org_ref]
            else:
                continue
            clock += 11.0
            store.members[oid][user_id] = _stamp(clock)
            if roles:
                store.member_roles[(oid, user_id)] = [role_by_name[r] for r in roles]
    return clock


# The connection of a user's identity, by the provider its id starts with (enterprise ids carry
# their connection: `samlp|<connection>|<id>`).
PROVIDER_CONNECTIONS = {
    "auth0": "Username-Password-Authentication",
    "google-oauth2": "google-oauth2",
    "github": "github",
    "linkedin": "linkedin",
    "oidc": "corp-oidc",
    "waad": "contoso-azure-ad",
    "sms": "sms",
    "email": "email",
}
SOCIAL = {"google-oauth2", "github", "linkedin"}


def identity(user_id: str, connection: str | None = None) -> dict[str, Any]:
    """The user's primary identity, Auth0's shape: {connection, provider, user_id, isSocial}."""
    provider, _, rest = user_id.partition("|")
    if provider == "samlp":
        found, _, rest = rest.partition("|")
        connection = connection or found
    return {
        "connection": connection or PROVIDER_CONNECTIONS.get(provider, provider),
        "provider": provider,
        "user_id": rest,
        "isSocial": provider in SOCIAL,
    }


def _add_user(
    store: Store,
    user_id: str,
    name: str,
    email: str | None,
    created_at: str,
    connection: str | None = None,
) -> None:
    user: dict[str, Any] = {"user_id": user_id}
    if email:
        user["email"] = email
        user["email_verified"] = True
    user["picture"] = picture(name, email)
    user["name"] = name
    user["identities"] = [identity(user_id, connection)]
    stamp = created_at.replace(" ", "T")[:23] + "Z"
    user["created_at"] = stamp
    user["updated_at"] = stamp
    store.users[user_id] = user
