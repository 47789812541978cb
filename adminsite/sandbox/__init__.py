"""The sandbox tenant: an in-process fake of the Auth0 Management API (plain Python, stdlib WSGI).

Reach it in-process through `SandboxAdapter(make_app(tenant))` mounted on `SANDBOX_BASE_URL`, or
over real HTTP with `serve(tenant)`. Only `default_tenant()` looks at Django settings.
"""

from __future__ import annotations

import threading
from typing import TypedDict

from .adapter import SandboxAdapter
from .app import DropConnection, make_app
from .server import SandboxServer, serve
from .tenant import ALL_SCOPES, Tenant

SANDBOX_BASE_URL = "https://sandbox.orgdesk.invalid"

__all__ = [
    "ALL_SCOPES",
    "SANDBOX_BASE_URL",
    "DropConnection",
    "SandboxAdapter",
    "SandboxServer",
    "Tenant",
    "default_tenant",
    "make_app",
    "serve",
]

_default: Tenant | None = None
_default_lock = threading.Lock()


class _TenantSettings(TypedDict, total=False):
    """Tenant's keyword arguments that Django settings may give."""

    organizations: int
    big_org_members: int
    latency: float
    client_id: str
    client_secret: str


def _settings_kwargs() -> _TenantSettings:
    try:
        from django.conf import settings
    except ImportError:  # pragma: no cover - Django is always installed with Org Desk
        return {}
    if not settings.configured:
        return {}
    return {
        "organizations": int(getattr(settings, "SANDBOX_ORGANIZATIONS", 1200)),
        "big_org_members": int(getattr(settings, "SANDBOX_BIG_ORG_MEMBERS", 1200)),
        "latency": float(getattr(settings, "SANDBOX_LATENCY", 0.0)),
        "client_id": str(getattr(settings, "AUTH0_CLIENT_ID", "") or "org-desk-sandbox"),
        "client_secret": str(getattr(settings, "AUTH0_CLIENT_SECRET", "") or "sandbox-secret"),
    }


def default_tenant() -> Tenant:
    """The process-wide tenant, created on first use (from Django settings when configured)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Tenant(**_settings_kwargs())
    return _default
