"""The service module's invitations and applications: list, create, get and revoke
invitations; list clients. Bodies follow go-auth0's recordings (TestOrganizationManager_
CreateInvitation, _Invitations, _DeleteInvitation).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from responses import matchers

from adminsite import auth0
from adminsite.auth0 import models
from tests.auth0.helpers import API, CON, ORG, add_token, api_calls, json_sent, query

INV = "uinv_5gwDyykSX1fq6xoP"
APP = "GpqJK4fkbWJHtMk6BGzutEssxz5dAJ78"
URL = (
    "https://mycompany.org/login?invitation=Mh3BJVTaC4nsZImXBzPulFiq5kFP1KLs"
    f"&organization={ORG}&organization_name=test-organization189"
)
RECORDED: dict[str, Any] = {
    "id": INV,
    "client_id": APP,
    "inviter": {"name": "Test Inviter"},
    "invitee": {"email": "test@example.com"},
    "invitation_url": URL,
    "ticket_id": "Mh3BJVTaC4nsZImXBzPulFiq5kFP1KLs",
    "created_at": "2023-01-25T17:49:32.656Z",
    "expires_at": "2023-02-01T17:49:32.656Z",
    "organization_id": ORG,
}
NO_INVITATION = {
    "statusCode": 404,
    "error": "Not Found",
    "message": "The invitation does not exist.",
    "errorCode": "inexistent_invitation",
}


def test_invitation_is_parsed_from_the_recorded_body() -> None:
    inv = models.invitation(RECORDED)
    assert inv == auth0.Invitation(
        id=INV,
        organization_id=ORG,
        invitee_email="test@example.com",
        inviter_name="Test Inviter",
        client_id=APP,
        connection_id="",
        roles=(),
        invitation_url=URL,
        ticket_id="Mh3BJVTaC4nsZImXBzPulFiq5kFP1KLs",
        created_at=datetime(2023, 1, 25, 17, 49, 32, 656000, tzinfo=UTC),
        expires_at=datetime(2023, 2, 1, 17, 49, 32, 656000, tzinfo=UTC),
    )
    assert inv.expired() and not inv.expired(datetime(2023, 1, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    "bad",
    [
        {**RECORDED, "roles": "rol_x"},
        {**RECORDED, "roles": [1]},
        {**RECORDED, "expires_at": "next tuesday"},
        {**RECORDED, "created_at": 1674668972},
        {**RECORDED, "invitee": "test@example.com"},
        {k: v for k, v in RECORDED.items() if k != "id"},
    ],
)
def test_an_invitation_of_the_wrong_shape_is_a_bad_response(bad: dict[str, Any]) -> None:
    with pytest.raises(auth0.Unavailable) as caught:
        models.invitation(bad)
    assert caught.value.reason == "bad_response"


# --- list ---------------------------------------------------------------------------------------


def test_list_invitations_offset_page(wire: responses.RequestsMock) -> None:
    add_token(wire)
    with_roles = {**RECORDED, "id": "uinv_2", "roles": ["rol_a"], "connection_id": CON}
    wire.get(
        f"{API}/organizations/{ORG}/invitations",
        match=[
            matchers.query_param_matcher({"page": "0", "per_page": "2", "include_totals": "true"})
        ],
        json={"invitations": [RECORDED, with_roles], "start": 0, "limit": 2},
    )
    page = auth0.list_invitations(org_id=ORG, per_page=2)
    assert [i.id for i in page.invitations] == [INV, "uinv_2"]
    assert page.invitations[1].roles == ("rol_a",) and page.invitations[1].connection_id == CON
    assert (page.page, page.next_page) == (0, 1)  # a full page: there may be more


def test_list_invitations_short_page_is_the_last(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        f"{API}/organizations/{ORG}/invitations",
        json={"invitations": [RECORDED], "start": 50, "limit": 1},
    )
    page = auth0.list_invitations(org_id=ORG, page=1)
    assert query(wire, 1) == [("page", "1"), ("per_page", "50"), ("include_totals", "true")]
    assert page.next_page is None and len(page.invitations) == 1


def test_list_invitations_takes_a_bare_array_too(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}/invitations", json=[RECORDED])
    assert auth0.list_invitations(org_id=ORG).invitations[0].id == INV


def test_list_invitations_stops_at_the_offset_cap(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        f"{API}/organizations/{ORG}/invitations",
        json={"invitations": [RECORDED] * 50, "start": 950, "limit": 50},
    )
    assert auth0.list_invitations(org_id=ORG, page=19).next_page is None
    with pytest.raises(auth0.InvalidId, match="1,000"):
        auth0.list_invitations(org_id=ORG, page=20)
    assert len(wire.calls) == 2


def test_list_invitations_org_gone(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        f"{API}/organizations/{ORG}/invitations",
        status=404,
        json={"statusCode": 404, "error": "Not Found", "message": "No organization found"},
    )
    with pytest.raises(auth0.NotFound):
        auth0.list_invitations(org_id=ORG)


# --- get and delete ------------------------------------------------------------------------------


def test_get_and_delete_invitation(wire: responses.RequestsMock) -> None:
    add_token(wire)
    url = f"{API}/organizations/{ORG}/invitations/{INV}"
    wire.get(url, json=RECORDED)
    wire.delete(url, status=204)
    wire.get(url, status=404, json=NO_INVITATION)
    wire.delete(url, status=404, json=NO_INVITATION)
    assert auth0.get_invitation(org_id=ORG, invitation_id=INV).ticket_id == RECORDED["ticket_id"]
    auth0.delete_invitation(org_id=ORG, invitation_id=INV)
    with pytest.raises(auth0.NotFound) as caught:
        auth0.get_invitation(org_id=ORG, invitation_id=INV)
    assert caught.value.error_code == "inexistent_invitation"
    with pytest.raises(auth0.NotFound):
        auth0.delete_invitation(org_id=ORG, invitation_id=INV)
    assert api_calls(wire) == [
        f"GET /api/v2/organizations/{ORG}/invitations/{INV}",
        f"DELETE /api/v2/organizations/{ORG}/invitations/{INV}",
        f"GET /api/v2/organizations/{ORG}/invitations/{INV}",
        f"DELETE /api/v2/organizations/{ORG}/invitations/{INV}",
    ]


@pytest.mark.parametrize(
    "invitation_id",
    ["", "uinv_", "uinv_a/b", "uinv_../x", "uinv_%2e", "inv_5gwDyykSX1fq6xoP", "uinv_a?b", None],
)
def test_invitation_ids_are_checked_before_any_call(
    wire: responses.RequestsMock, invitation_id: Any
) -> None:
    for fn in (auth0.get_invitation, auth0.delete_invitation):
        with pytest.raises(auth0.InvalidId):
            fn(org_id=ORG, invitation_id=invitation_id)
    with pytest.raises(auth0.InvalidId):
        auth0.get_invitation(org_id="org_x#y", invitation_id=INV)
    assert len(wire.calls) == 0


# --- create --------------------------------------------------------------------------------------


def test_create_invitation_sends_the_recorded_minimum(wire: responses.RequestsMock) -> None:
    add_token(wire)
    sent = {
        "inviter": {"name": "Test Inviter"},
        "invitee": {"email": "test@example.com"},
        "client_id": APP,
        "send_invitation_email": True,
    }
    wire.post(
        f"{API}/organizations/{ORG}/invitations",
        match=[matchers.json_params_matcher(sent, strict_match=True)],
        status=201,
        json=RECORDED,
    )
    inv = auth0.create_invitation(
        org_id=ORG, inviter_name="Test Inviter", invitee_email=" test@example.com ", client_id=APP
    )
    assert inv.id == INV and inv.invitation_url.startswith("https://mycompany.org/login?")


def test_create_invitation_with_everything(wire: responses.RequestsMock) -> None:
    add_token(wire)
    roles = [f"rol_{i:016d}" for i in range(50)]
    wire.post(
        f"{API}/organizations/{ORG}/invitations",
        status=200,  # the docs' table says 200, the recording 201: both are success
        json={**RECORDED, "roles": roles, "connection_id": CON},
    )
    inv = auth0.create_invitation(
        org_id=ORG,
        inviter_name="  Ana   de  Souza ",
        invitee_email="jane+org@acme.example",
        client_id=APP,
        connection_id=CON,
        roles=[*roles, roles[0]],
        ttl_sec=2_592_000,
        send_invitation_email=False,
    )
    assert json_sent(wire.calls[1].request) == {
        "inviter": {"name": "Ana de Souza"},
        "invitee": {"email": "jane+org@acme.example"},
        "client_id": APP,
        "connection_id": CON,
        "roles": roles,
        "ttl_sec": 2_592_000,
        "send_invitation_email": False,
    }
    assert inv.roles == tuple(roles) and inv.connection_id == CON


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"ttl_sec": 2_592_001}, "30 days"),
        ({"ttl_sec": -1}, "30 days"),
        ({"ttl_sec": True}, "whole number"),
        ({"ttl_sec": 3600.5}, "whole number"),
        ({"roles": [f"rol_{i:016d}" for i in range(51)]}, "at most 50 roles"),
        ({"roles": ["rol_ok", "admin"]}, "role id"),
        ({"roles": "rol_abc"}, "list of role ids"),
        ({"client_id": "abc/../def"}, "client"),
        ({"client_id": "a.b"}, "client"),
        ({"client_id": ""}, "client"),
        ({"connection_id": "con_x/y"}, "connection id"),
        ({"invitee_email": "not-an-email"}, "email"),
        ({"invitee_email": "a b@c.example"}, "email"),
        ({"invitee_email": "@acme.example"}, "email"),
        ({"invitee_email": "x" * 250 + "@a.example"}, "email"),
        ({"inviter_name": "   "}, "inviter"),
        ({"inviter_name": "Ana\x00"}, "inviter"),
        ({"inviter_name": "A" * 301}, "300"),
        ({"org_id": "org_?x"}, "organization id"),
    ],
)
def test_create_invitation_is_checked_before_any_call(
    wire: responses.RequestsMock, change: dict[str, Any], match: str
) -> None:
    kwargs: dict[str, Any] = {
        "org_id": ORG,
        "inviter_name": "Ana",
        "invitee_email": "jane@acme.example",
        "client_id": APP,
        **change,
    }
    with pytest.raises(auth0.InvalidId, match=match):
        auth0.create_invitation(**kwargs)
    assert len(wire.calls) == 0


def test_create_invitation_ttl_zero_is_auth0s_default(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.post(f"{API}/organizations/{ORG}/invitations", status=201, json=RECORDED)
    auth0.create_invitation(
        org_id=ORG, inviter_name="Ana", invitee_email="j@a.example", client_id=APP, ttl_sec=0
    )
    assert json_sent(wire.calls[1].request)["ttl_sec"] == 0


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            400,
            {
                "statusCode": 400,
                "error": "Bad Request",
                "message": "A default login route is required to generate the invitation url.",
                "errorCode": "invalid_body",
            },
            auth0.BadRequest,
        ),
        (
            400,
            {
                "statusCode": 400,
                "error": "Bad Request",
                "message": "One or more of the specified roles do not exist: rol_x",
                "errorCode": "invalid_body",
            },
            auth0.BadRequest,
        ),
        (
            404,
            {
                "statusCode": 404,
                "error": "Not Found",
                "message": "No organization found by that id.",
            },
            auth0.NotFound,
        ),
        (
            409,
            {"statusCode": 409, "error": "Conflict", "message": "Conflict"},
            auth0.Conflict,
        ),
        (
            403,
            {
                "statusCode": 403,
                "error": "Forbidden",
                "message": "Insufficient scope, expected any of: create:organization_invitations",
                "errorCode": "insufficient_scope",
            },
            auth0.Forbidden,
        ),
        (
            503,
            {"statusCode": 503, "error": "Service Unavailable", "message": "x"},
            auth0.Unavailable,
        ),
    ],
)
def test_create_invitation_errors_are_typed(
    wire: responses.RequestsMock, status: int, body: dict[str, Any], error: type[Exception]
) -> None:
    add_token(wire)
    wire.post(f"{API}/organizations/{ORG}/invitations", status=status, json=body)
    with pytest.raises(error) as caught:
        auth0.create_invitation(
            org_id=ORG, inviter_name="Ana", invitee_email="j@a.example", client_id=APP
        )
    assert isinstance(caught.value, auth0.Auth0Error)
    assert caught.value.status_code == status and caught.value.message == body["message"]


def test_create_invitation_rate_limited_is_not_retried_long(
    wire: responses.RequestsMock, sleeps: list[float]
) -> None:
    add_token(wire)
    wire.post(
        f"{API}/organizations/{ORG}/invitations",
        status=429,
        json={
            "statusCode": 429,
            "error": "Too Many Requests",
            "message": "Global limit has been reached",
            "errorCode": "too_many_requests",
        },
        headers={"X-RateLimit-Reset": "9999999999"},
    )
    with pytest.raises(auth0.RateLimited):
        auth0.create_invitation(
            org_id=ORG, inviter_name="Ana", invitee_email="j@a.example", client_id=APP
        )
    assert sleeps == [] and len(wire.calls) == 2


# --- clients ------------------------------------------------------------------------------------

CLIENTS_QUERY = {
    "fields": "client_id,name,app_type",
    "include_fields": "true",
    "is_global": "false",
    "per_page": "50",
    "include_totals": "true",
}


def test_list_clients_walks_pages_and_marks_invitable_ones(wire: responses.RequestsMock) -> None:
    add_token(wire)
    first = [{"client_id": f"c{i:031d}", "name": f"App {i}", "app_type": "spa"} for i in range(50)]
    second = [
        {
            "client_id": "m2m000000000000000000000000000000",
            "name": "Billing sync",
            "app_type": "non_interactive",
        },
        {"client_id": "legacy0000000000000000000000000000"},
        {
            "client_id": "web0000000000000000000000000000000",
            "name": "Portal",
            "app_type": "regular_web",
        },
    ]
    wire.get(
        API + "/clients",
        match=[matchers.query_param_matcher({**CLIENTS_QUERY, "page": "0"})],
        json={"clients": first, "start": 0, "limit": 50, "total": 53},
    )
    wire.get(
        API + "/clients",
        match=[matchers.query_param_matcher({**CLIENTS_QUERY, "page": "1"})],
        json={"clients": second, "start": 50, "limit": 50, "total": 53},
    )
    clients = auth0.list_clients()
    assert len(clients) == 53
    m2m, legacy, web = clients[50:]
    assert m2m == auth0.Client(
        "m2m000000000000000000000000000000", "Billing sync", "non_interactive"
    )
    assert not m2m.accepts_invitations
    assert legacy.name == legacy.client_id and legacy.app_type == ""
    assert not legacy.accepts_invitations
    assert web.accepts_invitations and clients[0].accepts_invitations


def test_list_clients_without_a_read_scope(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        API + "/clients",
        status=403,
        json={
            "statusCode": 403,
            "error": "Forbidden",
            "message": "Insufficient scope, expected any of: read:clients, read:client_keys, "
            "read:client_credentials, read:client_summary",
            "errorCode": "insufficient_scope",
        },
    )
    with pytest.raises(auth0.Forbidden) as caught:
        auth0.list_clients()
    assert "read:clients" in caught.value.missing_scopes


def test_a_client_without_an_id_is_a_bad_response(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        API + "/clients", json={"clients": [{"name": "x"}], "start": 0, "limit": 50, "total": 1}
    )
    with pytest.raises(auth0.Unavailable):
        auth0.list_clients()
