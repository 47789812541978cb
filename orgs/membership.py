"""Adding existing users to an organization, removing a member, and restoring a removed member
from the audit log (MemberRestorer).

Adding is three steps, all in the Members part of the organization page: the form (pasted
emails or user ids, at most 50 lines, and roles to give), the review (each line looked up in
Auth0: an email with `GET /users-by-email`, a user id with `GET /users/{id}`), which is the
confirm step, and the add (`POST …/members`, 10 per call, then `POST …/members/{id}/roles` for
each person added when roles were picked), after which the members list is read again once.

An email can belong to several accounts (one per connection). Org Desk never guesses: the
review lists every account with that email, none of them ticked, and says so; the operator
ticks the one(s) meant. A single account is ticked already.

What the review read (people's names and emails, roles' names) is kept per operator for a few
minutes under a random key that the confirm step posts back; the add sends only user ids from
that review, so nothing the browser made up reaches Auth0, and the audit entry and messages
name people as Auth0 gave them.

"Already a member" is judged with what Org Desk has read, at no extra call: the people the
members pages of this organization listed (and those Org Desk added, minus those it removed),
kept per organization with the names index (orgs/names.py: `members_of`, `members_seen`). The
review lists those people apart, not ticked (a list read earlier may be out of date: they can
be ticked and sent anyway, which Auth0 treats as a no-op for an existing member).

Removing is a confirm step in the member's row, which reads the member's roles once (the
audit's before-state, what a restore gives back), then `DELETE …/members`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import retarget

from adminsite import auth0, flash, readahead
from adminsite.audit import recording as audit
from adminsite.audit.models import Action, AuditEntry, Outcome
from adminsite.http import HtmxHttpRequest
from adminsite.permissions import operator_required
from orgs import names, paging
from orgs.forms import AddMembersForm, ConfirmAddForm, MemberForm, line_kind, shown_line

DETAIL = "orgs/organization_detail.html"
NOT_CHANGED = "Nothing was changed"
REVIEW_TTL = audit.STASH_TTL  # seconds a review stays confirmable

# --- The add form -------------------------------------------------------------------------------


def _panel(request: HttpRequest, partial: str, context: dict[str, Any]) -> HttpResponse:
    return render(request, f"{DETAIL}#{partial}", context)


@readahead.reads(lambda ahead: readahead.Reads(names.keys()))
@require_GET
@operator_required
def add_form(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """The add form with the tenant's roles to pick (GET /roles, searchable like the role
    picker); `?cancel=1` closes it (no call), `?options=1` answers the roles alone."""
    if not request.htmx:  # a part of the organization page, not a page
        return redirect("orgs:detail", org_id)
    if request.GET.get("cancel") == "1":
        return _panel(request, "add-members-closed", {"org_id": org_id})
    query = request.GET.get("q", "").strip()[:100]
    names.read_ahead()  # the roles' and the people's names: one cache read
    picked = names.picked_roles(request.GET.getlist("roles"))
    try:
        roles = names.roles_to_pick(query, picked)  # picked roles stay, found or not
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
        return flash.no_swap()
    context = {"org_id": org_id, "roles": roles, "q": query, "assigned": set(), "picked": picked}
    partial = "role-options" if request.GET.get("options") == "1" else "add-members-form"
    return _panel(request, partial, context)


# --- The review (the confirm step) --------------------------------------------------------------


@dataclass(slots=True)
class Person:
    user_id: str
    name: str
    email: str
    ticked: bool = True
    line: str = ""  # the pasted line that found this account

    @property
    def label(self) -> str:
        return names.person_label(self.user_id, self.name, self.email)

    def as_entry(self) -> dict[str, str]:
        return {"user_id": self.user_id, "name": self.name, "email": self.email}


@dataclass(slots=True)
class Review:
    """What the pasted lines turned out to be, as Auth0 answered."""

    to_add: list[Person] = field(default_factory=list)
    members: list[Person] = field(default_factory=list)  # listed as members already
    ambiguous: list[str] = field(default_factory=list)  # emails with several accounts
    not_found: list[str] = field(default_factory=list)  # lines Auth0 has no user for
    unreadable: list[str] = field(default_factory=list)  # neither an email nor a user id


def _accounts(line: str) -> list[auth0.User]:
    """The tenant's users a line names: one call (users by email, or the user by id)."""
    if line_kind(line) == "email":
        return auth0.users_by_email(email=line)
    try:
        return [auth0.get_user(user_id=line)]
    except auth0.NotFound:
        return []


def resolve(request: HttpRequest, org_id: str, lines: list[str]) -> Review:
    """Look each line up in Auth0 (one call a line; a line that is neither an email nor a user
    id is not sent). Auth0's errors other than "no such user" are raised: the review stops."""
    review, members, seen = Review(), names.members_seen(org_id), set[str]()
    for line in lines:
        if not line_kind(line):
            review.unreadable.append(shown_line(line))
            continue
        found = [u for u in _accounts(line) if u.user_id not in seen]
        if not found:
            review.not_found.append(shown_line(line))
        if len(found) > 1:
            review.ambiguous.append(shown_line(line))
        for user in found:
            seen.add(user.user_id)
            member = user.user_id in members
            ticked = len(found) == 1 and not member
            person = Person(user.user_id, user.name, user.email, ticked, shown_line(line))
            (review.members if member else review.to_add).append(person)
    return review


def _review_key_of(owner: str, org_id: str, token: str) -> str:
    return f"orgs:add-review:{owner}:{org_id}:{token}"


def _review_key(request: HttpRequest, org_id: str, token: str) -> str:
    return _review_key_of(readahead.owner_of(request), org_id, token)


def _stash_review(
    request: HttpRequest, org_id: str, review: Review, roles: list[dict[str, str]]
) -> str:
    token = secrets.token_hex(16)
    people = {p.user_id: [p.name, p.email] for p in [*review.to_add, *review.members]}
    value = {"people": people, "roles": roles}
    cache.set(_review_key(request, org_id, token), value, timeout=REVIEW_TTL)
    return token


def _stashed_review(
    request: HttpRequest, org_id: str, token: str
) -> tuple[dict[str, Person], list[dict[str, str]]] | None:
    """The review the confirm step showed (and forget it: a review is confirmed once).

    Read and deleted at once (adminsite.memo.take: one MULTI/EXEC on Redis), with what the
    change names (the organization's name for its entry, the names index, the members seen):
    confirmed twice at once (a double click, two instances), only one request gets it."""
    key = _review_key(request, org_id, token)
    value = audit.take_stash(org_id, key, *names.keys(), names.seen_key(org_id))
    if not isinstance(value, dict):
        return None
    try:
        people = {u: Person(u, str(n), str(e)) for u, (n, e) in value["people"].items()}
        roles = [{"id": str(r["id"]), "name": str(r["name"])} for r in value["roles"]]
    except (KeyError, TypeError, ValueError):
        return None
    return people, roles


@readahead.reads(lambda ahead: readahead.Reads((*names.keys(), names.seen_key(ahead.org_id))))
@require_POST
@operator_required
def add_review(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """Look the pasted lines up (one call each, at most 50 lines) and show who will be added,
    who is a member already, who was not found, and the roles: the confirm step."""
    form = AddMembersForm(request.POST)
    if not form.is_valid():
        return flash.refuse_form(request, form, "Nobody was looked up")
    names.read_ahead(names.seen_key(org_id))  # with the members listed: one cache read
    known = names.known()
    roles = [{"id": r, "name": known.role_name(r)} for r in form.cleaned_data["roles"]]
    try:
        review = resolve(request, org_id, form.cleaned_data["lines"])
    except auth0.InvalidId as exc:
        return flash.refuse(request, f"{NOT_CHANGED}: {exc}")
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="user")
        return flash.no_swap()
    names.remember(people=[*review.to_add, *review.members])
    anyone = review.to_add or review.members
    token = _stash_review(request, org_id, review, roles) if anyone else ""
    context = {"org_id": org_id, "review": review, "roles": roles, "token": token}
    return _panel(request, "add-members-confirm", context)


# --- Adding -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Added:
    batches: auth0.MemberBatches
    roles_failed: list[tuple[str, auth0.Auth0Error]] = field(default_factory=list)


def _failure(exc: auth0.Auth0Error) -> str:
    status = f"{exc.status_code}: " if exc.status_code else ""
    return f"{status}{exc.message or type(exc).__name__}".rstrip(".")


def _batches_after(result: auth0.MemberBatches) -> list[dict[str, Any]]:
    """Each batch of the add and how it went, for the audit entry's state after."""
    failed = {b.user_ids: b.error for b in result.failed}
    ids = result.requested
    out: list[dict[str, Any]] = []
    size = auth0.MEMBERS_PER_CALL
    for batch in (ids[i : i + size] for i in range(0, len(ids), size)):
        error = failed.get(batch)
        outcome = "added" if batch[0] in result.done else "not sent"
        if error is not None:
            outcome = f"failed ({_failure(error)})"
        out.append({"members": list(batch), "outcome": outcome})
    return out


def _give_roles(
    org_id: str, done: Iterable[str], role_ids: list[str]
) -> list[tuple[str, auth0.Auth0Error]]:
    """The picked roles for each person added (one call each); the failures. After a failure
    that is not about that person (rate limit, scope, Auth0 down) the rest are not sent."""
    failed: list[tuple[str, auth0.Auth0Error]] = []
    stop: auth0.Auth0Error | None = None
    for user_id in done if role_ids else ():
        if stop is not None:
            failed.append((user_id, stop))
            continue
        try:
            auth0.assign_member_roles(org_id=org_id, user_id=user_id, role_ids=role_ids)
        except auth0.Auth0Error as exc:
            failed.append((user_id, exc))
            if not isinstance(exc, auth0.BadRequest | auth0.NotFound | auth0.Conflict):
                stop = exc
    return failed


def _add(
    request: HttpRequest, org_id: str, people: list[Person], roles: list[dict[str, str]]
) -> Added:
    """Add the people and give them the roles, recorded as one ADD_MEMBERS entry."""
    with audit.record(
        request,
        action=Action.ADD_MEMBERS,
        org_id=org_id,
        member_id=people[0].user_id if len(people) == 1 else "",
        roles=roles,
        requested={"members": [p.as_entry() for p in people], "roles": [r["id"] for r in roles]},
    ) as entry:
        result = auth0.add_members(org_id=org_id, user_ids=[p.user_id for p in people])
        entry.succeeded()
        added = Added(result, _give_roles(org_id, result.done, [r["id"] for r in roles]))
        by_id = {p.user_id: p for p in people}
        entry.after = {
            "batches": _batches_after(result),
            "added": [by_id[u].as_entry() for u in result.done],
            "roles_not_given": [
                by_id[u].as_entry() | {"why": _failure(e)} for u, e in added.roles_failed
            ],
        }
    return added


def _listed(labels: list[str], limit: int = 3) -> str:
    more = len(labels) - limit
    return "; ".join(labels[:limit]) + (f"; and {more} more" if more > 0 else "")


def added_message(people: dict[str, Person], added: Added, roles: list[dict[str, str]]) -> str:
    """What the add did, people named as Auth0 gave them: "Added 7 of 8: …"."""
    result = added.batches
    done = [people[u].label for u in result.done]
    text = f"Added {len(done)} of {len(result.requested)}: {_listed(done)}."
    if result.complete:
        text = f"Added {_listed(done)} to this organization."
    for batch in result.failed:
        who = _listed([people[u].label for u in batch.user_ids])
        text += f" Not added: {who} (Auth0 answered {_failure(batch.error)})."
    if result.not_sent:
        text += f" Not sent, so not added: {_listed([people[u].label for u in result.not_sent])}."
    if roles and result.done:
        role_names = ", ".join(names.role_label(r["id"], r["name"]) for r in roles)
        given = len(result.done) - len(added.roles_failed)
        text += f" Gave the roles {role_names} to {given} of {len(result.done)}."
    for user_id, exc in added.roles_failed:
        text += f" The roles were not given to {people[user_id].label} ({_failure(exc)})."
    return text


def _refreshed(request: HttpRequest, org_id: str) -> HttpResponse:
    """The first page of members again (one read) and the add panel closed."""
    try:
        page = auth0.list_members(org_id=org_id, take=paging.PAGE_SIZE)
    except auth0.Auth0Error as exc:  # the change was made: close the panel, say so
        flash.report(request, exc, subject="organization")
        return retarget(_panel(request, "add-members-closed", {"org_id": org_id}), "#add-members")
    closed = render_to_string(f"{DETAIL}#add-members-closed", {"org_id": org_id, "oob": True})
    names.remember(
        roles=(r for m in page.members for r in m.roles), people=page.members, members_of=org_id
    )
    context = {"org_id": org_id, "members": page.members, "next": page.next, "email": ""}
    return HttpResponse(render_to_string(f"{DETAIL}#member-list", context, request) + closed)


def _change_reads(ahead: readahead.Ahead, stash: str) -> readahead.Reads:
    """A change of the members: its confirm step's stash (taken), the organization's name, the
    names and the members listed."""
    keys = (audit.org_name_key(ahead.org_id), *names.keys(), names.seen_key(ahead.org_id))
    return readahead.Reads(keys, take=stash)


def _add_reads(ahead: readahead.Ahead) -> readahead.Reads:
    token = ahead.data.get("review", "")
    return _change_reads(ahead, _review_key_of(ahead.owner, ahead.org_id, token))


def _removal_reads(ahead: readahead.Ahead) -> readahead.Reads:
    if ahead.method != "POST":
        return readahead.Reads(names.keys())
    user_id = ahead.data.get("user_id", "")
    return _change_reads(ahead, audit.member_stash_key(ahead.owner, ahead.org_id, user_id))


@readahead.reads(_add_reads)
@require_POST
@operator_required
def add_members(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """Add the people ticked in the review, give them its roles, and show the members again."""
    form = ConfirmAddForm(request.POST)
    if not form.is_valid():
        return flash.refuse_form(request, form, NOT_CHANGED)
    stashed = _stashed_review(request, org_id, form.cleaned_data["review"])
    if stashed is None:
        return flash.refuse(
            request,
            f"{NOT_CHANGED}: this confirm step has expired or was used already. "
            "Open “Add members…” again.",
        )
    people, roles = stashed
    picked = [people[u] for u in form.cleaned_data["user_id"] if u in people]
    if not picked:
        return flash.refuse(request, f"{NOT_CHANGED}: tick people from the list.")
    try:
        added = _add(request, org_id, picked, roles)
    except auth0.InvalidId as exc:
        return flash.refuse(request, f"{NOT_CHANGED}: {exc}")
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization", changing=True)
        return flash.no_swap()
    names.note_members(org_id, listed=added.batches.done)
    ok = added.batches.complete and not added.roles_failed
    (messages.success if ok else messages.warning)(request, added_message(people, added, roles))
    return _refreshed(request, org_id)


# --- Removing -----------------------------------------------------------------------------------


def _role_list(roles: Iterable[auth0.Role]) -> list[dict[str, str]]:
    return [{"id": r.id, "name": r.name} for r in roles]


def _member(known: names.Known, user_id: str, roles: Iterable[auth0.Role]) -> auth0.Member:
    """A member as Org Desk read it: name and email from the names index, roles from Auth0."""
    name, email = known.person(user_id)
    return auth0.Member(user_id, email, name, "", tuple(roles))


def _roles_now(request: HttpRequest, org_id: str, user_id: str) -> list[auth0.Role]:
    """The member's roles as the confirm step read them moments ago, else read now."""
    stashed = audit.stashed_member_roles(request, org_id, user_id)
    if stashed is not None:
        return stashed
    return auth0.get_member_roles(org_id=org_id, user_id=user_id)


def _gone(request: HttpRequest, org_id: str, user_id: str, label: str) -> HttpResponse:
    """The person is not a member (404): the row goes, nothing was changed."""
    names.note_members(org_id, gone=[user_id])
    messages.warning(
        request, f"{label} is not a member of this organization (404); the row was removed."
    )
    return HttpResponse()


@require_GET
def member_row(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """A member's row again (what Cancel in the remove step goes back to): the roles the
    confirm step read, no call; read once when it did not."""
    form = MemberForm(request.GET)
    if not form.is_valid():
        return flash.refuse_form(request, form, "Nothing was loaded")
    if not request.htmx:  # a part of the organization page, not a page
        return redirect("orgs:detail", org_id)
    user_id, known = form.cleaned_data["user_id"], names.known()
    try:
        roles = _roles_now(request, org_id, user_id)
    except auth0.NotFound:
        return _gone(request, org_id, user_id, known.person_label(user_id))
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="member")
        return flash.no_swap()
    context = {"org_id": org_id, "member": _member(known, user_id, roles)}
    return render(request, f"{DETAIL}#member-row", context)


def _confirm_remove(request: HtmxHttpRequest, org_id: str, user_id: str) -> HttpResponse:
    """The confirm step: the member's roles read once, kept as the removal's before-state."""
    known = names.known()
    try:
        roles = auth0.get_member_roles(org_id=org_id, user_id=user_id)
    except auth0.NotFound:
        return _gone(request, org_id, user_id, known.person_label(user_id))
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="member")
        return flash.no_swap()
    names.remember(roles=roles)
    audit.stash_member_roles(request, org_id, user_id, roles)
    context = {"org_id": org_id, "member": _member(known, user_id, roles)}
    return render(request, f"{DETAIL}#confirm-remove-member", context)


def _remove(request: HttpRequest, org_id: str, user_id: str) -> tuple[list[Any], names.Known]:
    """Remove the member, recorded with the roles they had (what a restore gives back); those
    roles, and the names Org Desk knows."""
    # The confirm step's read, used once: read and dropped with what the entry and the answer
    # need (the organization's name, the names, the members listed), in one round trip.
    stashed = audit.take_member_roles(
        request, org_id, user_id, *names.keys(), names.seen_key(org_id)
    )
    known = names.known()
    name, email = known.person(user_id)
    with audit.record(
        request,
        action=Action.REMOVE_MEMBER,
        org_id=org_id,
        member_id=user_id,
        requested={"member": {"user_id": user_id, "name": name, "email": email}},
    ) as entry:
        if stashed is None:  # no confirm step: read now (a restore needs them)
            stashed = auth0.get_member_roles(org_id=org_id, user_id=user_id)
        roles = _role_list(stashed)
        entry.before, entry.roles = {"roles": roles}, roles
        auth0.remove_members(org_id=org_id, user_ids=[user_id])
    return roles, known


@readahead.reads(_removal_reads)
@require_http_methods(["GET", "POST"])
@operator_required
def remove_member(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """Confirm (GET, in the member's row), then remove (POST) a member from the organization."""
    form = MemberForm(request.GET if request.method == "GET" else request.POST)
    if not form.is_valid():
        return flash.refuse_form(request, form, NOT_CHANGED)
    user_id = form.cleaned_data["user_id"]
    if request.method == "GET":
        return _confirm_remove(request, org_id, user_id)
    try:
        roles, known = _remove(request, org_id, user_id)
    except auth0.InvalidId as exc:
        return flash.refuse(request, f"{NOT_CHANGED}: {exc}")
    except auth0.NotFound:
        return _gone(request, org_id, user_id, names.known().person_label(user_id))
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="member", changing=True)
        return flash.no_swap()
    names.note_members(org_id, gone=[user_id])
    had = ", ".join(names.role_label(r["id"], r["name"]) for r in roles) or "no roles"
    messages.success(
        request,
        f"Removed {known.person_label(user_id)} from this organization: they can no longer "
        f"log in through it and lost their roles in it ({had}). The audit log can add them "
        "back with these roles.",
    )
    return HttpResponse()  # an empty swap removes the row in place


# --- Restoring a removed member (from the audit log) --------------------------------------------


def _person_of(removal: AuditEntry) -> str:
    """The removed member as the removal recorded them (names Auth0 gave Org Desk)."""
    asked = removal.requested if isinstance(removal.requested, dict) else {}
    member = asked.get("member")
    member = member if isinstance(member, dict) else {}
    return names.person_label(
        removal.member_id, str(member.get("name") or ""), str(member.get("email") or "")
    )


class MemberRestorer:
    """A removed member is added back (POST members), then given the roles they had (POST the
    member's roles): two calls, one RESTORE_MEMBER entry linked to the removal."""

    what = "member"

    def possible(self, removal: AuditEntry) -> bool:
        before = removal.before
        return (
            removal.action == Action.REMOVE_MEMBER
            and removal.outcome == Outcome.SUCCESS
            and bool(removal.member_id)
            and isinstance(before, dict)
            and isinstance(before.get("roles"), list)
        )

    def attempt(self, request: HttpRequest, removal: AuditEntry) -> audit.Recording:
        roles = cast(list[dict[str, str]], cast(dict[str, Any], removal.before)["roles"])
        return audit.record(
            request,
            action=Action.RESTORE_MEMBER,
            org_id=removal.org_id,
            org_name=removal.org_name,
            member_id=removal.member_id,
            roles=roles,
            before={"member": False},
            requested=dict(removal.requested) | {"roles": [r["id"] for r in roles]},
            restores=removal,
        )

    def apply(self, request: HttpRequest, removal: AuditEntry, attempt: audit.Recording) -> None:
        role_ids = [r["id"] for r in attempt.roles]
        who, failed = _person_of(removal), None
        try:
            with attempt:
                auth0.add_members(org_id=removal.org_id, user_ids=[removal.member_id])
                attempt.succeeded()
                failed = _give_roles(removal.org_id, [removal.member_id], role_ids)
                attempt.after = {"member": True, "roles": [] if failed else attempt.roles}
        except auth0.Auth0Error as exc:
            flash.report(request, exc, subject="member", changing=True)
            return
        number = f"audit entry #{attempt.entry.pk if attempt.entry else '?'}"
        if failed:
            problem = _failure(failed[0][1])
            messages.warning(
                request,
                f"Added {who} back to {removal.org_label}, but Auth0 did not give back "
                f"their roles ({problem}); assign them from the members list ({number}).",
            )
            return
        roles = ", ".join(names.role_label(r["id"], r["name"]) for r in attempt.roles)
        messages.success(
            request,
            f"Restored {who} as a member of {removal.org_label}"
            f"{f' with the roles {roles}' if roles else ''} ({number}).",
        )
