"""The audit log pages: every signed-in user reads them; operators restore from them.

Plain Django pages (no htmx): a paged, filtered list, one page per entry, and the restore
action, which posts and redirects back to the entry with a flash message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, TypedDict, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from adminsite import auth0, flash
from adminsite.audit import recording as audit
from adminsite.audit import restorers
from adminsite.audit.models import Action, AuditEntry, Outcome, labelled
from adminsite.permissions import operator_required

PER_PAGE = 50


class AuditFilterForm(forms.Form):
    org = forms.RegexField(
        label="Organization id",
        regex=rf"\A{auth0.ORG_ID.pattern}\Z",
        required=False,
        max_length=50,
        error_messages={"invalid": "An organization id looks like org_ followed by letters."},
    )
    user = forms.CharField(label="Person (username)", required=False, max_length=150)
    action = forms.ChoiceField(
        label="Action", required=False, choices=[("", "Any action"), *Action.choices]
    )


@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    """Every change attempted through Org Desk, newest first, 50 a page, filterable."""
    audit.wait_for_seals()  # a change this instance just answered: its outcome, not "unknown"
    form = AuditFilterForm(request.GET)
    entries = AuditEntry.objects.select_related("restores").prefetch_related("restorations")
    if form.is_valid():
        if org := form.cleaned_data["org"]:
            entries = entries.filter(org_id=org)
        if user := form.cleaned_data["user"].strip():
            entries = entries.filter(username=user)
        if action := form.cleaned_data["action"]:
            entries = entries.filter(action=action)
    else:
        entries = entries.none()
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "audit/audit_list.html", {"form": form, "page": page})


@require_GET
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One entry in full; for a restorable removal, the restore form (operators)."""
    audit.wait_for_seals()
    entry = get_object_or_404(AuditEntry.objects.select_related("restores"), pk=pk)
    restorations = list(entry.restorations.all())
    restored = next((r for r in restorations if r.outcome == Outcome.SUCCESS), None)
    pending = next((r for r in restorations if r.outcome == Outcome.PENDING), None)
    context = {
        "entry": entry,
        "restorations": restorations,
        "restored": restored,
        "pending": pending,
    }
    return render(request, "audit/audit_detail.html", context)


def _restore_in_flight(entry: AuditEntry) -> AuditEntry | None:
    """Another restore of this entry under way: pending, and younger than a call can last.

    An older pending restore is one whose process died during the call: it no longer blocks
    (a retry that finds the connection enabled gets Auth0's 409, which says so).
    """
    since = timezone.now() - timedelta(seconds=2 * float(settings.AUTH0_TIMEOUT) + 5)
    return entry.restorations.filter(outcome=Outcome.PENDING, created_at__gte=since).first()


def _when(entry: AuditEntry) -> str:
    return f"{timezone.localtime(entry.created_at):%Y-%m-%d %H:%M:%S %Z}"


def restore_refusal(
    done: AuditEntry | None, running: AuditEntry | None, what: str = "connection"
) -> str | None:
    """Why a removal may not be restored now: `done`, a restore of it that succeeded, or
    `running`, one still under way; None when neither stands in the way."""
    if done is not None:
        return (
            f"This {what} was already restored by {done.username} ({_when(done)}, audit "
            f"entry #{done.pk}); nothing was sent to Auth0."
        )
    if running is not None:
        return (
            f"A restore of this {what} is already under way (started by "
            f"{running.username} at {_when(running)}, audit entry #{running.pk}); nothing more "
            "was sent. Reload this page in a moment to see its outcome; if it still has none, "
            f"Org Desk stopped during that call: check the organization's {what}s, and "
            f"restore again if the {what} is not there."
        )
    return None


def _refusal(removal: AuditEntry, what: str) -> str | None:
    """Why this removal may not be restored now (already restored, or a restore under way)."""
    # Under way first, then done. A restore goes from pending to success, and on Postgres
    # (READ COMMITTED) each query sees what was committed when it started: one finishing
    # between the two queries is seen by the second. In the other order it slipped past both,
    # and a second restore reached Auth0 (tests/deploy/test_two_instances.py).
    running = _restore_in_flight(removal)
    if running is not None:
        return restore_refusal(None, running, what)
    done = removal.restorations.filter(outcome=Outcome.SUCCESS).first()
    return restore_refusal(done, None, what)


class ConnectionSettings(TypedDict):
    """What a restore sends back to Auth0 (add_enabled_connection's settings)."""

    assign_membership_on_login: bool
    show_as_button: bool
    is_signup_enabled: bool | None


def settings_to_restore(before: Mapping[str, Any]) -> ConnectionSettings:
    """The settings a removed connection had, from the removal's before-state, as Auth0 takes
    them back (is_signup_enabled None: not sent, Auth0's default applies)."""
    return {
        "assign_membership_on_login": bool(before["assign_membership_on_login"]),
        "show_as_button": bool(before["show_as_button"]),
        "is_signup_enabled": before.get("is_signup_enabled"),
    }


def why_not_restored(exc: auth0.Auth0Error, connection: str, org: str) -> str | None:
    """What a restore Auth0 refused means for the operator, or None when the general message
    for the error (adminsite.flash) says it: the connection is back already (409), or the
    organization or the connection is gone (404)."""
    if isinstance(exc, auth0.Conflict) and "already" in exc.message.lower():
        return (
            f"The connection {connection} is already enabled for this organization "
            f"(409: {exc.message.rstrip('.')}). Nothing was changed; open the organization "
            "to check its settings."
        )
    if isinstance(exc, auth0.NotFound):
        return (
            f"The organization {org} or the connection {connection} no longer exists in "
            "Auth0 (404), so the connection cannot be restored. Nothing was changed."
        )
    return None


class ConnectionRestorer:
    """A removed connection is enabled again with its former settings (POST
    enabled_connections)."""

    what = "connection"

    def possible(self, removal: AuditEntry) -> bool:
        return (
            removal.action == Action.REMOVE_CONNECTION
            and removal.outcome == Outcome.SUCCESS
            and isinstance(removal.before, dict)
            and all(k in removal.before for k in ("assign_membership_on_login", "show_as_button"))
        )

    def attempt(self, request: HttpRequest, removal: AuditEntry) -> audit.Recording:
        """Names as Org Desk read them when removing (the removal's before-state, the
        organization cache)."""
        return audit.record(
            request,
            action=Action.RESTORE_CONNECTION,
            org_id=removal.org_id,
            org_name=removal.org_name,
            connection_id=removal.connection_id,
            connection_name=removal.known_connection_name,
            before={"enabled": False},
            requested=settings_to_restore(cast(dict[str, Any], removal.before)),
            restores=removal,
        )

    def apply(self, request: HttpRequest, removal: AuditEntry, attempt: audit.Recording) -> None:
        settings_back = settings_to_restore(cast(dict[str, Any], removal.before))
        try:
            with attempt:
                enabled = auth0.add_enabled_connection(
                    org_id=removal.org_id, connection_id=removal.connection_id, **settings_back
                )
                attempt.after = audit.connection_settings(enabled)
        except auth0.Auth0Error as exc:
            problem = why_not_restored(exc, removal.connection_label, removal.org_label)
            if problem is None:
                flash.report(request, exc, subject="connection", changing=True)
            else:
                messages.error(request, problem)
            return
        messages.success(
            request,
            f"Restored the connection {labelled(enabled.name, removal.connection_id)} to "
            f"{removal.org_label} with its former settings (audit entry "
            f"#{attempt.entry.pk if attempt.entry else '?'}).",
        )


def _open_unless_refused(removal: AuditEntry, attempt: audit.Recording, what: str) -> str | None:
    """Check and write the attempt's pending entry under a lock on the removal's row; the
    refusal when the removal was restored already or a restore of it is under way."""
    with audit.locked(removal) as locked:
        refused = _refusal(locked, what)
        if refused is None:
            attempt.open()
    return refused


@require_POST
@operator_required
def restore(request: HttpRequest, pk: int) -> HttpResponse:
    """Give back what a removal took (a connection, a member, an invitation): its kind's
    Restorer (adminsite.audit.restorers) makes the call.

    The check and the attempt's pending entry happen under a lock on the removal's row, so of
    several requests at once exactly one calls Auth0; the others wait for the lock
    (milliseconds), then find that pending entry and say so."""
    entry = get_object_or_404(AuditEntry, pk=pk)
    restorer = restorers.for_entry(entry)
    if restorer is None:
        messages.error(request, "Only a successful removal can be restored; nothing was changed.")
        return redirect(entry)
    attempt = restorer.attempt(request, entry)
    if (refused := _open_unless_refused(entry, attempt, restorer.what)) is not None:
        messages.warning(request, refused)
        return redirect(entry)
    restorer.apply(request, entry, attempt)
    return redirect(entry)
