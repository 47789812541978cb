"""The sandbox tenant: an in-process fake of the Auth0 Management API (adminsite/sandbox).

Most tests go through `SandboxAdapter` (no socket); the `http` ones go through `serve()`.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from adminsite.sandbox import (
    SANDBOX_BASE_URL,
    SandboxAdapter,
    SandboxServer,
    Tenant,
    default_tenant,
    make_app,
    serve,
)

ROOT = Path(__file__).resolve().parent.parent
ORGS = 1100
BIG = 1100
SLASHY = "samlp|acme-saml|jane/doe@acme.example"  # contains both | and /
PIPEY = "auth0|63d16bb11e39d8a43b8ed0f5"
NINE = "auth0|65f0a1b2c3d4e5f60718293a"  # 49 roles in acme
FIFTY = "auth0|65f0a1b2c3d4e5f60718293b"  # 50 roles in acme


def enc(value: str) -> str:
    return quote(value, safe="")


class Api:
    """A tiny Management API client for the tests (what Org Desk's service module does)."""

    def __init__(self, session: requests.Session, base: str) -> None:
        self.session = session
        self.base = base
        self.token = ""

    def get_token(self, **overrides: str) -> requests.Response:
        data = {
            "grant_type": "client_credentials",
            "client_id": "org-desk-sandbox",
            "client_secret": "sandbox-secret",
            "audience": f"{self.base}/api/v2/",
            **overrides,
        }
        return self.session.post(f"{self.base}/oauth/token", data=data, timeout=5)

    def login(self) -> Api:
        self.token = self.get_token().json()["access_token"]
        return self

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        timeout: Any = 5,
        token: str | None = None,
    ) -> requests.Response:
        token = self.token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.session.request(
            method,
            f"{self.base}/api/v2{path}",
            params=params,
            json=json,
            headers=headers,
            timeout=timeout,
        )

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.call("GET", path, params=params or None)


@pytest.fixture(scope="module")
def _shared() -> Tenant:
    return Tenant(organizations=ORGS, big_org_members=BIG)


@pytest.fixture
def sandbox(_shared: Tenant) -> Tenant:
    _shared.reset()
    return _shared


@pytest.fixture
def api(sandbox: Tenant) -> Api:
    session = requests.Session()
    session.mount(SANDBOX_BASE_URL + "/", SandboxAdapter(make_app(sandbox)))
    return Api(session, SANDBOX_BASE_URL).login()


@pytest.fixture(scope="module")
def _server(_shared: Tenant) -> Iterator[SandboxServer]:
    server = serve(_shared)
    yield server
    server.shutdown()


@pytest.fixture
def http(sandbox: Tenant, _server: SandboxServer) -> Api:
    return Api(requests.Session(), _server.url).login()


def org(api: Api, name: str) -> str:
    return api.get(f"/organizations/name/{name}").json()["id"]


def error(response: requests.Response) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


# --- seed data ----------------------------------------------------------------------------------


def test_seed_is_deterministic_fast_and_realistic() -> None:
    started = time.perf_counter()
    a = Tenant(organizations=1200, big_org_members=1200)
    assert time.perf_counter() - started < 0.5
    b = Tenant(organizations=1200, big_org_members=1200)
    assert list(a.store.orgs) == list(b.store.orgs)
    assert (
        list(Tenant(seed=8, organizations=20, big_org_members=5).store.orgs)
        != list(a.store.orgs)[:27]
    )
    names = [o["name"] for o in a.store.orgs.values()]
    assert len(names) == len(set(names)) == 1200
    assert all(re.fullmatch(r"[a-z0-9_-]{1,50}", n) for n in names)
    assert all(re.fullmatch(r"org_[A-Za-z0-9]{16}", i) for i in a.store.orgs)
    assert all(re.fullmatch(r"con_[A-Za-z0-9]{16}", i) for i in a.store.connections)
    assert all(re.fullmatch(r"rol_[A-Za-z0-9]{16}", i) for i in a.store.roles)
    assert all(1 <= len(o["display_name"]) <= 255 for o in a.store.orgs.values())
    assert len(a.store.roles) >= 60 and len(a.store.connections) >= 12
    strategies = {c["strategy"] for c in a.store.connections.values()}
    assert {"auth0", "google-oauth2", "samlp", "okta", "waad", "oidc", "ad", "email"} <= strategies
    assert any(c["is_domain_connection"] for c in a.store.connections.values())
    acme = a.store.org_by_name["acme"]
    assert 5 <= len(a.store.enabled[acme]) <= 6
    assert 10 <= len(a.store.members[acme]) <= 14
    assert len(a.store.members[a.store.org_by_name["big-co"]]) == 1200
    held = {u: len(a.store.member_roles.get((acme, u), [])) for u in a.store.members[acme]}
    assert held[NINE] == 49 and held[FIFTY] == 50
    assert any("|" in u and "/" in u for u in held)
    all_users = a.store.users
    assert any(re.fullmatch(r"auth0\|[0-9a-f]{24}", u) for u in all_users)
    assert any(re.fullmatch(r"google-oauth2\|\d{21}", u) for u in all_users)
    people = {u["name"] for u in all_users.values()}
    assert {"<b>Bob</b> <script>x</script>", "李小龙", "Zoë Ångström"} <= people


def test_named_orgs_are_on_the_first_page(api: Api) -> None:
    first = api.get("/organizations").json()
    assert isinstance(first, list) and len(first) == 50
    by_name = {o["name"]: o for o in first}
    assert by_name["acme"]["display_name"] == "Acme Corporation"
    assert by_name["hostile-html"]["display_name"] == "<img src=x onerror=alert(1)>"
    for name in ("big-co", "kabushiki", "arabic-rtl", "zero-width"):
        assert name in by_name
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", by_name["kabushiki"]["display_name"])
    assert re.search(r"[\u0600-\u06ff]", by_name["arabic-rtl"]["display_name"])
    assert re.search(r"[\u200b-\u200d\u0300-\u036f]", by_name["zero-width"]["display_name"])
    # keys are omitted when unset: no empty branding/metadata placeholders
    assert all(v not in ({}, None, "") for o in first for v in o.values())


# --- token --------------------------------------------------------------------------------------


def test_token_grant_form_and_json(api: Api) -> None:
    r = api.get_token()
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    assert body["expires_in"] == 86400 and body["token_type"] == "Bearer"
    assert body["access_token"].count(".") == 2 and "read:organizations" in body["scope"]
    assert api.get_token().json()["access_token"] != body["access_token"]
    r = api.session.post(
        f"{api.base}/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": "org-desk-sandbox",
            "client_secret": "sandbox-secret",
            "audience": f"{api.base}/api/v2/",
        },
    )
    assert r.status_code == 200
    assert api.call("GET", "/roles", token=r.json()["access_token"]).status_code == 200


def test_token_bad_credentials_and_audience(api: Api) -> None:
    r = api.get_token(client_secret="wrong")
    assert r.status_code == 401
    assert r.json() == {"error": "access_denied", "error_description": "Unauthorized"}
    assert api.get_token(client_id="someone-else").status_code == 401
    assert api.get_token(audience="https://elsewhere.example/").status_code == 403


def test_api_calls_need_a_valid_token(api: Api, sandbox: Tenant) -> None:
    r = api.call("GET", "/organizations", token="")
    assert r.status_code == 401 and error(r)["message"] == "Missing authentication"
    r = api.call("GET", "/organizations", token="not-a-token")
    assert r.status_code == 401
    assert r.json() == {
        "statusCode": 401,
        "error": "Unauthorized",
        "message": "Invalid token",
        "attributes": {"error": "Invalid token"},
    }
    assert "WWW-Authenticate" in r.headers


def test_expire_tokens(api: Api, sandbox: Tenant) -> None:
    assert api.get("/organizations").status_code == 200
    sandbox.expire_tokens()
    r = api.get("/organizations")
    assert r.status_code == 401 and r.json()["message"] == "Invalid token"
    assert r.headers["WWW-Authenticate"]
    api.login()
    assert api.get("/organizations").status_code == 200


# --- organizations ------------------------------------------------------------------------------


def test_org_list_offset_shapes(api: Api) -> None:
    body = api.get("/organizations", page=1, per_page=20, include_totals="true").json()
    assert list(body) == ["organizations", "start", "limit", "total"]
    assert (body["start"], body["limit"], body["total"]) == (20, 20, ORGS)
    assert len(body["organizations"]) == 20
    assert api.get("/organizations", include_totals="false").json()[0]["name"] == "acme"
    assert len(api.get("/organizations", per_page=100).json()) == 100
    for bad in ({"per_page": 101}, {"per_page": 0}, {"take": 101}, {"page": "x"}):
        r = api.get("/organizations", **bad)
        assert r.status_code == 400 and error(r)["errorCode"] == "invalid_query_string", bad
    assert error(api.get("/organizations", per_page=101))["message"] == (
        "Query validation error: 'Value 101 is greater than maximum 100' on property per_page."
    )


def test_offset_pagination_stops_at_a_thousand(api: Api) -> None:
    assert len(api.get("/organizations", page=9, per_page=100).json()) == 100
    r = api.get("/organizations", page=10, per_page=100)
    assert r.status_code == 400
    assert r.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Requesting page 10 exceeds the allowed maximum of 1000 records. To fetch "
        "results beyond 1000, use the checkpoint pagination method.",
        "errorCode": "invalid_paging",
    }
    # whatever the real count: the roles list is short, the cap still applies
    assert error(api.get("/roles", page=20, per_page=50))["errorCode"] == "invalid_paging"
    big = org(api, "big-co")
    assert error(api.get(f"/organizations/{big}/members", page=20))["errorCode"] == (
        "invalid_paging"
    )


def test_org_checkpoint_reaches_every_organization(api: Api) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"take": 100, "include_totals": "true"}
    pages = 0
    while True:
        body = api.get("/organizations", **params).json()
        pages += 1
        assert "total" not in body and "start" not in body
        seen += [o["id"] for o in body["organizations"]]
        if "next" not in body:
            break
        assert set(body) == {"organizations", "next"}
        params = {"from": body["next"], "take": 100}
    assert pages == 11 and len(seen) == len(set(seen)) == ORGS
    assert body["organizations"]  # organizations: the last page is non-empty and has no next
    first = api.get("/organizations", take=2).json()
    # Opaque, like Auth0's, and deliberately not base64: URL-special characters that a client
    # must percent-encode. It round-trips: the page after it starts after its organization.
    cursor = first["next"]
    assert {"|", "+", "/", "=", "&"} <= set(cursor)
    with pytest.raises(ValueError):
        base64.b64decode(cursor, validate=True)
    after = api.get("/organizations", take=1, **{"from": cursor}).json()["organizations"]
    everything = [o["id"] for o in api.get("/organizations", take=3).json()["organizations"]]
    assert [first["organizations"][1]["id"], after[0]["id"]] == everything[1:]
    for broken in (cursor[:-1], cursor.replace("+", " "), cursor + "x"):
        r = api.get("/organizations", take=1, **{"from": broken})
        assert r.status_code == 400 and r.json()["errorCode"] == "invalid_query_string"
    r = api.get("/organizations", **{"from": "not-a-cursor!", "take": 5})
    assert r.status_code == 400 and r.json()["errorCode"] == "invalid_query_string"


def test_org_sort(api: Api) -> None:
    names = [o["name"] for o in api.get("/organizations", sort="name:1", per_page=100).json()]
    assert names == sorted(names)
    desc = [o["name"] for o in api.get("/organizations", sort="name:-1", per_page=10).json()]
    assert desc == sorted(desc, reverse=True)
    page1 = api.get("/organizations", sort="display_name:1", take=50).json()
    page2 = api.get("/organizations", sort="display_name:1", take=50, **{"from": page1["next"]})
    shown = [o["display_name"] for o in page1["organizations"] + page2.json()["organizations"]]
    assert shown == sorted(shown)
    assert api.get("/organizations", sort="email:1").status_code == 400


def test_unknown_query_parameters_are_rejected(api: Api) -> None:
    r = api.get("/organizations", q="acme")
    assert r.status_code == 400
    assert r.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Query validation error: 'Additional properties not allowed: q'.",
        "errorCode": "invalid_query_string",
    }
    assert api.get("/organizations", name="acme").status_code == 400
    acme = org(api, "acme")
    assert api.get(f"/organizations/{acme}/enabled_connections", take=5).status_code == 400
    assert api.get("/roles", include_totals="yes").status_code == 400
    assert api.get(f"/organizations/{acme}", fields="name").status_code == 400
    r = api.call("GET", "/organizations", params=[("per_page", 5), ("per_page", 6)])
    assert r.status_code == 400


def test_get_org_by_id_and_name_and_404(api: Api) -> None:
    acme = api.get("/organizations/name/acme").json()
    assert acme["name"] == "acme" and acme["id"].startswith("org_")
    assert api.get(f"/organizations/{acme['id']}").json() == acme
    missing = {
        "statusCode": 404,
        "error": "Not Found",
        "message": "No organization found by that id or name",
    }
    assert api.get("/organizations/org_XXXXXXXXXXXXXXXX").json() == missing
    r = api.get("/organizations/name/no-such-org")
    assert r.status_code == 404 and r.json() == missing
    r = api.get("/organizations/name/" + "a" * 51)
    assert r.status_code == 400 and r.json()["errorCode"] == "invalid_uri"


def test_encoded_slash_never_splits_a_segment(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    r = api.get(f"/organizations/{acme}%2Fenabled_connections")
    assert r.status_code == 404 and r.json()["message"].startswith("No organization found")
    r = api.get(f"/organizations/{enc(acme + '/members/' + PIPEY)}/roles")
    assert r.status_code == 404
    r = api.get("/organizations/name/acme%2F..%2F..%2Froles")
    assert r.status_code == 404 and "organization" in r.json()["message"]
    assert api.get(f"/organizations/{acme}/enabled_connections/").status_code == 404
    assert (
        sandbox.requests_log[-2]["raw_path"] == "/api/v2/organizations/name/acme%2F..%2F..%2Froles"
    )


def test_unknown_route_and_wrong_method(api: Api) -> None:
    not_found = {"statusCode": 404, "error": "Not Found", "message": "Not Found"}
    assert api.get("/nope").json() == not_found
    r = api.call("PUT", "/organizations")
    assert r.status_code == 404 and r.json() == not_found
    assert api.session.get(f"{api.base}/something-else").status_code == 404


# --- enabled connections ------------------------------------------------------------------------


def test_enabled_connections_list(api: Api) -> None:
    acme = org(api, "acme")
    items = api.get(f"/organizations/{acme}/enabled_connections").json()
    assert isinstance(items, list) and 5 <= len(items) <= 6
    strategies = {i["connection"]["strategy"] for i in items}
    assert len(strategies) == len(items) and "auth0" in strategies
    for item in items:
        keys = {"connection_id", "assign_membership_on_login", "show_as_button", "connection"}
        if item["connection"]["strategy"] == "auth0":
            keys.add("is_signup_enabled")
        assert set(item) == keys
        assert set(item["connection"]) == {"name", "strategy"}
    assert any(i.get("is_signup_enabled") for i in items)
    body = api.get(
        f"/organizations/{acme}/enabled_connections", per_page=50, include_totals="true"
    ).json()
    # the observed quirk: limit is the number of items returned, not per_page
    assert (body["start"], body["limit"], body["total"]) == (0, len(items), len(items))


def test_enabled_connection_lifecycle(api: Api) -> None:
    acme = org(api, "acme")
    base = f"/organizations/{acme}/enabled_connections"
    item = api.get(base).json()[2]
    cid = item["connection_id"]
    assert api.get(f"{base}/{cid}").json() == item
    r = api.call("PATCH", f"{base}/{cid}", json={"show_as_button": False})
    assert r.status_code == 200 and r.json()["show_as_button"] is False
    assert api.get(f"{base}/{cid}").json()["show_as_button"] is False
    r = api.call("DELETE", f"{base}/{cid}")
    assert r.status_code == 204 and r.content == b""
    gone = {"statusCode": 404, "error": "Not Found", "message": "No connection found by that id"}
    assert api.get(f"{base}/{cid}").json() == gone
    assert api.call("DELETE", f"{base}/{cid}").json() == gone
    body = {"connection_id": cid, "assign_membership_on_login": True}
    r = api.call("POST", base, json=body)
    assert r.status_code == 201
    assert r.json()["show_as_button"] is True and r.json()["assign_membership_on_login"] is True
    r = api.call("POST", base, json=body)
    assert r.status_code == 409
    assert r.json()["message"] == "The organization connection already exists."


def test_enabled_connection_validation(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    base = f"/organizations/{acme}/enabled_connections"
    db = next(i for i in api.get(base).json() if i["connection"]["strategy"] == "auth0")
    r = api.call(
        "PATCH", f"{base}/{db['connection_id']}", json={"assign_membership_on_login": False}
    )
    assert r.status_code == 400
    assert r.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "Only database connections with assign_membership_on_login = true support "
        "is_signup_enabled = true.",
        "errorCode": "invalid_body",
    }
    r = api.call("PATCH", f"{base}/{db['connection_id']}", json={"scopes": ["x"]})
    assert r.json()["message"] == (
        "Payload validation error: 'Additional properties not allowed: scopes'."
    )
    r = api.call("PATCH", f"{base}/{db['connection_id']}", json={"show_as_button": "yes"})
    assert r.status_code == 400 and r.json()["errorCode"] == "invalid_body"
    r = api.call("POST", base, json={"assign_membership_on_login": True})
    assert r.status_code == 400 and "connection_id" in r.json()["message"]
    r = api.call("POST", base, json={"connection_id": "con_XXXXXXXXXXXXXXXX"})
    assert r.status_code == 404 and r.json()["errorCode"] == "inexistent_connection"
    github = next(c for c in sandbox.store.connections.values() if c["name"] == "github")
    body = {"connection_id": github["id"], "is_signup_enabled": True}
    r = api.call("POST", base, json={**body, "assign_membership_on_login": True})
    assert r.status_code == 400 and r.json()["errorCode"] == "invalid_body"


def test_at_most_ten_connections_per_organization(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    base = f"/organizations/{acme}/enabled_connections"
    enabled = {i["connection_id"] for i in api.get(base).json()}
    statuses = [
        api.call("POST", base, json={"connection_id": cid}).status_code
        for cid in sandbox.store.connections
        if cid not in enabled
    ]
    assert statuses.count(201) == 10 - len(enabled) and statuses[-1] == 409
    assert len(api.get(base).json()) == 10


# --- connections --------------------------------------------------------------------------------


def test_connections_list(api: Api) -> None:
    items = api.get("/connections").json()
    assert len(items) == 12
    c = items[0]
    for key in ("id", "name", "strategy", "options", "is_domain_connection", "realms"):
        assert key in c
    assert c["authentication"] == {"active": True} and "connected_accounts" in c
    loose = api.get("/connections", fields="id", include_fields="true").json()
    assert all(set(x) == {"id", "is_domain_connection"} for x in loose)
    r = api.call("GET", "/connections", params=[("strategy", "samlp"), ("strategy", "okta")])
    assert sorted(x["strategy"] for x in r.json()) == ["okta", "samlp"]
    assert [x["name"] for x in api.get("/connections", name="github").json()] == ["github"]
    body = api.get("/connections", include_totals="true", per_page=5).json()
    assert list(body) == ["total", "start", "limit", "connections"] and body["total"] == 12
    first = api.get("/connections", take=10).json()
    rest = api.get("/connections", take=10, **{"from": first["next"]}).json()
    assert len(first["connections"]) == 10 and len(rest["connections"]) == 2
    assert "next" not in rest
    assert api.get("/connections", q="x").status_code == 400


def test_get_connection_fields_are_loose(api: Api) -> None:
    cid = api.get("/connections").json()[0]["id"]
    got = api.get(f"/connections/{cid}", fields="strategy,name").json()
    assert set(got) == {
        "id",
        "strategy",
        "name",
        "is_domain_connection",
        "authentication",
        "connected_accounts",
    }
    r = api.get("/connections/con_XXXXXXXXXXXXXXXX")
    assert r.status_code == 404
    assert r.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "The connection does not exist",
        "errorCode": "inexistent_connection",
    }


def test_patch_connection_persists_and_replaces_options(api: Api) -> None:
    conn = next(c for c in api.get("/connections").json() if c["name"] == "acme-saml")
    path = f"/connections/{conn['id']}"
    r = api.call("PATCH", path, json={"is_domain_connection": True})
    assert r.status_code == 200
    full = r.json()
    assert full["is_domain_connection"] is True
    assert full["display_name"] == conn["display_name"] and full["options"] == conn["options"]
    assert api.get(path).json()["is_domain_connection"] is True
    r = api.call("PATCH", path, json={"options": {"strategy_version": 2}})
    assert r.json()["options"] == {"strategy_version": 2}
    for key in ("name", "strategy", "id"):
        r = api.call("PATCH", path, json={key: "x"})
        assert r.status_code == 400
        assert r.json()["message"] == (
            f"Payload validation error: 'Additional properties not allowed: {key}'."
        )
    r = api.call("PATCH", path, json={"is_domain_connection": "true"})
    assert r.json()["message"] == (
        "Payload validation error: 'Expected type boolean but found type string' "
        "on property is_domain_connection."
    )
    r = api.call("PATCH", path, json=[1])
    assert r.status_code == 400 and r.json()["errorCode"] == "invalid_body"
    r = api.call("PATCH", "/connections/con_XXXXXXXXXXXXXXXX", json={"show_as_button": True})
    assert r.status_code == 404


# --- members ------------------------------------------------------------------------------------


def test_members_fields_and_roles(api: Api) -> None:
    acme = org(api, "acme")
    plain = api.get(f"/organizations/{acme}/members").json()
    assert 10 <= len(plain) <= 14
    assert all(set(m) <= {"user_id", "email", "name", "picture"} for m in plain)
    assert all("roles" not in m for m in plain)
    body = api.get(
        f"/organizations/{acme}/members",
        fields="user_id,email,name,picture,roles",
        include_fields="true",
        include_totals="true",
        per_page=50,
    ).json()
    assert (body["start"], body["limit"], body["total"]) == (0, 50, len(plain))
    jane = next(m for m in body["members"] if m["user_id"] == SLASHY)
    assert jane["roles"] and set(jane["roles"][0]) == {"id", "name"}
    ids = api.get(f"/organizations/{acme}/members", fields="user_id,roles").json()
    assert all(set(m) == {"user_id", "roles"} for m in ids)
    hidden = api.get(f"/organizations/{acme}/members", fields="email", include_fields="false")
    assert all("email" not in m for m in hidden.json())


def test_members_checkpoint_reaches_all_and_ends_with_an_empty_page(api: Api) -> None:
    big = org(api, "big-co")
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"take": 100, "fields": "user_id,email,name,picture,roles"}
    while True:
        body = api.get(f"/organizations/{big}/members", **params).json()
        pages.append(body)
        seen += [m["user_id"] for m in body["members"]]
        if "next" not in body or not body["members"]:
            break
        params["from"] = body["next"]
    assert len(seen) == len(set(seen)) == BIG
    assert pages[-1] == {"members": []}
    assert all("next" in p for p in pages[:-1]) and len(pages) == 12
    short = api.get(f"/organizations/{big}/members", take=100, **{"from": pages[9]["next"]})
    assert len(short.json()["members"]) == 100 and "next" in short.json()  # 1,001-1,100
    acme = org(api, "acme")
    body = api.get(f"/organizations/{acme}/members", take=50).json()
    assert len(body["members"]) < 50 and "next" in body  # short page still has next
    assert api.get(f"/organizations/{acme}/members", take=50, **{"from": body["next"]}).json() == {
        "members": []
    }


@pytest.mark.parametrize("user_id", [SLASHY, PIPEY, "oidc|corp/okta|00u1abc"])
def test_member_roles_with_awkward_user_ids(api: Api, sandbox: Tenant, user_id: str) -> None:
    acme = org(api, "acme")
    path = f"/organizations/{acme}/members/{enc(user_id)}/roles"
    before = api.get(path).json()
    assert all(set(r) == {"id", "name", "description"} for r in before)
    held = {r["id"] for r in before}
    new = [r["id"] for r in api.get("/roles", per_page=100).json() if r["id"] not in held][:2]
    sandbox.clear_log()
    r = api.call("POST", path, json={"roles": new})
    assert r.status_code == 204 and r.content == b""
    [entry] = sandbox.requests_log
    assert entry["raw_path"] == f"/api/v2{path}" and "%7C" in entry["raw_path"]
    assert entry["json"] == {"roles": new} and entry["status"] == 204
    if "/" in user_id:
        assert "%2F" in entry["raw_path"]
    after = api.get(path, include_totals="true").json()
    assert {r["id"] for r in after["roles"]} == held | set(new)
    assert after["total"] == len(held) + 2
    assert api.call("DELETE", path, json={"roles": new[:1]}).status_code == 204
    assert {r["id"] for r in api.get(path).json()} == held | {new[1]}


def test_fifty_roles_per_member(api: Api) -> None:
    acme = org(api, "acme")
    roles = [r["id"] for r in api.get("/roles", per_page=100).json()]
    nine = f"/organizations/{acme}/members/{enc(NINE)}/roles"
    held = {r["id"] for r in api.get(nine, per_page=100).json()}
    assert len(held) == 49
    spare = [r for r in roles if r not in held]
    r = api.call("POST", nine, json={"roles": spare[:2]})
    assert r.status_code == 409
    assert r.json()["message"] == "No more roles can be assigned to this organization member."
    assert api.call("POST", nine, json={"roles": spare[:1]}).status_code == 204
    assert api.call("POST", nine, json={"roles": spare[1:2]}).status_code == 409
    fifty = f"/organizations/{acme}/members/{enc(FIFTY)}/roles"
    held50 = [r["id"] for r in api.get(fifty, per_page=100).json()]
    assert len(held50) == 50
    assert api.call("POST", fifty, json={"roles": held50[:1]}).status_code == 204  # no new role


def test_member_roles_errors(api: Api) -> None:
    acme = org(api, "acme")
    path = f"/organizations/{acme}/members/{enc(PIPEY)}/roles"
    r = api.call("POST", path, json={"roles": ["rol_XXXXXXXXXXXXXXXX"]})
    assert r.status_code == 404
    assert r.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "The role does not exist.",
    }
    stranger = f"/organizations/{acme}/members/{enc('auth0|000000000000000000000000')}/roles"
    r = api.call("POST", stranger, json={"roles": [api.get("/roles").json()[0]["id"]]})
    assert r.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "The user does not exist.",
        "errorCode": "inexistent_user",
    }
    assert api.get(stranger).status_code == 404
    r = api.call("POST", path, json={"roles": []})
    assert r.status_code == 400 and r.json()["errorCode"] == "invalid_body"
    r = api.call("POST", path, json={"roles": ["rol_a"], "extra": 1})
    assert "Additional properties not allowed: extra" in r.json()["message"]
    r = api.call("POST", path, json={"roles": [1]})
    assert r.status_code == 400
    r = api.call(
        "POST", "/organizations/org_XXXXXXXXXXXXXXXX/members/x/roles", json={"roles": ["a"]}
    )
    assert r.json()["message"] == "No organization found by that id or name"


def test_add_and_remove_members(api: Api) -> None:
    acme, big = org(api, "acme"), org(api, "big-co")
    newcomer = api.get(f"/organizations/{big}/members", per_page=1).json()[0]["user_id"]
    base = f"/organizations/{acme}/members"
    assert api.call("POST", base, json={"members": [newcomer]}).status_code == 204
    assert newcomer in {m["user_id"] for m in api.get(base, per_page=100).json()}
    assert api.call("DELETE", base, json={"members": [newcomer]}).status_code == 204
    assert newcomer not in {m["user_id"] for m in api.get(base, per_page=100).json()}


def test_user_search_finds_members_by_email(api: Api, sandbox: Tenant) -> None:
    big = org(api, "big-co")
    target = next(u for u in sandbox.store.members[big] if "/" in u)
    email = sandbox.store.users[target]["email"]
    fields = {"fields": "user_id,email,name,picture", "include_fields": "true"}
    # Exact and case-insensitive, within the organization only.
    q = f'organization_id:"{big}" AND email:"{email.upper()}"'
    found = api.get("/users", q=q, search_engine="v3", **fields).json()
    assert [u["user_id"] for u in found] == [target]
    assert set(found[0]) == {"user_id", "email", "name", "picture"}
    acme = org(api, "acme")
    assert api.get("/users", q=f'organization_id:"{acme}" AND email:"{email}"').json() == []
    # A prefix with Lucene escapes; totals in the search shape.
    local = email.split("@")[0]
    prefix = local[:-1].replace(".", "\\.")
    body = api.get(
        "/users", q=f'organization_id:"{big}" AND email:{prefix}*', include_totals="true"
    ).json()
    assert set(body) == {"users", "start", "limit", "length", "total"}
    assert target in {u["user_id"] for u in body["users"]}
    assert all(u["email"].startswith(local[:-1]) for u in body["users"])
    # Auth0's 1,000-result window and per_page bound apply.
    r = api.get("/users", q=f'organization_id:"{big}"', page=20, per_page=50)
    assert r.status_code == 400 and r.json()["errorCode"] == "invalid_paging"


@pytest.mark.parametrize(
    "q", ['name:"jane"', 'email:"a@b" OR email:"c@d"', "email:", 'organization_id:"x" AND']
)
def test_user_search_refuses_what_it_does_not_understand(api: Api, q: str) -> None:
    r = api.get("/users", q=q)
    assert r.status_code == 400 and r.json()["errorCode"] == "invalid_query_string"
    assert api.get("/users", q='email:"a@b"', search_engine="v1").status_code == 400
    assert api.get("/users", q='email:"a@b"', name="x").status_code == 400


def test_user_search_needs_read_users(api: Api, sandbox: Tenant) -> None:
    sandbox.set_scopes(["read:organization_members"])
    r = api.get("/users", q='email:"a@b.example"')
    assert r.status_code == 403
    assert r.json()["message"] == "Insufficient scope, expected any of: read:users"


# --- roles --------------------------------------------------------------------------------------


def test_roles_list_and_name_filter(api: Api) -> None:
    roles = api.get("/roles", per_page=100).json()
    assert len(roles) >= 60 and all(set(r) == {"id", "name", "description"} for r in roles)
    assert any("<script>" in r["description"] for r in roles)
    found = api.get("/roles", name_filter="bILLing").json()
    assert found and all("billing" in r["name"].lower() for r in found)
    body = api.get("/roles", include_totals="true", per_page=10, page=1).json()
    assert (body["start"], body["limit"], body["total"]) == (10, 10, len(roles))
    r = api.get("/roles/rol_XXXXXXXXXXXXXXXX")
    assert r.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "The role does not exist.",
    }


# --- scopes, rate limits, faults ----------------------------------------------------------------


def test_missing_scopes_give_403(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    sandbox.set_scopes(["read:organizations_summary", "read:organization_members"])
    assert api.get("/organizations").status_code == 200
    r = api.get(f"/organizations/{acme}/members", fields="user_id,roles")
    assert r.status_code == 403
    assert r.json() == {
        "statusCode": 403,
        "error": "Forbidden",
        "message": "Insufficient scope, expected any of: read:organization_members, "
        "read:organization_member_roles",
        "errorCode": "insufficient_scope",
    }
    assert api.get(f"/organizations/{acme}/members").status_code == 200
    r = api.get("/organizations/name/acme")
    assert r.json()["message"] == "Insufficient scope, expected any of: read:organizations"
    r = api.get("/organizations/org_XXXXXXXXXXXXXXXX/enabled_connections")
    assert r.status_code == 403  # scopes are checked before the organization is looked up
    assert api.get_token().json()["scope"] == (
        "read:organizations_summary read:organization_members"
    )
    sandbox.set_scopes(["read:connections", "update:connections"])
    cid = api.get("/connections").json()[0]["id"]
    assert "options" not in api.get(f"/connections/{cid}").json()
    r = api.call("PATCH", f"/connections/{cid}", json={"options": {}})
    assert r.status_code == 403 and "update:connections_options" in r.json()["message"]
    sandbox.set_scopes(None)
    assert api.get(f"/organizations/{acme}/members", fields="roles").status_code == 200


def test_rate_limit_headers_and_429(api: Api, sandbox: Tenant) -> None:
    for r in (api.get("/organizations"), api.get("/nope"), api.get("/connections/con_x")):
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(r.headers)
        assert abs(int(r.headers["X-RateLimit-Reset"]) - time.time()) < 120
    sandbox.set_rate_limit(3, window=60)
    remaining = [int(api.get("/roles").headers["X-RateLimit-Remaining"]) for _ in range(3)]
    assert remaining == [2, 1, 0]
    r = api.get("/roles")
    assert r.status_code == 429
    assert r.json() == {
        "statusCode": 429,
        "error": "Too Many Requests",
        "message": "Global limit has been reached",
        "errorCode": "too_many_requests",
    }
    assert r.headers["X-RateLimit-Limit"] == "3" and r.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(r.headers["X-RateLimit-Reset"]) - time.time() <= 21
    assert api.get_token().status_code == 200  # the token endpoint is not in the bucket
    sandbox.set_rate_limit(None)
    assert api.get("/roles").status_code == 200


def test_rate_limit_refills(api: Api, sandbox: Tenant) -> None:
    sandbox.set_rate_limit(1, window=0.2)
    assert api.get("/roles").status_code == 200
    assert api.get("/roles").status_code == 429
    time.sleep(0.25)
    assert api.get("/roles").status_code == 200


def test_fault_statuses_with_standard_bodies(api: Api, sandbox: Tenant) -> None:
    sandbox.add_fault(method="GET", path=r"^/api/v2/organizations$", status=429)
    r = api.get("/organizations")
    assert r.status_code == 429 and r.json()["errorCode"] == "too_many_requests"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert int(r.headers["X-RateLimit-Reset"]) > time.time()
    assert api.get("/organizations").status_code == 200  # times=1
    sandbox.add_fault(path=r"/roles", status=401, times=2)
    assert [api.get("/roles").status_code for _ in range(3)] == [401, 401, 200]
    sandbox.add_fault(method="PATCH", status=503)
    assert api.get("/roles").status_code == 200  # method does not match
    cid = api.get("/connections").json()[0]["id"]
    r = api.call("PATCH", f"/connections/{cid}", json={"is_domain_connection": True})
    assert r.status_code == 503 and r.json()["message"] == "Service Unavailable"
    assert api.get(f"/connections/{cid}").json()["is_domain_connection"] is False  # not applied
    sandbox.add_fault(path="/roles", status=403)
    assert "read:roles" in api.get("/roles").json()["message"]
    sandbox.add_fault(path="/roles", status=429, headers={"X-RateLimit-Reset": "12345"})
    assert api.get("/roles").headers["X-RateLimit-Reset"] == "12345"
    sandbox.add_fault(path="/roles", status=500, times=None)
    assert api.get("/roles").status_code == api.get("/roles").status_code == 500
    sandbox.clear_faults()
    assert api.get("/roles").status_code == 200


def test_fault_custom_and_non_json_bodies(api: Api, sandbox: Tenant) -> None:
    sandbox.add_fault(path="enabled_connections", status=502, body="<html>502 Bad Gateway</html>")
    acme = org(api, "acme")
    r = api.get(f"/organizations/{acme}/enabled_connections")
    assert r.status_code == 502 and r.text == "<html>502 Bad Gateway</html>"
    assert r.headers["Content-Type"].startswith("text/html")
    sandbox.add_fault(path="/roles", status=200, body="this is not json")
    with pytest.raises(ValueError):
        api.get("/roles").json()
    custom = {"statusCode": 409, "error": "Conflict", "message": "custom", "errorCode": "x"}
    sandbox.add_fault(path="/roles", status=409, body=custom)
    assert api.get("/roles").json() == custom


def test_fault_delay_becomes_a_read_timeout(api: Api, sandbox: Tenant) -> None:
    sandbox.add_fault(path="/roles", delay=2.0)
    started = time.perf_counter()
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.call("GET", "/roles", timeout=0.15)
    assert 0.1 < time.perf_counter() - started < 1.0
    sandbox.add_fault(path="/roles", delay=2.0)
    with pytest.raises(requests.exceptions.Timeout):
        api.call("GET", "/roles", timeout=(1, 0.1))
    sandbox.add_fault(path="/roles", delay=0.05)
    assert api.call("GET", "/roles", timeout=1).status_code == 200  # a short delay just waits
    assert api.call("GET", "/roles", timeout=0.01).status_code == 200  # fault used up


def test_latency_applies_to_every_api_call(api: Api, sandbox: Tenant) -> None:
    sandbox.latency = 0.05
    started = time.perf_counter()
    api.get("/roles")
    assert time.perf_counter() - started >= 0.05
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.call("GET", "/roles", timeout=0.01)


def test_fault_drop_becomes_a_connection_error(api: Api, sandbox: Tenant) -> None:
    sandbox.add_fault(method="DELETE", drop=True)
    acme = org(api, "acme")
    cid = api.get(f"/organizations/{acme}/enabled_connections").json()[0]["connection_id"]
    with pytest.raises(requests.exceptions.ConnectionError):
        api.call("DELETE", f"/organizations/{acme}/enabled_connections/{cid}")
    assert sandbox.requests_log[-1]["method"] == "DELETE"
    assert sandbox.requests_log[-1]["status"] is None
    assert len(api.get(f"/organizations/{acme}/enabled_connections").json()) >= 5


@pytest.mark.parametrize("transport", ["api", "http"])
def test_fault_truncate_cuts_the_answer_after_making_the_change(
    request: pytest.FixtureRequest, sandbox: Tenant, transport: str
) -> None:
    client: Api = request.getfixturevalue(transport)
    acme = org(client, "acme")
    before = client.get(f"/organizations/{acme}/enabled_connections").json()
    cid = before[0]["connection_id"]
    sandbox.add_fault(method="PATCH", path="/enabled_connections/", truncate=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.call(
            "PATCH",
            f"/organizations/{acme}/enabled_connections/{cid}",
            json={"show_as_button": not before[0]["show_as_button"]},
        )
    after = client.get(f"/organizations/{acme}/enabled_connections").json()
    assert after[0]["show_as_button"] is not before[0]["show_as_button"]  # the change was made


def test_requests_log_and_state_persistence(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    sandbox.clear_log()
    assert sandbox.requests_log == []
    api.get("/organizations", per_page=5, include_totals="true")
    conn = api.get(f"/organizations/{acme}/enabled_connections").json()[0]
    api.call(
        "PATCH",
        f"/organizations/{acme}/enabled_connections/{conn['connection_id']}",
        json={"show_as_button": not conn["show_as_button"]},
    )
    first = sandbox.requests_log[0]
    assert first == {
        "method": "GET",
        "raw_path": "/api/v2/organizations",
        "query": "per_page=5&include_totals=true",
        "json": None,
        "status": 200,
    }
    assert sandbox.requests_log[-1]["json"] == {"show_as_button": not conn["show_as_button"]}
    again = api.get(f"/organizations/{acme}/enabled_connections").json()[0]
    assert again["show_as_button"] is not conn["show_as_button"]
    sandbox.reset()
    assert sandbox.requests_log == []
    assert api.get(f"/organizations/{acme}/enabled_connections").json()[0] == conn  # reseeded


def test_concurrent_calls_are_safe(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    path = f"/organizations/{acme}/members/{enc(PIPEY)}/roles"
    roles = [r["id"] for r in api.get("/roles", per_page=40).json()]
    errors: list[int] = []

    def worker(chunk: list[str]) -> None:
        for rid in chunk:
            status = api.call("POST", path, json={"roles": [rid]}).status_code
            if status != 204:
                errors.append(status)

    threads = [threading.Thread(target=worker, args=(roles[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {r["id"] for r in api.get(path, per_page=100).json()} >= set(roles)


# --- real HTTP ----------------------------------------------------------------------------------


def test_http_serves_the_same_contract(http: Api, sandbox: Tenant) -> None:
    assert http.base.startswith("http://127.0.0.1:")
    acme = org(http, "acme")
    path = f"/organizations/{acme}/members/{enc(SLASHY)}/roles"
    assert http.get(path).status_code == 200
    assert sandbox.requests_log[-1]["raw_path"] == f"/api/v2{path}"
    r = http.get(f"/organizations/{acme}%2Fenabled_connections")
    assert r.status_code == 404 and "organization" in r.json()["message"]
    assert "X-RateLimit-Reset" in r.headers
    body = http.get("/organizations", take=100).json()
    assert len(body["organizations"]) == 100 and body["next"]
    r = http.call("DELETE", f"/organizations/{acme}/enabled_connections/con_XXXXXXXXXXXXXXXX")
    assert r.status_code == 404


def test_http_faults(http: Api, sandbox: Tenant) -> None:
    sandbox.add_fault(path="/roles", status=503)
    assert http.get("/roles").status_code == 503
    sandbox.add_fault(path="/roles", drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get("/roles")
    sandbox.add_fault(path="/roles", delay=1.0)
    started = time.perf_counter()
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.call("GET", "/roles", timeout=0.2)
    assert time.perf_counter() - started < 0.9
    sandbox.add_fault(path="/roles", status=502, body="<html>502 Bad Gateway</html>")
    assert http.get("/roles").text == "<html>502 Bad Gateway</html>"
    assert http.get("/roles").status_code == 200


def test_http_control_endpoints(http: Api, sandbox: Tenant) -> None:
    s, base = http.session, http.base
    r = s.post(f"{base}/__sandbox/faults", json={"path": "/roles", "status": 500, "times": 2})
    assert r.status_code == 201
    assert [http.get("/roles").status_code for _ in range(3)] == [500, 500, 200]
    s.post(f"{base}/__sandbox/faults", json={"path": "/roles", "status": 500})
    assert s.delete(f"{base}/__sandbox/faults").status_code == 204
    assert http.get("/roles").status_code == 200
    assert s.post(f"{base}/__sandbox/faults", json={"nope": 1}).status_code == 400
    log = s.get(f"{base}/__sandbox/requests").json()
    assert log[-1]["raw_path"] == "/api/v2/roles" and log[-1]["status"] == 200
    assert not any(e["raw_path"].startswith("/__sandbox") for e in log)
    assert s.delete(f"{base}/__sandbox/requests").status_code == 204
    assert s.get(f"{base}/__sandbox/requests").json() == []
    r = s.post(f"{base}/__sandbox/config", json={"scopes": ["read:organizations"]})
    assert r.json()["scopes"] == ["read:organizations"]
    assert http.get("/roles").status_code == 403
    s.post(f"{base}/__sandbox/config", json={"scopes": None, "rate_limit": 1, "rate_window": 60})
    assert [http.get("/roles").status_code for _ in range(2)] == [200, 429]
    s.post(f"{base}/__sandbox/config", json={"rate_limit": None, "latency": 0.0})
    s.post(f"{base}/__sandbox/config", json={"expire_tokens": True})
    assert http.get("/roles").status_code == 401
    http.login()
    acme = org(http, "acme")
    cid = http.get(f"/organizations/{acme}/enabled_connections").json()[0]["connection_id"]
    http.call("DELETE", f"/organizations/{acme}/enabled_connections/{cid}")
    assert s.post(f"{base}/__sandbox/reset").status_code == 204
    assert http.get(f"/organizations/{acme}/enabled_connections/{cid}").status_code == 200


def test_serve_refuses_non_loopback_hosts(sandbox: Tenant) -> None:
    with pytest.raises(ValueError, match="loopback"):
        serve(sandbox, host="0.0.0.0")


# --- process-wide tenant and the management command ---------------------------------------------


def test_default_tenant_is_one_per_process() -> None:
    from django.conf import settings

    results: list[Tenant] = []
    threads = [threading.Thread(target=lambda: results.append(default_tenant())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(t is default_tenant() for t in results)
    expected = getattr(settings, "SANDBOX_ORGANIZATIONS", 1200) if settings.configured else 1200
    assert len(default_tenant().store.orgs) == expected


def test_sandbox_api_command_serves_until_interrupted() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, str(ROOT / "manage.py"), "sandbox_api", "--port", "0"]
    refused = subprocess.run(
        [*args, "--host", "0.0.0.0"], env=env, capture_output=True, text=True, timeout=30
    )
    assert refused.returncode != 0 and "loopback" in refused.stderr
    proc = subprocess.Popen(
        [*args, "--organizations", "30", "--members", "5"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert url, first
        assert "AUTH0_CLIENT_SECRET=sandbox-secret" in proc.stdout.readline() + (
            proc.stdout.readline()
        )
        client = Api(requests.Session(), url.group(0)).login()
        assert len(client.get("/organizations", per_page=100).json()) == 30
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert proc.returncode == 0


def test_service_module_does_not_import_the_sandbox() -> None:
    """The sandbox registers its transport with the client; the client never imports it."""
    import subprocess
    import sys

    code = (
        "import sys; import adminsite.auth0; "
        "print('adminsite.auth0.client' in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith('adminsite.sandbox')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "True []"  # the client was imported, and no sandbox module


def test_sandbox_app_registers_its_transport() -> None:
    from adminsite import sandbox
    from adminsite.auth0 import client

    assert sandbox.SANDBOX_BASE_URL + "/" in client._transports
