"""The transport's metrics: every exchange counted by endpoint group and status, 429s, rate-limit
waits and refusals, token fetches by outcome, and the budget left; no id ever in a label."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
import responses
from prometheus_client import REGISTRY

from adminsite import auth0, metrics
from tests.auth0.helpers import (
    API,
    CON,
    ODD_USER,
    ODD_USER_ENC,
    ORG,
    ORG_BODY,
    SECRET,
    TOKEN,
    TOKEN_URL,
    add_token,
)

TOO_MANY = {
    "statusCode": 429,
    "error": "Too Many Requests",
    "message": "Global limit has been reached",
    "errorCode": "too_many_requests",
}


def value(name: str, **labels: str) -> float:
    """A sample of this process's registry (tests run without PROMETHEUS_MULTIPROC_DIR)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """Samples before and after: counters only ever grow across the test session."""

    def __init__(self, *samples: tuple[str, dict[str, str]]) -> None:
        self.samples = samples
        self.before = [value(name, **labels) for name, labels in samples]

    def __call__(self) -> list[float]:
        return [
            value(name, **labels) - before
            for (name, labels), before in zip(self.samples, self.before, strict=True)
        ]


def calls(group: str, status: str) -> tuple[str, dict[str, str]]:
    return "orgdesk_upstream_calls_total", {"group": group, "status": status}


def latency_count(group: str) -> tuple[str, dict[str, str]]:
    return "orgdesk_upstream_duration_seconds_count", {"group": group}


# --- Endpoint groups --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "group"),
    [
        ("/api/v2/organizations", "organizations"),
        (f"/api/v2/organizations/{ORG}", "organizations"),
        ("/api/v2/organizations/name/acme", "organizations.name"),
        ("/api/v2/organizations/name/members", "organizations.name"),  # an org named "members"
        ("/api/v2/organizations/search", "organizations.search"),
        (f"/api/v2/organizations/{ORG}/enabled_connections", "organizations.enabled_connections"),
        (
            f"/api/v2/organizations/{ORG}/enabled_connections/{CON}",
            "organizations.enabled_connections",
        ),
        (f"/api/v2/organizations/{ORG}/members", "organizations.members"),
        (
            f"/api/v2/organizations/{ORG}/members/{ODD_USER_ENC}/roles",
            "organizations.members.roles",
        ),
        (f"/api/v2/organizations/{ORG}/invitations/uinv_1", "organizations.invitations"),
        ("/api/v2/roles", "roles"),
        (f"/api/v2/users/{ODD_USER_ENC}", "users"),
        (f"/api/v2/users/{ODD_USER_ENC}/organizations", "users.organizations"),
        ("/api/v2/users-by-email", "users-by-email"),
        ("/api/v2/connections", "connections"),
        (f"/api/v2/connections/{CON}", "connections"),
        ("/api/v2/clients", "clients"),
        ("/api/v2/jobs/job_1", "jobs"),
        ("/oauth/token", "token"),
        # never an id, whatever is called
        (f"/api/v2/organizations/{ORG}/{ORG}", "other"),
        (f"/api/v2/{ORG}", "other"),
        ("/api/v2/organizations/name/acme/extra", "other"),
        (f"/elsewhere/{ORG}", "other"),
        ("/api/v2/users/auth0|1/roles/x/y", "other"),
    ],
)
def test_endpoint_group_has_no_ids(path: str, group: str) -> None:
    assert metrics.endpoint_group(path) == group


# --- Calls, statuses and latency --------------------------------------------------------------


def test_calls_are_counted_by_group_and_status(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY)
    roles = f"{API}/organizations/{ORG}/members/{ODD_USER_ENC}/roles"
    wire.post(roles, status=204)
    wire.get(f"{API}/organizations/org_gone", status=404, json={"statusCode": 404})
    delta = Delta(
        calls("token", "200"),
        calls("organizations", "200"),
        calls("organizations.members.roles", "204"),
        calls("organizations", "404"),
        latency_count("organizations"),
        latency_count("token"),
    )
    auth0.get_organization(org_id=ORG)
    auth0.assign_member_roles(org_id=ORG, user_id=ODD_USER, role_ids=["rol_48sn6VuZrMwptwVC"])
    with pytest.raises(auth0.NotFound):
        auth0.get_organization(org_id="org_gone")
    assert delta() == [1, 1, 1, 1, 2, 1]


def test_no_answer_is_timeout_or_error(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}", body=requests.ReadTimeout("slow"))
    wire.get(f"{API}/organizations/{ORG}", body=requests.ConnectionError("refused"))
    delta = Delta(calls("organizations", "timeout"), calls("organizations", "error"))
    for _ in range(2):
        with pytest.raises(auth0.Unavailable):
            auth0.get_organization(org_id=ORG)
    assert delta() == [1, 1]


def test_budget_left_is_the_latest_answers(wire: responses.RequestsMock) -> None:
    add_token(wire)
    reset = str(int(time.time()) + 60)
    for remaining in ("41", "40"):
        wire.get(
            f"{API}/organizations/{ORG}",
            json=ORG_BODY,
            headers={"x-ratelimit-remaining": remaining, "x-ratelimit-reset": reset},
        )
    auth0.get_organization(org_id=ORG)
    assert value("orgdesk_rate_budget_remaining", group="organizations") == 41
    auth0.get_organization(org_id=ORG)
    assert value("orgdesk_rate_budget_remaining", group="organizations") == 40


# --- 429s, waits and refusals -----------------------------------------------------------------


def test_a_429_retried_after_a_short_wait_is_counted(
    wire: responses.RequestsMock, sleeps: list[float]
) -> None:
    add_token(wire)
    url = f"{API}/organizations/{ORG}"
    wire.get(url, status=429, json=TOO_MANY, headers={"retry-after": "1"})
    wire.get(url, json=ORG_BODY)
    delta = Delta(
        ("orgdesk_upstream_rate_limited_total", {"group": "organizations"}),
        calls("organizations", "429"),
        calls("organizations", "200"),
        ("orgdesk_rate_limit_waits_total", {"reason": "retry"}),
        ("orgdesk_rate_limit_wait_seconds_total", {"reason": "retry"}),
    )
    auth0.get_organization(org_id=ORG)
    assert sleeps == [1.0]
    assert delta() == [1, 1, 1, 1, 1.0]


def test_a_spent_budget_is_counted_as_refused(
    wire: responses.RequestsMock, sleeps: list[float]
) -> None:
    add_token(wire)
    reset = str(int(time.time()) + 60)
    wire.get(
        f"{API}/organizations/{ORG}",
        status=429,
        json=TOO_MANY,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
    )
    delta = Delta(
        ("orgdesk_upstream_rate_limited_total", {"group": "organizations"}),
        ("orgdesk_rate_limit_refused_total", {"group": "organizations"}),
    )
    with pytest.raises(auth0.RateLimited):
        auth0.get_organization(org_id=ORG)  # Auth0's 429, a minute away: not retried
    assert delta() == [1, 0]
    with pytest.raises(auth0.RateLimited):
        auth0.get_organization(org_id=ORG)  # not sent: `wire` would refuse a second call
    assert delta() == [1, 1]
    assert sleeps == []


def test_a_wait_for_the_shared_budget_is_counted(wire: responses.RequestsMock) -> None:
    """The budget runs out with a reset 0.3 s away: the next call waits for it (real sleep)."""
    add_token(wire)
    url = f"{API}/organizations/{ORG}"
    reset = f"{time.time() + 0.3:.3f}"
    wire.get(url, json=ORG_BODY, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
    wire.get(url, json=ORG_BODY)
    delta = Delta(
        ("orgdesk_rate_limit_waits_total", {"reason": "budget"}),
        ("orgdesk_rate_limit_wait_seconds_total", {"reason": "budget"}),
    )
    auth0.get_organization(org_id=ORG)
    assert delta() == [0, 0]
    auth0.get_organization(org_id=ORG)
    waits, seconds = delta()
    assert waits == 1 and 0.1 < seconds < 1.0


# --- Token fetches ----------------------------------------------------------------------------


def fetches(outcome: str) -> tuple[str, dict[str, str]]:
    return "orgdesk_token_fetches_total", {"outcome": outcome}


def test_token_fetches_by_outcome(wire: responses.RequestsMock) -> None:
    delta = Delta(fetches("ok"), fetches("rejected"), fetches("unavailable"), calls("token", "401"))
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY)
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY)
    auth0.get_organization(org_id=ORG)
    auth0.get_organization(org_id=ORG)  # the cached token: no second fetch
    assert delta() == [1, 0, 0, 0]

    from django.core.cache import cache

    cache.clear()
    wire.post(TOKEN_URL, status=401, json={"error": "access_denied"})
    with pytest.raises(auth0.Unauthorized):
        auth0.get_organization(org_id=ORG)
    assert delta() == [1, 1, 0, 1]

    wire.post(TOKEN_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(auth0.Unavailable):
        auth0.get_organization(org_id=ORG)
    wire.post(TOKEN_URL, json={"token_type": "Bearer"})  # no token in the answer
    with pytest.raises(auth0.Unavailable):
        auth0.get_organization(org_id=ORG)
    assert delta() == [1, 1, 2, 1]


def test_no_secret_or_id_in_any_label(wire: responses.RequestsMock, settings: Any) -> None:
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY)
    wire.get(f"{API}/organizations/{ORG}/members/{ODD_USER_ENC}/roles", json={"roles": []})
    auth0.get_organization(org_id=ORG)
    auth0.get_member_roles(org_id=ORG, user_id=ODD_USER)
    from prometheus_client import generate_latest

    text = generate_latest(REGISTRY).decode()
    assert "orgdesk_upstream_calls_total" in text
    for secret in (SECRET, TOKEN, ORG, ODD_USER, ODD_USER_ENC, "jane", settings.AUTH0_BASE_URL):
        assert secret not in text
