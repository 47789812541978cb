"""A view's cache reads, made with the request's first round trip to the cache.

Behind the SSO proxy every request starts with one MGET: the session, the user named by the
proxy's header and what the first Management API call needs (adminsite.sso). Most views then
read the cache once more before their first call: the names of roles and people (orgs.names),
the tenant's connection index, the organization's display name for the audit entry, a confirm
step's stash. On loopback a round trip to Redis costs as much as all of a small view's Python.

A view declares those keys with `@reads(...)`: a function of the request (`Ahead`: the URL's
arguments, the form, the person's name) giving the keys it will read (`Reads.keys`) and the
one it will take (`Reads.take`: a value used once, read and deleted). The SSO middleware
resolves the URL, adds them to its MGET (the taken key read and deleted in the same MULTI/EXEC)
and hands what it found to the request's memo (adminsite.memo.read_ahead): the view's reads
then make no round trip. A key the view does not read costs nothing but its bytes; a key it
reads and was not declared is read by the view, as without this module.

A taken stash is gone before the view has checked the form or the person's permission: a
request the view then refuses has used it up, and the next attempt reads its before-state from
Auth0 (as any attempt without a confirm step does). Stash keys are named after the person
(`owner`), whom the proxy's header names before anything is read, so one person's request can
only ever take their own.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import BadRequest, SuspiciousOperation
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, QueryDict, UnreadablePostError
from django.urls import Resolver404, ResolverMatch, resolve

logger = logging.getLogger(__name__)

V = TypeVar("V", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Ahead:
    """What a reader knows of the request before the view runs."""

    request: HttpRequest
    username: str  # the person the proxy's header names (cleaned)
    kwargs: Mapping[str, Any]  # the URL's arguments

    @property
    def org_id(self) -> str:
        return str(self.kwargs.get("org_id", ""))

    @property
    def owner(self) -> str:
        return owner(self.username)

    @property
    def method(self) -> str:
        return str(self.request.method)

    @property
    def data(self) -> QueryDict:
        """The form of a POST, the query string of a GET (untrusted: only ever hashed or used
        as part of a key)."""
        return self.request.POST if self.request.method == "POST" else self.request.GET


@dataclass(frozen=True, slots=True)
class Reads:
    keys: tuple[str, ...] = ()
    take: str | None = None  # a value used once: read and deleted in the same round trip


Reader = Callable[[Ahead], Reads | None]


def reads(reader: Reader) -> Callable[[V], V]:
    """Declare what the view reads from the cache (outermost decorator, or below ones that
    copy the view's attributes as functools.wraps does)."""

    def mark(view: V) -> V:
        view.reads_ahead = reader  # type: ignore[attr-defined]
        return view

    return mark


def owner(username: str) -> str:
    """The part of a stash's key that names its person: a digest of the username."""
    return hashlib.sha256(username.encode()).hexdigest()[:24]


def owner_of(request: HttpRequest) -> str:
    return owner(request.user.get_username())


def of(request: HttpRequest, username: str) -> Reads | None:
    """What the view this request goes to says it will read; None when it says nothing."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    request.readahead_match = (request.path_info, match)  # type: ignore[attr-defined]
    reader: Reader | None = getattr(match.func, "reads_ahead", None)
    if reader is None:
        return None
    try:
        return reader(Ahead(request, username, match.kwargs))
    except (SuspiciousOperation, BadRequest, UnreadablePostError):
        return None  # a form Django refuses (too big, too many fields): the view answers 400
    except Exception:  # the view reads what it needs itself
        logger.exception("Could not tell what %s reads", match.view_name)
        return None


class Handler(WSGIHandler):
    """Django's WSGI handler, taking the URL's match `of` made for the request instead of
    resolving it a second time (adminsite.wsgi)."""

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        made = getattr(request, "readahead_match", None)
        if made is None or made[0] != request.path_info or hasattr(request, "urlconf"):
            return super().resolve_request(request)
        request.resolver_match = made[1]
        return made[1]
