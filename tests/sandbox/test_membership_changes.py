"""The sandbox tenant's changes to an organization's members and connections:
limits, idempotence, errors and scopes, and the service module's batches against it."""

from __future__ import annotations

import pytest

from adminsite.sandbox import Tenant
from tests.sandbox.helpers import PIPEY, SLASHY, Api, error, org

SIGNUP_RULE = (
    "Only database connections with assign_membership_on_login = true support "
    "is_signup_enabled = true."
)


def _strangers(sandbox: Tenant, oid: str, n: int) -> list[str]:
    """Users of the tenant who are not members of `oid`."""
    members = sandbox.store.members[oid]
    return [u for u in sandbox.store.users if u not in members][:n]


# --- members ------------------------------------------------------------------------------------


def test_at_most_ten_members_per_call(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    base = f"/organizations/{acme}/members"
    eleven = _strangers(sandbox, acme, 11)
    for method in ("POST", "DELETE"):
        r = api.call(method, base, json={"members": eleven})
        assert r.status_code == 400
        assert error(r) == {
            "statusCode": 400,
            "error": "Bad Request",
            "message": "Payload validation error: 'Array is too long (11), maximum 10' on "
            "property members.",
            "errorCode": "invalid_body",
        }
    assert not set(eleven) & set(sandbox.store.members[acme])
    assert api.call("POST", base, json={"members": eleven[:10]}).status_code == 204
    assert set(eleven[:10]) <= set(sandbox.store.members[acme])


def test_adding_a_member_twice_and_removing_a_stranger_are_not_errors(
    api: Api, sandbox: Tenant
) -> None:
    acme = org(api, "acme")
    base = f"/organizations/{acme}/members"
    since = sandbox.store.members[acme][PIPEY]
    roles = list(sandbox.store.member_roles[(acme, PIPEY)])
    assert api.call("POST", base, json={"members": [PIPEY, SLASHY]}).status_code == 204
    assert sandbox.store.members[acme][PIPEY] == since  # membership kept as it was
    assert sandbox.store.member_roles[(acme, PIPEY)] == roles
    stranger = _strangers(sandbox, acme, 1)
    r = api.call("DELETE", base, json={"members": [*stranger, "auth0|not-a-user-at-all"]})
    assert r.status_code == 204
    assert api.call("DELETE", base, json={"members": [PIPEY]}).status_code == 204
    assert PIPEY not in sandbox.store.members[acme]
    assert (acme, PIPEY) not in sandbox.store.member_roles  # roles go with the membership


def test_adding_an_unknown_user_adds_nobody(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    known = _strangers(sandbox, acme, 1)
    r = api.call(
        "POST", f"/organizations/{acme}/members", json={"members": [*known, "auth0|nobody"]}
    )
    assert r.status_code == 404
    assert error(r) == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "The user does not exist.",
        "errorCode": "inexistent_user",
    }
    assert known[0] not in sandbox.store.members[acme]


@pytest.mark.parametrize(
    "body",
    [{"members": []}, {"members": "auth0|1"}, {"members": [1]}, {"users": ["auth0|1"]}, {}],
)
def test_members_body_is_validated(api: Api, body: object) -> None:
    acme = org(api, "acme")
    for method in ("POST", "DELETE"):
        r = api.call(method, f"/organizations/{acme}/members", json=body)
        assert r.status_code == 400 and error(r)["errorCode"] == "invalid_body"


def test_members_changes_need_their_scopes(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    base = f"/organizations/{acme}/members"
    sandbox.set_scopes(["read:organization_members"])
    for method, scope in (
        ("POST", "create:organization_members"),
        ("DELETE", "delete:organization_members"),
    ):
        r = api.call(method, base, json={"members": [PIPEY]})
        assert r.status_code == 403
        assert error(r)["message"] == f"Insufficient scope, expected any of: {scope}"
    assert api.call("POST", "/organizations/org_XXXXXXXXXXXXXXXX/members").status_code == 403


def test_members_of_an_unknown_organization(api: Api) -> None:
    r = api.call("POST", "/organizations/org_XXXXXXXXXXXXXXXX/members", json={"members": [PIPEY]})
    assert r.status_code == 404
    assert error(r)["message"] == "No organization found by that id or name"


# --- enabled connections ------------------------------------------------------------------------


def test_patch_settings_of_each_kind_of_connection(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    base = f"/organizations/{acme}/enabled_connections"
    items = {i["connection"]["strategy"]: i for i in api.get(base).json()}
    saml = items["samlp"]["connection_id"]
    r = api.call("PATCH", f"{base}/{saml}", json={"is_signup_enabled": True})
    assert r.status_code == 400 and error(r)["message"] == SIGNUP_RULE
    r = api.call("PATCH", f"{base}/{saml}", json={"show_as_button": False})
    assert r.status_code == 200 and r.json()["show_as_button"] is False
    assert "is_signup_enabled" not in r.json()  # only database connections carry it
    db = items["auth0"]["connection_id"]
    r = api.call(
        "PATCH",
        f"{base}/{db}",
        json={"is_signup_enabled": False, "assign_membership_on_login": False},
    )
    assert r.status_code == 200
    assert (r.json()["is_signup_enabled"], r.json()["assign_membership_on_login"]) == (False, False)
    r = api.call("PATCH", f"{base}/{db}", json={"is_signup_enabled": True})
    assert error(r)["message"] == SIGNUP_RULE  # membership on login is off now
    r = api.call(
        "PATCH",
        f"{base}/{db}",
        json={"is_signup_enabled": True, "assign_membership_on_login": True},
    )
    assert r.status_code == 200 and r.json()["is_signup_enabled"] is True
    assert api.call("PATCH", f"{base}/{db}", json={}).status_code == 200


def test_patch_of_a_connection_not_enabled_here(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    base = f"/organizations/{acme}/enabled_connections"
    enabled = {i["connection_id"] for i in api.get(base).json()}
    other = next(c for c in sandbox.store.connections if c not in enabled)
    r = api.call("PATCH", f"{base}/{other}", json={"show_as_button": True})
    assert error(r) == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "No connection found by that id",
    }
    sandbox.set_scopes(["read:organization_connections"])
    r = api.call("PATCH", f"{base}/{other}", json={"show_as_button": True})
    assert r.status_code == 403 and "update:organization_connections" in error(r)["message"]
    r = api.call("POST", base, json={"connection_id": other})
    assert r.status_code == 403 and "create:organization_connections" in error(r)["message"]


# --- the service module against the sandbox -----------------------------------------------------


def test_service_module_adds_and_removes_in_batches(tenant: Tenant) -> None:
    from adminsite import auth0

    acme = tenant.store.org_by_name["acme"]
    strangers = [u for u in tenant.store.users if u not in tenant.store.members[acme]][:22]
    ids = [*strangers[:12], "auth0|nobody-here", *strangers[12:]]  # 23, the 2nd batch fails
    tenant.clear_log()
    result = auth0.add_members(org_id=acme, user_ids=ids)
    assert len(result.requested) == 23 and len(result.done) == 13  # "added 13 of 23"
    [failure] = result.failed
    assert failure.user_ids == tuple(ids[10:20])
    assert isinstance(failure.error, auth0.NotFound)
    assert failure.error.message == "The user does not exist."
    sent = [e["json"]["members"] for e in tenant.requests_log if e["raw_path"].endswith("/members")]
    assert [len(batch) for batch in sent] == [10, 10, 3]
    assert set(result.done) <= set(tenant.store.members[acme])
    removed = auth0.remove_members(org_id=acme, user_ids=list(result.done))
    assert removed.complete and removed.done == result.done
    assert not set(result.done) & set(tenant.store.members[acme])
    tenant.set_scopes(["read:organization_members"])
    with pytest.raises(auth0.Forbidden) as caught:
        auth0.add_members(org_id=acme, user_ids=strangers)
    assert caught.value.missing_scopes == ["create:organization_members"]


def test_service_module_connection_settings(tenant: Tenant) -> None:
    from adminsite import auth0

    acme = tenant.store.org_by_name["acme"]
    names = [c.name for c in auth0.list_connections()]
    assert names == sorted(names, key=str.casefold) and len(names) == len(tenant.store.connections)
    saml = next(c for c in auth0.list_enabled_connections(org_id=acme) if c.strategy == "samlp")
    with pytest.raises(auth0.BadRequest) as caught:
        auth0.update_enabled_connection(
            org_id=acme, connection_id=saml.connection_id, is_signup_enabled=True
        )
    assert caught.value.message == SIGNUP_RULE
    updated = auth0.update_enabled_connection(
        org_id=acme, connection_id=saml.connection_id, show_as_button=not saml.show_as_button
    )
    assert updated.show_as_button is not saml.show_as_button
    assert updated.assign_membership_on_login is saml.assign_membership_on_login
    enabled = {c.connection_id for c in auth0.list_enabled_connections(org_id=acme)}
    spare = [c for c in auth0.list_connections() if c.id not in enabled]
    for conn in spare[: 10 - len(enabled)]:
        auth0.add_enabled_connection(org_id=acme, connection_id=conn.id)
    with pytest.raises(auth0.Conflict):  # the 11th
        auth0.add_enabled_connection(org_id=acme, connection_id=spare[10 - len(enabled)].id)


def test_adding_a_member_keeps_the_organizations_sort_orders(api: Api, sandbox: Tenant) -> None:
    """Search and the organization list keep their cached orders when only members change."""
    acme = org(api, "acme")
    by_name = sandbox.store.org_order("name:1")
    folded = sandbox.store.folded_org_names()
    members_before = sandbox.store.member_order(acme)
    r = api.call(
        "POST", f"/organizations/{acme}/members", json={"members": _strangers(sandbox, acme, 1)}
    )
    assert r.status_code == 204
    assert sandbox.store.org_order("name:1") is by_name
    assert sandbox.store.folded_org_names() is folded
    assert sandbox.store.member_order(acme) is not members_before  # the members are new
