"""Finding things from a ticket, in the service module against a faked wire (`responses`):
organization search, users by email, a user, and a user's organizations."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from responses import matchers

from adminsite import auth0
from tests.auth0.helpers import (
    API,
    NOT_FOUND_ORG,
    ODD_USER,
    ODD_USER_ENC,
    USER,
    add_token,
    api_calls,
    query,
)

SEARCH = API + "/organizations/search"
ORG_A = {"id": "org_SST1yp2pazgSiMYi", "name": "acme-holdings", "display_name": "Acme Holdings"}
ORG_B = {"id": "org_Wz2uMwAVQmfRb03I", "name": "kyoto", "display_name": "京都商事"}
CURSOR = "MjAyMy0wMy0xNCAxMToxNzoxOS40NjYwMDBVVEMsb3JnX1d6MnVNd0FWUW1mUmIwM0k"


def _org(body: dict[str, str]) -> auth0.Organization:
    return auth0.Organization(body["id"], body["name"], body["display_name"])


def _q(wire: responses.RequestsMock) -> str:
    return dict(query(wire, -1))["q"]


# --- organization search -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "q"),
    [
        ("a", 'name sw "a" or display_name sw "a"'),
        (" ac ", 'name sw "ac" or display_name sw "ac"'),
        ("acm", 'name co "acm" or display_name co "acm"'),
        ("Holdings", 'name co "Holdings" or display_name co "Holdings"'),
    ],
)
def test_search_query_by_length(wire: responses.RequestsMock, text: str, q: str) -> None:
    add_token(wire)
    wire.get(SEARCH, json={"organizations": [ORG_A]})
    page = auth0.search_organizations(text=text)
    assert page == auth0.OrganizationPage([_org(ORG_A)], None)
    assert query(wire, -1) == [("q", q), ("parser", "scim"), ("take", "50")]


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ('acme" or name pr "', '"acme\\" or name pr \\""'),
        ("back\\slash", '"back\\\\slash"'),
        ('\\" or id eq "x', '"\\\\\\" or id eq \\"x"'),
        ("*", '"*"'),
        ("a*b AND c OR d", '"a*b AND c OR d"'),
        ("(name:acme) OR (x)", '"(name:acme) OR (x)"'),
        ("name:acme*", '"name:acme*"'),
        ("metadata.plan eq", '"metadata.plan eq"'),
    ],
)
def test_search_hostile_text_stays_inside_the_literal(
    wire: responses.RequestsMock, text: str, literal: str
) -> None:
    add_token(wire)
    wire.get(SEARCH, json={"organizations": []})
    assert auth0.search_organizations(text=text) == auth0.OrganizationPage([], None)
    op = "co" if len(text) >= 3 else "sw"
    assert _q(wire) == f"name {op} {literal} or display_name {op} {literal}"


@pytest.mark.parametrize(
    ("text", "q"),
    [
        ("京都", 'name sw "京都" or display_name sw "京都"'),
        ("Ünïcode", 'name co "Ünïcode" or display_name co "Ünïcode"'),
    ],
)
def test_search_non_latin_text_passes_through(
    wire: responses.RequestsMock, text: str, q: str
) -> None:
    add_token(wire)
    wire.get(SEARCH, json={"organizations": [ORG_B]})
    assert auth0.search_organizations(text=text).organizations == [_org(ORG_B)]
    assert _q(wire) == q


@pytest.mark.parametrize(
    "text", ["", "   ", "x" * 201, "acme\x00", "ac\nme", "a\u0085b", "\x1b[31m", 42]
)
def test_search_refuses_bad_text_without_a_call(wire: responses.RequestsMock, text: Any) -> None:
    with pytest.raises(auth0.InvalidId) as caught:
        auth0.search_organizations(text=text)
    assert str(caught.value)
    assert not wire.calls


def test_search_accepts_exactly_200_characters(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(SEARCH, json={"organizations": []})
    auth0.search_organizations(text="q" * auth0.SEARCH_MAX)
    assert auth0.SEARCH_MAX == 200
    assert _q(wire).count("q" * 200) == 2


def test_search_follows_the_cursor(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        SEARCH,
        match=[matchers.query_param_matcher({"take": "2"}, strict_match=False)],
        json={"organizations": [ORG_A, ORG_B], "next": CURSOR + "|/=&"},
    )
    first = auth0.search_organizations(text="hol", take=2)
    assert first.next == CURSOR + "|/=&"
    wire.get(SEARCH, json={"organizations": [ORG_A]})
    second = auth0.search_organizations(text="hol", take=2, from_=first.next)
    assert second == auth0.OrganizationPage([_org(ORG_A)], None)
    assert dict(query(wire, -1))["from"] == CURSOR + "|/=&"
    assert "from=" + CURSOR + "%7C%2F%3D%26" in api_calls(wire)[-1]


def test_search_empty_page_has_no_next(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(SEARCH, json={"organizations": [], "next": CURSOR})
    assert auth0.search_organizations(text="zzz") == auth0.OrganizationPage([], None)


@pytest.mark.parametrize(("take", "sent"), [(0, "1"), (-5, "1"), (100, "100"), (500, "100")])
def test_search_take_is_clamped(wire: responses.RequestsMock, take: int, sent: str) -> None:
    add_token(wire)
    wire.get(SEARCH, json={"organizations": []})
    auth0.search_organizations(text="acme", take=take)
    assert dict(query(wire, -1))["take"] == sent


def test_search_refuses_a_bad_cursor_without_a_call(wire: responses.RequestsMock) -> None:
    with pytest.raises(auth0.InvalidId):
        auth0.search_organizations(text="acme", from_="x\x00y")
    assert not wire.calls


def test_search_bad_shape_is_unavailable(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(SEARCH, json={"organizations": [{"id": 3}]})
    with pytest.raises(auth0.Unavailable):
        auth0.search_organizations(text="acme")


def test_search_404_and_403_are_typed(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        SEARCH, status=404, json={"statusCode": 404, "error": "Not Found", "message": "Not Found"}
    )
    with pytest.raises(auth0.NotFound):
        auth0.search_organizations(text="acme")
    wire.get(
        SEARCH,
        status=403,
        json={
            "statusCode": 403,
            "error": "Forbidden",
            "message": "Insufficient scope, expected any of: read:organizations",
            "errorCode": "insufficient_scope",
        },
    )
    with pytest.raises(auth0.Forbidden) as caught:
        auth0.search_organizations(text="acme")
    assert caught.value.missing_scopes == ["read:organizations"]


# --- users -------------------------------------------------------------------------------------

SHARED = [
    {
        "user_id": "auth0|65f0a1b2c3d4e5f607180001",
        "email": "sam.lee@shared.example",
        "name": "Sam Lee",
        "identities": [
            {
                "connection": "Username-Password-Authentication",
                "provider": "auth0",
                "user_id": "65f0a1b2c3d4e5f607180001",
                "isSocial": False,
            }
        ],
    },
    {
        "user_id": "google-oauth2|110000000000000000042",
        "email": "sam.lee@shared.example",
        "identities": [
            {
                "connection": "google-oauth2",
                "provider": "google-oauth2",
                "user_id": "110000000000000000042",
                "isSocial": True,
            }
        ],
        "created_at": "2024-01-02T03:04:05.678Z",
    },
]


def test_users_by_email_lists_every_account(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(API + "/users-by-email", json=SHARED)
    found = auth0.users_by_email(email=" sam.lee@shared.example ")
    assert found == [
        auth0.User(
            "auth0|65f0a1b2c3d4e5f607180001",
            "sam.lee@shared.example",
            "Sam Lee",
            "Username-Password-Authentication",
        ),
        auth0.User(
            "google-oauth2|110000000000000000042", "sam.lee@shared.example", "", "google-oauth2"
        ),
    ]
    assert query(wire, -1) == [
        ("email", "sam.lee@shared.example"),
        ("fields", "user_id,email,name,identities"),
        ("include_fields", "true"),
    ]


def test_users_by_email_none_found(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(API + "/users-by-email", json=[])
    assert auth0.users_by_email(email="nobody@example.com") == []


@pytest.mark.parametrize(
    "email", ["", "jane", "a" * 250 + "@b.ex", "jane@acme\x00.example", "ja\nne@x", None]
)
def test_users_by_email_refuses_without_a_call(wire: responses.RequestsMock, email: Any) -> None:
    with pytest.raises(auth0.InvalidId):
        auth0.users_by_email(email=email)
    assert not wire.calls


@pytest.mark.parametrize(
    "body",
    [
        {"users": "x"},
        [{"email": "a@b"}],
        [{"user_id": "auth0|1", "identities": "auth0"}],
        [{"user_id": "auth0|1", "identities": ["auth0"]}],
        [{"user_id": "auth0|1", "email": 5}],
    ],
)
def test_users_by_email_bad_shape(wire: responses.RequestsMock, body: Any) -> None:
    add_token(wire)
    wire.get(API + "/users-by-email", json=body)
    with pytest.raises(auth0.Unavailable):
        auth0.users_by_email(email="a@b.example")


def test_user_without_identities_has_no_connection(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(API + "/users-by-email", json=[{"user_id": "auth0|1", "identities": []}])
    assert auth0.users_by_email(email="a@b.example") == [auth0.User("auth0|1", "", "", "")]


def test_get_user_encodes_the_id(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        API + f"/users/{ODD_USER_ENC}",
        json={**SHARED[0], "user_id": ODD_USER, "identities": [{"connection": "acme"}]},
    )
    user = auth0.get_user(user_id=ODD_USER)
    assert user == auth0.User(ODD_USER, "sam.lee@shared.example", "Sam Lee", "acme")
    assert api_calls(wire) == [
        f"GET /api/v2/users/{ODD_USER_ENC}?fields=user_id%2Cemail%2Cname%2Cidentities"
        "&include_fields=true"
    ]


@pytest.mark.parametrize("user_id", ["", "..", "a\x00b", "x" * 256])
def test_get_user_refuses_bad_ids(wire: responses.RequestsMock, user_id: str) -> None:
    with pytest.raises(auth0.InvalidId):
        auth0.get_user(user_id=user_id)
    with pytest.raises(auth0.InvalidId):
        auth0.list_user_organizations(user_id=user_id)
    assert not wire.calls


def test_get_user_404(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        API + "/users/" + USER.replace("|", "%7C"),
        status=404,
        json={
            "statusCode": 404,
            "error": "Not Found",
            "message": "The user does not exist.",
            "errorCode": "inexistent_user",
        },
    )
    with pytest.raises(auth0.NotFound):
        auth0.get_user(user_id=USER)


def _orgs(start: int, count: int) -> list[dict[str, str]]:
    return [
        {"id": f"org_{i:016d}", "name": f"org-{i}", "display_name": f"Org {i}"}
        for i in range(start, start + count)
    ]


def test_user_organizations_walk_every_page(wire: responses.RequestsMock) -> None:
    add_token(wire)
    path = API + f"/users/{ODD_USER_ENC}/organizations"
    for page, count in ((0, 50), (1, 50), (2, 7)):
        wire.get(
            path,
            match=[
                matchers.query_param_matcher(
                    {"page": str(page), "per_page": "50", "include_totals": "true"}
                )
            ],
            json={
                "organizations": _orgs(page * 50, count),
                "start": page * 50,
                "limit": 50,
                "total": 107,
            },
        )
    found = auth0.list_user_organizations(user_id=ODD_USER)
    assert [o.name for o in found] == [f"org-{i}" for i in range(107)]
    assert len(api_calls(wire)) == 3


def test_user_organizations_stop_at_total(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        API + "/users/auth0%7C1/organizations",
        json={"organizations": _orgs(0, 50), "start": 0, "limit": 50, "total": 50},
    )
    assert len(auth0.list_user_organizations(user_id="auth0|1")) == 50
    assert len(api_calls(wire)) == 1


def test_user_organizations_none(wire: responses.RequestsMock) -> None:
    add_token(wire)
    wire.get(
        API + "/users/auth0%7C1/organizations",
        json={"organizations": [], "start": 0, "limit": 50, "total": 0},
    )
    assert auth0.list_user_organizations(user_id="auth0|1") == []


def test_user_organizations_errors_are_typed(wire: responses.RequestsMock) -> None:
    add_token(wire)
    path = API + "/users/auth0%7C1/organizations"
    wire.get(path, status=404, json=NOT_FOUND_ORG)
    with pytest.raises(auth0.NotFound):
        auth0.list_user_organizations(user_id="auth0|1")
    wire.get(
        path,
        status=403,
        json={
            "statusCode": 403,
            "error": "Forbidden",
            "message": "Insufficient scope, expected any of: read:organizations",
            "errorCode": "insufficient_scope",
        },
    )
    with pytest.raises(auth0.Forbidden) as caught:
        auth0.list_user_organizations(user_id="auth0|1")
    assert caught.value.missing_scopes == ["read:organizations"]
