"""Who may change things: operators. Everyone else who is signed in is a read-only viewer.

The one source of truth is membership of Django's `operators` group (or being a superuser).
Behind the SSO proxy with SSO_GROUPS_HEADER, adminsite.sso.SSOMiddleware makes that membership
match the proxy's groups on every request, before any view or template asks; otherwise it is
managed in Django's admin. Views, templates (`is_operator`) and checks all read it here, from
the user instance: the request's user comes from adminsite.usercache with the membership on
it, so asking costs no query.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Concatenate

from django.contrib import messages
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from adminsite import flash

OPERATORS_GROUP = "operators"


# Membership of `operators`, kept on the User instance once asked (adminsite.usercache keeps
# it with the cached user; adminsite.sso sets it when it changes the membership).
OPERATOR_FLAG = "_org_desk_in_operators"


def in_operators_group(user: User) -> bool:
    """Whether the user is in the `operators` group: asked of the database once per instance
    (the request's user comes from adminsite.usercache with the answer already on it)."""
    known = getattr(user, OPERATOR_FLAG, None)
    if isinstance(known, bool):
        return known
    answer = user.groups.filter(name=OPERATORS_GROUP).exists()
    setattr(user, OPERATOR_FLAG, answer)
    return answer


def is_operator(user: User | AnonymousUser) -> bool:
    """Superusers and members of the `operators` group may change things."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return in_operators_group(user)


def operator_required[R: HttpRequest, **P](
    view: Callable[Concatenate[R, P], HttpResponse],
) -> Callable[Concatenate[R, P], HttpResponse]:
    """Refuse a mutating view to viewers: 403 with a message, and no upstream call."""

    @wraps(view)
    def wrapper(request: R, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        if not is_operator(request.user):
            messages.error(
                request,
                "You have read-only access (viewer), so nothing was changed. "
                "Ask an Org Desk administrator for operator access.",
            )
            if getattr(request, "htmx", False):
                return flash.no_swap(status=403)
            return render(request, "403.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper
