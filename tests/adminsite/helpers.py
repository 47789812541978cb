"""Helpers shared by the Django project's tests: requests as the SSO proxy sends them."""

from __future__ import annotations

from django.contrib.auth import get_user_model

PROXY = "10.0.3.7"
ALICE = "alice@example.com"


def via_proxy(email: str | None = ALICE, groups: str | None = None, addr: str = PROXY) -> dict:
    """Request extras: the proxy's address and its headers (None: header absent)."""
    extra: dict[str, str] = {"REMOTE_ADDR": addr}
    if email is not None:
        extra["HTTP_X_FORWARDED_EMAIL"] = email
    if groups is not None:
        extra["HTTP_X_FORWARDED_GROUPS"] = groups
    return extra


def _user(username: str):
    return get_user_model().objects.get(username=username)
