"""The service module refuses bad arguments before any call and keeps secrets out of messages
and logs; then every operation once against the in-process sandbox tenant, through the same code.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import responses
from django.core.cache import cache

from adminsite import auth0
from tests.auth0.helpers import (
    API,
    INVALID_TOKEN,
    ORG,
    ORG_BODY,
    SECRET,
    TOKEN,
    TOKEN_2,
    TOKEN_URL,
    USER,
    add_token,
    url_of,
)

# --- Validation before any call ---------------------------------------------------------------

HOSTILE = ["../", "%2e%2e%2f", "org_x?y", "org_x#", "", "org_" + "a" * 47, "org_abc\n", "org_ä"]


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize(
    "call",
    [
        lambda bad: auth0.get_organization(org_id=bad),
        lambda bad: auth0.list_enabled_connections(org_id=bad),
        lambda bad: auth0.list_members(org_id=bad),
        lambda bad: auth0.find_members(org_id=bad, email="a@b.c"),
        lambda bad: auth0.get_member_roles(org_id=bad, user_id=USER),
        lambda bad: auth0.get_enabled_connection(
            org_id=ORG, connection_id=bad.replace("org_", "con_")
        ),
        lambda bad: auth0.remove_enabled_connection(
            org_id=ORG, connection_id=bad.replace("org_", "con_")
        ),
        lambda bad: auth0.set_domain_connection(
            connection_id=bad.replace("org_", "con_"), enabled=True
        ),
        lambda bad: auth0.add_enabled_connection(
            org_id=ORG,
            connection_id=bad.replace("org_", "con_"),
            assign_membership_on_login=True,
            show_as_button=True,
            is_signup_enabled=None,
        ),
        lambda bad: auth0.assign_member_roles(
            org_id=ORG, user_id=USER, role_ids=[bad.replace("org_", "rol_")]
        ),
        lambda bad: auth0.get_organization_by_name(name=bad.replace("org_", "Org ")),
    ],
)
def test_hostile_ids_are_refused_before_any_call(
    wire: responses.RequestsMock, call: Any, bad: str
) -> None:
    with pytest.raises(auth0.InvalidId):
        call(bad)
    assert len(wire.calls) == 0


@pytest.mark.parametrize(
    "bad", ["", " \t ", "..", ".", "auth0|a\x00b", "auth0|a\nb", "x" * 256, "auth0|\x7f"]
)
def test_hostile_user_ids_are_refused(wire: responses.RequestsMock, bad: str) -> None:
    with pytest.raises(auth0.InvalidId):
        auth0.get_member_roles(org_id=ORG, user_id=bad)
    with pytest.raises(auth0.InvalidId):
        auth0.remove_member_roles(org_id=ORG, user_id=bad, role_ids=["rol_x"])
    assert len(wire.calls) == 0


def test_other_invalid_arguments(wire: responses.RequestsMock) -> None:
    with pytest.raises(auth0.InvalidId):
        auth0.assign_member_roles(org_id=ORG, user_id=USER, role_ids=[])
    with pytest.raises(auth0.InvalidId):
        auth0.get_organization_by_name(name="x" * 51)
    with pytest.raises(auth0.InvalidId):
        auth0.list_organizations(from_="abc\r\nX-Injected: 1")
    assert isinstance(auth0.InvalidId("x"), ValueError)
    assert len(wire.calls) == 0


def test_traversal_is_encoded_inside_one_segment(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}/members/..%2F..%2Fclients/roles", json=[])
    assert auth0.get_member_roles(org_id=ORG, user_id="../../clients") == []
    path = urlsplit(url_of(wire.calls[1].request)).path
    assert path.endswith("/members/..%2F..%2Fclients/roles")


# --- Secrets and logs -------------------------------------------------------------------------


def test_secrets_never_reach_messages_or_logs(
    wire: responses.RequestsMock, caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="adminsite.auth0")
    errors: list[auth0.Auth0Error] = []

    def attempt(fn: Any) -> None:
        try:
            fn()
        except auth0.Auth0Error as exc:
            errors.append(exc)

    wire.post(
        TOKEN_URL, status=401, json={"error": "access_denied", "error_description": "Unauthorized"}
    )
    attempt(lambda: auth0.get_organization(org_id=ORG))
    wire.post(
        TOKEN_URL,
        status=400,
        json={"error": "invalid_request", "error_description": f"bad secret {SECRET}"},
    )
    attempt(lambda: auth0.get_organization(org_id=ORG))
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}", status=401, json=INVALID_TOKEN)
    add_token(wire, TOKEN_2)
    wire.get(
        f"{API}/organizations/{ORG}",
        status=401,
        json={**INVALID_TOKEN, "message": f"Invalid token {TOKEN_2}"},
    )
    attempt(lambda: auth0.get_organization(org_id=ORG))
    wire.get(f"{API}/organizations/{ORG}", status=500, json={"message": f"oops {SECRET}"})
    attempt(lambda: auth0.get_organization(org_id=ORG))
    wire.get(f"{API}/organizations/{ORG}", body=requests.exceptions.ConnectionError(SECRET[:3]))
    attempt(lambda: auth0.get_organization(org_id=ORG))

    assert len(errors) == 5
    for exc in errors:
        for text in (str(exc), repr(exc), exc.message):
            assert SECRET not in text and TOKEN not in text and TOKEN_2 not in text
    assert "[redacted]" in errors[1].message
    assert caplog.records, "each upstream call is logged at DEBUG"
    assert SECRET not in caplog.text and TOKEN not in caplog.text and TOKEN_2 not in caplog.text
    assert f"GET /api/v2/organizations/{ORG} 500" in caplog.text
    assert "POST /oauth/token 401" in caplog.text


# --- The same code path against the in-process sandbox tenant ---------------------------------


@pytest.fixture
def sandbox(settings: Any) -> Iterator[Any]:
    from adminsite.sandbox import SANDBOX_BASE_URL, default_tenant

    settings.AUTH0_SANDBOX = True
    settings.AUTH0_BASE_URL = SANDBOX_BASE_URL
    settings.AUTH0_AUDIENCE = SANDBOX_BASE_URL + "/api/v2/"
    settings.AUTH0_CLIENT_ID = "org-desk-sandbox"
    settings.AUTH0_CLIENT_SECRET = "sandbox-secret"
    tenant = default_tenant()
    tenant.reset()
    yield tenant
    tenant.clear_faults()
    tenant.reset()


def test_every_operation_against_the_sandbox(sandbox: Any) -> None:
    page = auth0.list_organizations(take=50)
    assert len(page.organizations) == 50 and page.next
    second = auth0.list_organizations(from_=page.next, take=50)
    assert {o.id for o in second.organizations}.isdisjoint({o.id for o in page.organizations})
    org = auth0.get_organization_by_name(name="acme")
    assert auth0.get_organization(org_id=org.id) == org

    enabled = auth0.list_enabled_connections(org_id=org.id)
    assert enabled
    first = enabled[0]
    assert auth0.get_enabled_connection(org_id=org.id, connection_id=first.connection_id) == first
    index = auth0.domain_connection_index()
    assert {e.connection_id for e in enabled} <= set(index)
    flipped = not index[first.connection_id].is_domain_connection
    auth0.set_domain_connection(connection_id=first.connection_id, enabled=flipped)
    assert auth0.domain_connection_index()[first.connection_id].is_domain_connection is flipped
    auth0.remove_enabled_connection(org_id=org.id, connection_id=first.connection_id)
    restored = auth0.add_enabled_connection(
        org_id=org.id,
        connection_id=first.connection_id,
        assign_membership_on_login=first.assign_membership_on_login,
        show_as_button=first.show_as_button,
        is_signup_enabled=first.is_signup_enabled,
    )
    assert restored == first

    members = auth0.list_members(org_id=org.id, take=50)
    odd = next(m for m in members.members if "/" in m.user_id or "|" in m.user_id)
    role = auth0.list_roles()[0]
    held = {r.id for r in auth0.get_member_roles(org_id=org.id, user_id=odd.user_id)}
    if role.id in held:
        auth0.remove_member_roles(org_id=org.id, user_id=odd.user_id, role_ids=[role.id])
    auth0.assign_member_roles(org_id=org.id, user_id=odd.user_id, role_ids=[role.id])
    assert role.id in {r.id for r in auth0.get_member_roles(org_id=org.id, user_id=odd.user_id)}
    assert auth0.find_members(org_id=org.id, email=odd.email)[0].user_id == odd.user_id
    assert auth0.list_roles(name_filter=role.name[:4])


def test_sandbox_faults_map_to_typed_errors(sandbox: Any, settings: Any) -> None:
    settings.AUTH0_TIMEOUT = 0.2
    org = auth0.get_organization_by_name(name="acme")
    sandbox.add_fault(method="GET", path=r"/enabled_connections", delay=1.0)
    with pytest.raises(auth0.Unavailable) as caught:
        auth0.list_enabled_connections(org_id=org.id)
    assert caught.value.reason == "timeout"
    sandbox.expire_tokens()
    assert auth0.get_organization(org_id=org.id) == org  # refreshed once, transparently
    sandbox.set_scopes(["read:organizations"])
    with pytest.raises(auth0.Forbidden) as forbidden:
        auth0.list_members(org_id=org.id)
    assert "read:organization_members" in forbidden.value.missing_scopes


def test_concurrent_first_calls_fetch_one_token(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY)
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(lambda _: auth0.get_organization(org_id=ORG).id, range(16)))
    assert found == [ORG] * 16
    assert [c.request.url for c in wire.calls].count(TOKEN_URL) == 1


def test_a_worker_waits_for_another_workers_token(wire: responses.RequestsMock) -> None:
    # Another worker holds the cache lock and is fetching: use its token, fetch none.
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY)
    key = auth0.client._token_key()
    assert cache.add(f"{key}:lock", 1, timeout=10)
    threading.Timer(0.1, lambda: cache.set(key, TOKEN, timeout=60)).start()
    auth0.get_organization(org_id=ORG)
    assert [c.request.url for c in wire.calls] == [f"{API}/organizations/{ORG}"]
    assert wire.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_worker_that_gets_the_lock_after_another_stored_its_token_fetches_none(
    wire: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between this worker's look at the cache and its taking the lock, another worker stored
    # its token and let the lock go: the token is in the cache by the time the lock is won.
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY)
    key = auth0.client._token_key()
    real_add = cache.add

    def add_after_the_other_worker(lock_key: str, value: Any, timeout: Any = None) -> bool:
        cache.set(key, TOKEN, timeout=60)
        return bool(real_add(lock_key, value, timeout=timeout))

    monkeypatch.setattr(cache, "add", add_after_the_other_worker)
    auth0.get_organization(org_id=ORG)
    assert [c.request.url for c in wire.calls] == [f"{API}/organizations/{ORG}"]
    assert wire.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
