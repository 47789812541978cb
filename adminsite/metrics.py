"""Prometheus metrics for the people who run Org Desk, and who may read them at `/metrics`
(the view is adminsite.views.metrics).

Every metric is named `orgdesk_*`. Labels never hold an id, a name, an email or a raw path: an
upstream call is labelled by its endpoint *group* (the path template with every id taken out,
e.g. `organizations.members.roles`), a request by its URL pattern's name (`orgs:detail`).

Under gunicorn (several worker processes) prometheus_client's multiprocess mode is used:
gunicorn.conf.py sets `PROMETHEUS_MULTIPROC_DIR` before any worker imports this module, each
worker writes its values to files there, and `/metrics` adds them up across workers. Without the
variable (runserver, tests) the values live in this process's default registry.

`/metrics` is answered only to an address in `METRICS_ALLOWED_IPS` (the peer, REMOTE_ADDR, as for
SSO_TRUSTED_PROXIES) or to `Authorization: Bearer <METRICS_TOKEN>`; anyone else gets a 404. It
needs no sign-in, reads no session and makes no database query.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import ipaddress
import math
import os
from collections.abc import Callable, Mapping
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.exposition import choose_encoder

from adminsite import ops_config

# --- The metrics ------------------------------------------------------------------------------

# Upstream calls take from a few ms (cached lookups at Auth0) to AUTH0_TIMEOUT (10 s).
UPSTREAM_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Org Desk's own pages: a few ms without upstream calls, up to two calls and a token otherwise.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

UPSTREAM_CALLS = Counter(
    "orgdesk_upstream_calls",
    "HTTP exchanges with the Auth0 tenant (Management API and token endpoint), by endpoint group "
    "and HTTP status; 'timeout' and 'error' when no answer came. A 429 that is retried counts "
    "once per attempt.",
    ["group", "status"],
)
UPSTREAM_DURATION = Histogram(
    "orgdesk_upstream_duration_seconds",
    "Time of one HTTP exchange with the Auth0 tenant, by endpoint group.",
    ["group"],
    buckets=UPSTREAM_BUCKETS,
)
UPSTREAM_RATE_LIMITED = Counter(
    "orgdesk_upstream_rate_limited",
    "Answers 429 Too Many Requests from the Auth0 tenant, by endpoint group.",
    ["group"],
)
RATE_LIMIT_REFUSED = Counter(
    "orgdesk_rate_limit_refused",
    "Calls Org Desk did not send because the endpoint's shared rate-limit budget was spent and "
    "would not reset soon (the person saw a rate-limit message), by endpoint group.",
    ["group"],
)
RATE_LIMIT_WAITS = Counter(
    "orgdesk_rate_limit_waits",
    "Times a call waited for the rate limit: reason 'retry' after a 429 that asked for a short "
    "wait, 'budget' before calling when the shared budget was spent.",
    ["reason"],
)
RATE_LIMIT_WAIT_SECONDS = Counter(
    "orgdesk_rate_limit_wait_seconds",
    "Seconds spent waiting for the rate limit (reasons as orgdesk_rate_limit_waits_total).",
    ["reason"],
)
TOKEN_FETCHES = Counter(
    "orgdesk_token_fetches",
    "Management API tokens fetched (client-credentials grant), by outcome: ok, rejected "
    "(401/403: credentials or grant refused), unavailable (no answer, 5xx, unreadable), error.",
    ["outcome"],
)
RATE_BUDGET_REMAINING = Gauge(
    "orgdesk_rate_budget_remaining",
    "X-RateLimit-Remaining of the most recent Management API answer, by endpoint group.",
    ["group"],
    multiprocess_mode="livemostrecent",
)

# Bulk jobs (spec F12) arrive in a later issue; their metrics are defined now, at 0, so that
# dashboards and alerts can be written against them. Label `kind`, one of JOB_KINDS.
JOB_KINDS = ("assign_roles", "remove_members", "add_members", "export_members")
JOBS_RUNNING = Gauge(
    "orgdesk_jobs_running",
    "Bulk jobs running now, by kind (summed over processes).",
    ["kind"],
    multiprocess_mode="livesum",
)
JOB_PROGRESS = Gauge(
    "orgdesk_job_progress_ratio",
    "Progress of the least advanced running bulk job of each kind, 0 to 1 (0 when none runs).",
    ["kind"],
    multiprocess_mode="livemin",
)
for _kind in JOB_KINDS:
    JOBS_RUNNING.labels(kind=_kind).set(0)
    JOB_PROGRESS.labels(kind=_kind).set(0)

REQUEST_DURATION = Histogram(
    "orgdesk_request_duration_seconds",
    "Time Org Desk took to answer a request, by route (the URL pattern's name; 'unmatched' when "
    "none matched, 'static' for static files), method and status class (2xx, 3xx, 4xx, 5xx).",
    ["route", "method", "status"],
    buckets=REQUEST_BUCKETS,
)

# --- Labels ---------------------------------------------------------------------------------

# Top-level collections of the Management API Org Desk calls (API reference, /api/v2/...).
_COLLECTIONS = frozenset(
    {"organizations", "users", "users-by-email", "connections", "clients", "roles", "jobs"}
)
# Named sub-collections: what may follow an id (`/organizations/{id}/members`).
_SUBCOLLECTIONS = frozenset(
    {"enabled_connections", "members", "roles", "invitations", "organizations", "permissions"}
)
# Literal paths right under a collection, where an id would otherwise be.
_LITERALS = {"organizations": frozenset({"name", "search"})}
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@lru_cache(maxsize=1024)
def endpoint_group(path: str) -> str:
    """The endpoint group of an upstream path, without ids: `/api/v2/organizations/org_1/
    members/auth0%7C2/roles` -> `organizations.members.roles`; `/oauth/token` -> `token`.

    Ids sit at every other segment after the collection; what stands where a collection name
    should be must be one Org Desk knows, else the group is `other` (so a label can never carry
    an id, whatever path is called)."""
    path = path.split("?", 1)[0]
    if path.startswith("/oauth/"):
        return "token"
    segments = [s for s in path.split("/") if s]
    if segments[:2] != ["api", "v2"] or len(segments) < 3 or segments[2] not in _COLLECTIONS:
        return "other"
    collection, rest = segments[2], segments[3:]
    parts = [collection]
    if rest and rest[0] in _LITERALS.get(collection, ()):
        # /organizations/name/{name}, /organizations/search: nothing else follows.
        return f"{collection}.{rest[0]}" if len(rest) <= 2 else "other"
    for index, segment in enumerate(rest):
        if index % 2 == 1:  # a sub-collection's name
            if segment not in _SUBCOLLECTIONS:
                return "other"
            parts.append(segment)
    return ".".join(parts)


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


def method_label(method: str | None) -> str:
    return method if method in _METHODS else "other"


# --- Hooks called by adminsite.auth0.client and adminsite.middleware --------------------------


def observe_upstream(
    path: str, status: int | str, seconds: float, headers: Mapping[str, str] | None = None
) -> None:
    """One exchange with the tenant: `status` the HTTP status, or 'timeout' / 'error'."""
    group = endpoint_group(path)
    UPSTREAM_CALLS.labels(group=group, status=str(status)).inc()
    UPSTREAM_DURATION.labels(group=group).observe(seconds)
    if status == 429:
        UPSTREAM_RATE_LIMITED.labels(group=group).inc()
    if headers is not None and group != "token":
        remaining = headers.get("x-ratelimit-remaining")
        with contextlib.suppress(TypeError, ValueError):
            value = float(remaining) if remaining is not None else math.nan
            if math.isfinite(value):
                RATE_BUDGET_REMAINING.labels(group=group).set(value)


def observe_budget_refused(path: str) -> None:
    """The shared rate-limit budget for `path` was spent: the call was refused, not sent."""
    RATE_LIMIT_REFUSED.labels(group=endpoint_group(path)).inc()


def observe_rate_wait(reason: str, seconds: float) -> None:
    RATE_LIMIT_WAITS.labels(reason=reason).inc()
    RATE_LIMIT_WAIT_SECONDS.labels(reason=reason).inc(max(0.0, seconds))


def _token_outcome(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    if name in ("Unauthorized", "Forbidden") or status in (401, 403):
        return "rejected"
    if name in ("Unavailable", "RateLimited"):
        return "unavailable"
    return "error"


def count_token_fetch[**P, R](fetch: Callable[P, R]) -> Callable[P, R]:
    """Decorator of the token fetch: counts each call in orgdesk_token_fetches_total."""

    @functools.wraps(fetch)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = fetch(*args, **kwargs)
        except BaseException as exc:
            TOKEN_FETCHES.labels(outcome=_token_outcome(exc)).inc()
            raise
        TOKEN_FETCHES.labels(outcome="ok").inc()
        return result

    return wrapper


def observe_request(route: str, method: str | None, status: int, seconds: float) -> None:
    REQUEST_DURATION.labels(
        route=route, method=method_label(method), status=status_class(status)
    ).observe(seconds)


# --- Who may read /metrics --------------------------------------------------------------------


def may_read(request: HttpRequest) -> bool:
    """From an address in METRICS_ALLOWED_IPS, or with `Authorization: Bearer METRICS_TOKEN`."""
    allowed = ops_config.setting_list(getattr(settings, "METRICS_ALLOWED_IPS", ()))
    networks = ops_config.metrics_networks(allowed)
    if networks:
        try:
            address = ipaddress.ip_address((request.META.get("REMOTE_ADDR") or "").strip())
        except ValueError:
            address = None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if address is not None and any(address in network for network in networks):
            return True
    token = getattr(settings, "METRICS_TOKEN", "") or ""
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if not token or scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def registry() -> CollectorRegistry:
    """Every process's values under gunicorn (multiprocess mode), else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        collected = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(collected)
        return collected
    return REGISTRY


def exposition(accept: str) -> tuple[bytes, str]:
    """The metrics in the format the scraper's Accept header asks for (Prometheus text 0.0.4
    by default, OpenMetrics when asked), and its content type."""
    encoder, content_type = choose_encoder(accept)
    return encoder(registry()), content_type
