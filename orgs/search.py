"""One search box for whatever a ticket gives: an organization id opens that organization, an email
address finds the people who have it across the tenant, a user id (Auth0's have a `|`) opens that
person, and anything else finds organizations whose name or display name contains it.

Results are plain pages: the text and the page cursor are in the URL, so Back, reload and a link
pasted into a ticket all show the same results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from adminsite import auth0, flash
from adminsite.http import HtmxHttpRequest
from orgs import names, paging

TEMPLATE = "orgs/search.html"
Kind = Literal["organization id", "email", "user id", "name"]
INCOMPLETE = {
    404: "This tenant's Management API has no organization search (404), so Org Desk looked for an "
    "organization with exactly this name instead; organizations whose name only contains it are "
    "not listed.",
    403: "Org Desk's API credentials may not search organizations (403), so it looked for an "
    "organization with exactly this name instead; organizations whose name only contains it are "
    "not listed.",
}


def kind_of(text: str) -> Kind:
    """What a ticket's text most likely is, by its shape alone."""
    if auth0.ORG_ID.fullmatch(text):
        return "organization id"
    if "|" in text:
        return "user id"
    local, at, domain = text.partition("@")
    if at and local and "." in domain and not any(c.isspace() for c in text):
        return "email"
    return "name"


def ranked(organizations: Iterable[auth0.Organization], text: str) -> list[auth0.Organization]:
    """The exact name first, then names or display names that start with the text, then the rest;
    each group by display name."""
    wanted = text.casefold()

    def rank(org: auth0.Organization) -> tuple[int, str]:
        names = (org.name.casefold(), org.display_name.casefold())
        group = 0 if wanted in names else 1 if any(n.startswith(wanted) for n in names) else 2
        return group, org.display_name.casefold()

    return sorted(organizations, key=rank)


def person_url(user_id: str) -> str:
    return f"{reverse('orgs:person')}?{urlencode({'user_id': user_id})}"


@require_GET
def search(request: HtmxHttpRequest) -> HttpResponse:
    """Take the search box's text to the right place (see the module's docstring)."""
    text = request.GET.get("q", "").strip()
    if not text:
        return render(request, TEMPLATE, {"q": ""})
    try:  # the service module's rule, whatever the text turns out to be
        auth0.check_search_text(text)
    except auth0.InvalidId as exc:
        messages.error(request, f"{str(exc).rstrip('.')}; nothing was searched.")
        return render(request, TEMPLATE, {"q": text[: auth0.SEARCH_MAX]}, status=400)
    match kind_of(text):
        case "organization id":
            return _organization(request, text)
        case "user id":
            return redirect(person_url(text))
        case "email":
            return _people(request, text)
    return _organizations(request, text)


def _organization(request: HtmxHttpRequest, org_id: str) -> HttpResponse:
    try:
        org = auth0.get_organization(org_id=org_id)
    except auth0.NotFound:
        messages.warning(request, f"No organization has the id “{org_id}”.")
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
    else:
        return redirect("orgs:detail", org.id)
    return render(request, TEMPLATE, {"q": org_id, "kind": "organization id"})


def _people(request: HtmxHttpRequest, email: str) -> HttpResponse:
    """Everyone whose account has this email (several accounts can share one); one opens."""
    people: list[auth0.User] = []
    try:
        people = auth0.users_by_email(email=email)
    except auth0.InvalidId as exc:
        return flash.refuse(request, f"Nothing was searched: {exc}")
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="member")
    names.remember(people=people)  # names them in later messages (orgs.names), for free
    if len(people) == 1:
        return redirect(person_url(people[0].user_id))
    context = {"q": email, "kind": "email", "people": people}
    return render(request, TEMPLATE, context)


def _organizations(request: HtmxHttpRequest, text: str) -> HttpResponse:
    """Organizations whose name or display name contains the text, a page at a time."""
    try:
        cursor = paging.page_cursor(request)
    except paging.BadCursor:
        return flash.refuse(request, paging.BAD_CURSOR)
    found, nxt, incomplete = [], None, ""
    try:
        page = auth0.search_organizations(text=text, from_=cursor, take=paging.PAGE_SIZE)
        found, nxt = ranked(page.organizations, text), page.next
    except (auth0.NotFound, auth0.Forbidden) as exc:
        incomplete = INCOMPLETE[404 if isinstance(exc, auth0.NotFound) else 403]
        found = _exact_name(request, text)
    except auth0.InvalidId as exc:
        return flash.refuse(request, f"Nothing was searched: {exc}")
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="page of organizations")
    trail = "search_pages:" + hashlib.sha256(text.encode()).hexdigest()[:16]
    previous = paging.previous_cursor(request, trail, cursor, nxt)
    context = {
        "q": text,
        "kind": "name",
        "organizations": found,
        "cursor": cursor,
        "next": nxt,
        "previous": previous,
        "incomplete": incomplete,
    }
    return render(request, TEMPLATE, context)


def _exact_name(request: HtmxHttpRequest, text: str) -> list[auth0.Organization]:
    """Without Auth0's search: the organization named exactly so, if the text can be a name."""
    name = text.lower()
    if not auth0.ORG_NAME.fullmatch(name):
        return []
    try:
        return [auth0.get_organization_by_name(name=name)]
    except auth0.NotFound:
        return []
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="organization")
        return []
