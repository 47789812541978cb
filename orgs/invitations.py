"""An organization's invitations: the list (offset pages, newest first), inviting someone, and
revoking or resending an invitation; restoring a revoked one lives in InvitationRestorer.

Every change is recorded in the audit log with the invitation as Auth0 had it (the revoke
confirm step's read, or a read just before). The invitation's link (`invitation_url`, and the
`ticket_id` inside it) opens the organization to whoever holds it: Org Desk shows it only to
the operator who asked for a link instead of the email, once, and never writes it to the audit
log, a message or a log line.

Upstream calls: list 1; invite form 2 (+1 for the application list, cached 5 minutes);
invite 1 + 1 refresh of the list; revoke 1 read at the confirm step + 1 DELETE; resend 1 read
+ 1 DELETE + 1 POST.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from adminsite import auth0, flash, memo, readahead
from adminsite.audit import recording as audit
from adminsite.audit.models import Action, AuditEntry, Outcome
from adminsite.http import HtmxHttpRequest
from adminsite.permissions import operator_required
from orgs import names
from orgs.forms import InviteForm

TEMPLATE = "orgs/invitations.html"
CLIENTS_TTL = 300  # seconds the application list is kept: applications rarely change
STASH_TTL = audit.STASH_TTL
DAY = 86400
NOT_CHANGED = "Nothing was changed"
SCOPE_HELP = (
    "Org Desk cannot list the tenant's applications: its Auth0 application lacks the scope "
    "read:clients (or read:client_summary), 403. Grant it (Auth0 Dashboard → APIs → Auth0 "
    "Management API → Machine to Machine Applications), or set AUTH0_INVITE_CLIENT_ID to the "
    "client id of the application invitations should open."
)


# --- What is shown and recorded -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvitationRow:
    """An invitation with names as Org Desk knows them (no call): roles from orgs.names, the
    connection from the cached connection index, the application from the cached list."""

    invitation: auth0.Invitation
    roles: list[tuple[str, str]]  # (id, label)
    connection: str  # the name, or "" (any connection / unknown: see connection_known)
    connection_known: bool
    application: str

    @property
    def id(self) -> str:
        return self.invitation.id

    @property
    def expired(self) -> bool:
        return self.invitation.expired()

    @property
    def created(self) -> Shown | None:
        return shown_time(self.invitation.created_at)

    @property
    def expires(self) -> Shown | None:
        return shown_time(self.invitation.expires_at)


@dataclass(frozen=True, slots=True)
class Shown:
    """A moment as a row shows it, in UTC: `iso` for <time datetime>, `text` to read."""

    iso: str
    text: str


def shown_time(moment: datetime | None) -> Shown | None:
    """What the template's `date:'c'` and `date:"Y-m-d H:i"` give in UTC, made in Python: a
    list of invitations shows two a row, and Django's date filter cost more than the row."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return Shown(iso=utc.isoformat(), text=utc.strftime("%Y-%m-%d %H:%M"))


def _client_key() -> str:
    return f"orgs:invite-clients:{settings.AUTH0_BASE_URL}"


def cached_clients() -> dict[str, str] | None:
    """client id → name of the applications that accept invitations, if listed lately."""
    value = memo.get(_client_key())
    return value if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True)
class Names:
    """What Org Desk knows by name, read once for a whole list (one cache read, no call)."""

    known: names.Known
    connections: dict[str, auth0.Connection]
    apps: dict[str, str]

    @staticmethod
    def keys() -> list[str]:
        """The cache keys a row names things from: the names, the connection index and the
        applications (read in one round trip, with others if a view needs them too)."""
        return [*names.keys(), auth0.connection_index_key(), _client_key()]

    @classmethod
    def read(cls) -> Names:
        memo.get_many(cls.keys())  # one round trip for the three (none when read already)
        return cls(names.known(), auth0.known_connections(), cached_clients() or {})


def row(invitation: auth0.Invitation, named: Names | None = None) -> InvitationRow:
    named = named or Names.read()
    con = named.connections.get(invitation.connection_id) if invitation.connection_id else None
    return InvitationRow(
        invitation=invitation,
        roles=[(r, named.known.role_label(r)) for r in invitation.roles],
        connection=con.name if con else "",
        connection_known=con is not None,
        application=named.apps.get(invitation.client_id, ""),
    )


def lifetime(invitation: auth0.Invitation) -> int | None:
    """The invitation's lifetime in seconds (expires - created), within Auth0's 30 days."""
    if invitation.created_at is None or invitation.expires_at is None:
        return None
    seconds = round((invitation.expires_at - invitation.created_at).total_seconds())
    return min(max(seconds, DAY), auth0.INVITATION_MAX_TTL)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def state(invitation: auth0.Invitation, known: names.Known | None = None) -> dict[str, Any]:
    """An invitation as the audit log keeps it: what re-sending it needs, never its link."""
    known = known or names.known()
    connection = auth0.known_connections().get(invitation.connection_id)
    return {
        "invitation_id": invitation.id,
        "invitee": invitation.invitee_email,
        "inviter": invitation.inviter_name,
        "client_id": invitation.client_id,
        "connection_id": invitation.connection_id or None,
        "connection_name": connection.name if connection else "",
        "roles": [{"id": r, "name": known.role_name(r)} for r in invitation.roles],
        "created_at": _iso(invitation.created_at),
        "expires_at": _iso(invitation.expires_at),
        "ttl_sec": lifetime(invitation),
    }


def _stash_key_of(owner: str, org_id: str, invitation_id: str) -> str:
    return f"orgs:invitation:{owner}:{org_id}:{invitation_id}"


def _stash_key(request: HttpRequest, org_id: str, invitation_id: str) -> str:
    return _stash_key_of(readahead.owner_of(request), org_id, invitation_id)


def _stash(request: HttpRequest, org_id: str, invitation: auth0.Invitation) -> None:
    """The confirm step's read, to be the revocation's before-state (and Cancel's row)."""
    key = _stash_key(request, org_id, invitation.id)
    memo.set_after_answer({key: invitation}, timeout=STASH_TTL)  # see audit.stash_member_roles


def _stashed(request: HttpRequest, org_id: str, invitation_id: str) -> auth0.Invitation | None:
    value = cache.get(_stash_key(request, org_id, invitation_id))
    return value if isinstance(value, auth0.Invitation) else None


def _taken(request: HttpRequest, org_id: str, invitation_id: str) -> auth0.Invitation | None:
    """The confirm step's read, used once: read and deleted with the names and the connection
    index that the revocation's entry needs, and the organization's name (one round trip)."""
    key = _stash_key(request, org_id, invitation_id)
    value = audit.take_stash(org_id, key, *names.keys(), auth0.connection_index_key())
    return value if isinstance(value, auth0.Invitation) else None


def _who(invitation: auth0.Invitation | dict[str, Any]) -> str:
    email = (
        invitation.invitee_email
        if isinstance(invitation, auth0.Invitation)
        else str(invitation.get("invitee") or "")
    )
    return names._isolated(email) if email else "(no email)"


# --- The list -----------------------------------------------------------------------------------


def _page_number(request: HttpRequest) -> int | None:
    raw = request.GET.get("page", "0")
    if not raw.isdigit() or len(raw) > 3:
        return None
    return int(raw)


def _list_reads(ahead: readahead.Ahead) -> readahead.Reads:
    """What a list of invitations names: roles, people, connections, applications."""
    return readahead.Reads(tuple(Names.keys()))


def _invite_reads(ahead: readahead.Ahead) -> readahead.Reads:
    return readahead.Reads((audit.org_name_key(ahead.org_id), *Names.keys()))


def _revoke_reads(ahead: readahead.Ahead) -> readahead.Reads:
    if ahead.method != "POST":
        return _list_reads(ahead)
    stash = _stash_key_of(ahead.owner, ahead.org_id, ahead.kwargs["invitation_id"])
    keys = (audit.org_name_key(ahead.org_id), *names.keys(), auth0.connection_index_key())
    return readahead.Reads(keys, take=stash)


@readahead.reads(_list_reads)
@require_GET
def invitation_list(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """One offset page of the organization's invitations (1 call)."""
    if not request.htmx:
        return redirect("orgs:detail", org_id)
    page = _page_number(request)
    if page is None:
        return flash.refuse(request, "Nothing was loaded: a page number is a whole number.")
    return _list_answer(request, org_id, page)


def _list_answer(
    request: HttpRequest, org_id: str, page: int = 0, extra: dict[str, Any] | None = None
) -> HttpResponse:
    rows: list[InvitationRow] = []
    nxt: int | None = None
    failed = False
    try:
        found = auth0.list_invitations(org_id=org_id, page=page)
    except auth0.InvalidId as exc:
        return flash.refuse(request, f"Nothing was loaded: {exc}")
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
        failed = True
    else:
        named = Names.read()
        rows, nxt = [row(i, named) for i in found.invitations], found.next_page
    context = {
        "org_id": org_id,
        "rows": rows,
        "page": page,
        "previous": page - 1 if page > 0 else None,
        "next": nxt,
        "failed": failed,
        **(extra or {}),
    }
    return render(request, f"{TEMPLATE}#invitation-list", context)


# --- Inviting -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Applications:
    """The applications an invitation may open, or why there are none to offer."""

    choices: list[tuple[str, str]]  # (client id, name)
    fixed: bool = False  # AUTH0_INVITE_CLIENT_ID: that one only
    problem: str = ""


def applications(request: HttpRequest) -> Applications:
    """AUTH0_INVITE_CLIENT_ID when set (no call); else the tenant's applications that accept
    invitations (GET /clients, cached 5 minutes); a missing scope says what to configure."""
    configured: str = settings.AUTH0_INVITE_CLIENT_ID
    listed = cached_clients()
    if configured:
        return Applications([(configured, (listed or {}).get(configured, ""))], fixed=True)
    if listed is None:
        try:
            clients = auth0.list_clients()
        except auth0.Forbidden as exc:
            return Applications([], problem=SCOPE_HELP if exc.missing_scopes else str(exc))
        except auth0.Auth0Error as exc:
            flash.report(request, exc, subject="application")
            return Applications([], problem="The applications could not be loaded.")
        listed = {c.client_id: c.name for c in clients if c.accepts_invitations}
        memo.set(_client_key(), listed, timeout=CLIENTS_TTL)
    if not listed:
        return Applications([], problem="No application of the tenant accepts invitations.")
    return Applications(sorted(listed.items(), key=lambda c: (c[1].casefold(), c[0])))


def _closed_form() -> str:
    return '<div id="invite-form"></div>'


@readahead.reads(lambda ahead: readahead.Reads((*names.keys(), _client_key())))
@require_GET
@operator_required
def invite_form(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """The "Invite…" form: applications, the organization's connections, tenant roles."""
    if not request.htmx:
        return redirect("orgs:detail", org_id)
    if request.GET.get("closed") == "1":  # Cancel: no call
        return HttpResponse(_closed_form())
    names.read_ahead(_client_key())  # the applications with the names: one cache read
    apps = applications(request)
    try:
        connections = auth0.list_enabled_connections(org_id=org_id)
        roles = auth0.list_roles()
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
        return flash.no_swap()
    names.remember(roles=roles)
    context = {
        "org_id": org_id,
        "apps": apps,
        "connections": connections,
        "roles": roles,
        "picked": [],
        "form": InviteForm(),
        "max_roles": auth0.INVITATION_MAX_ROLES,
    }
    return render(request, f"{TEMPLATE}#invite-form", context)


@require_GET
@operator_required
def role_options(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """The invite form's roles matching a search (1 call); picked ones stay picked."""
    query = request.GET.get("q", "").strip()[:100]
    picked = [r for r in request.GET.getlist("roles") if auth0.ROLE_ID.fullmatch(r)][:100]
    try:
        roles = auth0.list_roles(name_filter=query)
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="role")
        return flash.no_swap()
    names.remember(roles=roles)
    known = names.known()
    shown = {r.id for r in roles}
    kept = [auth0.Role(r, known.role_name(r) or r, "") for r in picked if r not in shown]
    context = {"roles": [*kept, *roles], "picked": picked, "q": query}
    return render(request, f"{TEMPLATE}#invite-roles", context)


def inviter_name(request: HttpRequest) -> str:
    """Who the invitation says it is from: the signed-in person (never a form field)."""
    user = request.user
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return full.strip() or user.get_username()


def _requested(data: dict[str, Any], client_id: str) -> dict[str, Any]:
    return {
        "invitee": data["email"],
        "client_id": client_id,
        "connection_id": data["connection_id"] or None,
        "roles": data["roles"],
        "ttl_sec": data["ttl_days"] * DAY,
        "send_invitation_email": data["delivery"] == "email",
    }


def _invite(
    request: HttpRequest, org_id: str, wanted: dict[str, Any], known: names.Known
) -> auth0.Invitation:
    """Create the invitation, recorded in the audit log (its link never is)."""
    connection_id = wanted["connection_id"]
    with audit.record(
        request,
        action=Action.INVITE,
        org_id=org_id,
        member_id=wanted["invitee"],
        connection_id=connection_id or "",
        connection_name=_connection_name(connection_id),
        roles=[{"id": r, "name": known.role_name(r)} for r in wanted["roles"]],
        requested=wanted,
    ) as entry:
        invitation = auth0.create_invitation(
            org_id=org_id,
            inviter_name=inviter_name(request),
            invitee_email=wanted["invitee"],
            client_id=wanted["client_id"],
            connection_id=connection_id,
            roles=wanted["roles"],
            ttl_sec=wanted["ttl_sec"],
            send_invitation_email=wanted["send_invitation_email"],
        )
        entry.after = state(invitation, known)
    return invitation


def _connection_name(connection_id: str | None) -> str:
    con = auth0.known_connections().get(connection_id or "")
    return con.name if con else ""


def client_for_post(posted: str) -> tuple[str, str]:
    """The application an invitation being posted opens, and why it may not ("" when it
    may), without a call: AUTH0_INVITE_CLIENT_ID when set (whatever was posted); else the
    posted one if the cached list the form was built from has it. When that list expired,
    any well-formed id (the form checked its shape): Auth0 refuses one that does not exist
    or takes no invitations (400)."""
    configured: str = settings.AUTH0_INVITE_CLIENT_ID
    if configured:
        return configured, ""
    if not posted:
        return "", "Pick the application the invitation opens."
    listed = cached_clients()
    if listed is None or posted in listed:
        return posted, ""
    return posted, "Pick the application from the list (one that accepts invitations)."


@readahead.reads(_invite_reads)
@require_POST
@operator_required
def invite(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """Invite someone (1 call), then the refreshed list (1 call) with, for a link-only
    invitation, the link to copy in place of the form."""
    form = InviteForm(request.POST)
    if not form.is_valid():
        return flash.refuse_form(request, form, NOT_CHANGED)
    # What the checks, the entry and the refreshed list name, with the organization's name:
    # one cache read (adminsite.memo keeps them for the request).
    audit.read_ahead(org_id, _client_key(), *names.keys(), auth0.connection_index_key())
    client_id, refusal = client_for_post(form.cleaned_data["client_id"])
    if refusal:
        return flash.refuse(request, f"{NOT_CHANGED}: {refusal}")
    wanted = _requested(form.cleaned_data, client_id)
    known = names.known()
    try:
        invitation = _invite(request, org_id, wanted, known)
    except auth0.InvalidId as exc:
        return flash.refuse(request, f"{NOT_CHANGED}: {exc}")
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization", changing=True)
        return flash.no_swap()
    how = "sent the email" if wanted["send_invitation_email"] else "here is the link to copy"
    messages.success(request, f"Invited {_who(invitation)} to this organization; {how}.")
    link = "" if wanted["send_invitation_email"] else invitation.invitation_url
    extra = {"created": invitation, "link": link, "close_form": True}
    return _list_answer(request, org_id, 0, extra)


# --- One invitation: its row, revoking, resending -------------------------------------------------


def _gone(request: HttpRequest, invitation_id: str) -> HttpResponse:
    """The invitation no longer exists (revoked, accepted, or deleted after expiring): its row
    goes (an empty swap)."""
    messages.warning(
        request,
        f"The invitation {invitation_id} no longer exists (404): it was revoked, accepted, or "
        "deleted by Auth0 after it expired. Its row was removed.",
    )
    return HttpResponse()


def _read(request: HttpRequest, org_id: str, invitation_id: str) -> auth0.Invitation | HttpResponse:
    """The invitation as Auth0 has it now (1 call), or the answer saying why not."""
    try:
        return auth0.get_invitation(org_id=org_id, invitation_id=invitation_id)
    except auth0.NotFound:
        return _gone(request, invitation_id)
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="invitation")
        return flash.no_swap()


@require_GET
def invitation_row(request: HttpRequest, org_id: str, invitation_id: str) -> HttpResponse:
    """One row: what Cancel on the revoke step goes back to (the step's read: no call)."""
    found = _stashed(request, org_id, invitation_id) or _read(request, org_id, invitation_id)
    if isinstance(found, HttpResponse):
        return found
    context = {"org_id": org_id, "row": row(found)}
    return render(request, f"{TEMPLATE}#invitation-row", context)


def _revoke(request: HttpRequest, org_id: str, invitation_id: str) -> dict[str, Any]:
    """Revoke, recorded with the invitation as the confirm step read it (or read now)."""
    before = _taken(request, org_id, invitation_id)
    known = names.known()
    with audit.record(
        request,
        action=Action.REVOKE_INVITATION,
        org_id=org_id,
        member_id=before.invitee_email if before else "",
        before=state(before, known) if before else None,
        requested={"revoke_invitation": invitation_id},
    ) as entry:
        if entry.before is None:  # no confirm step: a restore needs the settings
            entry.before = state(auth0.get_invitation(org_id=org_id, invitation_id=invitation_id))
        entry.roles = list(entry.before["roles"])
        auth0.delete_invitation(org_id=org_id, invitation_id=invitation_id)
    return dict(entry.before)


@readahead.reads(_revoke_reads)
@require_http_methods(["GET", "POST"])
@operator_required
def revoke(request: HttpRequest, org_id: str, invitation_id: str) -> HttpResponse:
    """Confirm (GET: 1 read, kept as the before-state), then revoke (POST: 1 DELETE)."""
    if request.method == "GET":
        found = _read(request, org_id, invitation_id)
        if isinstance(found, HttpResponse):
            return found
        _stash(request, org_id, found)
        context = {"org_id": org_id, "row": row(found)}
        return render(request, f"{TEMPLATE}#confirm-revoke", context)
    try:
        before = _revoke(request, org_id, invitation_id)
    except auth0.NotFound:
        return _gone(request, invitation_id)
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="invitation", changing=True)
        return flash.no_swap()
    messages.success(
        request,
        f"Revoked the invitation for {_who(before)}: its link no longer works. The audit log "
        "can send it again with the same settings.",
    )
    return HttpResponse()  # an empty swap removes the row


class PartlyResent(Exception):
    """The old invitation was revoked, but the new one was not created."""

    def __init__(self, cause: auth0.Auth0Error, entry: AuditEntry | None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.entry = entry


def again(org_id: str, before: dict[str, Any], *, inviter: str) -> auth0.Invitation:
    """Create an invitation with the settings of `before` (an audit state), sent by email:
    Auth0 does not say whether the first one was, and a link is only shown when asked for."""
    ttl = before.get("ttl_sec")
    return auth0.create_invitation(
        org_id=org_id,
        inviter_name=inviter,
        invitee_email=str(before["invitee"]),
        client_id=str(before["client_id"]),
        connection_id=before.get("connection_id") or None,
        roles=[str(r["id"]) for r in before.get("roles") or []],
        ttl_sec=int(ttl) if isinstance(ttl, int) else None,
        send_invitation_email=True,
    )


def _new_state(new: auth0.Invitation) -> dict[str, Any]:
    return {"new_invitation_id": new.id, "expires_at": _iso(new.expires_at)}


def _resend(request: HttpRequest, org_id: str, invitation_id: str) -> auth0.Invitation:
    """Read, revoke and create again (3 calls), one audit entry. A failure after the revoke
    is recorded as such (after: revoked, not re-created) and raised as PartlyResent."""
    # The entry's organization name and what the states and the new row name: one cache read.
    audit.read_ahead(org_id, *Names.keys())
    recording = audit.record(
        request,
        action=Action.RESEND_INVITATION,
        org_id=org_id,
        requested={"resend_invitation": invitation_id},
    )
    try:
        with recording as entry:
            old = auth0.get_invitation(org_id=org_id, invitation_id=invitation_id)
            entry.before = state(old)
            entry.roles = list(entry.before["roles"])
            auth0.delete_invitation(org_id=org_id, invitation_id=invitation_id)
            entry.after = {"revoked": True, "recreated": False}
            new = again(org_id, entry.before, inviter=old.inviter_name)
            entry.after = {"revoked": True, "recreated": True, **_new_state(new)}
    except auth0.Auth0Error as exc:
        if isinstance(recording.after, dict) and recording.after.get("revoked"):
            raise PartlyResent(exc, recording.entry) from exc
        raise
    return new


def _partly(invitation_id: str, exc: PartlyResent) -> str:
    where = f" (audit entry #{exc.entry.pk})" if exc.entry is not None else ""
    return (
        f"The invitation {invitation_id} was revoked, but the new one was not created: "
        f"{flash.describe(exc.cause, subject='invitation', changing=True)} Until it is, the "
        f"person has no invitation: invite them again, or restore it from the audit log{where}."
    )


@readahead.reads(_invite_reads)
@require_POST
@operator_required
def resend(request: HtmxHttpRequest, org_id: str, invitation_id: str) -> HttpResponse:
    """Revoke and create again with the same settings as Auth0 has them; the new row in place
    of the old one."""
    try:
        new = _resend(request, org_id, invitation_id)
    except PartlyResent as exc:
        messages.error(request, _partly(invitation_id, exc))
        return HttpResponse()  # the old row is gone: it was revoked
    except auth0.NotFound:
        return _gone(request, invitation_id)
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="invitation", changing=True)
        return flash.no_swap()
    expires = f"{new.expires_at:%Y-%m-%d %H:%M} UTC" if new.expires_at else "as before"
    messages.success(
        request,
        f"Sent the invitation to {_who(new)} again: the old link no longer works, the new "
        f"invitation expires {expires}.",
    )
    context = {"org_id": org_id, "row": row(new), "changed": True}
    return render(request, f"{TEMPLATE}#invitation-row", context)


# --- Restore: send a revoked invitation again ---------------------------------------------------


def _settings_known(before: Any) -> bool:
    return isinstance(before, dict) and all(before.get(k) for k in ("invitee", "client_id"))


class InvitationRestorer:
    """A revoked invitation (or one a resend revoked without re-creating it) is sent again
    with the same settings, by email (POST invitations): a new invitation, new link."""

    what = "invitation"

    def possible(self, removal: AuditEntry) -> bool:
        if not _settings_known(removal.before):
            return False
        if removal.action == Action.REVOKE_INVITATION:
            return removal.outcome == Outcome.SUCCESS
        after = removal.after if isinstance(removal.after, dict) else {}
        return (
            removal.action == Action.RESEND_INVITATION
            and after.get("revoked") is True
            and after.get("recreated") is False
        )

    def attempt(self, request: HttpRequest, removal: AuditEntry) -> audit.Recording:
        before: dict[str, Any] = dict(cast(dict[str, Any], removal.before))
        return audit.record(
            request,
            action=Action.RESTORE_INVITATION,
            org_id=removal.org_id,
            org_name=removal.org_name,
            member_id=str(before["invitee"])[:255],
            roles=list(before.get("roles") or []),
            before={"invited": False},
            requested={k: before.get(k) for k in ("invitee", "client_id", "connection_id")}
            | {"roles": [r.get("id") for r in before.get("roles") or []]}
            | {"ttl_sec": before.get("ttl_sec"), "send_invitation_email": True},
            restores=removal,
        )

    def apply(self, request: HttpRequest, removal: AuditEntry, attempt: audit.Recording) -> None:
        before: dict[str, Any] = dict(cast(dict[str, Any], removal.before))
        try:
            with attempt:
                inviter = str(before.get("inviter") or "") or inviter_name(request)
                new = again(removal.org_id, before, inviter=inviter)
                attempt.after = state(new)
        except auth0.InvalidId as exc:
            messages.error(request, f"{NOT_CHANGED}: {exc}")
            return
        except auth0.Auth0Error as exc:
            flash.report(request, exc, subject="invitation", changing=True)
            return
        messages.success(
            request,
            f"Sent the invitation to {_who(new)} again, with the settings it had (audit entry "
            f"#{attempt.entry.pk if attempt.entry else '?'}); it is a new invitation with a "
            "new link.",
        )
