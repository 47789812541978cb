"""Organizations: one page of them (checkpoint paging), a jump to one by id or exact name, and
an organization's page, whose connections and members load as parts of it.

Each view calls the service module (adminsite.auth0) and turns its typed errors into flash
messages (adminsite.flash).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseClientRedirect

from adminsite import auth0, flash
from adminsite.audit import recording as audit
from adminsite.http import HtmxHttpRequest
from orgs import paging

DETAIL = "orgs/organization_detail.html"


@require_GET
def organization_list(request: HtmxHttpRequest) -> HttpResponse:
    """One page of organizations (checkpoint paging), or a jump to one by id or name."""
    query = request.GET.get("q", "").strip()
    if query:
        return _jump_to_organization(request, query)
    try:
        cursor = paging.page_cursor(request)
    except paging.BadCursor:
        return flash.refuse(request, paging.BAD_CURSOR)
    page = None
    try:
        page = auth0.list_organizations(from_=cursor, take=paging.PAGE_SIZE)
    except auth0.InvalidId as exc:
        return flash.refuse(request, str(exc))
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="page of organizations")
    previous = paging.previous_cursor(request, "org_pages", cursor, page.next if page else None)
    context = {"page": page, "cursor": cursor, "previous": previous}
    template = "orgs/organization_list.html"
    if request.htmx and request.htmx.target == "org-table":
        template += "#org-table"
    return render(request, template, context)


def _jump_to_organization(request: HtmxHttpRequest, query: str) -> HttpResponse:
    if auth0.ORG_ID.fullmatch(query):
        lookup, kind = (lambda: auth0.get_organization(org_id=query)), "id"
    elif auth0.ORG_NAME.fullmatch(query.lower()):
        query = query.lower()
        lookup, kind = (lambda: auth0.get_organization_by_name(name=query)), "name"
    else:
        messages.error(
            request,
            "Type an organization id (org_…) or its exact name "
            "(lowercase letters, digits, - and _; at most 50 characters).",
        )
        return _back_to_list(request)
    try:
        org = lookup()
    except auth0.NotFound:
        messages.warning(request, f"No organization has the {kind} “{query}”.")
        return _back_to_list(request)
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
        return _back_to_list(request)
    url = reverse("orgs:detail", args=[org.id])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _back_to_list(request: HtmxHttpRequest) -> HttpResponse:
    return flash.no_swap() if request.htmx else redirect("orgs:list")


@require_GET
def organization_detail(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    """The organization's page: its name and ids; its connections and members load as parts."""
    org = None
    try:
        org = auth0.get_organization(org_id=org_id)
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
    else:
        audit.remember_org(org)  # labels this organization's audit entries without a call
    return render(request, DETAIL, {"org": org, "org_id": org_id})
