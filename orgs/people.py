"""A person across the tenant: who they are and every organization they are in.

The page answers after two calls (the user, their organizations); each organization's row then
loads the person's roles there as its own part (the members table's roles cell, with the same
role picker and remove buttons for operators), a few at a time.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from adminsite import auth0, flash, readahead
from adminsite.http import HtmxHttpRequest
from orgs import names
from orgs.forms import MemberForm


@readahead.reads(lambda ahead: readahead.Reads(names.keys()))
@require_GET
def person(request: HtmxHttpRequest) -> HttpResponse:
    """One person (`?user_id=`, which may hold `|` and `/`) and their organizations."""
    form = MemberForm(request.GET)
    if not form.is_valid():
        return flash.refuse_form(request, form, "Nothing was loaded")
    user_id = form.cleaned_data["user_id"]
    user: auth0.User | None = None
    organizations: list[auth0.Organization] = []
    try:
        user = auth0.get_user(user_id=user_id)
        organizations = auth0.list_user_organizations(user_id=user_id)
    except auth0.InvalidId as exc:
        return flash.refuse(request, f"Nothing was loaded: {exc}")
    except auth0.NotFound as exc:
        if user is None:
            messages.warning(request, f"No user has the id “{user_id}” in this tenant.")
        else:
            flash.report(request, exc, subject="member")
    except auth0.Auth0Error as exc:
        flash.report(request, exc, subject="member")
    if user is not None:  # names this person in later messages (orgs.names), for free
        names.remember(people=[user])
    organizations.sort(key=lambda org: org.display_name.casefold())
    context = {"user_id": user_id, "person": user, "organizations": organizations}
    return render(request, "orgs/person.html", context)
