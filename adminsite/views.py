"""Project-level views: health check and the CSRF failure page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from adminsite import flash


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers; never calls Auth0."""
    return JsonResponse({"status": "ok"})


@login_not_required
def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A refused POST: say so on the page (htmx) or on a plain page, never Django's debug page."""
    messages.error(
        request,
        "Org Desk refused this request because its security token was missing or stale, "
        "so nothing was changed. Reload the page and try again.",
    )
    if getattr(request, "htmx", False):
        return flash.no_swap(status=403)
    return render(request, "403.html", status=403)


@login_not_required
def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: for htmx a message instead of a page swapped into a row."""
    if getattr(request, "htmx", False):
        messages.error(request, "Org Desk has no such page or id (404). Nothing was changed.")
        return flash.no_swap(status=404)
    return render(request, "404.html", status=404)
