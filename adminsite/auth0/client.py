"""Transport: one session, the client-credentials token, 401 and 429 handling, typed errors.

The same code path serves Auth0, a fake over HTTP and the in-process sandbox: every URL is
`settings.AUTH0_BASE_URL + path`, read at call time. Secrets never reach a message or a log
line: requests are logged as method, path, status and duration only.

State shared by every worker lives in Django's cache (`CACHE_URL`), keyed per tenant: the token
(one fetch per lifetime, guarded by a cache lock) and the rate-limit budget of each endpoint
(from the X-RateLimit-* headers). A call whose budget is spent waits for a short reset or fails
fast with RateLimited, without reaching Auth0.

Cost per call: with Redis, one round trip (a script reads the token and reserves one request of
the endpoint's budget); a budget is written back only once it runs low (at most LOW_SHARE of
the limit or LOW_LEFT requests left) or while one is shared, so a call with plenty left writes
nothing. A request's calls cost none while no budget is shared: the token, and the marker of
shared budgets, come with the session's read (`early_keys`, adminsite.sso). Other caches:
plain cache calls.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from requests.adapters import BaseAdapter

from adminsite import memo, metrics

from .errors import (
    Forbidden,
    RateLimited,
    Unauthorized,
    Unavailable,
    error_for_status,
    redact,
    redact_code,
)

logger = logging.getLogger("adminsite.auth0")

CONNECT_TIMEOUT = 3.05
SHORT_WAIT = 3.0  # a 429 that asks for at most this many seconds is waited out
MAX_429_RETRIES = 2  # any method: Auth0 did not process a request it answered with 429
TOKEN_LEEWAY = 60
MESSAGE_LIMIT = 500
# A budget is shared with the other workers once at most this share of the limit, or this many
# requests, are left (and from then on until it resets); with more left, each call's own
# reading from Auth0 is enough and nothing is written.
LOW_SHARE = 0.25
LOW_LEFT = 10

_session: requests.Session | None = None
# Transports for URL prefixes that are not reached over the network (the sandbox tenant
# registers one from its AppConfig), built and mounted the first time the configured
# AUTH0_BASE_URL falls under their prefix.
_transports: dict[str, Callable[[], BaseAdapter]] = {}
_mounted: set[str] = set()
_session_lock = threading.Lock()
_token_lock = threading.Lock()
_local = threading.local()
PATIENT_429_RETRIES = 8  # a background job's calls: waits for each reset, up to this many times
PATIENT_MAX_WAIT = 120.0  # never sleeps longer than this at once, whatever a header says


PATIENT_TICK = 5.0  # a patient wait calls its `tick` at least this often


@contextmanager
def patient(tick: Callable[[], None] | None = None) -> Iterator[None]:
    """Calls made inside wait for a spent budget or a 429 to reset, however long (capped at
    PATIENT_MAX_WAIT each time), instead of raising RateLimited: background jobs wait, pages
    don't. `tick` is called every PATIENT_TICK seconds of a wait (a job's heartbeat). The flag
    is per thread."""
    before = getattr(_local, "patient", False), getattr(_local, "tick", None)
    _local.patient, _local.tick = True, tick
    try:
        yield
    finally:
        _local.patient, _local.tick = before


def _patient_sleep(seconds: float) -> None:
    tick = getattr(_local, "tick", None)
    while seconds > 0:
        step = min(seconds, PATIENT_TICK) if tick is not None else seconds
        time.sleep(step)
        seconds -= step
        if tick is not None:
            tick()


def is_patient() -> bool:
    return bool(getattr(_local, "patient", False))


def budget_left(method: str, path: str) -> tuple[int, float] | None:
    """The shared budget last reported for this endpoint: (remaining, reset epoch), or None
    when nothing is known (or it has reset since). `path` is the full /api/v2 path."""
    reset_key, remaining_key = _bucket_keys(method, path)
    values = cache.get_many([reset_key, remaining_key])
    remaining, reset = values.get(remaining_key), values.get(reset_key)
    if not isinstance(remaining, int) or not isinstance(reset, int | float):
        return None
    return remaining, float(reset)


@dataclass(frozen=True, slots=True)
class Stats:
    """Upstream calls made by this thread since the last reset; seconds covers both kinds."""

    calls: int = 0
    seconds: float = 0.0
    token_calls: int = 0


# Path segments kept when naming an endpoint's rate-limit bucket; every other one is an id.
_LITERAL_SEGMENTS = frozenset(
    {"api", "v2", "organizations", "name", "enabled_connections", "members", "roles"}
    | {"connections", "users", "invitations", "clients"}
)


def upstream_stats() -> Stats:
    """Calls and time spent upstream by the current thread since reset_upstream_stats()."""
    return Stats(
        calls=getattr(_local, "calls", 0),
        seconds=getattr(_local, "seconds", 0.0),
        token_calls=getattr(_local, "token_calls", 0),
    )


def reset_upstream_stats() -> None:
    """Start counting upstream calls afresh for the current thread."""
    _local.calls = _local.token_calls = 0
    _local.seconds = 0.0


def register_transport(prefix: str, make_adapter: Callable[[], BaseAdapter]) -> None:
    """Serve URLs under `prefix` with the adapter `make_adapter()` builds, instead of HTTP.

    The adapter is built only when AUTH0_BASE_URL is under `prefix`, on the first call: a
    registered transport costs nothing while Org Desk talks to a real tenant."""
    with _session_lock:
        _transports[prefix] = make_adapter
        _mounted.discard(prefix)


def _session_for_settings() -> requests.Session:
    global _session
    with _session_lock:
        if _session is None:
            _session = requests.Session()
            _session.headers.update({"Accept": "application/json", "User-Agent": "org-desk"})
            # The environment's proxy and CA bundle are read once (_proxies, _ca_bundle), not
            # by requests on every call (with a look for ~/.netrc each time).
            _session.trust_env = False
            _session.verify = _ca_bundle()
        base = settings.AUTH0_BASE_URL + "/"
        for prefix, make_adapter in _transports.items():
            if prefix not in _mounted and base.startswith(prefix):
                _session.mount(prefix, make_adapter())
                _mounted.add(prefix)
        return _session


def _ca_bundle() -> str | bool:
    """The CA bundle requests would take from the environment, else its own (True)."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


@functools.lru_cache(maxsize=8)
def _proxies(base_url: str) -> dict[str, str]:
    """The proxies the environment names for Auth0's URL (HTTPS_PROXY, NO_PROXY...), as
    requests would find them on each call; read once per tenant URL."""
    return dict(requests.utils.get_environ_proxies(base_url))


def _redact(text: str, *secrets: str | None) -> str:
    return redact(text, *secrets)[:MESSAGE_LIMIT]


def _error_details(response: requests.Response, *secrets: str | None) -> tuple[str, str | None]:
    """Auth0's message and error code, from either the API or the OAuth error shape; the code
    redacted of `secrets` (the message is redacted by the caller)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message: str | None = None
    code: str | None = None
    if isinstance(body, dict):
        for key in ("message", "error_description", "error"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                message = value.strip()
                break
        if isinstance(body.get("errorCode"), str):
            code = body["errorCode"]
        elif "statusCode" not in body and isinstance(body.get("error"), str):
            code = body["error"]  # OAuth shape: {"error": "access_denied", ...}
    if not message:
        message = f"{response.status_code} {response.reason or ''}".strip()
    return message, redact_code(code, *secrets)


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _epoch(seconds: float | None) -> datetime | None:
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _reset_epoch(response: requests.Response, now: float) -> float | None:
    reset = _number(response.headers.get("x-ratelimit-reset"))
    # Auth0 sends epoch seconds; a small number can only be a delta (from a proxy, say).
    return now + reset if reset is not None and reset < 1e9 else reset


def _rate_prefix() -> str:
    digest = hashlib.sha256(str(settings.AUTH0_BASE_URL).encode()).hexdigest()[:16]
    return f"auth0:rate:{digest}:"


def _shared_key() -> str:
    """Cache key of the latest reset (epoch) of any budget shared for this tenant: while it
    is there, a call reserves its request of its endpoint's budget (`_token_and_budget`)."""
    return _rate_prefix() + "shared-until"


EARLY = "auth0-early"  # adminsite.memo's name for what the session's read found for the calls


def early_keys() -> list[str]:
    """Cache keys adminsite.sso reads with the session at the start of a request: the token
    and whether any budget is shared. Handed back through `offer_early`, they spare the
    request's upstream calls a round trip each while no budget is shared."""
    return [_token_key(), _shared_key()]


def offer_early(found: dict[str, Any]) -> None:
    """What the session's read found of `early_keys()` (absent keys: not in `found`)."""
    memo.offer(EARLY, {k: found[k] for k in early_keys() if k in found})


def _bucket_keys(method: str, path: str) -> tuple[str, str]:
    """Cache keys (reset time, remaining count) of the endpoint's budget, e.g. the bucket of
    `GET /api/v2/organizations/*/members`: Auth0 limits endpoints separately."""
    segments = "/".join(s if s in _LITERAL_SEGMENTS else "*" for s in path.split("/"))
    bucket = hashlib.sha256(f"{method} {segments}".encode()).hexdigest()[:16]
    prefix = _rate_prefix() + bucket
    return f"{prefix}:reset", f"{prefix}:remaining"


def _low(response: requests.Response, remaining: float) -> bool:
    """Whether so little of the budget is left that the other workers must know."""
    limit = _number(response.headers.get("x-ratelimit-limit"))
    return remaining <= max(LOW_LEFT, (limit or 0) * LOW_SHARE)


def _note_budget(response: requests.Response, method: str, path: str, shared: bool = True) -> bool:
    """Share the endpoint's budget the response reports with every worker, until it resets;
    only when it runs low or is `shared` already (a call with plenty left writes nothing).
    True when it wrote."""
    remaining = _number(response.headers.get("x-ratelimit-remaining"))
    now = time.time()
    reset = _reset_epoch(response, now)
    if response.status_code == 429:
        remaining = 0.0
    if remaining is None or reset is None or reset <= now:
        return False  # nothing known to share: calls go ahead
    if not shared and not _low(response, remaining):
        return False
    reset_key, remaining_key = _bucket_keys(method, path)
    values: dict[str, Any] = {reset_key: reset, remaining_key: max(0, int(remaining))}
    # While any budget is shared, every call reads its own (a request's calls skip that
    # read only when none is: `_token_and_budget`). The marker keeps the latest reset.
    marker = cache.get(_shared_key())
    if not isinstance(marker, int | float) or marker < reset:
        values[_shared_key()] = reset
    # The entries expire when the budget resets: after that nothing is known, so calls go ahead.
    cache.set_many(values, timeout=max(1, math.ceil(reset - now)))
    return True


def _take_budget(method: str, path: str) -> bool:
    """Reserve one request of the endpoint's shared budget before calling Auth0; True when a
    budget is shared for it.

    Unknown budget: go ahead. Spent: wait for a reset at most SHORT_WAIT seconds away, or raise
    RateLimited without calling Auth0 (hammering a spent budget only delays its refill).
    """
    reset_key, remaining_key = _bucket_keys(method, path)
    try:
        left = cache.decr(remaining_key)  # atomic in Redis and in local memory
    except ValueError:  # nothing known, or the budget has reset since
        return False
    if left < 0:
        _spent(method, path, cache.get(reset_key))
    return True


# One round trip to Redis before a call: the cached token (KEYS[1]) and, when a budget is shared
# for the endpoint, one request of it reserved (KEYS[2] remaining, KEYS[3] reset, read only when
# spent). Returns {token or nil, requests left after this one or nil, reset or nil}.
_TAKE_SCRIPT = """
local token = redis.call('GET', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 0 then return {token, false, false} end
local left = redis.call('DECR', KEYS[2])
local reset = false
if left < 0 then reset = redis.call('GET', KEYS[3]) end
return {token, left, reset}
"""


def _token_and_budget(method: str, path: str) -> tuple[str | None, bool]:
    """The cached token (None: none cached) and one request of the endpoint's budget reserved
    as `_take_budget` does (True: a budget is shared): one round trip with Redis, or none in a
    request whose session's read found the token and no budget shared (`early_keys`). A budget
    shared by another process after the request started is then missed for the rest of that
    request (a page or an action: one to three calls): Auth0's 429 still stops them, and the
    next request sees it."""
    early = memo.offered(EARLY)
    if early is not None and _shared_key() not in early:
        # No budget was shared when the request started: nothing to reserve.
        token = early.get(_token_key())
        if isinstance(token, str):
            return token, False
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        token = cache.get(_token_key())
        return (token if isinstance(token, str) else None), _take_budget(method, path)
    reset_key, remaining_key = _bucket_keys(method, path)
    keys = [backend.make_and_validate_key(k) for k in (_token_key(), remaining_key, reset_key)]
    redis_cache: Any = backend._cache  # Django's RedisCacheClient: its client and serializer
    client = redis_cache.get_client(keys[0], write=True)
    raw_token, left, raw_reset = client.register_script(_TAKE_SCRIPT)(keys=keys)
    token = redis_cache._serializer.loads(raw_token) if raw_token is not None else None
    if left is not None and left < 0:
        reset = redis_cache._serializer.loads(raw_reset) if raw_reset is not None else None
        _spent(method, path, reset)
    return (token if isinstance(token, str) else None), left is not None


def _spent(method: str, path: str, reset: object) -> None:
    """The shared budget is spent: wait for a reset at most SHORT_WAIT seconds away, or raise
    RateLimited; go ahead when the reset is unknown or past."""
    now = time.time()
    if not isinstance(reset, int | float) or reset <= now:
        return
    wait = reset - now
    if is_patient():
        wait = min(wait, PATIENT_MAX_WAIT)
        logger.debug("%s %s (job) waits %.1fs for the rate limit to reset", method, path, wait)
        metrics.observe_rate_wait("job", wait)
        _patient_sleep(wait)
        return
    if wait <= SHORT_WAIT:
        logger.debug("%s %s waits %.1fs for the rate limit to reset", method, path, wait)
        metrics.observe_rate_wait("budget", wait)
        time.sleep(wait)
        return
    metrics.observe_budget_refused(path)
    raise RateLimited(
        "Org Desk has used up its Management API rate limit for this kind of request "
        "(Auth0 answers 429 Too Many Requests until it resets).",
        reset_at=_epoch(reset),
        retry_after=math.ceil(wait),
        error_code="too_many_requests",
    )


def _rate_wait(response: requests.Response) -> tuple[float, datetime | None]:
    """Seconds to wait before retrying a 429 (Retry-After first), and when the budget resets."""
    now = time.time()
    reset = _reset_epoch(response, now)
    retry_after = response.headers.get("retry-after")
    wait = _number(retry_after)
    if wait is None and retry_after:
        try:
            wait = parsedate_to_datetime(retry_after).timestamp() - now
        except (TypeError, ValueError):
            wait = None
    if wait is None:
        wait = reset - now if reset is not None else 1.0
    reset_at = _epoch(reset) or _epoch(now + max(wait, 0.0))
    return max(wait, 0.0), reset_at


def _count(kind: str, started: float) -> float:
    elapsed = time.perf_counter() - started
    if kind == "token":
        _local.token_calls = getattr(_local, "token_calls", 0) + 1
    else:
        _local.calls = getattr(_local, "calls", 0) + 1
    _local.seconds = getattr(_local, "seconds", 0.0) + elapsed
    return elapsed


def _send(
    method: str,
    path: str,
    *,
    kind: str,
    token: str | None = None,
    params: list[tuple[str, str | int]] | None = None,
    json_body: Any = None,
    form: dict[str, str] | None = None,
    budget_shared: bool | None = None,
) -> requests.Response:
    """One HTTP exchange, with short 429 waits retried; transport failures become Unavailable.

    `budget_shared`: an api call's budget request was already reserved (`_token_and_budget`),
    and whether a budget is shared for its endpoint; None: reserve it here."""
    url = str(settings.AUTH0_BASE_URL).rstrip("/") + path
    read_timeout = float(settings.AUTH0_TIMEOUT)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    retries = PATIENT_429_RETRIES if is_patient() else MAX_429_RETRIES
    shared = bool(budget_shared)
    for attempt in range(retries + 1):
        if kind == "api" and attempt == 0 and budget_shared is None:
            shared = _take_budget(method, path)  # a retry has already waited as Auth0 asked
        started = time.perf_counter()
        try:
            response = _session_for_settings().request(
                method,
                url,
                proxies=_proxies(str(settings.AUTH0_BASE_URL)),
                params=params,
                json=json_body,
                data=form,
                headers=headers,
                timeout=(min(CONNECT_TIMEOUT, read_timeout), read_timeout),
            )
        except requests.Timeout as exc:
            ms = _count(kind, started) * 1000
            metrics.observe_upstream(path, "timeout", ms / 1000)
            logger.debug("%s %s timeout %.0fms", method, path, ms)
            raise Unavailable(
                f"Auth0 did not answer within {read_timeout:g} seconds.", reason="timeout"
            ) from exc
        except requests.RequestException as exc:
            ms = _count(kind, started) * 1000
            metrics.observe_upstream(path, "error", ms / 1000)
            logger.debug("%s %s connection-error %.0fms", method, path, ms)
            raise Unavailable("Org Desk could not connect to Auth0.", reason="connection") from exc
        ms = _count(kind, started) * 1000
        metrics.observe_upstream(path, response.status_code, ms / 1000, response.headers)
        logger.debug("%s %s %s %.0fms", method, path, response.status_code, ms)
        if kind == "api":
            shared = _note_budget(response, method, path, shared) or shared
        if response.status_code != 429:
            return response
        wait, reset_at = _rate_wait(response)
        if (wait > SHORT_WAIT and not is_patient()) or attempt == retries:
            message, code = _error_details(response, token)
            raise RateLimited(
                _redact(message, token),
                reset_at=reset_at,
                retry_after=math.ceil(wait),
                error_code=code,
            )
        metrics.observe_rate_wait("retry", wait)
        if is_patient():
            _patient_sleep(min(wait, PATIENT_MAX_WAIT))
        else:
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _json(response: requests.Response, method: str, path: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise Unavailable(
            f"Auth0 sent a response that is not JSON ({method} {path}).",
            reason="bad_response",
            status_code=response.status_code,
        ) from None


# --- Token: client-credentials grant ----------------------------------------------------------


def _token_key() -> str:
    raw = f"{settings.AUTH0_BASE_URL}\n{settings.AUTH0_CLIENT_ID}\n{settings.AUTH0_AUDIENCE}"
    return "auth0:token:" + hashlib.sha256(raw.encode()).hexdigest()[:32]


@metrics.count_token_fetch
def _fetch_token() -> tuple[str, int]:
    """A fresh Management API token and how long to cache it."""
    # Reference: https://auth0.com/docs/secure/tokens/access-tokens/management-api-access-tokens/get-management-api-access-tokens-for-production
    client_id, secret = settings.AUTH0_CLIENT_ID, settings.AUTH0_CLIENT_SECRET
    if not client_id or not secret:
        raise ImproperlyConfigured("AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET are required.")
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "audience": settings.AUTH0_AUDIENCE,
    }
    response = _send("POST", "/oauth/token", kind="token", form=form)
    status = response.status_code
    if status != 200:
        message, code = _error_details(response)
        message = _redact(message)
        if status == 401:
            raise Unauthorized(
                message,
                status_code=401,
                error_code=code,
                summary=f"Auth0 rejected Org Desk's client credentials (401): {message}",
            )
        if status == 403:
            raise Forbidden(
                message,
                missing_scopes=[],
                error_code=code,
                summary=f"Auth0 refused Org Desk a Management API token (403): {message}",
            )
        raise error_for_status(status, message, code)
    body = _json(response, "POST", "/oauth/token")
    token = body.get("access_token") if isinstance(body, dict) else None
    expires = body.get("expires_in") if isinstance(body, dict) else None
    if (
        not isinstance(token, str)
        or not token
        or not isinstance(expires, int | float)
        or isinstance(expires, bool)
        or expires <= 0
    ):
        raise Unavailable(
            "Auth0's token endpoint sent a response Org Desk could not read.",
            reason="bad_response",
            status_code=status,
        )
    return token, max(int(expires) - TOKEN_LEEWAY, int(expires) // 2, 1)


def _access_token(*, reject: str | None = None) -> str:
    """The cached token, else a new one; `reject` is a token the API just refused."""
    key = _token_key()
    token = cache.get(key)
    if token and token != reject:
        return token
    with _token_lock:  # one fetch per process ...
        token = cache.get(key)
        if token and token != reject:
            return token
        if token:
            cache.delete(key)
        # ... and, through a short cache lock, one per tenant across workers.
        lock_key, patience = f"{key}:lock", float(settings.AUTH0_TIMEOUT) + 1
        holder = cache.add(lock_key, 1, timeout=math.ceil(patience) + 5)
        deadline = time.monotonic() + patience
        while not holder and time.monotonic() < deadline:
            time.sleep(0.05)
            token = cache.get(key)
            if token and token != reject:
                return token
            holder = cache.add(lock_key, 1, timeout=math.ceil(patience) + 5)
        try:
            # The lock may have been taken just after another worker stored its token and
            # let go: look again before fetching a second one.
            token = cache.get(key) if holder else None
            if token and token != reject:
                return token
            token, ttl = _fetch_token()
            cache.set(key, token, timeout=ttl)
            return token
        finally:
            if holder:
                cache.delete(lock_key)


def call(
    method: str,
    path: str,
    *,
    params: list[tuple[str, str | int]] | None = None,
    json_body: Any = None,
    no_content: bool = False,
) -> Any:
    """Call `/api/v2{path}` and return its JSON body (None when a 2xx body is empty).

    `no_content`: the reference documents 204 No Content; any other success answer (a body
    Org Desk cannot vouch for, from a proxy say) is a bad response, not a success."""
    full_path = "/api/v2" + path
    cached, shared = _token_and_budget(method, full_path)
    token = cached or _access_token()
    response = _send(
        method,
        full_path,
        kind="api",
        token=token,
        params=params,
        json_body=json_body,
        budget_shared=shared,
    )
    if response.status_code == 401:
        # Revoked, expired early or signed with a rotated key: one fresh token, one retry
        # (and the request's later calls read the new one from the cache).
        memo.withdraw(EARLY)
        token = _access_token(reject=token)
        response = _send(
            method, full_path, kind="api", token=token, params=params, json_body=json_body
        )
        if response.status_code == 401:
            message, code = _error_details(response, token)
            message = _redact(message, token)
            raise Unauthorized(
                message,
                status_code=401,
                error_code=code,
                summary=(
                    "Org Desk's API credentials were rejected, even after a token refresh "
                    f"and retry (401): {message}"
                ),
            )
    if not 200 <= response.status_code < 300:
        message, code = _error_details(response, token)
        raise error_for_status(response.status_code, _redact(message, token), code)
    if no_content and response.status_code != 204:
        raise Unavailable(
            f"Auth0 answered {method} {full_path} with {response.status_code} where the "
            "reference says 204 No Content; whether the change was made is unknown.",
            reason="bad_response",
            status_code=response.status_code,
        )
    if response.status_code == 204 or not response.content:
        return None
    return _json(response, method, full_path)
