"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from adminsite.permissions import is_operator


def org_desk(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    return {
        "on_sandbox": settings.AUTH0_SANDBOX,
        "auth0_base_url": settings.AUTH0_BASE_URL,
        "is_operator": bool(user and is_operator(user)),
    }
