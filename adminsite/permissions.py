"""Who may change things: operators. Everyone else who is signed in is a read-only viewer.

The one source of truth is membership of Django's `operators` group (or being a superuser).
Behind the SSO proxy with SSO_GROUPS_HEADER, adminsite.sso.SSOMiddleware sets that membership
from the proxy's groups on every request, before any view or template asks; otherwise it is
managed in Django's admin. Views, templates (`is_operator`) and checks all read it here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from adminsite import flash

OPERATORS_GROUP = "operators"


def is_operator(user: object) -> bool:
    """Superusers and members of the `operators` group may change things (read fresh each time)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return user.groups.filter(name=OPERATORS_GROUP).exists()  # type: ignore[attr-defined]


def operator_required[V: Callable[..., HttpResponse]](view: V) -> V:
    """Refuse a mutating view to viewers: 403 with a message, and no upstream call."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
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

    return wrapper  # type: ignore[return-value]
