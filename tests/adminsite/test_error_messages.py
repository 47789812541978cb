"""Spec section 2: every upstream failure becomes a flash message that says what to do.

Each case runs on a read (the connections part) and on a change (the domain-level toggle), on the
in-process sandbox with a fault injected, and checks the message reaches the htmx response.
"""

from __future__ import annotations

import html
import time
from typing import Any

import pytest
from django.urls import reverse

from adminsite import auth0
from tests.helpers import HTMX, org_id


def _now(fault: dict) -> dict:
    """The fault's keyword arguments, with time-relative values (a callable) computed now."""
    return {key: value() if callable(value) else value for key, value in fault.items()}


def _later(seconds: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(time.time()) + seconds),
    }


CASES: dict[str, tuple[dict[str, Any], str]] = {
    "400": (
        {
            "status": 400,
            "body": {
                "statusCode": 400,
                "error": "Bad Request",
                "message": "Payload validation error: 'Expected type boolean but found type "
                "string' on property is_domain_connection.",
                "errorCode": "invalid_body",
            },
        },
        "Auth0 rejected the request (400 invalid_body): Payload validation error",
    ),
    "401 twice": ({"status": 401, "times": 2}, "Auth0 rejected Org Desk's API credentials (401"),
    "403": (
        {
            "status": 403,
            "body": {
                "statusCode": 403,
                "error": "Forbidden",
                "message": "Insufficient scope, expected any of: update:connections",
                "errorCode": "insufficient_scope",
            },
        },
        "missing the scope update:connections (403 insufficient_scope)",
    ),
    "404": (
        {
            "status": 404,
            "body": {
                "statusCode": 404,
                "error": "Not Found",
                "message": "The connection does not exist",
                "errorCode": "inexistent_connection",
            },
        },
        "no longer exists",
    ),
    "409": (
        {
            "status": 409,
            "body": {
                "statusCode": 409,
                "error": "Conflict",
                "message": "The name/client_id tuple has already been used for another connection",
                "errorCode": "conflict",
            },
        },
        "Auth0 reported a conflict (409): The name/client_id tuple has already been used",
    ),
    "429": (
        {"status": 429, "headers": lambda: _later(90)},
        "Auth0 is rate limiting Org Desk (429 Too Many Requests)",
    ),
    "500": (
        {
            "status": 500,
            "body": {"statusCode": 500, "error": "Internal Server Error", "message": "boom"},
        },
        "Auth0 failed (500 server error)",
    ),
    "502 html": (
        {"status": 502, "body": "<html><body>502 Bad Gateway</body></html>"},
        "Auth0 failed (502 server error)",
    ),
    "503": (
        {
            "status": 503,
            "body": {"statusCode": 503, "error": "Service Unavailable", "message": "down"},
        },
        "Auth0 failed (503 server error)",
    ),
    "timeout": ({"delay": 3.0}, "Auth0 did not answer in time (timeout)"),
    "dropped": ({"drop": True}, "Auth0 could not be reached (connection error)"),
    "not json": (
        {"status": 200, "body": "this is not json"},
        "Auth0 sent a response Org Desk could not read",
    ),
}


@pytest.fixture
def acme(tenant, settings) -> str:
    settings.AUTH0_TIMEOUT = 0.5
    return org_id("acme")


@pytest.mark.parametrize("case", CASES)
def test_read_failure_shows_message(operator_client, tenant, acme, case) -> None:
    fault, expected = CASES[case]
    auth0.domain_connection_index()  # warm: the failure hits the enabled_connections call
    tenant.add_fault(method="GET", path=r"/enabled_connections", **_now(fault))
    r = operator_client.get(reverse("connections:list", args=[acme]), headers=HTMX)
    body = html.unescape(r.content.decode())
    assert r.status_code == 200
    assert expected in body, body
    assert "could not be loaded" in body  # the part stays usable: a retry button
    assert "Traceback" not in body and "sandbox-secret" not in body


@pytest.mark.parametrize("case", CASES)
def test_change_failure_shows_message(operator_client, tenant, acme, case) -> None:
    fault, expected = CASES[case]
    conn = auth0.list_enabled_connections(org_id=acme)[0]
    tenant.add_fault(method="PATCH", path=r"/api/v2/connections/", **_now(fault))
    r = operator_client.post(
        reverse("connections:domain-level", args=[acme, conn.connection_id]),
        {"is_domain_connection": "true"},
        headers=HTMX,
    )
    body = html.unescape(r.content.decode())
    assert r.status_code == 200 and r["HX-Reswap"] == "none"
    assert expected in body, body
    assert "sandbox-secret" not in body


def test_full_page_failure_shows_message(operator_client, tenant) -> None:
    tenant.add_fault(method="GET", path=r"^/api/v2/organizations$", status=503)
    r = operator_client.get(reverse("orgs:list"))
    body = r.content.decode()
    assert r.status_code == 200
    assert "Auth0 failed (503 server error). Nothing was changed; try again in a moment." in body
    assert "could not be loaded" in body


def test_single_401_is_retried_with_a_fresh_token(operator_client, tenant, acme) -> None:
    tenant.expire_tokens()
    r = operator_client.get(reverse("connections:list", args=[acme]), headers=HTMX)
    assert 'data-testid="connection-row"' in r.content.decode()


def test_short_rate_limit_is_retried_automatically(operator_client, tenant, acme) -> None:
    tenant.add_fault(method="GET", path=r"/enabled_connections", status=429, headers=_later(1))
    r = operator_client.get(reverse("connections:list", args=[acme]), headers=HTMX)
    assert 'data-testid="connection-row"' in r.content.decode()


def test_missing_scope_from_the_tenant_is_named(operator_client, tenant, acme) -> None:
    tenant.set_scopes(["read:organizations", "read:organization_connections", "read:connections"])
    r = operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)
    assert (
        "missing the scope read:organization_members, read:organization_member_roles"
        in r.content.decode()
    )
