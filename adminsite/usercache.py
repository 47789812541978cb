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
"""

from __future__ import annotations

import secrets
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


def get(user_id: object) -> Any:
    """The user with this primary key (None: there is none), from the cache when it holds the
    current generation's entry, else from the database (then cached)."""
    from adminsite.permissions import in_operators_group

    key = _key(user_id)
    found = cache.get_many([key, GENERATION])
    generation = found.get(GENERATION) or ""
    entry = found.get(key)
    if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == generation:
        return entry[1]
    model = get_user_model()
    try:
        user = model._default_manager.get(pk=user_id)  # type: ignore[misc]
    except (model.DoesNotExist, ValueError, TypeError):
        return None
    if user.has_usable_password():  # a password hash never goes into the cache
        return user
    in_operators_group(user)  # asked once, kept on the instance and in the entry
    cache.set(key, (generation, user), timeout=TTL)
    return user


def forget(user_id: object) -> None:
    """Drop the user's entry now and again when the current transaction commits."""
    key = _key(user_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def new_generation() -> None:
    """Make every cached user stale (a group changed: memberships may have gone with it)."""
    token = secrets.token_hex(8)
    cache.set(GENERATION, token, timeout=None)
    transaction.on_commit(lambda: cache.set(GENERATION, secrets.token_hex(8), timeout=None))


def _user_changed(sender: type, instance: AbstractBaseUser, **kwargs: object) -> None:
    if instance.pk is not None:
        forget(instance.pk)


def _groups_changed(
    sender: type, instance: object, action: str, reverse: bool, pk_set: set[Any] | None, **_: Any
) -> None:
    if not action.startswith("post_"):
        return
    if not reverse:  # user.groups.add/remove/clear: instance is the user
        forget(getattr(instance, "pk", None))
    elif pk_set:  # group.user_set.add/remove: the users are in pk_set
        for user_id in pk_set:
            forget(user_id)
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
