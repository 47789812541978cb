"""Project-level views: health and readiness checks, metrics, and the CSRF failure page."""

from __future__ import annotations

import logging
import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connections
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from adminsite import flash
from adminsite import metrics as orgdesk_metrics

logger = logging.getLogger(__name__)


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers; never calls Auth0."""
    return JsonResponse({"status": "ok"})


def _database_ready() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def _cache_ready() -> bool:
    # A key of its own each time: instances checking at once never read each other's value.
    key, value = f"orgdesk:readyz:{secrets.token_hex(8)}", secrets.token_hex(8)
    cache.set(key, value, timeout=10)
    try:
        return cache.get(key) == value
    finally:
        cache.delete(key)


READINESS_CHECKS = {"database": _database_ready, "cache": _cache_ready}


@login_not_required
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: the database answers `SELECT 1` and the cache keeps a value; never calls
    Auth0. 200 when both are fine, 503 naming what failed (the reason goes to the log only)."""
    checks: dict[str, str] = {}
    for name, check in READINESS_CHECKS.items():
        try:
            ok = check()
        except Exception as exc:  # any failure of the backend is "not ready", never a 500
            logger.warning("readyz: the %s check failed (%s)", name, type(exc).__name__)
            ok = False
        else:
            if not ok:
                logger.warning("readyz: the %s check failed (wrong answer)", name)
        checks[name] = "ok" if ok else "failed"
    ready = all(result == "ok" for result in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "failed", **checks}, status=200 if ready else 503
    )


@login_not_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics (adminsite/metrics.py) for METRICS_ALLOWED_IPS or a bearer
    METRICS_TOKEN; anyone else gets the 404 of a page that does not exist. No sign-in, no
    session, no database query."""
    if not orgdesk_metrics.may_read(request):
        raise Http404("No such page")
    body, content_type = orgdesk_metrics.exposition(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(body, content_type=content_type)


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
