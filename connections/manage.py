"""Enabling a connection for an organization, and changing an enabled connection's settings for
that organization (membership on login, show as button, signup).

"Add connection…" (the Connections table's last line) opens a step in place: a filterable list
of the tenant's connections not yet enabled here (one read of the organization's connections,
kept per person a few minutes like a confirm step's read; the tenant's connections come from
the cached connection index), then the chosen connection's settings with defaults for its
strategy, then one POST. "Edit settings…" in a row opens an edit step prefilled from a read of
that connection (stashed per person like the confirm steps' reads), and saving sends a PATCH
with only the settings that changed. Auth0's rules are checked before any call; every call is
recorded in the audit log with the state before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from adminsite import auth0, flash, memo, readahead
from adminsite.audit import recording as audit
from adminsite.audit.models import Action, labelled
from adminsite.http import HtmxHttpRequest
from adminsite.permissions import operator_required
from connections import views
from connections.forms import ConnectionSettingsForm, EnableForm, PickerQuery
from connections.rules import (
    MAX_ENABLED,
    SETTING_NAMES,
    applicable,
    changed_settings,
    defaults,
    rule_problem,
    wanted_settings,
)

TEMPLATE = views.TEMPLATE
LIMIT_WORDS = ("at most", "limit", "maximum")  # in Auth0's 409 for an 11th connection
PICKER_TTL = 300  # seconds the picker's read of the organization's connections stays usable


# --- The picker's read, kept per person ---------------------------------------------------------


def _picker_key_of(owner: str, org_id: str) -> str:
    return f"connections:enabled:{owner}:{org_id}"


def _picker_key(request: HttpRequest, org_id: str) -> str:
    return _picker_key_of(readahead.owner_of(request), org_id)


def _enabled_read(
    request: HttpRequest, org_id: str, *, fresh: bool
) -> tuple[list[str], list[auth0.EnabledConnection] | None]:
    """The ids of the organization's enabled connections, and the connections when they were
    read now: read (one call) and kept for the picker's next steps, or (not `fresh`) the kept
    ids when there are some (no call, None)."""
    if not fresh:
        kept = memo.get(_picker_key(request, org_id))
        if isinstance(kept, list):
            return [str(cid) for cid in kept], None
    enabled = auth0.list_enabled_connections(org_id=org_id)
    ids = [e.connection_id for e in enabled]
    # Written once the answer is sent: a next step that comes first reads them again.
    memo.set_after_answer({_picker_key(request, org_id): ids}, timeout=PICKER_TTL)
    return ids, enabled


def _enabled_ids(request: HttpRequest, org_id: str, *, fresh: bool) -> list[str]:
    return _enabled_read(request, org_id, fresh=fresh)[0]


def _matches(connection: auth0.Connection, text: str) -> bool:
    needle = text.casefold()
    return needle in connection.name.casefold() or needle in connection.strategy.casefold()


def _picker(request: HttpRequest, org_id: str, text: str, *, options_only: bool) -> HttpResponse:
    """The step listing the tenant's connections not enabled here (filtered by `text`), or
    only its list of options (the filter box's answer, from the kept read: no call)."""
    try:
        here = _enabled_ids(request, org_id, fresh=not options_only)
        tenant = auth0.list_connections()
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
        return flash.no_swap()
    candidates = [c for c in tenant if c.id not in here]
    context = {
        "org_id": org_id,
        "q": text,
        "candidates": candidates,
        "shown": [c for c in candidates if _matches(c, text)] if text else candidates,
        "enabled_count": len(here),
        "max_enabled": MAX_ENABLED,
        "full": len(here) >= MAX_ENABLED,
    }
    partial = "add-options" if options_only else "add-picker"
    return render(request, f"{TEMPLATE}#{partial}", context)


def _refuse(request: HttpRequest, problem: str | None) -> HttpResponse:
    """A change Org Desk will not send (Auth0 would refuse it): the message, the step stays.
    A 200 without a swap, as the domain-level refusal: the request was well formed."""
    messages.error(request, f"Nothing was changed: {problem}.")
    return flash.no_swap()


def _limit_problem(count: int) -> str:
    return (
        f"this organization already has {count} enabled connections, Auth0's limit of "
        f"{MAX_ENABLED}; remove one before enabling another"
    )


def _enable_problem(
    connection_id: str, here: list[str], index: Mapping[str, auth0.Connection]
) -> str | None:
    """Why the connection cannot be enabled here, decided without a call, or None."""
    connection = index.get(connection_id)
    if connection is None:
        return (
            f"Org Desk does not know a connection {connection_id} in this tenant; reload the "
            "page and pick it from the list"
        )
    if connection_id in here:
        return f"the connection {connection.name} is already enabled for this organization"
    if len(here) >= MAX_ENABLED:
        return _limit_problem(len(here))
    return None


def _settings_step(request: HttpRequest, org_id: str, connection_id: str) -> HttpResponse:
    """The chosen connection's settings, only those that apply to its strategy, with defaults."""
    try:
        here = _enabled_ids(request, org_id, fresh=False)
        index = auth0.domain_connection_index()
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
        return flash.no_swap()
    if problem := _enable_problem(connection_id, here, index):
        return _refuse(request, problem)
    connection = index[connection_id]
    context = {
        "org_id": org_id,
        "connection": connection,
        "applies": applicable(connection.strategy),
        "settings": defaults(connection.strategy),
    }
    return render(request, f"{TEMPLATE}#add-settings", context)


# --- Enable ---------------------------------------------------------------------------------------


def _to_send(strategy: str, posted: Mapping[str, bool]) -> dict[str, Any]:
    """add_enabled_connection's settings: the applicable ones as posted, Auth0's default for a
    button that does not apply, signup left out unless it applies."""
    keys = applicable(strategy)
    return {
        "assign_membership_on_login": posted["assign_membership_on_login"],
        "show_as_button": posted["show_as_button"] if "show_as_button" in keys else True,
        "is_signup_enabled": posted["is_signup_enabled"] if "is_signup_enabled" in keys else None,
    }


def _enable_failed(request: HttpRequest, exc: auth0.Auth0Error, name: str) -> HttpResponse:
    """Auth0's refusal of the POST in words; the step stays open."""
    detail = exc.message.rstrip(".")
    if isinstance(exc, auth0.Conflict) and "already" in detail.lower():
        messages.error(
            request,
            f"The connection {name} is already enabled for this organization (409: {detail}). "
            "Nothing was changed; close this step and reload the connections to see it.",
        )
    elif isinstance(exc, auth0.Conflict) and any(w in detail.lower() for w in LIMIT_WORDS):
        messages.error(
            request,
            f"Auth0 refused to enable {name} (409: {detail}). An organization can have at most "
            f"{MAX_ENABLED} enabled connections; nothing was changed.",
        )
    elif isinstance(exc, auth0.NotFound):
        messages.error(
            request,
            f"The organization or the connection {name} no longer exists in Auth0 (404). "
            "Nothing was changed; reload the page.",
        )
    else:
        flash.report(request, exc, subject="connection", changing=True)
    return flash.no_swap()


def _enable_call(
    request: HttpRequest, org_id: str, connection: auth0.Connection, settings: dict[str, Any]
) -> auth0.EnabledConnection:
    """One POST enabled_connections, recorded in the audit log."""
    with audit.record(
        request,
        action=Action.ENABLE_CONNECTION,
        org_id=org_id,
        connection_id=connection.id,
        connection_name=connection.name,
        before={"enabled": False},
        requested={k: v for k, v in settings.items() if v is not None},
    ) as entry:
        enabled = auth0.add_enabled_connection(
            org_id=org_id, connection_id=connection.id, **settings
        )
        entry.after = audit.connection_settings(enabled)
    return enabled


def _list_after(
    request: HttpRequest,
    org_id: str,
    added: auth0.EnabledConnection,
    read: list[auth0.EnabledConnection] | None,
) -> HttpResponse:
    """The Connections part with the new row: the organization's connections as read just
    before the change (`read`), else read now (one call; the index is the cached one); if that
    read fails, the new row is still shown."""
    if read is not None:
        enabled = list(read)
    else:
        try:
            enabled = auth0.list_enabled_connections(org_id=org_id)
        except auth0.Auth0Error as exc:
            flash.report(request, exc, subject="organization")
            enabled = [added]
    if added.connection_id not in {e.connection_id for e in enabled}:
        enabled.append(added)  # Auth0's lists may lag a moment behind its answer
    index = views.domain_levels(request)
    rows = [views.row_of(e, index) for e in enabled]
    context = {"org_id": org_id, "rows": rows, "failed": False}
    return render(request, f"{TEMPLATE}#connection-list", context)


def _enable(request: HttpRequest, org_id: str) -> HttpResponse:
    """Enable the posted connection with its settings, after the checks that need no call."""
    form = EnableForm(request.POST)
    if not form.is_valid():
        return flash.refuse_form(request, form, "Nothing was changed")
    connection_id, posted = form.cleaned_data["connection_id"], form.cleaned_data
    # The picker's ids, the connection index and the organization's name (the entry's):
    # one cache read, kept for the request (adminsite.memo).
    audit.read_ahead(org_id, _picker_key(request, org_id), auth0.connection_index_key())
    try:
        here, read = _enabled_read(request, org_id, fresh=False)
        index = auth0.domain_connection_index()
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
        return flash.no_swap()
    problem = _enable_problem(connection_id, here, index)
    connection = index.get(connection_id)
    if problem is None and connection is not None:
        problem = rule_problem(connection.name, connection.strategy, posted)
    if problem is not None or connection is None:
        return _refuse(request, problem)
    try:
        added = _enable_call(request, org_id, connection, _to_send(connection.strategy, posted))
    except auth0.Auth0Error as exc:
        return _enable_failed(request, exc, connection.name)
    memo.delete_after_answer(_picker_key(request, org_id))  # the next picker reads afresh
    messages.success(request, f"Enabled the connection {added.name} for this organization.")
    return _list_after(request, org_id, added, read)


def _add_reads(ahead: readahead.Ahead) -> readahead.Reads:
    """The picker reads the connection index; enabling, the picker's ids and the name too."""
    if ahead.method != "POST":
        return readahead.Reads((auth0.connection_index_key(),))
    picker = _picker_key_of(ahead.owner, ahead.org_id)
    return readahead.Reads((audit.org_name_key(ahead.org_id), picker, auth0.connection_index_key()))


@readahead.reads(_add_reads)
@require_http_methods(["GET", "POST"])
@operator_required
def add_connection(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """The "Add connection…" step (GET: the picker, its filtered options, the chosen
    connection's settings, or the step closed), then enable (POST)."""
    if request.method == "POST":
        return _enable(request, org_id)
    query = PickerQuery(request.GET)
    if not query.is_valid():
        return flash.refuse_form(request, query, "Nothing to show")
    if query.cleaned_data["step"] == "closed":
        return render(request, f"{TEMPLATE}#add-row", {"org_id": org_id})
    if connection_id := query.cleaned_data["connection_id"]:
        return _settings_step(request, org_id, connection_id)
    options_only = bool(request.htmx) and request.htmx.target == "conn-options"
    return _picker(request, org_id, query.cleaned_data["q"], options_only=options_only)


# --- Change the settings ------------------------------------------------------------------------


def _kept_row(
    org_id: str, connection_id: str, before: Mapping[str, Any]
) -> auth0.EnabledConnection:
    """The enabled connection as the edit step read it (no call)."""
    return auth0.EnabledConnection(
        connection_id=connection_id,
        name=str(before.get("name") or ""),
        strategy=str(before.get("strategy") or ""),
        assign_membership_on_login=bool(before.get("assign_membership_on_login")),
        show_as_button=bool(before.get("show_as_button")),
        is_signup_enabled=before.get("is_signup_enabled"),
    )


def _update_call(
    request: HttpRequest,
    org_id: str,
    connection_id: str,
    before: Mapping[str, Any],
    changes: dict[str, bool],
) -> auth0.EnabledConnection:
    """One PATCH with only the changed settings, recorded in the audit log."""
    with audit.record(
        request,
        action=Action.UPDATE_CONNECTION,
        org_id=org_id,
        connection_id=connection_id,
        connection_name=str(before.get("name") or ""),
        before=dict(before),
        requested=changes,
    ) as entry:
        enabled = auth0.update_enabled_connection(
            org_id=org_id, connection_id=connection_id, **changes
        )
        entry.after = audit.connection_settings(enabled)
    return enabled


def _row(request: HttpRequest, org_id: str, enabled: auth0.EnabledConnection) -> HttpResponse:
    row = views.row_of(enabled, views.domain_levels(request))
    return render(request, f"{TEMPLATE}#connection-row", {"org_id": org_id, "row": row})


def _save(request: HttpRequest, org_id: str, connection_id: str) -> HttpResponse:
    """Save the edit step: the rules, then a PATCH of what changed (nothing: no call)."""
    form = ConnectionSettingsForm(request.POST)
    if not form.is_valid():
        return flash.refuse_form(request, form, "Nothing was changed")
    try:
        # The edit step's read, with the connection index the answer's row shows (one read).
        before = views.enabled_here(request, org_id, connection_id, auth0.connection_index_key())
    except auth0.Auth0Error as exc:
        return views.failure_answer(request, connection_id, exc)
    name = labelled(str(before.get("name") or ""), connection_id)
    wanted = wanted_settings(before, form.cleaned_data)
    if problem := rule_problem(name, str(before.get("strategy") or ""), wanted):
        return _refuse(request, problem)
    if not (changes := changed_settings(before, form.cleaned_data)):
        messages.info(request, f"Nothing to save: the settings of {name} are unchanged.")
        return _row(request, org_id, _kept_row(org_id, connection_id, before))
    try:
        enabled = _update_call(request, org_id, connection_id, before, changes)
    except auth0.Auth0Error as exc:
        return views.failure_answer(request, connection_id, exc, changing=True)
    audit.stash_connection(request, org_id, enabled)  # what Auth0 has now
    said = ", ".join(
        f"{SETTING_NAMES[k]} {'on' if getattr(enabled, k) else 'off'}" for k in changes
    )
    messages.success(request, f"Saved the settings of {enabled.name} here: {said}.")
    return _row(request, org_id, enabled)


@readahead.reads(views._change_reads)
@require_http_methods(["GET", "POST"])
@operator_required
def edit_settings(request: HttpRequest, org_id: str, connection_id: str) -> HttpResponse:
    """The edit step in the row (GET, one read, kept as the state before), then save (POST)."""
    if request.method == "GET":
        return views.row_answer(request, org_id, connection_id, "edit-settings", stash=True)
    return _save(request, org_id, connection_id)
