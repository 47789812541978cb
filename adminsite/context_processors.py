"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from adminsite import sso
from adminsite.permissions import is_operator


def org_desk(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    config = sso.current()
    return {
        "on_sandbox": settings.AUTH0_SANDBOX,
        "auth0_base_url": settings.AUTH0_BASE_URL,
        "is_operator": bool(user and is_operator(user)),
        # Behind the SSO proxy, signing out is the proxy's business (SSO_LOGOUT_URL, if any).
        "sso_enabled": config is not None,
        "sso_logout_url": config.logout_url if config else "",
    }
