"""The sandbox tenant's endpoints for finding things: organization search (SCIM subset,
checkpoint paging), users by email, a user, and a user's organizations."""

from __future__ import annotations

from typing import Any

import pytest

from adminsite.sandbox import Tenant
from adminsite.sandbox.seed_data import JANE, SHARED_EMAIL, SHARED_USERS
from tests.sandbox.helpers import SLASHY, Api, enc, error

SEARCH = "/organizations/search"


def _search(api: Api, q: str, **params: Any) -> Any:
    return api.get(SEARCH, q=q, parser="scim", **params)


def _both(op: str, value: str) -> str:
    return f'name {op} "{value}" or display_name {op} "{value}"'


def _every_page(api: Api, q: str, take: int = 50) -> tuple[list[dict[str, Any]], int]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"take": take}
        if cursor:
            params["from"] = cursor
        r = _search(api, q, **params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) <= {"organizations", "next"}
        found.extend(body["organizations"])
        pages += 1
        cursor = body.get("next")
        if cursor is None:
            return found, pages


def test_search_common_word_pages_every_match_once(api: Api, sandbox: Tenant) -> None:
    found, pages = _every_page(api, _both("co", "holdings"))
    expected = [
        oid
        for oid in sandbox.store.org_order().ids
        if "holdings" in sandbox.store.orgs[oid]["display_name"].casefold()
        or "holdings" in sandbox.store.orgs[oid]["name"]
    ]
    assert len(expected) > 50 and pages >= 2
    assert [o["id"] for o in found] == expected  # insertion order, each exactly once
    assert all(set(o) >= {"id", "name", "display_name"} for o in found)


def test_search_pages_with_a_small_take_and_name_sort(api: Api) -> None:
    by_created, _ = _every_page(api, _both("co", "holdings"), take=7)
    by_name, _ = _every_page(api, _both("co", "holdings"), take=7)
    assert len(by_created) == len({o["id"] for o in by_created})
    assert by_created == by_name
    r = _search(api, _both("co", "holdings"), sort="name", take=100)
    names = [o["name"] for o in r.json()["organizations"]]
    assert names == sorted(names)


def test_search_last_page_has_no_next(api: Api) -> None:
    body = _search(api, _both("co", "acme corp")).json()
    assert [o["name"] for o in body["organizations"]] == ["acme"]
    assert "next" not in body
    assert _search(api, _both("co", "no-such-thing-anywhere")).json() == {"organizations": []}


@pytest.mark.parametrize(
    ("text", "name"),
    [("京都", "kyoto-shoji"), ("京都商事", "kyoto-shoji"), ("ünïcode", "unicode-unlimited")],
)
def test_search_non_latin_and_case_insensitive(api: Api, text: str, name: str) -> None:
    op = "co" if len(text) >= 3 else "sw"
    names = [o["name"] for o in _search(api, _both(op, text)).json()["organizations"]]
    assert names == [name]


def test_search_prefix_and_exact(api: Api) -> None:
    found = _search(api, _both("sw", "ac"), take=100).json()["organizations"]
    assert "acme" in {o["name"] for o in found}
    assert all(
        o["name"].startswith("ac") or o["display_name"].casefold().startswith("ac") for o in found
    )
    assert _search(api, 'name eq "ACME"').json()["organizations"][0]["name"] == "acme"
    oid = _search(api, 'name eq "acme"').json()["organizations"][0]["id"]
    assert _search(api, f'id eq "{oid}"').json()["organizations"][0]["name"] == "acme"
    assert _search(api, f'id eq "{oid.lower()}"').json() == {"organizations": []}


def test_search_escapes_in_the_literal(api: Api, sandbox: Tenant) -> None:
    hostile = sandbox.store.org_by_name["hostile-html"]
    sandbox.store.orgs[hostile]["display_name"] = 'Say "hi" \\ bye'
    names = [o["name"] for o in _search(api, _both("co", '\\"hi\\" \\\\')).json()["organizations"]]
    assert names == ["hostile-html"]
    # A quote-breaking attempt stays a literal: nothing matches it.
    body = _search(api, _both("co", 'x\\" or name pr \\"')).json()
    assert body == {"organizations": []}


@pytest.mark.parametrize("value", ["ab", "京都", "x"])
def test_search_substring_needs_three_characters(api: Api, value: str) -> None:
    for op in ("co", "ew"):
        r = _search(api, f'name {op} "{value}"')
        assert r.status_code == 400
        body = error(r)
        assert body["errorCode"] == "invalid_query_string"
        assert "at least 3 characters" in body["message"]
    assert _search(api, _both("sw", value)).status_code == 200


@pytest.mark.parametrize(
    "q",
    [
        "acme",
        'name co "acme',
        'name co "acme" and display_name co "acme"',
        'name co "acme" or',
        'name co "a\\x"',
        'metadata.plan eq "pro"',
        'name pr "acme"',
        '(name co "acme")',
        'name co "acme"' + ' or name co "acme"' * 5,
    ],
)
def test_search_malformed_q_is_400(api: Api, q: str) -> None:
    r = _search(api, q)
    assert r.status_code == 400
    body = error(r)
    assert body["errorCode"] == "invalid_query_string"
    assert body["message"].startswith("Query validation error: ")


def test_search_parameters_are_checked(api: Api) -> None:
    assert api.get(SEARCH, q='name co "acme"').status_code == 400  # lucene: refused, said so
    assert "parser=scim" in api.get(SEARCH, q='name co "acme"').json()["message"]
    for bad in ({"take": 0}, {"take": 101}, {"per_page": 5}, {"from": "nope"}, {"sort": "x"}):
        r = _search(api, _both("co", "acme"), **bad)
        assert r.status_code == 400 and error(r)["errorCode"] == "invalid_query_string", bad


def test_search_needs_read_organizations(api: Api, sandbox: Tenant) -> None:
    sandbox.set_scopes(["read:organizations_summary", "read:users"])
    r = _search(api, _both("co", "acme"))
    assert r.status_code == 403
    assert error(r) == {
        "statusCode": 403,
        "error": "Forbidden",
        "message": "Insufficient scope, expected any of: read:organizations",
        "errorCode": "insufficient_scope",
    }


def test_search_can_be_disabled(api: Api, sandbox: Tenant) -> None:
    sandbox.disable_search()
    r = _search(api, _both("co", "acme"))
    assert r.status_code == 404
    assert error(r) == {"statusCode": 404, "error": "Not Found", "message": "Not Found"}
    assert api.get("/organizations/name/acme").status_code == 200  # the exact lookup still works
    sandbox.disable_search(None)
    assert _search(api, _both("co", "acme")).status_code == 200
    sandbox.disable_search(404)
    sandbox.reset()
    assert sandbox.search_status is None


def test_search_switch_over_http_control(http: Api, sandbox: Tenant) -> None:
    r = http.session.post(f"{http.base}/__sandbox/config", json={"search_status": 404})
    assert r.status_code == 200 and r.json()["search_status"] == 404
    assert _search(http, _both("co", "acme")).status_code == 404
    http.session.post(f"{http.base}/__sandbox/config", json={"search_status": None})
    assert _search(http, _both("co", "holdings")).json()["next"]


# --- users -------------------------------------------------------------------------------------


def test_users_by_email_shared_email(api: Api) -> None:
    r = api.get("/users-by-email", email=SHARED_EMAIL.upper())
    assert r.status_code == 200
    users = r.json()
    assert isinstance(users, list)
    assert [u["user_id"] for u in users] == list(SHARED_USERS)
    assert [u["identities"][0]["connection"] for u in users] == [
        "Username-Password-Authentication",
        "google-oauth2",
    ]
    for user in users:
        assert user["email"] == SHARED_EMAIL
        identity = user["identities"][0]
        assert set(identity) == {"connection", "provider", "user_id", "isSocial"}
        assert user["created_at"].endswith("Z")


def test_users_by_email_fields_and_none(api: Api) -> None:
    r = api.get(
        "/users-by-email",
        email="jane@acme.example",
        fields="user_id,email,name,identities",
        include_fields="true",
    )
    assert r.json() == [
        {
            "user_id": JANE,
            "email": "jane@acme.example",
            "name": "Jane Smith",
            "identities": [
                {
                    "connection": "Username-Password-Authentication",
                    "provider": "auth0",
                    "user_id": JANE.partition("|")[2],
                    "isSocial": False,
                }
            ],
        }
    ]
    assert api.get("/users-by-email", email="nobody@nowhere.example").json() == []
    assert api.get("/users-by-email", email="jane@acme").json() == []  # exact, not a prefix


def test_users_by_email_parameters(api: Api, sandbox: Tenant) -> None:
    for params in ({}, {"email": "a@b", "q": "x"}):
        r = api.get("/users-by-email", **params)
        assert r.status_code == 400 and error(r)["errorCode"] == "invalid_query_string"
    sandbox.set_scopes(["read:organizations"])
    r = api.get("/users-by-email", email="jane@acme.example")
    assert r.status_code == 403 and "read:users" in error(r)["message"]


@pytest.mark.parametrize("user_id", [JANE, SLASHY, SHARED_USERS[1]])
def test_get_user_round_trips_encoded_ids(api: Api, http: Api, user_id: str) -> None:
    for client in (api, http):
        r = client.get(f"/users/{enc(user_id)}")
        assert r.status_code == 200, r.text
        assert r.json()["user_id"] == user_id
    body = api.get(f"/users/{enc(SLASHY)}", fields="user_id,email", include_fields="true").json()
    assert body == {"user_id": SLASHY, "email": "jane.doe@acme.example"}


def test_get_user_unknown_is_404(api: Api, sandbox: Tenant) -> None:
    r = api.get(f"/users/{enc('auth0|000000000000000000000000')}")
    assert r.status_code == 404
    assert error(r) == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "The user does not exist.",
        "errorCode": "inexistent_user",
    }
    assert api.get(f"/users/{enc(JANE)}", page=1).status_code == 400
    sandbox.set_scopes(["read:organizations"])
    assert api.get(f"/users/{enc(JANE)}").status_code == 403


def _role_names(sandbox: Tenant, oid: str, user_id: str) -> list[str]:
    return [sandbox.store.roles[r]["name"] for r in sandbox.store.member_roles[(oid, user_id)]]


def test_person_in_several_organizations_with_different_roles(api: Api, sandbox: Tenant) -> None:
    r = api.get(f"/users/{enc(JANE)}/organizations", include_totals="true")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"organizations", "start", "limit", "total"}
    assert body["start"] == 0 and body["limit"] == 50 and body["total"] == 5
    names = [o["name"] for o in body["organizations"]]
    assert names[:4] == ["acme", "kabushiki", "arabic-rtl", "kyoto-shoji"]
    assert "Holdings" in body["organizations"][4]["display_name"]
    roles = {o["name"]: tuple(_role_names(sandbox, o["id"], JANE)) for o in body["organizations"]}
    assert all(roles.values()) and len(set(roles.values())) == 5
    members = api.get(f"/organizations/{body['organizations'][0]['id']}/members/{enc(JANE)}/roles")
    assert {r["name"] for r in members.json()} == {"Support Admin", "Billing Viewer"}


def test_user_organizations_paging(api: Api) -> None:
    seen: list[str] = []
    for page in range(3):
        r = api.get(f"/users/{enc(JANE)}/organizations", page=page, per_page=2)
        assert isinstance(r.json(), list)  # a bare array without include_totals
        seen.extend(o["id"] for o in r.json())
    assert len(seen) == len(set(seen)) == 5
    r = api.get(f"/users/{enc(JANE)}/organizations", page=20, per_page=50)
    assert r.status_code == 400 and error(r)["errorCode"] == "invalid_paging"
    r = api.get(f"/users/{enc(JANE)}/organizations", take=5)
    assert r.status_code == 400


def test_user_organizations_of_slashy_and_unknown(api: Api, http: Api, sandbox: Tenant) -> None:
    for client in (api, http):
        r = client.get(f"/users/{enc(SLASHY)}/organizations", include_totals="true")
        assert [o["name"] for o in r.json()["organizations"]] == ["acme", "kabushiki"]
    r = api.get(f"/users/{enc('auth0|nobody')}/organizations", include_totals="true")
    assert r.json() == {"organizations": [], "start": 0, "limit": 50, "total": 0}
    sandbox.set_scopes(["read:users"])
    r = api.get(f"/users/{enc(JANE)}/organizations")
    assert r.status_code == 403 and "read:organizations" in error(r)["message"]


# --- the service module against the sandbox ------------------------------------------------------


def test_service_module_against_the_sandbox(tenant: Tenant) -> None:
    from adminsite import auth0

    pages = [auth0.search_organizations(text="Holdings")]
    while pages[-1].next:
        pages.append(auth0.search_organizations(text="Holdings", from_=pages[-1].next))
    found = [o.id for p in pages for o in p.organizations]
    assert len(pages) >= 2 and len(found) == len(set(found)) > 50
    assert [o.name for o in auth0.search_organizations(text="京都").organizations] == [
        "kyoto-shoji"
    ]
    assert [o.name for o in auth0.search_organizations(text="Ünïcode").organizations] == [
        "unicode-unlimited"
    ]
    assert auth0.search_organizations(text='x" or name pr "').organizations == []
    shared = auth0.users_by_email(email=SHARED_EMAIL)
    assert [(u.user_id, u.connection) for u in shared] == [
        (SHARED_USERS[0], "Username-Password-Authentication"),
        (SHARED_USERS[1], "google-oauth2"),
    ]
    assert auth0.get_user(user_id=SLASHY) == auth0.User(
        SLASHY, "jane.doe@acme.example", "Jane Doe", "acme-saml"
    )
    assert len(auth0.list_user_organizations(user_id=JANE)) == 5
    with pytest.raises(auth0.NotFound):
        auth0.get_user(user_id="auth0|nobody")
    tenant.disable_search()
    with pytest.raises(auth0.NotFound):
        auth0.search_organizations(text="acme")
    tenant.set_scopes(["read:users"])
    with pytest.raises(auth0.Forbidden) as caught:
        auth0.list_user_organizations(user_id=JANE)
    assert caught.value.missing_scopes == ["read:organizations"]
