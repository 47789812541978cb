"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from adminsite import sso
from adminsite.permissions import is_operator

_IS_OPERATOR = "_org_desk_is_operator"  # the answer, kept on the request


def _is_operator(request: HttpRequest) -> bool:
    """Asked at most once per request: a request may render several templates (the page, then
    its flash messages), and for a member of the operators group the answer is a query."""
    try:
        return bool(getattr(request, _IS_OPERATOR))
    except AttributeError:
        user = getattr(request, "user", None)
        answer = bool(user and is_operator(user))
        setattr(request, _IS_OPERATOR, answer)
        return answer


def org_desk(request: HttpRequest) -> dict[str, object]:
    config = sso.current()
    return {
        "on_sandbox": settings.AUTH0_SANDBOX,
        # Lazy: templates that never ask (a table page, flash messages) cost no query.
        "is_operator": SimpleLazyObject(lambda: _is_operator(request)),
        # Behind the SSO proxy, signing out is the proxy's business (SSO_LOGOUT_URL, if any).
        "sso_enabled": config is not None,
        "sso_logout_url": config.logout_url if config else "",
    }
