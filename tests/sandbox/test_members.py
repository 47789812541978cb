"""The sandbox tenant's members and roles, through `SandboxAdapter`."""

from __future__ import annotations

from typing import Any

import pytest

from adminsite.sandbox import (
    Tenant,
)
from tests.sandbox.helpers import BIG, FIFTY, NINE, PIPEY, SLASHY, Api, enc, org

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
    "q",
    [
        'nickname:"jane"',
        'email:"a@b" OR email:"c@d"',
        "(email:a* AND name:b*)",
        "(email:a*",
        "email:",
        'organization_id:"x" AND',
    ],
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


def test_user_search_takes_part_of_an_email_or_a_name(api: Api) -> None:
    acme = org(api, "acme")
    body = api.get(
        "/users", q=f'organization_id:"{acme}" AND (email:smi* OR name:smi*)', per_page=50
    ).json()
    assert {u["email"] for u in body} == {"jane@acme.example"}  # "Jane Smith": a word starts so
    body = api.get(
        "/users", q=f'organization_id:"{acme}" AND (email:jane\\ sm* OR name:jane\\ sm*)'
    ).json()
    assert [u["name"] for u in body] == ["Jane Smith"]  # an escaped space is part of the term
