"""The service module's changes to an organization's connections and members:
update_enabled_connection, list_connections, add_members and remove_members in batches of 10.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import responses
from responses import matchers

from adminsite import auth0
from tests.auth0.helpers import (
    API,
    CON,
    ENABLED_BODY,
    ODD_USER,
    ODD_USER_ENC,
    ORG,
    add_token,
    api_calls,
    json_sent,
    url_of,
)

SIGNUP_RULE = {
    "statusCode": 400,
    "error": "Bad Request",
    "message": "Only database connections with assign_membership_on_login = true support "
    "is_signup_enabled = true.",
    "errorCode": "invalid_body",
}

# --- update_enabled_connection ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "sent"),
    [
        ({"show_as_button": False}, {"show_as_button": False}),
        ({"assign_membership_on_login": True}, {"assign_membership_on_login": True}),
        (
            {"assign_membership_on_login": True, "is_signup_enabled": True},
            {"assign_membership_on_login": True, "is_signup_enabled": True},
        ),
        (
            {
                "assign_membership_on_login": False,
                "show_as_button": True,
                "is_signup_enabled": False,
            },
            {
                "assign_membership_on_login": False,
                "show_as_button": True,
                "is_signup_enabled": False,
            },
        ),
    ],
)
def test_update_enabled_connection_sends_only_what_is_given(
    wire: responses.RequestsMock, kwargs: dict[str, Any], sent: dict[str, Any]
) -> None:
    add_token(wire)
    wire.patch(
        f"{API}/organizations/{ORG}/enabled_connections/{CON}",
        match=[matchers.json_params_matcher(sent, strict_match=True)],
        json={**ENABLED_BODY, **sent},
    )
    updated = auth0.update_enabled_connection(org_id=ORG, connection_id=CON, **kwargs)
    assert updated.connection_id == CON and updated.name == "test-conn84"
    if "show_as_button" in sent:
        assert updated.show_as_button is sent["show_as_button"]
    assert api_calls(wire) == [f"PATCH /api/v2/organizations/{ORG}/enabled_connections/{CON}"]


def test_update_enabled_connection_with_nothing_to_change_calls_nothing(
    wire: responses.RequestsMock,
) -> None:
    with pytest.raises(auth0.InvalidId, match="at least one setting"):
        auth0.update_enabled_connection(org_id=ORG, connection_id=CON)
    assert len(wire.calls) == 0


@pytest.mark.parametrize(
    ("org_id", "connection_id"),
    [
        ("org_../x", CON),
        (ORG, "con_abc/../def"),
        (ORG, "con_%2e%2e"),
        (ORG, "conn_8vltfmSkOUXA8Ojf"),
        ("", CON),
        (ORG, None),
    ],
)
def test_update_enabled_connection_refuses_bad_ids(
    wire: responses.RequestsMock, org_id: Any, connection_id: Any
) -> None:
    with pytest.raises(auth0.InvalidId):
        auth0.update_enabled_connection(
            org_id=org_id, connection_id=connection_id, show_as_button=True
        )
    assert len(wire.calls) == 0


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, SIGNUP_RULE, auth0.BadRequest),
        (
            404,
            {"statusCode": 404, "error": "Not Found", "message": "No connection found by that id"},
            auth0.NotFound,
        ),
        (
            403,
            {
                "statusCode": 403,
                "error": "Forbidden",
                "message": "Insufficient scope, expected any of: update:organization_connections",
                "errorCode": "insufficient_scope",
            },
            auth0.Forbidden,
        ),
    ],
)
def test_update_enabled_connection_errors(
    wire: responses.RequestsMock, status: int, body: dict[str, Any], error: type[Exception]
) -> None:
    add_token(wire)
    wire.patch(f"{API}/organizations/{ORG}/enabled_connections/{CON}", status=status, json=body)
    with pytest.raises(error) as caught:
        auth0.update_enabled_connection(org_id=ORG, connection_id=CON, is_signup_enabled=True)
    assert isinstance(caught.value, auth0.Auth0Error)
    assert caught.value.message == body["message"]
    if isinstance(caught.value, auth0.Forbidden):
        assert caught.value.missing_scopes == ["update:organization_connections"]


def test_add_enabled_connection_defaults_are_auth0s(wire: responses.RequestsMock) -> None:
    add_token(wire)
    sent = {"connection_id": CON, "assign_membership_on_login": False, "show_as_button": True}
    wire.post(
        f"{API}/organizations/{ORG}/enabled_connections",
        match=[matchers.json_params_matcher(sent, strict_match=True)],
        status=201,
        json={**sent, "connection": {"name": "okta", "strategy": "okta"}},
    )
    added = auth0.add_enabled_connection(org_id=ORG, connection_id=CON)
    assert added == auth0.EnabledConnection(CON, "okta", "okta", False, True, None)


def test_add_enabled_connection_conflict_is_typed(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.post(
        f"{API}/organizations/{ORG}/enabled_connections",
        status=409,
        json={
            "statusCode": 409,
            "error": "Conflict",
            "message": "The organization connection already exists.",
        },
    )
    with pytest.raises(auth0.Conflict, match="already exists"):
        auth0.add_enabled_connection(org_id=ORG, connection_id=CON)


# --- list_connections ---------------------------------------------------------------------------


def test_list_connections_reuses_the_cached_index(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        API + "/connections",
        json={
            "connections": [
                {"id": "con_B", "name": "okta-acme", "strategy": "okta"},
                {"id": "con_A", "name": "Username-Password", "strategy": "auth0"},
                {
                    "id": "con_C",
                    "name": "google-oauth2",
                    "strategy": "google-oauth2",
                    "is_domain_connection": True,
                },
            ]
        },
    )
    first = auth0.list_connections()
    assert [c.name for c in first] == ["google-oauth2", "okta-acme", "Username-Password"]
    assert first[0] == auth0.Connection("con_C", "google-oauth2", "google-oauth2", True)
    assert auth0.list_connections() == first  # cached: one GET /connections for both
    assert auth0.domain_connection_index()["con_A"].strategy == "auth0"
    assert api_calls(wire) == [
        "GET /api/v2/connections?fields=id%2Cname%2Cstrategy%2Cis_domain_connection"
        "&include_fields=true&take=50"
    ]


# --- add_members / remove_members ---------------------------------------------------------------


def _ids(n: int) -> list[str]:
    return [f"auth0|{i:024x}" for i in range(n)]


@pytest.mark.parametrize(("method", "fn"), [("POST", "add_members"), ("DELETE", "remove_members")])
def test_members_are_sent_ten_at_a_time(wire: responses.RequestsMock, method: str, fn: str) -> None:
    add_token(wire)
    url = f"{API}/organizations/{ORG}/members"
    for _ in range(3):
        wire.add(method, url, status=204)
    ids = _ids(23)
    result = getattr(auth0, fn)(org_id=ORG, user_ids=ids)
    assert [json_sent(c.request) for c in wire.calls[1:]] == [
        {"members": ids[:10]},
        {"members": ids[10:20]},
        {"members": ids[20:]},
    ]
    assert result == auth0.MemberBatches(tuple(ids), tuple(ids), (), ())
    assert result.complete and result.stopped_by is None


def test_duplicates_are_sent_once_and_odd_ids_stay_in_the_body(
    wire: responses.RequestsMock,
) -> None:
    add_token(wire)
    wire.post(
        f"{API}/organizations/{ORG}/members",
        match=[matchers.json_params_matcher({"members": [ODD_USER, "auth0|1"]}, strict_match=True)],
        status=204,
    )
    result = auth0.add_members(org_id=ORG, user_ids=[ODD_USER, "auth0|1", ODD_USER])
    assert result.requested == (ODD_USER, "auth0|1") and result.done == result.requested
    assert urlsplit(url_of(wire.calls[1].request)).path == f"/api/v2/organizations/{ORG}/members"
    assert ODD_USER_ENC not in url_of(wire.calls[1].request)  # ids travel in the body


def test_a_refused_batch_does_not_stop_the_others(wire: responses.RequestsMock) -> None:
    add_token(wire)
    url = f"{API}/organizations/{ORG}/members"
    refused = {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Payload validation error: 'String is too long' on property members[3].",
        "errorCode": "invalid_body",
    }
    wire.post(url, status=204)
    wire.post(url, status=400, json=refused)
    wire.post(url, status=204)
    ids = _ids(23)
    result = auth0.add_members(org_id=ORG, user_ids=ids)
    assert result.done == tuple(ids[:10] + ids[20:])  # "added 13 of 23"
    [failure] = result.failed
    assert failure.user_ids == tuple(ids[10:20])
    assert isinstance(failure.error, auth0.BadRequest)
    assert failure.error.message == refused["message"]
    assert failure.error.error_code == "invalid_body"
    assert result.not_sent == () and not result.complete and result.stopped_by is None


def test_an_unknown_user_fails_its_batch_only(wire: responses.RequestsMock) -> None:
    add_token(wire)
    url = f"{API}/organizations/{ORG}/members"
    wire.post(
        url,
        status=404,
        json={
            "statusCode": 404,
            "error": "Not Found",
            "message": "The user does not exist.",
            "errorCode": "inexistent_user",
        },
    )
    wire.post(url, status=204)
    ids = _ids(12)
    result = auth0.add_members(org_id=ORG, user_ids=ids)
    assert result.done == tuple(ids[10:])
    assert isinstance(result.failed[0].error, auth0.NotFound)


def test_a_rate_limit_stops_the_remaining_batches(
    wire: responses.RequestsMock, sleeps: list[float]
) -> None:
    add_token(wire)
    url = f"{API}/organizations/{ORG}/members"
    wire.delete(url, status=204)
    wire.delete(
        url,
        status=429,
        json={
            "statusCode": 429,
            "error": "Too Many Requests",
            "message": "Global limit has been reached",
            "errorCode": "too_many_requests",
        },
        headers={"X-RateLimit-Reset": "9999999999", "X-RateLimit-Remaining": "0"},
    )
    ids = _ids(35)
    result = auth0.remove_members(org_id=ORG, user_ids=ids)
    assert result.done == tuple(ids[:10])
    assert result.failed[0].user_ids == tuple(ids[10:20])
    assert result.not_sent == tuple(ids[20:])
    assert isinstance(result.stopped_by, auth0.RateLimited)
    assert len(wire.calls) == 3 and sleeps == []  # a long reset is not waited for


def test_an_answer_lost_after_sending_leaves_the_rest_unsent(wire: responses.RequestsMock) -> None:
    import requests

    add_token(wire)
    url = f"{API}/organizations/{ORG}/members"
    wire.post(url, status=204)
    wire.post(url, body=requests.ConnectionError("reset by peer"))
    ids = _ids(30)
    result = auth0.add_members(org_id=ORG, user_ids=ids)
    assert result.done == tuple(ids[:10])
    assert isinstance(result.stopped_by, auth0.Unavailable)
    assert result.failed[0].user_ids == tuple(ids[10:20]) and result.not_sent == tuple(ids[20:])


def test_when_no_batch_was_applied_the_first_error_is_raised(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.post(
        f"{API}/organizations/{ORG}/members",
        status=403,
        json={
            "statusCode": 403,
            "error": "Forbidden",
            "message": "Insufficient scope, expected any of: create:organization_members",
            "errorCode": "insufficient_scope",
        },
    )
    with pytest.raises(auth0.Forbidden) as caught:
        auth0.add_members(org_id=ORG, user_ids=_ids(25))
    assert caught.value.missing_scopes == ["create:organization_members"]
    assert len(wire.calls) == 2  # one batch tried, the other two not sent


def test_every_batch_refused_raises_the_first(wire: responses.RequestsMock) -> None:
    add_token(wire)
    url = f"{API}/organizations/{ORG}/members"
    for n in (1, 2):
        wire.post(
            url,
            status=400,
            json={"statusCode": 400, "error": "Bad Request", "message": f"no {n}"},
        )
    with pytest.raises(auth0.BadRequest, match="no 1"):
        auth0.add_members(org_id=ORG, user_ids=_ids(11))


def test_org_not_found_is_typed(wire: responses.RequestsMock) -> None:
    add_token(wire)
    url = f"{API}/organizations/{ORG}/members"
    for _ in range(2):
        wire.delete(
            url,
            status=404,
            json={
                "statusCode": 404,
                "error": "Not Found",
                "message": "No organization found by that id or name",
            },
        )
    with pytest.raises(auth0.NotFound, match="No organization found"):
        auth0.remove_members(org_id=ORG, user_ids=_ids(20))


@pytest.mark.parametrize(
    "user_ids",
    [
        [],
        "auth0|1",
        ["auth0|1", ""],
        ["auth0|1", ".."],
        ["auth0|1", "x" * 256],
        ["auth0|1", "bad\nid"],
        ["auth0|1", None],
        [*_ids(15), "."],
    ],
)
def test_members_are_validated_before_any_call(wire: responses.RequestsMock, user_ids: Any) -> None:
    for fn in (auth0.add_members, auth0.remove_members):
        with pytest.raises(auth0.InvalidId):
            fn(org_id=ORG, user_ids=user_ids)
    with pytest.raises(auth0.InvalidId):
        auth0.add_members(org_id="org_a/b", user_ids=["auth0|1"])
    assert len(wire.calls) == 0


def test_a_change_not_answered_204_is_not_reported_done(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.post(f"{API}/organizations/{ORG}/members", status=200, json={"ok": True})
    with pytest.raises(auth0.Unavailable) as caught:
        auth0.add_members(org_id=ORG, user_ids=["auth0|1"])
    assert caught.value.reason == "bad_response"
