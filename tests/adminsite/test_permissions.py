"""Viewers, signed in by SSO or in Django: a forged POST with a valid CSRF token changes nothing,
on every route that changes something.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from adminsite import auth0, sso_config
from tests.adminsite.helpers import via_proxy
from tests.helpers import HTMX, api_calls, mutations

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


# --- viewers: a forged POST with a valid CSRF token changes nothing ---------------------------


def _csrf_client(login) -> tuple[Client, str]:
    """A client that enforces CSRF like a browser, with the token a real page gave it."""
    c = Client(enforce_csrf_checks=True)
    extra = login(c)
    r = c.get(reverse("orgs:list"), **extra)
    assert r.status_code == 200
    return c, c.cookies["csrftoken"].value


def _mutating_requests(acme: str) -> list[tuple[str, str, dict]]:
    member = auth0.list_members(org_id=acme).members[0]
    held = {r.id for r in member.roles}
    role = next(r.id for r in auth0.list_roles(per_page=50) if r.id not in held)
    conn = auth0.list_enabled_connections(org_id=acme)[0].connection_id
    return [
        (
            "POST",
            reverse("orgs:assign-roles", args=[acme]),
            {"user_id": member.user_id, "roles": [role]},
        ),
        (
            "POST",
            reverse("orgs:remove-role", args=[acme]),
            {"user_id": member.user_id, "role": member.roles[0].id if member.roles else role},
        ),
        (
            "POST",
            reverse("connections:domain-level", args=[acme, conn]),
            {"is_domain_connection": "true"},
        ),
        ("POST", reverse("connections:remove", args=[acme, conn]), {"name": "x"}),
        ("GET", reverse("connections:domain-level", args=[acme, conn]), {}),
        ("GET", reverse("connections:remove", args=[acme, conn]), {}),
    ]


def _django_viewer(viewer):
    def login(c: Client) -> dict:
        c.force_login(viewer)
        return {}

    return login


def _sso_viewer(c: Client) -> dict:
    return via_proxy(groups="staff,viewers")


@pytest.mark.parametrize("kind", ["django-login", "sso"])
@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "page"])
def test_viewer_forged_requests_change_nothing(request, tenant, acme, viewer, kind, htmx) -> None:
    if kind == "sso":
        request.getfixturevalue("sso")
        login = _sso_viewer
    else:
        login = _django_viewer(viewer)
    c, token = _csrf_client(login)
    extra = login(c)
    requests = _mutating_requests(acme)
    tenant.clear_log()
    for method, url, data in requests:
        headers = {"X-CSRFToken": token, **(HTMX if htmx else {})}
        if method == "POST":
            r = c.post(url, data, headers=headers, **extra)
        else:
            r = c.get(url, headers=headers, **extra)
        assert r.status_code == 403, (method, url)
        body = r.content.decode()
        assert "read-only access (viewer)" in body, (method, url)
        assert "security token" not in body  # refused as a viewer, not for CSRF
        if htmx:
            assert r["HX-Reswap"] == "none"
        else:
            assert "Not allowed (403)" in body
    assert api_calls(tenant) == []  # no upstream call at all, let alone a change


def test_the_same_token_works_for_an_operator(tenant, acme, operator) -> None:
    """Control for the test above: the CSRF handling is right, so the 403 is the role's."""

    def login(c: Client) -> dict:
        c.force_login(operator)
        return {}

    c, token = _csrf_client(login)
    conn = auth0.list_enabled_connections(org_id=acme)[0].connection_id
    tenant.clear_log()
    r = c.post(
        reverse("connections:remove", args=[acme, conn]),
        headers={"X-CSRFToken": token, **HTMX},
    )
    assert r.status_code == 200
    assert [m["method"] for m in mutations(tenant)] == ["DELETE"]


def _routes(patterns, prefix: str = "", namespace: str = "") -> list[tuple[str, str]]:
    found = []
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
            found += _routes(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern) and p.name:
            found.append((namespace + p.name, prefix + str(p.pattern)))
    return found


# Routes any signed-in person may POST to.
NOT_MUTATING = {"login", "logout", "password_change", "password_reset", "password_reset_confirm"}


def test_every_org_desk_route_refuses_a_viewers_post(viewer, tenant, acme) -> None:
    """A sweep of the URLconf, so a mutating view added later cannot forget operator_required."""
    c, token = _csrf_client(_django_viewer(viewer))
    conn = auth0.list_enabled_connections(org_id=acme)[0].connection_id
    samples = {
        "org_id": acme,
        "connection_id": conn,
        "invitation_id": "uinv_abc123",
        "job_id": "0b6f0c3e-6a1d-4c43-9a61-2f1c8e0f5a11",  # the <uuid:job_id> converter's shape
    }
    checked = []
    for name, route in _routes(get_resolver().url_patterns):
        if name.startswith("admin:") or name in NOT_MUTATING or name.startswith("password_"):
            continue
        kwargs = {k: samples.get(k, "1") for k in _route_kwargs(route)}
        url = reverse(name, kwargs=kwargs)
        tenant.clear_log()
        r = c.post(url, {}, headers={"X-CSRFToken": token, **HTMX})
        allowed = (302,) if name == "home" else (403, 405)  # home: a RedirectView
        assert r.status_code in allowed, (name, r.status_code)
        assert mutations(tenant) == [], name
        checked.append(name)
    assert {"orgs:assign-roles", "connections:remove", "connections:domain-level"} <= set(checked)
    assert {"jobs:cancel", "jobs:retry", "orgs:bulk-start", "orgs:export-members"} <= set(checked)


def _route_kwargs(route: str) -> list[str]:
    import re

    return re.findall(r"<(?:\w+:)?(\w+)>", route)


def test_env_example_values_are_usable_as_written() -> None:
    """Every `# NAME=value` in .env.example works when uncommented (django-environ keeps a
    trailing "# comment" in the value), and its SSO example is a valid configuration."""
    values = dict(
        line[2:].split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.startswith("# ") and "=" in line and line[2:].split("=", 1)[0].isupper()
    )
    assert "SSO_TRUSTED_PROXIES" in values and "AUTH0_TIMEOUT" in values
    assert {k: v for k, v in values.items() if "#" in v or v != v.strip()} == {}
    config = sso_config.parse(
        values["SSO_USER_HEADER"],
        values["SSO_GROUPS_HEADER"],
        values["SSO_OPERATOR_GROUPS"].split(","),
        values["SSO_TRUSTED_PROXIES"].split(","),
        values["SSO_LOGOUT_URL"],
    )
    assert config is not None and config.is_trusted(values["SSO_TRUSTED_PROXIES"])
