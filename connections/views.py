"""An organization's enabled connections, making one domain-level (tenant-wide) or not, and
removing one from the organization.

Each row is the partial `connection-row`; confirm steps replace the row in place and the
action answers with the re-rendered row (or nothing, which removes it). Every change is
recorded in the audit log (adminsite.audit) with the state before it, at no extra upstream
call when the confirm step came first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from adminsite import auth0, flash, readahead
from adminsite.audit import recording as audit
from adminsite.audit.models import Action, labelled
from adminsite.http import HtmxHttpRequest
from adminsite.permissions import operator_required
from connections import rules
from connections.forms import DomainLevelForm

logger = logging.getLogger(__name__)

TEMPLATE = "connections/connections.html"


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    """An enabled connection with its tenant-wide domain-level status (None: unknown)."""

    enabled: auth0.EnabledConnection
    domain_level: bool | None

    @property
    def id(self) -> str:
        return self.enabled.connection_id

    @property
    def offers_button(self) -> bool:
        """ "Show as button" applies (an enterprise connection)."""
        return "show_as_button" in rules.applicable(self.enabled.strategy)

    @property
    def offers_signup(self) -> bool:
        """Signup applies (a database connection)."""
        return "is_signup_enabled" in rules.applicable(self.enabled.strategy)


def domain_levels(request: HttpRequest) -> dict[str, auth0.Connection]:
    try:
        return auth0.domain_connection_index()
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="connection")
        return {}


def row_of(enabled: auth0.EnabledConnection, index: dict[str, auth0.Connection]) -> ConnectionRow:
    connection = index.get(enabled.connection_id)
    return ConnectionRow(enabled, connection.is_domain_connection if connection else None)


def failure_answer(
    request: HttpRequest, connection_id: str, exc: auth0.Auth0Error, *, changing: bool = False
) -> HttpResponse:
    """The answer when Auth0 could not read or change a connection's row, with a message.

    A connection the organization no longer has (404) loses its row: an empty swap removes it.
    Any other failure leaves the row as it is."""
    if isinstance(exc, auth0.NotFound):
        messages.warning(
            request,
            f"The connection {connection_id} no longer exists in this organization (404); "
            "its row was removed.",
        )
        return HttpResponse()
    flash.report(request, exc, subject="connection", changing=changing)
    return flash.no_swap()


def row_answer(
    request: HttpRequest,
    org_id: str,
    connection_id: str,
    partial: str = "connection-row",
    *,
    stash: bool = False,
    index: dict[str, auth0.Connection] | None = None,
) -> HttpResponse:
    """The connection's row (or the confirm step `partial`) as Auth0 has it now, or the
    answer that it could not be read.

    A confirm step (`stash`) keeps its read per person for a few minutes: the action it leads
    to records it as the state before, and a domain-level change takes it as the proof that
    this organization has the connection. `index`: the tenant connections already at hand (a
    domain-level change has Auth0's answer for this one), instead of the cached index."""
    try:
        enabled = auth0.get_enabled_connection(org_id=org_id, connection_id=connection_id)
    except auth0.Auth0Error as exc:
        return failure_answer(request, connection_id, exc)
    row = row_of(enabled, domain_levels(request) if index is None else index)
    if stash:
        audit.stash_connection(request, org_id, enabled)
    return render(request, f"{TEMPLATE}#{partial}", {"org_id": org_id, "row": row})


@readahead.reads(lambda ahead: readahead.Reads((auth0.connection_index_key(),)))
@require_GET
def connection_list(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """The organization's enabled connections with their domain-level status."""
    if not request.htmx:
        return redirect("orgs:detail", org_id)
    rows: list[ConnectionRow] = []
    failed = False
    try:
        enabled = auth0.list_enabled_connections(org_id=org_id)
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
        failed = True
    else:
        index = domain_levels(request) if enabled else {}
        rows = [row_of(e, index) for e in enabled]
    context = {"org_id": org_id, "rows": rows, "failed": failed}
    return render(request, f"{TEMPLATE}#connection-list", context)


@require_GET
def connection_row(request: HttpRequest, org_id: str, connection_id: str) -> HttpResponse:
    """One row, fresh from Auth0 (what Cancel on a confirm step goes back to)."""
    return row_answer(request, org_id, connection_id)


def _refuse_unrelated(request: HttpRequest, org_id: str, connection_id: str) -> HttpResponse:
    """The organization does not have this connection (or does not exist): change nothing.

    A tenant-wide change is only made from an organization that has the connection, so that
    the audit entry is filed under an organization the change really concerns. The refusal is
    not an attempted change (nothing was sent, and the pair of ids is not a real one), so it is
    not written to the audit log, where it would file an entry under an unverified id; it is
    logged for the operators of Org Desk instead, and the row (if any) is dropped.
    """
    logger.warning(
        "Refused a domain-level change by %s: connection %s is not enabled for organization %s",
        request.user.get_username(),
        connection_id,
        org_id,
    )
    messages.error(
        request,
        f"Nothing was changed: the connection {connection_id} is not enabled for the "
        f"organization {org_id}, or that organization does not exist (Auth0 answered 404). "
        "A tenant-wide change is only made from an organization that has the connection; "
        "reload the organization's page.",
    )
    return HttpResponse()


def enabled_here(
    request: HttpRequest, org_id: str, connection_id: str, *also: str
) -> dict[str, Any]:
    """The connection as enabled for this organization, the proof that the organization has it.

    From the confirm step's read when this person made it moments ago (no call), otherwise
    read now (one call); auth0.NotFound when the organization does not have it. `also`: cache
    keys the request will need, read in the same round trip (adminsite.memo)."""
    stashed = audit.stashed_connection(request, org_id, connection_id, *also)
    if stashed is not None:
        return stashed
    enabled = auth0.get_enabled_connection(org_id=org_id, connection_id=connection_id)
    return audit.connection_settings(enabled)


def domain_level_news(connection: auth0.Connection, connection_id: str) -> str:
    """The success message of a domain-level change, from Auth0's answer to it (its status and
    the connection's name; the id when Auth0 sent no name)."""
    state = "now domain-level" if connection.is_domain_connection else "no longer domain-level"
    name = labelled(connection.name, connection_id)
    return f"The connection {name} is {state} for the whole tenant."


def _set_domain_level(
    request: HttpRequest, org_id: str, connection_id: str, name: str, enabled: bool
) -> auth0.Connection:
    """Set the tenant-wide status, recorded in the audit log under this organization."""
    # The previous status from the connection index, cached by the confirm step: no call.
    try:
        known = auth0.domain_connection_index().get(connection_id)
    except auth0.Auth0Error:  # recorded as unknown; the change itself is still attempted
        known = None
    with audit.record(
        request,
        action=Action.DOMAIN_LEVEL,
        org_id=org_id,
        connection_id=connection_id,
        connection_name=name,
        before={"is_domain_connection": known.is_domain_connection if known else None},
        requested={"is_domain_connection": enabled},
    ) as entry:
        connection = auth0.set_domain_connection(connection_id=connection_id, enabled=enabled)
        entry.after = {"is_domain_connection": connection.is_domain_connection}
    return connection


def _change_reads(ahead: readahead.Ahead) -> readahead.Reads | None:
    """A change of a connection (domain level, settings): its confirm step's stash (kept for a
    next step), the organization's name and the connection index."""
    if ahead.method != "POST":
        return readahead.Reads((auth0.connection_index_key(),))
    stash = audit.connection_stash_key(ahead.owner, ahead.org_id, ahead.kwargs["connection_id"])
    keys = (stash, audit.org_name_key(ahead.org_id), auth0.connection_index_key())
    return readahead.Reads(keys)


def _removal_reads(ahead: readahead.Ahead) -> readahead.Reads | None:
    if ahead.method != "POST":
        return None
    stash = audit.connection_stash_key(ahead.owner, ahead.org_id, ahead.kwargs["connection_id"])
    return readahead.Reads((audit.org_name_key(ahead.org_id),), take=stash)


@readahead.reads(_change_reads)
@require_http_methods(["GET", "POST"])
@operator_required
def domain_level(request: HttpRequest, org_id: str, connection_id: str) -> HttpResponse:
    """Confirm (GET), then set (POST) the connection's tenant-wide domain-level status.

    Only from an organization that has the connection: the confirm step's read (kept per
    person, a few minutes) or a read now proves it, and names the connection in the audit."""
    if request.method == "GET":
        return row_answer(request, org_id, connection_id, "confirm-domain-level", stash=True)
    form = DomainLevelForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing was changed: {form.problem()}.")
        return flash.no_swap()
    try:
        # With the connection index, which holds the status before the change: one read.
        here = enabled_here(request, org_id, connection_id, auth0.connection_index_key())
    except auth0.NotFound:
        return _refuse_unrelated(request, org_id, connection_id)
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="connection")
        return flash.no_swap()
    name, enabled = str(here.get("name") or ""), form.cleaned_data["is_domain_connection"]
    try:
        connection = _set_domain_level(request, org_id, connection_id, name, enabled)
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="connection", changing=True)
        return flash.no_swap()
    messages.success(request, domain_level_news(connection, connection_id))
    # The row's status from Auth0's answer to the change, not from a re-read of the cache.
    return row_answer(request, org_id, connection_id, index={connection.id: connection})


def _remove(request: HttpRequest, org_id: str, connection_id: str) -> dict[str, Any]:
    """Remove the connection from the organization, recorded in the audit log; returns its
    settings before (what a restore sends back), read now if no confirm step kept them."""
    before = audit.take_connection(request, org_id, connection_id)  # used once
    with audit.record(
        request,
        action=Action.REMOVE_CONNECTION,
        org_id=org_id,
        connection_id=connection_id,
        connection_name=str(before.get("name") or "") if before else "",
        before=before,
        requested={"remove_connection": connection_id},
    ) as entry:
        if entry.before is None:  # no confirm step: a restore needs the settings
            entry.before = audit.connection_settings(
                auth0.get_enabled_connection(org_id=org_id, connection_id=connection_id)
            )
        auth0.remove_enabled_connection(org_id=org_id, connection_id=connection_id)
    return dict(entry.before)


@readahead.reads(_removal_reads)
@require_http_methods(["GET", "POST"])
@operator_required
def remove(request: HttpRequest, org_id: str, connection_id: str) -> HttpResponse:
    """Confirm (GET), then remove (POST) the connection from this organization."""
    if request.method == "GET":
        return row_answer(request, org_id, connection_id, "confirm-remove", stash=True)
    try:
        before = _remove(request, org_id, connection_id)
    except auth0.NotFound as exc:
        return failure_answer(request, connection_id, exc)
    except auth0.Auth0Error as exc:
        return failure_answer(request, connection_id, exc, changing=True)
    name = labelled(str(before.get("name") or ""), connection_id)  # as Auth0 answered
    messages.success(
        request,
        f"Removed the connection {name} from this organization. "
        "Its users can no longer log in to the organization with it; "
        "the audit log can restore it with its former settings.",
    )
    return HttpResponse()  # an empty swap removes the row in place
