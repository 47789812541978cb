"""Small helpers shared by the view and browser tests."""

from __future__ import annotations

from adminsite import auth0

HTMX = {"HX-Request": "true"}


def org_id(name: str) -> str:
    """The id of a seeded sandbox organization, looked up the way Org Desk does."""
    return auth0.get_organization_by_name(name=name).id


def mutations(tenant) -> list[dict]:
    """The non-GET Management API requests the sandbox received (token requests excluded)."""
    return [
        r
        for r in tenant.requests_log
        if r["method"] != "GET" and r["raw_path"].startswith("/api/v2/")
    ]


def api_calls(tenant) -> list[dict]:
    return [r for r in tenant.requests_log if r["raw_path"].startswith("/api/v2/")]
