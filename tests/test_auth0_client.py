"""The Management API service module (`adminsite.auth0`) against a faked wire (`responses`).

Bodies are the recorded ones quoted in /work/shared/reference/auth0-management-api.md. The last
tests run every operation once against the in-process sandbox tenant, through the same code.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests
import responses
from django.core.cache import cache
from responses import matchers

from adminsite import auth0

BASE = "https://tenant.example.auth0.com"
API = BASE + "/api/v2"
TOKEN_URL = BASE + "/oauth/token"
CLIENT_ID = "orgdesk-client-id"
SECRET = "very-secret-client-secret-7f3a"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvcmdkZXNrIn0.first-token-Ggg"
TOKEN_2 = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvcmdkZXNrIn0.second-token-Hhh"
ORG = "org_OVCzBg5uRfKdFAfw"
CON = "con_8vltfmSkOUXA8Ojf"
USER = "auth0|63d16bb11e39d8a43b8ed0f5"
ODD_USER = "samlp|acme/jane|doe"
ODD_USER_ENC = "samlp%7Cacme%2Fjane%7Cdoe"

ORG_BODY = {
    "id": "org_OVCzBg5uRfKdFAfw",
    "name": "test-organization914",
    "display_name": "Test Organization",
    "branding": {"logo_url": "https://example.com/logo.gif"},
}
ENABLED_BODY = {
    "connection_id": "con_8vltfmSkOUXA8Ojf",
    "assign_membership_on_login": True,
    "show_as_button": True,
    "connection": {"name": "test-conn84", "strategy": "ad"},
}
MEMBER_ROLES_BODY: dict[str, Any] = {
    "roles": [
        {
            "id": "rol_48sn6VuZrMwptwVC",
            "name": "Test Reader - testaccorganizationmemberroles",
            "description": "",
        }
    ],
    "start": 0,
    "limit": 100,
    "total": 1,
}
NOT_FOUND_ORG = {
    "statusCode": 404,
    "error": "Not Found",
    "message": "No organization found by that id or name",
}
INVALID_TOKEN = {
    "statusCode": 401,
    "error": "Unauthorized",
    "message": "Invalid token",
    "attributes": {"error": "Invalid token"},
}


@pytest.fixture(autouse=True)
def auth0_settings(settings: Any) -> None:
    settings.AUTH0_SANDBOX = False
    settings.AUTH0_BASE_URL = BASE
    settings.AUTH0_CLIENT_ID = CLIENT_ID
    settings.AUTH0_CLIENT_SECRET = SECRET
    settings.AUTH0_AUDIENCE = BASE + "/api/v2/"
    settings.AUTH0_TIMEOUT = 5.0


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    auth0.reset_upstream_stats()
    yield
    cache.clear()


@pytest.fixture
def wire() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def add_token(wire: responses.RequestsMock, token: str = TOKEN, expires_in: int = 86400) -> None:
    wire.post(
        TOKEN_URL,
        json={
            "access_token": token,
            "expires_in": expires_in,
            "scope": "read:organizations",
            "token_type": "Bearer",
        },
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "client_credentials",
                    "client_id": CLIENT_ID,
                    "client_secret": SECRET,
                    "audience": BASE + "/api/v2/",
                }
            )
        ],
    )


def url_of(request: requests.PreparedRequest) -> str:
    """The URL a recorded request went to (always set on a sent request)."""
    assert request.url is not None
    return request.url


def json_sent(request: requests.PreparedRequest) -> Any:
    """The JSON body a recorded request sent."""
    assert request.body is not None
    return json.loads(request.body)


def timeout_of(request: requests.PreparedRequest) -> object:
    """The timeout Org Desk passed to send(), which responses records on the request."""
    # responses sets req_kwargs on each request it records, undeclared in its types.
    return request.req_kwargs["timeout"]  # type: ignore[attr-defined]


def query(wire: responses.RequestsMock, index: int) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url_of(wire.calls[index].request)).query)


def api_calls(wire: responses.RequestsMock) -> list[str]:
    return [
        f"{c.request.method} {c.request.path_url}"
        for c in wire.calls
        if "/oauth/token" not in url_of(c.request)
    ]


# --- Organizations ----------------------------------------------------------------------------


def test_list_organizations_first_page(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        API + "/organizations",
        match=[matchers.query_string_matcher("take=2")],
        json={
            "organizations": [
                {
                    "id": "org_SST1yp2pazgSiMYi",
                    "name": "test-organization745",
                    "display_name": "Test Organization",
                },
                {"id": "org_Wz2uMwAVQmfRb03I", "name": "test-organization24"},
            ],
            "next": "MjAyMy0wMy0xNCAxMToxNzoxOS40NjYwMDBVVEMsb3JnX1d6MnVNd0FWUW1mUmIwM0k",
        },
    )
    page = auth0.list_organizations(take=2)
    assert page == auth0.OrganizationPage(
        [
            auth0.Organization("org_SST1yp2pazgSiMYi", "test-organization745", "Test Organization"),
            auth0.Organization(
                "org_Wz2uMwAVQmfRb03I", "test-organization24", "test-organization24"
            ),
        ],
        "MjAyMy0wMy0xNCAxMToxNzoxOS40NjYwMDBVVEMsb3JnX1d6MnVNd0FWUW1mUmIwM0k",
    )
    request = wire.calls[1].request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert timeout_of(request) == (3.05, 5.0)


def test_list_organizations_follows_the_cursor_to_the_end(wire: responses.RequestsMock) -> None:
    add_token(wire)
    cursor = "MjAyMy0wMy0xNCAxMToxNzoxOS40NjYwMDBVVEMsb3JnX1d6MnVNd0FWUW1mUmIwM0k"
    wire.get(
        API + "/organizations",
        match=[matchers.query_param_matcher({"take": "50"})],
        json={"organizations": [ORG_BODY], "next": cursor},
    )
    wire.get(
        API + "/organizations",
        match=[matchers.query_param_matcher({"take": "50", "from": cursor})],
        json={"organizations": [{"id": "org_cGR0immZcgIoQziO", "name": "last-one"}]},
    )
    seen, page = [], auth0.list_organizations()
    seen += page.organizations
    while page.next:
        page = auth0.list_organizations(from_=page.next)
        seen += page.organizations
    assert [o.id for o in seen] == [ORG, "org_cGR0immZcgIoQziO"]
    assert page.next is None


@pytest.mark.parametrize(("take", "sent"), [(500, "50"), (0, "1"), (-3, "1"), (17, "17")])
def test_take_is_clamped(wire: responses.RequestsMock, take: int, sent: str) -> None:
    add_token(wire)
    wire.get(API + "/organizations", json={"organizations": []})
    assert auth0.list_organizations(take=take, from_="") == auth0.OrganizationPage([], None)
    assert query(wire, 1) == [("take", sent)]


def test_get_organization_and_by_name(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY)
    wire.get(API + "/organizations/name/test-organization914", json=ORG_BODY)
    expected = auth0.Organization(ORG, "test-organization914", "Test Organization")
    assert auth0.get_organization(org_id=ORG) == expected
    assert auth0.get_organization_by_name(name="test-organization914") == expected


def test_short_timeout_is_used_for_connect_too(settings: Any, wire: responses.RequestsMock) -> None:
    settings.AUTH0_TIMEOUT = 2
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}", json=ORG_BODY)
    auth0.get_organization(org_id=ORG)
    assert [timeout_of(c.request) for c in wire.calls] == [(2.0, 2.0), (2.0, 2.0)]


# --- Enabled connections ----------------------------------------------------------------------


def test_list_enabled_connections_one_page(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        f"{API}/organizations/{ORG}/enabled_connections",
        match=[matchers.query_string_matcher("page=0&per_page=50&include_totals=true")],
        # The `limit` quirk: limit equals the number of items, not per_page.
        json={"enabled_connections": [ENABLED_BODY], "start": 0, "limit": 1, "total": 1},
    )
    assert auth0.list_enabled_connections(org_id=ORG) == [
        auth0.EnabledConnection(CON, "test-conn84", "ad", True, True, None)
    ]


def test_list_enabled_connections_pages_until_total(wire: responses.RequestsMock) -> None:
    add_token(wire)
    item = {**ENABLED_BODY, "is_signup_enabled": False, "show_as_button": False}
    url = f"{API}/organizations/{ORG}/enabled_connections"
    wire.get(
        url,
        match=[matchers.query_param_matcher({"page": "0", "per_page": "50"}, strict_match=False)],
        json={"enabled_connections": [item] * 50, "start": 0, "limit": 50, "total": 52},
    )
    wire.get(
        url,
        match=[matchers.query_param_matcher({"page": "1", "per_page": "50"}, strict_match=False)],
        json={"enabled_connections": [item] * 2, "start": 50, "limit": 2, "total": 52},
    )
    found = auth0.list_enabled_connections(org_id=ORG)
    assert len(found) == 52 and found[0].is_signup_enabled is False
    assert found[0].show_as_button is False


def test_list_enabled_connections_stops_at_total_on_a_full_page(
    wire: responses.RequestsMock,
) -> None:
    add_token(wire)
    wire.get(
        f"{API}/organizations/{ORG}/enabled_connections",
        json={"enabled_connections": [ENABLED_BODY] * 50, "start": 0, "limit": 50, "total": 50},
    )
    assert len(auth0.list_enabled_connections(org_id=ORG)) == 50
    assert len(api_calls(wire)) == 1


def test_get_enabled_connection(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}/enabled_connections/{CON}", json=ENABLED_BODY)
    found = auth0.get_enabled_connection(org_id=ORG, connection_id=CON)
    assert found == auth0.EnabledConnection(CON, "test-conn84", "ad", True, True, None)


@pytest.mark.parametrize("signup", [None, True])
def test_add_enabled_connection(wire: responses.RequestsMock, signup: bool | None) -> None:
    add_token(wire)
    sent: dict[str, Any] = {
        "connection_id": CON,
        "assign_membership_on_login": True,
        "show_as_button": False,
    }
    if signup is not None:
        sent["is_signup_enabled"] = signup
    wire.post(
        f"{API}/organizations/{ORG}/enabled_connections",
        match=[matchers.json_params_matcher(sent)],
        status=201,
        json={
            **sent,
            "connection": {"name": "Username-Password-Authentication", "strategy": "auth0"},
        },
    )
    added = auth0.add_enabled_connection(
        org_id=ORG,
        connection_id=CON,
        assign_membership_on_login=True,
        show_as_button=False,
        is_signup_enabled=signup,
    )
    assert added == auth0.EnabledConnection(
        CON, "Username-Password-Authentication", "auth0", True, False, signup
    )


def test_remove_enabled_connection(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.delete(f"{API}/organizations/{ORG}/enabled_connections/{CON}", status=204)
    auth0.remove_enabled_connection(org_id=ORG, connection_id=CON)
    assert api_calls(wire) == [f"DELETE /api/v2/organizations/{ORG}/enabled_connections/{CON}"]


@pytest.mark.parametrize("status", [200, 201, 202])
def test_a_change_documented_as_204_is_not_trusted_with_another_answer(
    wire: responses.RequestsMock, status: int
) -> None:
    """A 2xx other than the documented 204 (a proxy's page, say) is not reported as done."""
    add_token(wire)
    wire.delete(
        f"{API}/organizations/{ORG}/enabled_connections/{CON}", status=status, json={"ok": 1}
    )
    with pytest.raises(auth0.Unavailable) as caught:
        auth0.remove_enabled_connection(org_id=ORG, connection_id=CON)
    assert caught.value.reason == "bad_response" and caught.value.status_code == status


# --- Connections: the cached domain-level index -----------------------------------------------

CONNECTIONS_QUERY = {
    "fields": "id,name,strategy,is_domain_connection",
    "include_fields": "true",
    "take": "50",
}


def add_connection_pages(wire: responses.RequestsMock) -> None:
    wire.get(
        API + "/connections",
        match=[matchers.query_param_matcher(CONNECTIONS_QUERY)],
        json={
            "connections": [
                {
                    "id": "con_QxQYx1ybkMSeBmU3",
                    "name": "Test-Auth0-Connection-1757344613",
                    "strategy": "auth0",
                    "is_domain_connection": False,
                    "authentication": {"active": True},
                }
            ],
            "next": "Y29uLWN1cnNvcg",
        },
    )
    wire.get(
        API + "/connections",
        match=[matchers.query_param_matcher({**CONNECTIONS_QUERY, "from": "Y29uLWN1cnNvcg"})],
        json={
            "connections": [
                {
                    "id": "con_8sWaDqh5BrZnCgT0",
                    "name": "okta-acme",
                    "strategy": "okta",
                    "is_domain_connection": True,
                }
            ]
        },
    )


def test_domain_connection_index_is_walked_once_then_cached(wire: responses.RequestsMock) -> None:
    add_token(wire)
    add_connection_pages(wire)
    expected = {
        "con_QxQYx1ybkMSeBmU3": auth0.Connection(
            "con_QxQYx1ybkMSeBmU3", "Test-Auth0-Connection-1757344613", "auth0", False
        ),
        "con_8sWaDqh5BrZnCgT0": auth0.Connection("con_8sWaDqh5BrZnCgT0", "okta-acme", "okta", True),
    }
    assert auth0.domain_connection_index() == expected
    assert len(wire.calls) == 3
    assert auth0.domain_connection_index() == expected
    assert len(wire.calls) == 3  # served from the cache


def test_index_cache_is_per_tenant(settings: Any, wire: responses.RequestsMock) -> None:
    add_token(wire)
    add_connection_pages(wire)
    assert len(auth0.domain_connection_index()) == 2
    settings.AUTH0_BASE_URL = "https://other.example.auth0.com"
    wire.post(
        "https://other.example.auth0.com/oauth/token",
        json={"access_token": "t2-xyz-abc", "expires_in": 600},
    )
    wire.get("https://other.example.auth0.com/api/v2/connections", json={"connections": []})
    assert auth0.domain_connection_index() == {}


def test_set_domain_connection_patches_one_key_and_updates_the_index(
    wire: responses.RequestsMock,
) -> None:
    add_token(wire)
    add_connection_pages(wire)
    auth0.domain_connection_index()
    wire.patch(
        API + "/connections/con_QxQYx1ybkMSeBmU3",
        match=[matchers.json_params_matcher({"is_domain_connection": True}, strict_match=True)],
        json={
            "id": "con_QxQYx1ybkMSeBmU3",
            "options": {"brute_force_protection": True, "strategy_version": 2},
            "strategy": "auth0",
            "name": "Test-Auth0-Connection-1757344613",
            "is_domain_connection": True,
            "authentication": {"active": True},
            "connected_accounts": {"active": False},
            "enabled_clients": [],
            "realms": ["Test-Auth0-Connection-1757344613"],
        },
    )
    updated = auth0.set_domain_connection(connection_id="con_QxQYx1ybkMSeBmU3", enabled=True)
    assert updated.is_domain_connection is True
    assert json_sent(wire.calls[-1].request) == {"is_domain_connection": True}
    index = auth0.domain_connection_index()  # no new call: updated in place
    assert index["con_QxQYx1ybkMSeBmU3"].is_domain_connection is True
    assert index["con_8sWaDqh5BrZnCgT0"].is_domain_connection is True
    assert len(wire.calls) == 4


def test_set_domain_connection_without_a_cached_index(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.patch(
        f"{API}/connections/{CON}",
        json={"id": CON, "name": "test-conn84", "strategy": "ad", "is_domain_connection": False},
    )
    assert auth0.set_domain_connection(connection_id=CON, enabled=False) == auth0.Connection(
        CON, "test-conn84", "ad", False
    )
    assert json_sent(wire.calls[-1].request) == {"is_domain_connection": False}


# --- Members and roles ------------------------------------------------------------------------

MEMBERS_QUERY = {
    "fields": "user_id,email,name,picture,roles",
    "include_fields": "true",
    "take": "50",
}


def member(n: int, email: str | None = None) -> dict[str, Any]:
    return {
        "user_id": f"auth0|6410784d38b3e02b77fd{n:04d}",
        "email": email or f"chuck{n}@example.com",
        "picture": "https://example-picture-url.jpg",
        "name": email or f"chuck{n}@example.com",
        "roles": [{"id": "rol_lEh5V8omwZrnZd9o", "name": "test-role403"}],
    }


def test_list_members_parses_roles(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        f"{API}/organizations/{ORG}/members",
        match=[matchers.query_param_matcher(MEMBERS_QUERY)],
        json={
            "members": [
                {
                    "user_id": USER,
                    "roles": [{"id": "rol_lEh5V8omwZrnZd9o", "name": "test-role403"}],
                },
                {
                    "user_id": "auth0|6410784d38b3e02b77fdd660",
                    "email": "chuck938@example.com",
                    "picture": "https://example-picture-url.jpg",
                    "name": "chuck938@example.com",
                },
            ],
            "next": "MjAyMy0wMy0xNCAxMzozNjoxMy44MjkwMDBVVEMs"
            "YXV0aDB8NjQxMDc4NGQzOGIzZTAyYjc3ZmRkNjYw",
        },
    )
    page = auth0.list_members(org_id=ORG)
    assert page.members == [
        auth0.Member(USER, "", "", "", (auth0.Role("rol_lEh5V8omwZrnZd9o", "test-role403", ""),)),
        auth0.Member(
            "auth0|6410784d38b3e02b77fdd660",
            "chuck938@example.com",
            "chuck938@example.com",
            "https://example-picture-url.jpg",
            (),
        ),
    ]
    assert page.next and page.next.startswith("MjAy")


def test_member_checkpoint_ends_with_an_empty_page(wire: responses.RequestsMock) -> None:
    add_token(wire)
    url = f"{API}/organizations/{ORG}/members"
    wire.get(
        url,
        match=[matchers.query_param_matcher({**MEMBERS_QUERY, "take": "2"})],
        json={"members": [member(1), member(2)], "next": "c1"},
    )
    wire.get(
        url,
        match=[matchers.query_param_matcher({**MEMBERS_QUERY, "take": "2", "from": "c1"})],
        json={"members": [member(3)], "next": "c2"},  # short page, still a `next`
    )
    wire.get(
        url,
        match=[matchers.query_param_matcher({**MEMBERS_QUERY, "take": "2", "from": "c2"})],
        json={"members": []},
    )
    pages = [auth0.list_members(org_id=ORG, take=2)]
    while pages[-1].next:
        pages.append(auth0.list_members(org_id=ORG, from_=pages[-1].next, take=2))
    assert [len(p.members) for p in pages] == [2, 1, 0]
    assert [p.next for p in pages] == ["c1", "c2", None]


def test_an_empty_member_page_ends_even_with_a_next(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(f"{API}/organizations/{ORG}/members", json={"members": [], "next": "c9"})
    assert auth0.list_members(org_id=ORG) == auth0.MemberPage([], None)


def user(n: int, email: str) -> dict[str, Any]:
    """A user as GET /users returns it with fields=user_id,email,name,picture."""
    return {
        "user_id": f"auth0|6410784d38b3e02b77fd{n:04d}",
        "email": email,
        "picture": "https://example-picture-url.jpg",
        "name": email,
    }


def search_query(q: str, per_page: int = 10) -> dict[str, str]:
    return {
        "q": q,
        "search_engine": "v3",
        "fields": "user_id,email,name,picture",
        "include_fields": "true",
        "per_page": str(per_page),
        "page": "0",
    }


def roles_of(wire: responses.RequestsMock, n: int, status: int = 200) -> None:
    user_id = quote(f"auth0|6410784d38b3e02b77fd{n:04d}", safe="")
    if status == 404:
        body = {"statusCode": 404, "error": "Not Found", "message": "The user does not exist."}
        wire.get(f"{API}/organizations/{ORG}/members/{user_id}/roles", status=404, json=body)
    else:
        wire.get(f"{API}/organizations/{ORG}/members/{user_id}/roles", json=MEMBER_ROLES_BODY)


def test_find_members_by_whole_address_is_one_search(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        f"{API}/users",
        match=[
            matchers.query_param_matcher(
                search_query(f'organization_id:"{ORG}" AND email:"Jane.Doe+x@example.com"')
            )
        ],
        json=[user(4, "jane.doe+x@example.com")],
    )
    roles_of(wire, 4)
    found = auth0.find_members(org_id=ORG, email=" Jane.Doe+x@example.com ")
    assert [m.email for m in found] == ["jane.doe+x@example.com"]
    assert found[0].roles == (
        auth0.Role("rol_48sn6VuZrMwptwVC", "Test Reader - testaccorganizationmemberroles", ""),
    )
    # One search and one roles call, however many members the organization has.
    assert [c.split("?")[0] for c in api_calls(wire)] == [
        "GET /api/v2/users",
        f"GET /api/v2/organizations/{ORG}/members/auth0%7C6410784d38b3e02b77fd0004/roles",
    ]


def test_find_members_by_prefix_escapes_lucene_and_orders_exact_first(
    wire: responses.RequestsMock,
) -> None:
    add_token(wire)
    wire.get(
        f"{API}/users",
        match=[
            matchers.query_param_matcher(
                search_query(f'organization_id:"{ORG}" AND email:jane\\-\\(x\\)*', per_page=3)
            )
        ],
        json={
            "users": [user(1, "jane-(x)zz@b.example"), user(2, "jane-(x)"), user(3, "gone@b")],
            "start": 0,
            "limit": 3,
            "length": 3,
            "total": 3,
        },
    )
    roles_of(wire, 2)
    roles_of(wire, 1)
    roles_of(wire, 3, status=404)  # the search index lags behind a removal: skipped
    found = auth0.find_members(org_id=ORG, email="jane-(x)", limit=3)
    assert [m.email for m in found] == ["jane-(x)", "jane-(x)zz@b.example"]


@pytest.mark.parametrize("email", ["", "   ", "jane doe@example.com", "a\x00b"])
def test_find_members_with_nothing_to_search_calls_nothing(
    wire: responses.RequestsMock, email: str
) -> None:
    assert auth0.find_members(org_id=ORG, email=email) == []
    assert len(wire.calls) == 0


def test_find_members_without_read_users_names_the_scope(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        f"{API}/users",
        status=403,
        json={
            "statusCode": 403,
            "error": "Forbidden",
            "message": "Insufficient scope, expected any of: read:users",
            "errorCode": "insufficient_scope",
        },
    )
    with pytest.raises(auth0.Forbidden) as caught:
        auth0.find_members(org_id=ORG, email="jane@example.com")
    assert caught.value.missing_scopes == ["read:users"]


def test_get_member_roles_encodes_the_user_id(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        f"{API}/organizations/{ORG}/members/{ODD_USER_ENC}/roles",
        match=[matchers.query_string_matcher("per_page=50&include_totals=true&page=0")],
        json={
            **MEMBER_ROLES_BODY,
            "roles": [
                *MEMBER_ROLES_BODY["roles"],
                {"id": "rol_x1", "name": "r", "description": None},
            ],
        },
    )
    roles = auth0.get_member_roles(org_id=ORG, user_id=ODD_USER)
    assert roles == [
        auth0.Role("rol_48sn6VuZrMwptwVC", "Test Reader - testaccorganizationmemberroles", ""),
        auth0.Role("rol_x1", "r", ""),
    ]
    assert f"/members/{ODD_USER_ENC}/roles?" in url_of(wire.calls[1].request)


@pytest.mark.parametrize(
    ("name_filter", "expected_query"),
    [
        ("", {"per_page": "50", "page": "0", "include_totals": "true"}),
        (
            "Test Role",
            {"per_page": "50", "page": "0", "include_totals": "true", "name_filter": "Test Role"},
        ),
    ],
)
def test_list_roles(
    wire: responses.RequestsMock, name_filter: str, expected_query: dict[str, str]
) -> None:
    add_token(wire)
    wire.get(
        API + "/roles",
        match=[matchers.query_param_matcher(expected_query)],
        json={
            "roles": [
                {"id": "rol_9yRKwo2Bl0zckceV", "name": "test-role14", "description": "Test Role"}
            ],
            "start": 0,
            "limit": 50,
            "total": 1,
        },
    )
    assert auth0.list_roles(name_filter=name_filter) == [
        auth0.Role("rol_9yRKwo2Bl0zckceV", "test-role14", "Test Role")
    ]


def test_list_roles_page_and_per_page(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        API + "/roles",
        match=[
            matchers.query_param_matcher({"per_page": "50", "page": "3", "include_totals": "true"})
        ],
        json=[{"id": "rol_9yRKwo2Bl0zckceV", "name": "test-role14", "description": "Test Role"}],
    )
    assert len(auth0.list_roles(page=3, per_page=100)) == 1


@pytest.mark.parametrize(
    ("method", "fn"), [("POST", "assign_member_roles"), ("DELETE", "remove_member_roles")]
)
def test_member_role_changes(wire: responses.RequestsMock, method: str, fn: str) -> None:
    add_token(wire)
    wire.add(
        method,
        f"{API}/organizations/{ORG}/members/{ODD_USER_ENC}/roles",
        match=[
            matchers.json_params_matcher(
                {"roles": ["rol_48sn6VuZrMwptwVC", "rol_9yRKwo2Bl0zckceV"]}
            )
        ],
        status=204,
    )
    result = getattr(auth0, fn)(
        org_id=ORG, user_id=ODD_USER, role_ids=["rol_48sn6VuZrMwptwVC", "rol_9yRKwo2Bl0zckceV"]
    )
    assert result is None
    assert urlsplit(wire.calls[1].request.url).path == (
        f"/api/v2/organizations/{ORG}/members/{ODD_USER_ENC}/roles"
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
