"""An organization's enabled connections (F2), domain-level toggle (F3) and removal (F4).

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

from adminsite import auth0, flash
from adminsite.audit import recording as audit
from adminsite.audit.models import Action, labelled
from adminsite.http import HtmxHttpRequest
from adminsite.permissions import operator_required
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


def _domain_levels(request: HttpRequest) -> dict[str, auth0.Connection]:
    try:
        return auth0.domain_connection_index()
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="connection")
        return {}


def _row(enabled: auth0.EnabledConnection, index: dict[str, auth0.Connection]) -> ConnectionRow:
    connection = index.get(enabled.connection_id)
    return ConnectionRow(enabled, connection.is_domain_connection if connection else None)


def _render_row(
    request: HttpRequest, org_id: str, row: ConnectionRow, partial: str = "connection-row"
) -> HttpResponse:
    return render(request, f"{TEMPLATE}#{partial}", {"org_id": org_id, "row": row})


def _gone(request: HttpRequest, connection_id: str) -> HttpResponse:
    """The connection is no longer enabled for this organization: drop its row."""
    messages.warning(
        request,
        f"The connection {connection_id} no longer exists in this organization (404); "
        "its row was removed.",
    )
    return HttpResponse()


def _fetch_row(
    request: HttpRequest, org_id: str, connection_id: str
) -> ConnectionRow | HttpResponse:
    try:
        enabled = auth0.get_enabled_connection(org_id=org_id, connection_id=connection_id)
    except auth0.NotFound:
        return _gone(request, connection_id)
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="connection")
        return flash.no_swap()
    return _row(enabled, _domain_levels(request))


def _fresh_row(
    request: HttpRequest, org_id: str, connection_id: str, partial: str = "connection-row"
) -> HttpResponse:
    """The row (or its confirm step) from Auth0 now, or the answer that it could not be read."""
    row = _fetch_row(request, org_id, connection_id)
    return row if isinstance(row, HttpResponse) else _render_row(request, org_id, row, partial)


@require_GET
def connection_list(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """F2: the organization's enabled connections with their domain-level status."""
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
        index = _domain_levels(request) if enabled else {}
        rows = [_row(e, index) for e in enabled]
    context = {"org_id": org_id, "rows": rows, "failed": failed}
    return render(request, f"{TEMPLATE}#connection-list", context)


@require_GET
def connection_row(request: HttpRequest, org_id: str, connection_id: str) -> HttpResponse:
    """One row, fresh from Auth0 (what Cancel on a confirm step goes back to)."""
    return _fresh_row(request, org_id, connection_id)


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


def _enabled_here(
    request: HttpRequest, org_id: str, connection_id: str
) -> dict[str, Any] | HttpResponse:
    """The connection as enabled for this organization, or the answer refusing the change.

    From the confirm step's read when this person made it moments ago (no call), otherwise
    read now: one call, which also proves that the organization has the connection.
    """
    stashed = audit.stashed_connection(request, org_id, connection_id)
    if stashed is not None:
        return stashed
    try:
        enabled = auth0.get_enabled_connection(org_id=org_id, connection_id=connection_id)
    except auth0.NotFound:
        return _refuse_unrelated(request, org_id, connection_id)
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="connection")
        return flash.no_swap()
    return audit.connection_settings(enabled)


@require_http_methods(["GET", "POST"])
@operator_required
def domain_level(request: HttpRequest, org_id: str, connection_id: str) -> HttpResponse:
    """F3: confirm (GET), then set (POST) the connection's tenant-wide domain-level status.

    The confirm step's read is kept (per person, a few minutes) as the proof that this
    organization has the connection and as the name the audit entry records.
    """
    if request.method == "GET":
        row = _fetch_row(request, org_id, connection_id)
        if isinstance(row, HttpResponse):
            return row
        audit.stash_connection(request, org_id, row.enabled)
        return _render_row(request, org_id, row, "confirm-domain-level")
    form = DomainLevelForm(request.POST)
    if not form.is_valid():
        problem = "; ".join(str(e) for e in form.errors["is_domain_connection"])
        messages.error(request, f"Nothing was changed: {problem}.")
        return flash.no_swap()
    enabled = form.cleaned_data["is_domain_connection"]
    here = _enabled_here(request, org_id, connection_id)
    if isinstance(here, HttpResponse):
        return here
    # The previous status from the connection index, cached by the confirm step: no call.
    try:
        known = auth0.domain_connection_index().get(connection_id)
    except auth0.Auth0Error:  # recorded as unknown; the change itself is still attempted
        known = None
    try:
        with audit.record(
            request,
            action=Action.DOMAIN_LEVEL,
            org_id=org_id,
            connection_id=connection_id,
            connection_name=str(here.get("name") or ""),
            before={"is_domain_connection": known.is_domain_connection if known else None},
            requested={"is_domain_connection": enabled},
        ) as entry:
            connection = auth0.set_domain_connection(connection_id=connection_id, enabled=enabled)
            entry.after = {"is_domain_connection": connection.is_domain_connection}
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="connection", changing=True)
        return flash.no_swap()
    state = "now domain-level" if connection.is_domain_connection else "no longer domain-level"
    name = labelled(connection.name, connection_id)  # as Auth0 answered the change
    messages.success(request, f"The connection {name} is {state} for the whole tenant.")
    return _fresh_row(request, org_id, connection_id)


@require_http_methods(["GET", "POST"])
@operator_required
def remove(request: HttpRequest, org_id: str, connection_id: str) -> HttpResponse:
    """F4: confirm (GET), then remove (POST) the connection from this organization."""
    if request.method == "GET":
        row = _fetch_row(request, org_id, connection_id)
        if isinstance(row, HttpResponse):
            return row
        audit.stash_connection(request, org_id, row.enabled)  # the removal's before-state
        return _render_row(request, org_id, row, "confirm-remove")
    before = audit.stashed_connection(request, org_id, connection_id)
    try:
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
    except auth0.NotFound:
        audit.forget_connection(request, org_id, connection_id)
        return _gone(request, connection_id)
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="connection", changing=True)
        return flash.no_swap()
    audit.forget_connection(request, org_id, connection_id)
    name = labelled(str(entry.before.get("name") or ""), connection_id)  # as Auth0 answered
    messages.success(
        request,
        f"Removed the connection {name} from this organization. "
        "Its users can no longer log in to the organization with it; "
        "the audit log can restore it with its former settings.",
    )
    return HttpResponse()  # an empty swap removes the row in place
