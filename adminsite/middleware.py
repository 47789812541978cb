"""Middleware: one log line and metrics per request, no caching of Org Desk's answers, upstream
call accounting, and flash messages delivered to htmx responses."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.functional import empty

from adminsite import afteranswer, auth0, flash, metrics

logger = logging.getLogger(__name__)
request_logger = logging.getLogger("orgdesk.request")

# A request id from the proxy (X-Request-ID) is logged only when it looks like one.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _route(request: HttpRequest) -> str:
    """The URL pattern's name (`orgs:detail`), never the path: ids stay out of metrics."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or "unnamed"
    static = "/" + str(settings.STATIC_URL).lstrip("/")
    return "static" if request.path.startswith(static) else "unmatched"


def _username(request: HttpRequest) -> str:
    """Who made the request, if anyone; looked up only if the request already did (no query)."""
    user = request.__dict__.get("user")
    if user is None or getattr(user, "_wrapped", None) is empty:
        return "-"
    return user.get_username() if user.is_authenticated else "-"


def _request_id(request: HttpRequest) -> str | None:
    value = getattr(request, "request_id", None) or request.META.get("HTTP_X_REQUEST_ID", "")
    value = str(value).strip()
    return value if REQUEST_ID.fullmatch(value) else None


class RequestLogMiddleware:
    """One line per request on the `orgdesk.request` logger, and the request-duration metric.

    Outermost but for AfterAnswerMiddleware (which changes no answer), so it sees every answer's
    final status (redirects to https, 400s for a bad Host included) and the signed-in person. The
    line holds the method, the route (the URL pattern's name), the path without its query string,
    the status, the duration, the upstream calls and their time, the person and the proxy's
    request id: never a header, a cookie, a query string (a search for an email is one) or a
    token. Static files are measured, not logged. Both are written once the answer has been sent
    (adminsite.afteranswer): the duration is the request's, taken before.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        auth0.reset_upstream_stats()  # a request stopped before UpstreamTimingMiddleware: zero
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        route, stats = _route(request), auth0.upstream_stats()
        work = partial(self._record, request, response.status_code, route, seconds, stats)
        if not afteranswer.defer(work):
            work()
        return response

    def _record(
        self,
        request: HttpRequest,
        status: int,
        route: str,
        seconds: float,
        stats: auth0.Stats,
    ) -> None:
        metrics.observe_request(route, request.method, status, seconds)
        if route == "static" or not request_logger.isEnabledFor(logging.INFO):
            return
        fields = {
            "method": request.method,
            "route": route,
            "path": request.path,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "upstream_calls": stats.calls,
            "upstream_token_calls": stats.token_calls,
            "upstream_ms": round(stats.seconds * 1000, 1),
            "user": _username(request),
        }
        request_id = _request_id(request)
        if request_id:
            fields["request_id"] = request_id
        request_logger.info(
            "%s %s %s %s %.1fms upstream=%s/%.1fms user=%s",
            fields["method"],
            route,
            request.path,
            status,
            fields["duration_ms"],
            stats.calls,
            fields["upstream_ms"],
            fields["user"],
            extra=fields,
        )


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
        pending = messages.get_messages(request)
        if not pending:
            return response
        # The messages alone: without the request, none of the context processors run.
        response.write(render_to_string("_messages.html", {"oob": True, "messages": pending}))
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
