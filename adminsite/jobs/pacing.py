"""Pacing background jobs by Auth0's published rate limits, shared through Django's cache.

Auth0 limits each endpoint group with a token bucket: `burst` requests at once, refilled at
`per_minute` (reference §7 and §10; settings.JOBS_RATE_LIMITS). Every job, in every worker,
takes its requests from one bucket per group and tenant kept in the cache (the same cache the
client keeps its token and the X-RateLimit-* budget in), so several jobs at once share the
group's rate between them and together never exceed it.

Jobs never burst: they send at the sustained rate, one request every 60/per_minute seconds
however long they were idle, so the whole burst stays with the pages, which never wait behind a
job (a job that starts cannot know what other workers or people spent just before). And before
each call a job reads the budget Auth0 last reported for the endpoint
(adminsite.auth0.client.budget_left): when people on the pages brought it under
JOBS_PAGE_RESERVE, the job waits for it to refill to the reserve first.

The bucket is GCRA (one number per bucket: the "theoretical arrival time"), updated under a
short cache lock (cache.add), so it works with local memory and Redis alike.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from adminsite.auth0 import client

LOCK_TIMEOUT = 5  # seconds a crashed holder can keep the lock
MAX_SLEEP = 1.0  # sleep at most this long at once, so `tick` runs (heartbeats)


@dataclass(frozen=True)
class Limit:
    burst: int
    per_minute: int

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute


def limit(group: str) -> Limit:
    burst, per_minute = settings.JOBS_RATE_LIMITS[group]
    return Limit(int(burst), int(per_minute))


def reserve() -> int:
    return max(0, int(getattr(settings, "JOBS_PAGE_RESERVE", 0)))


def jobs_burst(group: str) -> int:
    """How many requests jobs may send at once: one (the burst is the pages')."""
    return 1


def _key(group: str) -> str:
    tenant = hashlib.sha256(str(settings.AUTH0_BASE_URL).encode()).hexdigest()[:16]
    return f"jobs:pace:{tenant}:{group}"


def _locked[T](key: str, body: Callable[[], T]) -> T:
    lock = key + ":lock"
    deadline = time.monotonic() + LOCK_TIMEOUT
    while not cache.add(lock, 1, timeout=LOCK_TIMEOUT):
        if time.monotonic() > deadline:  # a holder died holding it: take it over
            cache.delete(lock)
        time.sleep(0.002)
    try:
        return body()
    finally:
        cache.delete(lock)


def try_take(group: str, now: float | None = None) -> float:
    """Take one request from the group's jobs bucket: 0.0 if taken, else seconds to wait."""
    lim, burst = limit(group), jobs_burst(group)
    key = _key(group)

    def take() -> float:
        t = time.time() if now is None else now
        tat = cache.get(key)
        tat = max(float(tat) if isinstance(tat, int | float) else t, t)
        allowed_at = tat - (burst - 1) * lim.interval
        if allowed_at > t + 1e-6:  # float rounding of the interval sums
            return allowed_at - t
        # Forgotten when it could only say "full": after (burst) intervals of no use.
        cache.set(key, tat + lim.interval, timeout=math.ceil(burst * lim.interval) + 60)
        return 0.0

    return _locked(key, take)


def acquire(
    group: str,
    *,
    method: str,
    path: str,
    tick: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Wait until a job may send `method path` (full /api/v2 path); returns seconds waited."""
    waited = 0.0
    while (wait := try_take(group)) > 0:
        step = min(wait, MAX_SLEEP)
        sleep(step)
        waited += step
        if tick is not None:
            tick()
    # The pages' reserve: what Auth0 last reported for the endpoint, spent by people too.
    known = client.budget_left(method, path)
    keep = reserve()
    if known is not None and keep:
        remaining, reset = known
        if remaining < keep and reset > time.time():
            refill = (keep - remaining) * limit(group).interval
            while refill > 0:
                step = min(refill, MAX_SLEEP)
                sleep(step)
                waited += step
                refill -= step
                if tick is not None:
                    tick()
    return waited
