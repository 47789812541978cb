"""Deployment checks of Org Desk's own (`manage.py check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@checks.register(checks.Tags.caches, deploy=True)
def cache_is_shared(**kwargs: Any) -> list[checks.CheckMessage]:
    """gunicorn runs several workers (and a deployment often several instances): the token,
    the rate-limit budget, the cached user and the names index must be one for all of them."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend not in PER_PROCESS_CACHES:
        return []
    return [
        checks.Warning(
            f"CACHES['default'] is {backend.rsplit('.', 1)[-1]}: every worker process keeps "
            "its own Management API token, rate-limit budget and names of people and roles, "
            "so workers fetch tokens and spend Auth0's rate limit without knowing of each other.",
            hint="Set CACHE_URL=redis://host:6379/0 (docs/deploy.md).",
            id="adminsite.W001",
        )
    ]
