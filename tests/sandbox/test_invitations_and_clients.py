"""The sandbox tenant's invitations and applications, through `SandboxAdapter`, and
the service module against it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adminsite.sandbox import Tenant
from tests.sandbox.helpers import Api, enc, error, org

INVITATION_KEYS = {
    "id",
    "client_id",
    "inviter",
    "invitee",
    "invitation_url",
    "ticket_id",
    "created_at",
    "expires_at",
    "organization_id",
}


def _stamp(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _app(api: Api, name: str) -> str:
    apps = api.get("/clients", per_page=100).json()
    return next(a["client_id"] for a in apps if a["name"] == name)


def _invite(api: Api, oid: str, **body: Any) -> Any:
    return api.call("POST", f"/organizations/{oid}/invitations", json=body)


def _body(api: Api, **extra: Any) -> dict[str, Any]:
    return {
        "inviter": {"name": "Ana Souza"},
        "invitee": {"email": "someone@new.example"},
        "client_id": _app(api, "Acme Customer Portal"),
        **extra,
    }


# --- clients ------------------------------------------------------------------------------------


def test_clients_list_fields_filters_and_paging(api: Api) -> None:
    everything = api.get("/clients", per_page=100).json()
    kinds = {a.get("app_type") for a in everything}
    assert {"regular_web", "spa", "native", "non_interactive", None} <= kinds
    assert all("client_secret" not in a for a in everything)
    assert any(a["global"] for a in everything)
    body = api.get(
        "/clients",
        fields="client_id,name,app_type",
        include_fields="true",
        is_global="false",
        include_totals="true",
        per_page=3,
        page=1,
    ).json()
    assert (body["start"], body["limit"], body["total"]) == (3, 3, len(everything) - 1)
    assert all(set(a) <= {"client_id", "name", "app_type"} for a in body["clients"])
    assert all(a["name"] != "All Applications" for a in body["clients"])
    m2m = api.get("/clients", app_type="non_interactive").json()
    assert {a["name"] for a in m2m} == {"Billing Sync (M2M)", "Org Desk"}
    assert any("<script>" in a["name"] for a in everything)


def test_clients_errors_and_scopes(api: Api, sandbox: Tenant) -> None:
    r = api.get("/clients", q="client_grant.allow_any_organization:true")
    assert r.status_code == 400 and error(r)["errorCode"] == "invalid_query_string"
    assert api.get("/clients", per_page=101).status_code == 400
    assert error(api.get("/clients", page=20))["errorCode"] == "invalid_paging"
    sandbox.set_scopes(["read:organizations"])
    r = api.get("/clients")
    assert r.status_code == 403
    assert error(r)["message"] == (
        "Insufficient scope, expected any of: read:clients, read:client_keys, "
        "read:client_credentials, read:client_summary"
    )
    sandbox.set_scopes(["read:client_summary"])
    assert api.get("/clients").status_code == 200


# --- invitations: reading -----------------------------------------------------------------------


def test_seeded_invitations_newest_first_one_expired(api: Api) -> None:
    acme = org(api, "acme")
    items = api.get(f"/organizations/{acme}/invitations").json()
    assert len(items) == 4
    created = [_stamp(i["created_at"]) for i in items]
    assert created == sorted(created, reverse=True)
    now = datetime.now(UTC)
    expired = [i for i in items if _stamp(i["expires_at"]) <= now]
    assert [i["invitee"]["email"] for i in expired] == ["late.joiner@acme.example"]
    for item in items:
        assert INVITATION_KEYS <= set(item) <= INVITATION_KEYS | {"roles", "connection_id"}
        assert item["id"].startswith("uinv_") and len(item["ticket_id"]) == 32
        assert item["organization_id"] == acme
        assert f"invitation={item['ticket_id']}&organization={acme}" in item["invitation_url"]
        assert item["created_at"].endswith("Z")
    with_roles = next(i for i in items if i.get("roles"))
    assert all(r.startswith("rol_") for r in with_roles["roles"])
    oldest = api.get(f"/organizations/{acme}/invitations", sort="created_at:1").json()
    assert [i["id"] for i in oldest] == [i["id"] for i in reversed(items)]
    kabushiki = org(api, "kabushiki")
    assert len(api.get(f"/organizations/{kabushiki}/invitations").json()) == 1
    assert api.get(f"/organizations/{org(api, 'big-co')}/invitations").json() == []


def test_invitations_offset_paging_has_no_total(api: Api) -> None:
    acme = org(api, "acme")
    base = f"/organizations/{acme}/invitations"
    body = api.get(base, include_totals="true", per_page=3).json()
    assert set(body) == {"invitations", "start", "limit"}  # Auth0 gives no total
    assert (body["start"], body["limit"], len(body["invitations"])) == (0, 3, 3)
    last = api.get(base, include_totals="true", per_page=3, page=1).json()
    assert (last["start"], last["limit"], len(last["invitations"])) == (3, 1, 1)  # the quirk
    assert error(api.get(base, page=20))["errorCode"] == "invalid_paging"
    assert error(api.get(base, take=5))["errorCode"] == "invalid_query_string"
    assert error(api.get(base, sort="email:1"))["errorCode"] == "invalid_query_string"
    picked = api.get(base, fields="id,invitee", include_fields="true").json()
    assert all(set(i) == {"id", "invitee"} for i in picked)


def test_get_and_revoke_an_invitation(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    first = api.get(f"/organizations/{acme}/invitations").json()[0]
    path = f"/organizations/{acme}/invitations/{first['id']}"
    assert api.get(path).json() == first
    sandbox.clear_log()
    r = api.call("DELETE", path)
    assert r.status_code == 204 and r.content == b""
    gone = {
        "statusCode": 404,
        "error": "Not Found",
        "message": "The invitation does not exist.",
        "errorCode": "inexistent_invitation",
    }
    assert api.get(path).json() == gone
    assert api.call("DELETE", path).json() == gone
    assert (
        api.call("DELETE", f"/organizations/{acme}/invitations/uinv_XXXXXXXXXXXXXXXX").json()
        == gone
    )
    other = org(api, "kabushiki")
    assert api.get(f"/organizations/{other}/invitations/{first['id']}").status_code == 404
    r = api.get("/organizations/org_XXXXXXXXXXXXXXXX/invitations")
    assert error(r)["message"] == "No organization found by that id or name"
    assert [e["status"] for e in sandbox.requests_log][:4] == [204, 404, 404, 404]


# --- invitations: creating ----------------------------------------------------------------------


def test_create_invitation_like_the_recording(api: Api) -> None:
    acme = org(api, "acme")
    body = _body(api)
    r = _invite(api, acme, **body)
    assert r.status_code == 201
    made = r.json()
    assert list(made) == [
        "id",
        "client_id",
        "inviter",
        "invitee",
        "invitation_url",
        "ticket_id",
        "created_at",
        "expires_at",
        "organization_id",
    ]
    lifetime = _stamp(made["expires_at"]) - _stamp(made["created_at"])
    assert lifetime == timedelta(days=7)  # Auth0's default
    assert made["invitation_url"].startswith("https://portal.acme.example/login?invitation=")
    assert made["invitation_url"].endswith("&organization_name=acme")
    listed = api.get(f"/organizations/{acme}/invitations").json()
    assert listed[0] == made  # newest first


def test_create_invitation_with_everything(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    roles = [r["id"] for r in api.get("/roles", per_page=100).json()][:50]
    db = next(c["id"] for c in sandbox.store.connections.values() if c["strategy"] == "auth0")
    r = _invite(
        api,
        acme,
        **_body(api),
        connection_id=db,
        roles=roles,
        ttl_sec=2_592_000,
        send_invitation_email=False,
        user_metadata={"locale": "pt-BR"},
    )
    assert r.status_code == 201
    made = r.json()
    assert made["roles"] == roles and made["connection_id"] == db
    assert made["user_metadata"] == {"locale": "pt-BR"}
    assert _stamp(made["expires_at"]) - _stamp(made["created_at"]) == timedelta(days=30)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ttl_sec": 2_592_001}, "Value 2592001 is greater than maximum 2592000"),
        ({"ttl_sec": -5}, "Value -5 is less than minimum 0"),
        ({"ttl_sec": "3600"}, "Expected type integer but found type string"),
        ({"roles": ["rol_x"] * 51}, "Array is too long (51), maximum 50"),
        ({"client_id": "nope"}, "The specified client_id does not exist."),
        ({"connection_id": "con_XXXXXXXXXXXXXXXX"}, "The specified connection does not exist."),
        ({"roles": ["rol_XXXXXXXXXXXXXXXX"]}, "do not exist: rol_XXXXXXXXXXXXXXXX"),
        ({"invitee": {"email": "not an email"}}, "format email"),
        ({"invitee": {}}, "Missing required property: email"),
        ({"inviter": {"name": "A" * 301}}, "String is too long (301 chars), maximum 300"),
        ({"inviter": {"name": "A", "email": "x"}}, "Additional properties not allowed: email"),
        ({"expires_at": "2030-01-01"}, "Additional properties not allowed: expires_at"),
    ],
)
def test_create_invitation_refusals(api: Api, change: dict[str, Any], message: str) -> None:
    acme = org(api, "acme")
    r = _invite(api, acme, **{**_body(api), **change})
    assert r.status_code == 400
    assert error(r)["errorCode"] == "invalid_body" and message in error(r)["message"]
    assert len(api.get(f"/organizations/{acme}/invitations").json()) == 4  # nothing made


def test_create_invitation_needs_an_interactive_app_and_a_non_passwordless_connection(
    api: Api, sandbox: Tenant
) -> None:
    acme = org(api, "acme")
    for name in ("Billing Sync (M2M)", "Org Desk"):
        r = _invite(api, acme, **{**_body(api), "client_id": _app(api, name)})
        assert r.status_code == 400
        assert error(r)["message"].startswith("A default login route is required")
    everyone = next(a for a in sandbox.store.clients.values() if a["global"])
    r = _invite(api, acme, **{**_body(api), "client_id": everyone["client_id"]})
    assert error(r)["message"] == "The specified client_id does not exist."
    sms = next(c["id"] for c in sandbox.store.connections.values() if c["strategy"] == "sms")
    r = _invite(api, acme, **_body(api), connection_id=sms)
    assert error(r)["message"] == "Passwordless connections are not supported."
    for body in ({"invitee": {"email": "x@y.example"}}, {}):
        r = _invite(api, acme, **body)
        assert r.status_code == 400 and "Missing required property" in error(r)["message"]
    r = _invite(api, "org_XXXXXXXXXXXXXXXX", **_body(api))
    assert r.status_code == 404


def test_inviting_a_member_is_accepted(api: Api) -> None:
    """Auth0 documents no refusal for it (an invitation is by email): the sandbox makes one."""
    acme = org(api, "acme")
    r = _invite(api, acme, **{**_body(api), "invitee": {"email": "alice.martin@acme.example"}})
    assert r.status_code == 201


def test_invitation_scopes(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    base = f"/organizations/{acme}/invitations"
    first = api.get(base).json()[0]["id"]
    body = _body(api)
    sandbox.set_scopes(["read:organizations"])
    expected = {
        ("GET", base): "read:organization_invitations",
        ("POST", base): "create:organization_invitations",
        ("GET", f"{base}/{first}"): "read:organization_invitations",
        ("DELETE", f"{base}/{first}"): "delete:organization_invitations",
    }
    for (method, path), scope in expected.items():
        r = api.call(method, path, json=body if method == "POST" else None)
        assert r.status_code == 403
        assert error(r) == {
            "statusCode": 403,
            "error": "Forbidden",
            "message": f"Insufficient scope, expected any of: {scope}",
            "errorCode": "insufficient_scope",
        }
    sandbox.set_scopes(["create:organization_invitations", "read:clients"])
    assert _invite(api, acme, **body).status_code == 201


def test_invitation_ids_with_odd_characters_are_one_segment(api: Api) -> None:
    acme = org(api, "acme")
    r = api.get(f"/organizations/{acme}/invitations/{enc('uinv_a/../b')}")
    assert r.status_code == 404 and error(r)["errorCode"] == "inexistent_invitation"


# --- the service module against the sandbox -----------------------------------------------------


def test_service_module_invitations_and_clients(tenant: Tenant) -> None:
    from adminsite import auth0

    acme = tenant.store.org_by_name["acme"]
    apps = auth0.list_clients()
    assert "All Applications" not in {a.name for a in apps}
    offered = [a for a in apps if a.accepts_invitations]
    assert {a.name for a in offered} >= {"Acme Customer Portal", "Acme Dashboard", "Acme Mobile"}
    assert not {"Billing Sync (M2M)", "Org Desk", "Legacy Intranet"} & {a.name for a in offered}
    page = auth0.list_invitations(org_id=acme)
    assert len(page.invitations) == 4 and page.next_page is None
    assert [i.invitee_email for i in page.invitations if i.expired()] == [
        "late.joiner@acme.example"
    ]
    portal = next(a for a in offered if a.name == "Acme Customer Portal")
    made = auth0.create_invitation(
        org_id=acme,
        inviter_name="Ana Souza",
        invitee_email="new.person@acme.example",
        client_id=portal.client_id,
        ttl_sec=3600,
    )
    assert not made.expired() and made.expires_at is not None and made.created_at is not None
    assert made.expires_at - made.created_at == timedelta(hours=1)
    assert auth0.get_invitation(org_id=acme, invitation_id=made.id) == made
    auth0.delete_invitation(org_id=acme, invitation_id=made.id)
    with pytest.raises(auth0.NotFound):
        auth0.delete_invitation(org_id=acme, invitation_id=made.id)
    m2m = next(a for a in apps if a.name == "Billing Sync (M2M)")
    with pytest.raises(auth0.BadRequest, match="default login route"):
        auth0.create_invitation(
            org_id=acme, inviter_name="Ana", invitee_email="x@y.example", client_id=m2m.client_id
        )
    tenant.set_scopes(["read:organizations"])
    with pytest.raises(auth0.Forbidden) as caught:
        auth0.list_invitations(org_id=acme)
    assert caught.value.missing_scopes == ["read:organization_invitations"]
