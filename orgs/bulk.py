"""Bulk changes and the members export, from an organization's members part (issue #15).

Operators tick member rows (each row's checkbox belongs to the bulk panel's form), tick "every
member" (the job lists them, every page by cursor, when it starts) or paste emails and user ids
(at most 10,000 lines), pick what to do (assign roles, remove roles, remove from the
organization, add people with roles) and review: the confirm step states how many, the roles
by the names Auth0 gave Org Desk, and how long it takes at the tenant's rate limits. What the
review chose is kept for its author under a random token (adminsite.jobs.services.stash_choice):
the confirm posts only that token, so nothing the browser made up after the review is sent.
Confirming creates the job (adminsite.jobs.services.create) and goes to its page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from adminsite import auth0, flash
from adminsite.http import HtmxHttpRequest
from adminsite.jobs import services
from adminsite.jobs.models import Kind
from adminsite.permissions import operator_required
from orgs import names
from orgs.forms import MAX_LINE

DETAIL = "orgs/organization_detail.html"
NOT_STARTED = "Nothing was started"
MAX_PICKED_ROLES = 50


def _user(request: HtmxHttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # operator_required: signed in
    return user


@require_GET
@operator_required
def bulk_form(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """The bulk panel with the tenant's roles to pick; `?cancel=1` closes it (no call),
    `?options=1` answers the roles alone (searched by name)."""
    if not request.htmx:  # a part of the organization page, not a page
        return redirect("orgs:detail", org_id)
    if request.GET.get("cancel") == "1":
        return render(request, f"{DETAIL}#bulk-closed", {"org_id": org_id})
    query = request.GET.get("q", "").strip()[:100]
    picked = names.picked_roles(request.GET.getlist("roles"))
    try:
        roles = names.roles_to_pick(query, picked)  # picked roles stay, found or not
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
        return flash.no_swap()
    partial = "bulk-role-options" if request.GET.get("options") == "1" else "bulk-form"
    context: dict[str, Any] = {"org_id": org_id, "roles": roles, "q": query, "picked": picked}
    if partial == "bulk-form":
        context["member_count"] = _member_count(org_id)
    return render(request, f"{DETAIL}#{partial}", context)


def _member_count(org_id: str) -> int | None:
    """How many members the organization has; None when Auth0 does not say (or fails: the
    count is only shown, the job lists the members itself)."""
    try:
        return auth0.count_members(org_id=org_id)
    except auth0.Auth0Error:
        return None


@require_POST
@operator_required
def bulk_review(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """The confirm step: what was chosen, checked, counted and estimated; nothing is sent."""
    try:
        kind, choice, org = _read_choice(request, org_id)
    except (services.JobError, auth0.InvalidId) as exc:
        return flash.refuse(request, f"{NOT_STARTED}: {exc}")
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
        return flash.no_swap()
    choice["org_name"] = org.display_name
    count = len(choice["subjects"])
    if not count and not choice["all_members"]:
        return render(request, f"{DETAIL}#bulk-confirm", {"org_id": org_id, "choice": choice})
    every = _member_count(org_id) if choice["all_members"] else None
    estimated = max(count, every or 0)
    context: dict[str, Any] = {
        "org_id": org_id,
        "choice": choice,
        "kind": kind,
        "count": count,
        "token": services.stash_choice(_user(request), org_id, choice),
        "member_count": every,
        "estimate": services.duration(
            services.estimate_seconds(kind, estimated, with_roles=bool(choice["roles"]))
        ),
        "per_thousand": services.duration(
            services.estimate_seconds(kind, 1000, with_roles=bool(choice["roles"]))
        ),
    }
    return render(request, f"{DETAIL}#bulk-confirm", context)


def _read_choice(
    request: HtmxHttpRequest, org_id: str
) -> tuple[Kind, dict[str, Any], auth0.Organization]:
    """The bulk form's choice, checked (services.JobError, auth0.InvalidId), its pasted lines
    looked up and its roles named; the organization read from Auth0 (its errors raised)."""
    role_ids = request.POST.getlist("roles")
    if len(role_ids) > MAX_PICKED_ROLES or not all(auth0.ROLE_ID.fullmatch(r) for r in role_ids):
        raise services.JobError("a role id is not an Auth0 role id.")
    action = request.POST.get("action", "")
    if action not in Kind.values:
        raise services.JobError("Choose what to do.")
    kind = Kind(action)
    if kind in (Kind.ASSIGN_ROLES, Kind.REMOVE_ROLES) and not role_ids:
        raise services.JobError("Choose at least one role.")
    choice = services.choose(
        kind=kind,
        picked=request.POST.getlist("pick")[: services.MAX_ITEMS + 1],
        lines=[ln[:MAX_LINE] for ln in request.POST.get("lines", "").splitlines()],
        all_members=request.POST.get("all") == "1",
    )
    org = auth0.get_organization(org_id=org_id)
    services.resolve_pasted(choice)
    known = names.known()
    choice["roles"] = [{"id": r, "name": known.role_name(r)} for r in dict.fromkeys(role_ids)]
    return kind, choice, org


@require_POST
@operator_required
def bulk_start(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """Start the job the confirm step showed; its page next."""
    choice = services.take_choice(_user(request), org_id, request.POST.get("review", ""))
    if choice is None:
        return flash.refuse(
            request, f"{NOT_STARTED}: this confirm step has expired or was used; review again."
        )
    kind = Kind(choice["kind"])
    try:
        job = services.create(
            kind=kind,
            org_id=org_id,
            org_name=choice["org_name"],
            user=_user(request),
            subjects=choice["subjects"],
            roles=choice["roles"],
            labels=choice["labels"],
            all_members=choice["all_members"],
        )
    except (services.JobError, auth0.InvalidId) as exc:
        return flash.refuse(request, f"{NOT_STARTED}: {exc}")
    who = "every member" if job.params.get("all_members") else f"{job.total} members"
    messages.success(request, f"Started: {kind.label} for {who} of {job.org_name}.")
    url = reverse("jobs:detail", args=[job.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_POST
@operator_required
def export_members(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """An export job of every member with their roles; its page next (the download is there)."""
    try:
        org = auth0.get_organization(org_id=org_id)
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
        return redirect("orgs:detail", org_id)
    job = services.create(
        kind=Kind.EXPORT_MEMBERS, org_id=org_id, org_name=org.display_name, user=_user(request)
    )
    messages.success(request, f"Exporting every member of {org.display_name}.")
    url = reverse("jobs:detail", args=[job.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
