"""Middleware: no caching of Org Desk's answers, upstream call accounting, and flash messages
delivered to htmx responses."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string

from adminsite import auth0, flash

logger = logging.getLogger(__name__)


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every answer Org Desk's Django code gives.

    Pages and htmx parts show members, emails and the audit log; `private` would still let the
    browser keep them on disk, and a misconfigured shared proxy might ignore it. So every response
    that comes through Django (pages, parts, redirects, error and 403 pages) is sent with
    `no-store` and nothing else: a `max-age`, `public` or `private` set further in is replaced,
    not merged, and `Expires` is dropped. Static files never get here: whitenoise, listed just
    before this middleware, answers them itself with its long-lived immutable caching.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
        return response


class UpstreamTimingMiddleware:
    """Count the Management API calls a request makes; expose them as Server-Timing."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        auth0.reset_upstream_stats()
        started = time.perf_counter()
        response = self.get_response(request)
        total_ms = (time.perf_counter() - started) * 1000
        stats = auth0.upstream_stats()
        upstream_ms = stats.seconds * 1000
        response["Server-Timing"] = (
            f"app;dur={total_ms - upstream_ms:.1f}, "
            f'upstream;dur={upstream_ms:.1f};desc="{stats.calls}"'
        )
        response["X-Upstream-Calls"] = str(stats.calls)
        return response


class HtmxMessagesMiddleware:
    """Append pending flash messages to htmx responses as an out-of-band swap of #messages.

    Full pages render the same fragment from the base template. Redirects are skipped so the
    messages survive to the page they lead to. An unexpected exception during an htmx request
    becomes a message too, instead of an error page swapped into a table row.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not getattr(request, "htmx", False):
            return response
        if 300 <= response.status_code < 400 or "HX-Redirect" in response:
            return response
        if response.streaming or not response.get("Content-Type", "").startswith("text/html"):
            return response
        if not messages.get_messages(request):
            return response
        response.write(render_to_string("_messages.html", {"oob": True}, request=request))
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not getattr(request, "htmx", False):
            return None
        if isinstance(exception, Http404 | PermissionDenied | SuspiciousOperation):
            return None  # Django's own answers (404, 403, 400) are not unexpected errors
        logger.exception("Unhandled error in %s %s", request.method, request.path)
        messages.error(
            request,
            "Org Desk hit an unexpected error and nothing more was done. "
            "Reload the page; if it happens again, tell the Org Desk maintainers.",
        )
        return flash.no_swap()
