"""The service module's token and its answers to every error status, on a faked wire."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import responses
from django.core.cache import cache

from adminsite import auth0
from tests.auth0.helpers import (
    API,
    CLIENT_ID,
    CON,
    ENABLED_BODY,
    INVALID_TOKEN,
    NOT_FOUND_ORG,
    ODD_USER,
    ODD_USER_ENC,
    ORG,
    ORG_BODY,
    SECRET,
    TOKEN,
    TOKEN_2,
    TOKEN_URL,
    USER,
    add_token,
    api_calls,
)

# --- Token ------------------------------------------------------------------------------------


def test_token_is_fetched_once_and_reused(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY)
    for _ in range(3):
        auth0.get_organization(org_id=ORG)
    assert [c.request.url for c in wire.calls].count(TOKEN_URL) == 1
    assert wire.calls[0].request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert auth0.upstream_stats().calls == 3
    assert auth0.upstream_stats().token_calls == 1
    auth0.reset_upstream_stats()
    assert auth0.upstream_stats() == auth0.Stats(0, 0.0, 0)


def test_token_is_cached_until_expiry_minus_a_minute(
    wire: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ttls: list[Any] = []
    original = cache.set

    def spy(key: str, value: Any, timeout: Any = None, **kw: Any) -> None:
        if key.startswith("auth0:token:"):
            ttls.append(timeout)
            assert SECRET not in key and CLIENT_ID not in key
        original(key, value, timeout, **kw)

    monkeypatch.setattr(cache, "set", spy)
    add_token(wire, expires_in=86400)
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY)
    auth0.get_organization(org_id=ORG)
    assert ttls == [86340]


def test_a_401_refreshes_the_token_and_retries_once(wire: responses.RequestsMock) -> None:
    add_token(wire, TOKEN)
    wire.get(f"{API}/organizations/{ORG}", status=401, json=INVALID_TOKEN)
    add_token(wire, TOKEN_2)
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY)
    assert auth0.get_organization(org_id=ORG).id == ORG
    assert wire.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert wire.calls[3].request.headers["Authorization"] == f"Bearer {TOKEN_2}"
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY)
    auth0.get_organization(org_id=ORG)  # the fresh token is the cached one now
    assert wire.calls[4].request.headers["Authorization"] == f"Bearer {TOKEN_2}"


def test_a_second_401_is_unauthorized(wire: responses.RequestsMock) -> None:
    add_token(wire, TOKEN)
    wire.get(f"{API}/organizations/{ORG}", status=401, json=INVALID_TOKEN)
    add_token(wire, TOKEN_2)
    wire.get(f"{API}/organizations/{ORG}", status=401, json=INVALID_TOKEN)
    with pytest.raises(auth0.Unauthorized) as caught:
        auth0.get_organization(org_id=ORG)
    assert caught.value.status_code == 401
    assert caught.value.message == "Invalid token"
    assert "credentials were rejected" in str(caught.value)
    assert len(wire.calls) == 4


def test_token_endpoint_bad_credentials(wire: responses.RequestsMock) -> None:
    wire.post(
        TOKEN_URL, status=401, json={"error": "access_denied", "error_description": "Unauthorized"}
    )
    with pytest.raises(auth0.Unauthorized) as caught:
        auth0.get_organization(org_id=ORG)
    assert caught.value.message == "Unauthorized"
    assert caught.value.error_code == "access_denied"
    assert "client credentials" in str(caught.value)


def test_token_endpoint_without_a_client_grant(wire: responses.RequestsMock) -> None:
    description = (
        'Client is not authorized to access "https://tenant.example.auth0.com/api/v2/". '
        'You need to create a "client-grant" associated to this API. '
        "See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants"
    )
    wire.post(
        TOKEN_URL, status=403, json={"error": "access_denied", "error_description": description}
    )
    with pytest.raises(auth0.Forbidden) as caught:
        auth0.list_organizations()
    assert caught.value.message == description
    assert caught.value.error_code == "access_denied"
    assert caught.value.missing_scopes == []


@pytest.mark.parametrize(
    "body",
    [{"token_type": "Bearer"}, {"access_token": "x", "expires_in": "soon"}, ["nope"]],
)
def test_token_endpoint_wrong_shape(wire: responses.RequestsMock, body: Any) -> None:
    wire.post(TOKEN_URL, json=body)
    with pytest.raises(auth0.Unavailable) as caught:
        auth0.list_organizations()
    assert caught.value.reason == "bad_response"


# --- Error statuses ---------------------------------------------------------------------------


def fail_with(wire: responses.RequestsMock, status: int, **kwargs: Any) -> None:
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}", status=status, **kwargs)


def test_400_invalid_body(wire: responses.RequestsMock) -> None:
    message = (
        "Only database connections with assign_membership_on_login = true support "
        "is_signup_enabled = true."
    )
    add_token(wire)
    wire.post(
        f"{API}/organizations/{ORG}/enabled_connections",
        status=400,
        json={
            "statusCode": 400,
            "error": "Bad Request",
            "message": message,
            "errorCode": "invalid_body",
        },
    )
    with pytest.raises(auth0.BadRequest) as caught:
        auth0.add_enabled_connection(
            org_id=ORG,
            connection_id=CON,
            assign_membership_on_login=False,
            show_as_button=True,
            is_signup_enabled=True,
        )
    assert (caught.value.status_code, caught.value.error_code) == (400, "invalid_body")
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("message", "scopes"),
    [
        (
            "Insufficient scope, expected any of: read:organization_client_grants",
            ["read:organization_client_grants"],
        ),
        (
            "Insufficient scope, expected any of: read:organization_members, "
            "read:organization_member_roles",
            ["read:organization_members", "read:organization_member_roles"],
        ),
        (
            "Insufficient scope; expected any of: read:clients,read:client_summary",
            ["read:clients", "read:client_summary"],
        ),
        ("Insufficient scope, expected any of: a:b; c:d", ["a:b", "c:d"]),
    ],
)
def test_403_missing_scopes(wire: responses.RequestsMock, message: str, scopes: list[str]) -> None:
    fail_with(
        wire,
        403,
        json={
            "statusCode": 403,
            "error": "Forbidden",
            "message": message,
            "errorCode": "insufficient_scope",
        },
    )
    with pytest.raises(auth0.Forbidden) as caught:
        auth0.get_organization(org_id=ORG)
    assert caught.value.missing_scopes == scopes
    assert caught.value.error_code == "insufficient_scope"


def test_403_without_a_scope_list(wire: responses.RequestsMock) -> None:
    fail_with(
        wire,
        403,
        json={
            "statusCode": 403,
            "error": "Forbidden",
            "message": "Please upgrade your subscription to use bot detection",
            "errorCode": "insufficient_entitlement",
        },
    )
    with pytest.raises(auth0.Forbidden) as caught:
        auth0.get_organization(org_id=ORG)
    assert caught.value.missing_scopes == []


def test_404_without_error_code(wire: responses.RequestsMock) -> None:
    fail_with(wire, 404, json=NOT_FOUND_ORG)
    with pytest.raises(auth0.NotFound) as caught:
        auth0.get_organization(org_id=ORG)
    assert caught.value.error_code is None
    assert caught.value.message == "No organization found by that id or name"


def test_409(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.post(
        f"{API}/organizations/{ORG}/members/{ODD_USER_ENC}/roles",
        status=409,
        json={
            "statusCode": 409,
            "error": "Conflict",
            "message": "No more roles can be assigned to this organization member.",
        },
    )
    with pytest.raises(auth0.Conflict) as caught:
        auth0.assign_member_roles(org_id=ORG, user_id=ODD_USER, role_ids=["rol_x"])
    assert caught.value.message == "No more roles can be assigned to this organization member."


def test_other_status_is_the_base_error(wire: responses.RequestsMock) -> None:
    fail_with(wire, 418, body="")
    with pytest.raises(auth0.Auth0Error) as caught:
        auth0.get_organization(org_id=ORG)
    assert type(caught.value) is auth0.Auth0Error and caught.value.status_code == 418


TOO_MANY = {
    "statusCode": 429,
    "error": "Too Many Requests",
    "message": "Global limit has been reached",
    "errorCode": "too_many_requests",
}


def test_429_short_wait_is_retried(wire: responses.RequestsMock, sleeps: list[float]) -> None:
    reset = int(time.time()) + 2
    fail_with(wire, 429, json=TOO_MANY, headers={"x-ratelimit-reset": str(reset)})
    wire.get(
        f"{API}/organizations/{ORG}",
        json=ORG_BODY,
        headers={
            "x-ratelimit-limit": "10",
            "x-ratelimit-remaining": "9",
            "x-ratelimit-reset": str(reset),
        },
    )
    assert auth0.get_organization(org_id=ORG).id == ORG
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 3
    reset_key, remaining_key = auth0.client._bucket_keys("GET", f"/api/v2/organizations/{ORG}")
    assert (cache.get(remaining_key), cache.get(reset_key)) == (9, reset)


def test_429_retry_after_is_honoured_for_writes(
    wire: responses.RequestsMock, sleeps: list[float]
) -> None:
    add_token(wire)
    url = f"{API}/organizations/{ORG}/enabled_connections/{CON}"
    wire.delete(url, status=429, json=TOO_MANY, headers={"retry-after": "1"})
    wire.delete(url, status=204)
    auth0.remove_enabled_connection(org_id=ORG, connection_id=CON)
    assert sleeps == [1.0]


def test_429_gives_up_after_two_retries(wire: responses.RequestsMock, sleeps: list[float]) -> None:
    add_token(wire)
    for _ in range(3):
        wire.get(
            f"{API}/organizations/{ORG}", status=429, json=TOO_MANY, headers={"retry-after": "1"}
        )
    with pytest.raises(auth0.RateLimited) as caught:
        auth0.get_organization(org_id=ORG)
    assert len(sleeps) == 2
    assert caught.value.retry_after == 1
    assert caught.value.message == "Global limit has been reached"


def test_429_long_wait_is_raised(wire: responses.RequestsMock, sleeps: list[float]) -> None:
    reset = int(time.time()) + 90
    fail_with(
        wire,
        429,
        json=TOO_MANY,
        headers={
            "x-ratelimit-limit": "50",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(reset),
        },
    )
    with pytest.raises(auth0.RateLimited) as caught:
        auth0.get_organization(org_id=ORG)
    assert sleeps == []
    assert caught.value.reset_at == datetime.fromtimestamp(reset, UTC)
    assert 85 <= caught.value.retry_after <= 90
    assert caught.value.error_code == "too_many_requests"


def budget_headers(remaining: int, reset: float, limit: int = 50) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(int(reset)),
    }


def test_a_spent_budget_fails_fast_without_calling_auth0(
    wire: responses.RequestsMock, sleeps: list[float]
) -> None:
    add_token(wire)
    reset = int(time.time()) + 60
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY, headers=budget_headers(0, reset))
    auth0.get_organization(org_id=ORG)
    with pytest.raises(auth0.RateLimited) as caught:
        auth0.get_organization(org_id=ORG)  # `wire` would refuse an unexpected call
    assert len(api_calls(wire)) == 1 and sleeps == []
    assert caught.value.reset_at == datetime.fromtimestamp(reset, UTC)
    assert 55 <= caught.value.retry_after <= 60
    _, remaining_key = auth0.client._bucket_keys("GET", f"/api/v2/organizations/{ORG}")
    assert cache.get(remaining_key) <= 0  # spent (the refused call reserved one more)


def test_a_spent_budget_with_a_short_reset_is_waited_for(
    wire: responses.RequestsMock, sleeps: list[float]
) -> None:
    add_token(wire)
    reset = int(time.time()) + 2
    url = f"{API}/organizations/{ORG}"
    wire.get(url, json=ORG_BODY, headers=budget_headers(0, reset))
    wire.get(url, json=ORG_BODY, headers=budget_headers(49, reset + 60))
    auth0.get_organization(org_id=ORG)
    auth0.get_organization(org_id=ORG)
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 2
    assert len(api_calls(wire)) == 2


def test_budgets_are_per_endpoint(wire: responses.RequestsMock) -> None:
    add_token(wire)
    spent = budget_headers(0, time.time() + 60)
    wire.get(f"{API}/organizations", json={"organizations": []}, headers=spent)
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY, headers=budget_headers(9, 0))
    auth0.list_organizations()
    assert auth0.get_organization(org_id=ORG).id == ORG  # another endpoint: its own budget
    with pytest.raises(auth0.RateLimited):
        auth0.list_organizations()


def test_the_last_request_of_a_budget_is_reserved_by_one_worker(
    wire: responses.RequestsMock,
) -> None:
    # Two workers see "1 remaining": the cache hands it to one; the other must not go.
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY, headers=budget_headers(1, 0))
    wire.get(
        f"{API}/organizations/{ORG}", json=ORG_BODY, headers=budget_headers(1, time.time() + 60)
    )
    auth0.get_organization(org_id=ORG)  # reset in the past: nothing to share
    path = f"/api/v2/organizations/{ORG}"
    assert cache.get(auth0.client._bucket_keys("GET", path)[1]) is None
    auth0.get_organization(org_id=ORG)
    auth0.client._take_budget("GET", path)
    with pytest.raises(auth0.RateLimited):
        auth0.client._take_budget("GET", path)


def test_the_budget_is_read_from_the_shared_cache(wire: responses.RequestsMock) -> None:
    # Another worker saw the budget spent: this one does not call Auth0 either.
    add_token(wire)
    wire.get(
        f"{API}/organizations/{ORG}", json=ORG_BODY, headers=budget_headers(0, time.time() + 60)
    )
    auth0.get_organization(org_id=ORG)
    reset_key, remaining_key = auth0.client._bucket_keys("GET", f"/api/v2/organizations/{ORG}")
    assert cache.get(remaining_key) == 0 and cache.get(reset_key) > time.time()
    cache.set(remaining_key, 3, timeout=60)  # e.g. a fresh reading from another worker
    wire.get(
        f"{API}/organizations/{ORG}", json=ORG_BODY, headers=budget_headers(2, time.time() + 60)
    )
    assert auth0.get_organization(org_id=ORG).id == ORG


@pytest.mark.parametrize(
    ("status", "kwargs"),
    [
        (500, {"json": {"statusCode": 500, "error": "Internal Server Error", "message": "boom"}}),
        (502, {"body": "<html><body>502 Bad Gateway</body></html>"}),
        (503, {"json": {"statusCode": 503, "error": "Service Unavailable", "message": "down"}}),
    ],
)
def test_5xx_is_unavailable(
    wire: responses.RequestsMock, status: int, kwargs: dict[str, Any]
) -> None:
    fail_with(wire, status, **kwargs)
    with pytest.raises(auth0.Unavailable) as caught:
        auth0.get_organization(org_id=ORG)
    assert (caught.value.reason, caught.value.status_code) == ("server_error", status)
    assert "<html>" not in caught.value.message


@pytest.mark.parametrize(
    ("call", "url", "kwargs"),
    [
        ("org", f"{API}/organizations/{ORG}", {"body": "this is not json"}),
        ("org", f"{API}/organizations/{ORG}", {"body": ""}),
        ("org", f"{API}/organizations/{ORG}", {"json": {"name": "no-id"}}),
        ("org", f"{API}/organizations/{ORG}", {"json": {"id": ORG, "name": 7}}),
        ("orgs", f"{API}/organizations", {"json": {"organizations": {"id": ORG}}}),
        ("orgs", f"{API}/organizations", {"json": {"organizations": [], "next": 5}}),
        ("orgs", f"{API}/organizations", {"json": [ORG_BODY]}),
        (
            "conns",
            f"{API}/organizations/{ORG}/enabled_connections",
            {"json": {"enabled_connections": [{**ENABLED_BODY, "show_as_button": "yes"}]}},
        ),
        (
            "conns",
            f"{API}/organizations/{ORG}/enabled_connections",
            {"json": {"enabled_connections": [{"connection_id": CON}]}},
        ),
        (
            "members",
            f"{API}/organizations/{ORG}/members",
            {"json": {"members": [{"user_id": USER, "roles": "admin"}]}},
        ),
    ],
)
def test_unreadable_2xx_is_a_bad_response(
    wire: responses.RequestsMock, call: str, url: str, kwargs: dict[str, Any]
) -> None:
    add_token(wire)
    wire.get(url, **kwargs)
    calls = {
        "org": lambda: auth0.get_organization(org_id=ORG),
        "orgs": lambda: auth0.list_organizations(),
        "conns": lambda: auth0.list_enabled_connections(org_id=ORG),
        "members": lambda: auth0.list_members(org_id=ORG),
    }
    with pytest.raises(auth0.Unavailable) as caught:
        calls[call]()
    assert caught.value.reason == "bad_response"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (requests.exceptions.ReadTimeout("Read timed out. (read timeout=5.0)"), "timeout"),
        (requests.exceptions.ConnectTimeout("Connect timed out"), "timeout"),
        (requests.exceptions.ConnectionError("Connection aborted."), "connection"),
    ],
)
def test_transport_failures(wire: responses.RequestsMock, error: Exception, reason: str) -> None:
    fail_with(wire, 200, body=error)
    with pytest.raises(auth0.Unavailable) as caught:
        auth0.get_organization(org_id=ORG)
    assert caught.value.reason == reason
    assert caught.value.status_code is None


def test_token_endpoint_timeout(wire: responses.RequestsMock) -> None:
    wire.post(TOKEN_URL, body=requests.exceptions.ReadTimeout("Read timed out."))
    with pytest.raises(auth0.Unavailable) as caught:
        auth0.list_organizations()
    assert caught.value.reason == "timeout"
