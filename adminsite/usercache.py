"""The signed-in user of each request from Django's cache, not from the database.

Every request needs its user (Django's AuthenticationMiddleware loads it by the id in the
session) and, for the templates and `operator_required`, whether they are in the `operators`
group: two queries per request. Here both come from one cache read (`cache.get_many` of the
user's entry and the generation below): the user as last loaded, with their membership of
`operators` kept on the instance (`permissions.is_operator` reads it).

Only people without a usable password are cached: the SSO proxy's people (the accounts it
signs in never have one), not local accounts, whose password hash stays out of the cache (they
are loaded from the database on each request, as before).

An entry is dropped whenever the user changes: saved (the admin, a password, `last_login`),
deleted, or added to or removed from a group (at once and again once the transaction commits,
so a request that read the old row meanwhile cannot keep it). A change to a group itself (the
`operators` group renamed or deleted) starts a new generation, which makes every entry stale.
Changes that bypass the model signals (`QuerySet.update()`, raw SQL) are seen within TTL.

Behind the SSO proxy the user is also known by name before the session is read: the proxy's
header names them. adminsite.sso then reads the session, the user's entry by that name and the
generation in one cache round trip (`offered`); `get` takes the user from what was read when
it is the one the session names. Entries by name are kept and dropped like those by id.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

TTL = 300  # seconds: the bound on staleness for changes no signal reports
GENERATION = "orgdesk:users:generation"


def _key(user_id: object) -> str:
    return f"orgdesk:user:{user_id}"


def name_key(username: str) -> str:
    """The entry of the user with this username (hashed: a key holds no email address)."""
    return f"orgdesk:user-named:{hashlib.sha256(username.encode()).hexdigest()[:32]}"


@dataclass(frozen=True)
class Offer:
    """What a request read about its user with its session: their name, the entry by that
    name (None: not cached) and the generation."""

    username: str
    entry: Any
    generation: str


_offer: ContextVar[Offer | None] = ContextVar("usercache_offer", default=None)


@contextmanager
def offered(offer: Offer) -> Iterator[None]:
    """For the duration of a request: `get` takes its user from `offer` (adminsite.sso)."""
    token = _offer.set(offer)
    try:
        yield
    finally:
        _offer.reset(token)


def _current(entry: Any, generation: str, user_id: object) -> Any:
    if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == generation:
        user = entry[1]
        if str(getattr(user, "pk", None)) == str(user_id):
            return user
    return None


def get(user_id: object) -> Any:
    """The user with this primary key (None: there is none), from the cache when it holds the
    current generation's entry, else from the database (then cached).

    In a request that offered its user (`offered`), nothing more is read from the cache: the
    entry by name is used when it is this user, else the user is loaded and kept by name."""
    offer = _offer.get()
    if offer is None:
        key = _key(user_id)
        found = cache.get_many([key, GENERATION])
        generation = found.get(GENERATION) or ""
        entry = found.get(key)
    else:
        key, entry, generation = name_key(offer.username), offer.entry, offer.generation
    cached = _current(entry, generation, user_id)
    if cached is not None:
        return cached
    user = _load(user_id)
    if user is None or user.has_usable_password():  # a password hash never goes in the cache
        return user
    if offer is None or user.get_username() == offer.username:
        cache.set(key, (generation, user), timeout=TTL)
    return user


def _load(user_id: object) -> Any:
    from adminsite.permissions import in_operators_group

    model = get_user_model()
    try:
        user = model._default_manager.get(pk=user_id)  # type: ignore[misc]
    except (model.DoesNotExist, ValueError, TypeError):
        return None
    if not user.has_usable_password():
        in_operators_group(user)  # asked once, kept on the instance and in the entry
    return user


def forget(user_id: object, username: str | None = None) -> None:
    """Drop the user's entries (by id, and by name when given) now and again when the current
    transaction commits."""
    keys = [_key(user_id)] + ([name_key(username)] if username is not None else [])
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def new_generation() -> None:
    """Make every cached user stale (a group changed: memberships may have gone with it)."""
    token = secrets.token_hex(8)
    cache.set(GENERATION, token, timeout=None)
    transaction.on_commit(lambda: cache.set(GENERATION, secrets.token_hex(8), timeout=None))


def _user_changed(sender: type, instance: AbstractBaseUser, **kwargs: Any) -> None:
    if instance.pk is None:
        return
    forget(instance.pk, instance.get_username())
    # A save that may have renamed the user (any save but one of named fields without the
    # username, such as sign-in's last_login): the entry under the old name cannot be found
    # by the new one, so every entry goes stale.
    fields = kwargs.get("update_fields")
    if not kwargs.get("created", True) and (fields is None or "username" in fields):
        new_generation()


def _groups_changed(
    sender: type, instance: object, action: str, reverse: bool, pk_set: set[Any] | None, **_: Any
) -> None:
    if not action.startswith("post_"):
        return
    if not reverse:  # user.groups.add/remove/clear: instance is the user
        get_username = getattr(instance, "get_username", None)
        forget(getattr(instance, "pk", None), get_username() if get_username else None)
    elif pk_set:  # group.user_set.add/remove: the users are in pk_set
        model = get_user_model()
        names = model._default_manager.filter(pk__in=pk_set).values_list("pk", model.USERNAME_FIELD)
        for user_id, username in names:
            forget(user_id, username)
    else:  # group.user_set.clear(): who was in it is not said
        new_generation()


def _group_changed(sender: type, instance: Group, **kwargs: object) -> None:
    if kwargs.get("created"):
        return  # a new group has no members yet
    new_generation()


def connect() -> None:
    """Hook the invalidation to the model signals (AdminsiteConfig.ready)."""
    model = get_user_model()
    post_save.connect(_user_changed, sender=model, dispatch_uid="usercache-user-saved")
    post_delete.connect(_user_changed, sender=model, dispatch_uid="usercache-user-deleted")
    through = model._meta.get_field("groups").remote_field.through
    m2m_changed.connect(_groups_changed, sender=through, dispatch_uid="usercache-groups")
    post_save.connect(_group_changed, sender=Group, dispatch_uid="usercache-group-saved")
    post_delete.connect(_group_changed, sender=Group, dispatch_uid="usercache-group-deleted")
