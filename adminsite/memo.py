"""Cache reads kept for the rest of the request: a key read once is not read again.

A request often needs the same shared index more than once: the names of roles and people
(orgs/names.py) for its audit entry and again for its message, the tenant's connection index
(adminsite.auth0) before and after its change, the organization's display name. Each read is a
round trip to Redis. Through this module the first read of a key in a request goes to the cache
and later ones take what it gave; a write through it goes to the cache and updates what was
kept. Outside a request (a job, a shell) every call goes to the cache.

Only for indexes that a request may see as they were when it started: anything used to take
turns with other processes (a claim, a single-use token, the rate budget) reads the cache
itself. The one exception is `offer`/`offered`: values read with the request's first cache read
(the session's, adminsite.sso) for later use in the request, such as the Management API token
and whether any rate budget is shared, which the request's upstream calls take instead of a
round trip each (adminsite.auth0.client), until `withdraw`. Keys a view declared it reads
(adminsite.readahead) are read with that first read too, and kept here (`read_ahead`) as if
the view had read them.

`set_after_answer` is for bookkeeping the answer does not depend on (an index of what was seen,
the state a later step starts from): the request sees the value at once, and the cache gets it
once the answer has been sent (adminsite.afteranswer, as the audit seals), before the thread
takes another request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from functools import partial
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from adminsite import afteranswer

_ABSENT = object()
_kept: ContextVar[dict[str, Any] | None] = ContextVar("request_cache_memo", default=None)
_offered: ContextVar[dict[str, dict[str, Any]] | None] = ContextVar("request_offered", default=None)
_taken: ContextVar[dict[str, Any] | None] = ContextVar("request_taken", default=None)
logger = logging.getLogger(__name__)


def get_many(keys: Iterable[str]) -> dict[str, Any]:
    """cache.get_many, reading only the keys this request has not read yet."""
    keys = list(keys)
    kept = _kept.get()
    if kept is None:
        return cache.get_many(keys)
    missing = [k for k in keys if k not in kept]
    if missing:
        found = cache.get_many(missing)
        for key in missing:
            kept[key] = found.get(key, _ABSENT)
    return {k: kept[k] for k in keys if kept[k] is not _ABSENT}


def get(key: str, default: Any = None) -> Any:
    return get_many([key]).get(key, default)


def set_many(values: Mapping[str, Any], timeout: float | None) -> None:
    cache.set_many(dict(values), timeout=timeout)
    if (kept := _kept.get()) is not None:
        kept.update(values)


def set(key: str, value: Any, timeout: float | None) -> None:  # noqa: A001 (cache's own name)
    cache.set(key, value, timeout=timeout)  # one SET (set_many is a MULTI/EXEC on Redis)
    if (kept := _kept.get()) is not None:
        kept[key] = value


def read_ahead(found: Mapping[str, Any], keys: Iterable[str], taken: str | None = None) -> None:
    """What another read of this request found for `keys` (adminsite.readahead), kept as
    `get_many` keeps what it reads; `taken`: a key that read also deleted, for `take`."""
    kept = _kept.get()
    if kept is None:
        return
    for key in keys:
        kept[key] = found.get(key, _ABSENT)
    if taken is not None and (store := _taken.get()) is not None:
        store[taken] = found.get(taken, _ABSENT)
        kept[taken] = _ABSENT


def take(key: str, *also: str) -> tuple[Any, dict[str, Any]]:
    """A value used once: `key` read and deleted, read with `also` (kept like `get_many`), in
    one round trip on Redis (adminsite.cache); (the value or None, what was found of `also`).
    When the request's first read took it already (`read_ahead`), what that read found."""
    kept = _kept.get()
    store = _taken.get()
    if kept is not None and store is not None and key in store:
        value = store.pop(key)
        found = get_many(also)
        return (None if value is _ABSENT else value), found
    wanted = [key, *(k for k in also if kept is None or k not in kept)]
    reader = getattr(cache, "get_many_deleting", None)
    if reader is not None:
        found = reader(wanted, [key])
    else:  # another cache backend: two round trips; the delete says who took it
        found = cache.get_many(wanted)
        if not cache.delete(key):  # another request took it between the read and the delete
            found.pop(key, None)
    if kept is not None:
        for k in wanted[1:]:
            kept[k] = found.get(k, _ABSENT)
        kept[key] = _ABSENT
        return found.get(key), {k: kept[k] for k in also if kept[k] is not _ABSENT}
    return found.get(key), {k: found[k] for k in also if k in found}


def delete(key: str) -> None:
    cache.delete(key)
    if (kept := _kept.get()) is not None:
        kept[key] = _ABSENT


def offer(name: str, values: Mapping[str, Any]) -> None:
    """Values this request read from the cache with another read, kept under `name` for the
    rest of the request (outside a request: dropped)."""
    if (offered := _offered.get()) is not None:
        offered[name] = dict(values)


def offered(name: str) -> dict[str, Any] | None:
    """What was offered under `name` in this request; None when nothing was (or withdrawn)."""
    kept = _offered.get()
    return kept.get(name) if kept is not None else None


def withdraw(name: str) -> None:
    """What was offered under `name` is no longer to be used in this request."""
    if (kept := _offered.get()) is not None:
        kept.pop(name, None)


def set_after_answer(values: Mapping[str, Any], timeout: float | None) -> None:
    """Like `set_many`, but the cache is written once the answer has been sent (outside a
    request: at once). A failed write is logged: the answer is out by then."""
    values = dict(values)
    if not afteranswer.defer(partial(_write, values, timeout)):
        cache.set_many(values, timeout=timeout)
    elif (kept := _kept.get()) is not None:
        kept.update(values)


def delete_after_answer(key: str) -> None:
    """Like `delete`, but the cache entry goes once the answer has been sent (outside a
    request: at once): for an entry that only later requests read. A failure is logged."""
    if not afteranswer.defer(partial(_forget, key)):
        cache.delete(key)
    elif (kept := _kept.get()) is not None:
        kept[key] = _ABSENT


def _forget(key: str) -> None:
    try:
        cache.delete(key)
    except Exception:
        logger.exception("Could not delete a cache entry after the answer")


def _write(values: dict[str, Any], timeout: float | None) -> None:
    try:
        cache.set_many(values, timeout=timeout)
    except Exception:
        logger.exception("Could not write %d cache entries after the answer", len(values))


class RequestMemoMiddleware:
    """Each request starts with nothing kept, and what it kept goes with it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        kept, offered, taken = _kept.set({}), _offered.set({}), _taken.set({})
        try:
            return self.get_response(request)
        finally:
            _kept.reset(kept)
            _offered.reset(offered)
            _taken.reset(taken)
