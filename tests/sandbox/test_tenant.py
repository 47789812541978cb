"""The sandbox tenant: an in-process fake of the Auth0 Management API (adminsite/sandbox):
its seed data, token, organizations, enabled connections and connections.

Most tests go through `SandboxAdapter` (no socket); the `http` ones go through `serve()`.
"""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import pytest

from adminsite.sandbox import (
    Tenant,
)
from tests.sandbox.helpers import FIFTY, NINE, ORGS, PIPEY, Api, enc, error, org

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
