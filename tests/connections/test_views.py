"""Connections part (F2), domain-level toggle (F3), removal (F4), through the views."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from adminsite import auth0
from tests.helpers import HTMX, api_calls, mutations, org_id


@pytest.fixture
def acme(tenant) -> str:
    return org_id("acme")


def _first_connection(acme: str) -> auth0.EnabledConnection:
    return auth0.list_enabled_connections(org_id=acme)[0]


def test_list_shows_connections_with_domain_level_status(operator_client, tenant, acme) -> None:
    enabled = auth0.list_enabled_connections(org_id=acme)
    tenant.clear_log()
    r = operator_client.get(reverse("connections:list", args=[acme]), headers=HTMX)
    body = r.content.decode()
    assert "<html" not in body
    assert body.count('data-testid="connection-row"') == len(enabled) >= 4
    for e in enabled:
        assert e.name in body and e.strategy in body
    assert "Domain-level" in body and "Not domain-level" in body
    # one enabled_connections call plus the connection index (cached afterwards)
    paths = [c["raw_path"] for c in api_calls(tenant)]
    assert paths[0] == f"/api/v2/organizations/{acme}/enabled_connections"
    assert all(p == "/api/v2/connections" for p in paths[1:])
    tenant.clear_log()
    operator_client.get(reverse("connections:list", args=[acme]), headers=HTMX)
    assert len(api_calls(tenant)) == 1  # warm cache: never one call per row


def test_each_rows_steps_are_the_urls_reverse_gives(operator_client, tenant, acme) -> None:
    """A row looks its URL up once and its steps' are under it: each is what reverse() gives."""
    r = operator_client.get(reverse("connections:list", args=[acme]), headers=HTMX)
    body = r.content.decode()
    for e in auth0.list_enabled_connections(org_id=acme):
        for step in ("connections:domain-level", "connections:remove", "connections:settings"):
            assert f'hx-get="{reverse(step, args=[acme, e.connection_id])}"' in body


def test_confirm_step_says_the_change_is_tenant_wide(operator_client, tenant, acme) -> None:
    conn = _first_connection(acme)
    tenant.clear_log()
    r = operator_client.get(
        reverse("connections:domain-level", args=[acme, conn.connection_id]), headers=HTMX
    )
    assert "tenant-wide change" in r.content.decode()
    assert mutations(tenant) == []


def test_toggle_sends_exactly_the_flag_and_swaps_the_row(operator_client, tenant, acme) -> None:
    index = auth0.domain_connection_index()
    conn = next(
        e
        for e in auth0.list_enabled_connections(org_id=acme)
        if not index[e.connection_id].is_domain_connection
    )
    tenant.clear_log()
    url = reverse("connections:domain-level", args=[acme, conn.connection_id])
    r = operator_client.post(url, {"is_domain_connection": "true"}, headers=HTMX)
    body = r.content.decode()
    assert f'id="conn-{conn.connection_id}"' in body and "Domain-level" in body
    assert "is now domain-level for the whole tenant" in body  # the OOB flash message
    assert 'hx-swap-oob="afterbegin:#messages"' in body
    [patch] = mutations(tenant)
    assert (
        patch["method"] == "PATCH"
        and patch["raw_path"] == f"/api/v2/connections/{conn.connection_id}"
    )
    assert patch["json"] == {"is_domain_connection": True}
    assert auth0.domain_connection_index()[conn.connection_id].is_domain_connection is True
    # and back
    operator_client.post(url, {"is_domain_connection": "false"}, headers=HTMX)
    assert mutations(tenant)[-1]["json"] == {"is_domain_connection": False}


def test_toggle_without_a_desired_state_changes_nothing(operator_client, tenant, acme) -> None:
    conn = _first_connection(acme)
    tenant.clear_log()
    r = operator_client.post(
        reverse("connections:domain-level", args=[acme, conn.connection_id]), {}, headers=HTMX
    )
    assert "Nothing was changed" in r.content.decode()
    assert mutations(tenant) == []


def test_remove_deletes_and_the_row_disappears(operator_client, tenant, acme) -> None:
    conn = _first_connection(acme)
    confirm = operator_client.get(
        reverse("connections:remove", args=[acme, conn.connection_id]), headers=HTMX
    )
    assert "stops working for this organization's users" in confirm.content.decode()
    tenant.clear_log()
    r = operator_client.post(
        reverse("connections:remove", args=[acme, conn.connection_id]),
        {"name": conn.name},
        headers=HTMX,
    )
    body = r.content.decode()
    assert r.status_code == 200
    assert "connection-row" not in body  # nothing but the OOB message: the row is swapped away
    assert f"Removed the connection {conn.name}" in body
    [delete] = mutations(tenant)
    assert delete["method"] == "DELETE"
    assert (
        delete["raw_path"]
        == f"/api/v2/organizations/{acme}/enabled_connections/{conn.connection_id}"
    )
    assert conn.connection_id not in {
        e.connection_id for e in auth0.list_enabled_connections(org_id=acme)
    }


def test_removing_a_connection_that_is_already_gone_drops_the_row(
    operator_client, tenant, acme
) -> None:
    conn = _first_connection(acme)
    auth0.remove_enabled_connection(org_id=acme, connection_id=conn.connection_id)
    r = operator_client.post(
        reverse("connections:remove", args=[acme, conn.connection_id]), headers=HTMX
    )
    assert "no longer exists in this organization (404)" in r.content.decode()
    assert "HX-Reswap" not in r


@pytest.mark.parametrize("name", ["domain-level", "remove"])
def test_viewer_cannot_change_anything(viewer_client, tenant, acme, name) -> None:
    conn = _first_connection(acme)
    tenant.clear_log()
    url = reverse(f"connections:{name}", args=[acme, conn.connection_id])
    r = viewer_client.post(url, {"is_domain_connection": "true"}, headers=HTMX)
    assert r.status_code == 403
    assert "read-only access (viewer)" in r.content.decode()
    assert api_calls(tenant) == []
    assert viewer_client.get(url, headers=HTMX).status_code == 403


def test_viewer_sees_no_controls(viewer_client, tenant, acme) -> None:
    body = viewer_client.get(
        reverse("connections:list", args=[acme]), headers=HTMX
    ).content.decode()
    rows = body.count('data-testid="connection-row"')
    assert rows == len(auth0.list_enabled_connections(org_id=acme)) > 0
    assert "Remove…" not in body and "domain-level…" not in body


def test_post_without_csrf_token_is_refused(client, operator, tenant, acme) -> None:
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(operator)
    conn = _first_connection(acme)
    tenant.clear_log()
    r = csrf_client.post(
        reverse("connections:remove", args=[acme, conn.connection_id]), headers=HTMX
    )
    assert r.status_code == 403
    assert "security token was missing or stale" in r.content.decode()
    assert mutations(tenant) == []


def test_wrong_method_is_refused(operator_client, tenant, acme) -> None:
    conn = _first_connection(acme)
    assert (
        operator_client.delete(
            reverse("connections:remove", args=[acme, conn.connection_id])
        ).status_code
        == 405
    )
    assert operator_client.post(reverse("connections:list", args=[acme])).status_code == 405


def test_hostile_connection_id_is_a_404_without_upstream_call(
    operator_client, tenant, acme
) -> None:
    tenant.clear_log()
    for bad in ["con_..%2F..%2Froles", "con_a%3Fx=1", "con_", "..", "con_a%23b"]:
        r = operator_client.post(f"/orgs/{acme}/connections/{bad}/remove/", headers=HTMX)
        assert r.status_code == 404, bad
    assert api_calls(tenant) == []


def test_responses_carry_no_script_and_json_headers_are_valid(
    operator_client, tenant, acme
) -> None:
    r = operator_client.get(reverse("orgs:detail", args=[acme]))
    body = r.content.decode()
    start = body.index("hx-headers='") + len("hx-headers='")
    assert "X-CSRFToken" in json.loads(body[start : body.index("'", start)])
    # The page loads htmx from a file; no script tag carries inline code.
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", body, re.S)
    assert any("htmx" in attrs for attrs, _ in scripts)
    assert all("src=" in attrs and code.strip() == "" for attrs, code in scripts)
    assert "<script>" not in body


# --- The organization and the connection belong together -----------------------------------


def _not_enabled_in(acme: str) -> str:
    """A tenant connection that exists but is not enabled for the organization."""
    here = {e.connection_id for e in auth0.list_enabled_connections(org_id=acme)}
    return next(cid for cid in auth0.domain_connection_index() if cid not in here)


def _assert_refused(r, tenant, org: str, connection_id: str) -> None:
    from adminsite.audit.models import AuditEntry

    body = r.content.decode()
    assert r.status_code == 200
    assert f"the connection {connection_id} is not enabled for the organization {org}" in body
    assert "Nothing was changed" in body
    assert [c["method"] for c in api_calls(tenant)] == ["GET"]  # the check, no PATCH
    assert mutations(tenant) == []
    # a refusal is not an attempted change: no entry filed under an unverified organization
    assert not AuditEntry.objects.exists()


def test_domain_level_for_a_connection_not_enabled_here_is_refused(
    operator_client, tenant, acme
) -> None:
    foreign = _not_enabled_in(acme)
    before = auth0.domain_connection_index()[foreign].is_domain_connection
    tenant.clear_log()
    r = operator_client.post(
        reverse("connections:domain-level", args=[acme, foreign]),
        {"is_domain_connection": "false" if before else "true"},
        headers=HTMX,
    )
    _assert_refused(r, tenant, acme, foreign)
    assert tenant.store.connections[foreign]["is_domain_connection"] is before


def test_domain_level_under_an_organization_that_does_not_exist_is_refused(
    operator_client, tenant, acme
) -> None:
    conn = _first_connection(acme)
    # The confirm step in the real organization does not vouch for another organization id.
    operator_client.get(
        reverse("connections:domain-level", args=[acme, conn.connection_id]), headers=HTMX
    )
    ghost = "org_doesNotExist0000"
    tenant.clear_log()
    r = operator_client.post(
        reverse("connections:domain-level", args=[ghost, conn.connection_id]),
        {"is_domain_connection": "true"},
        headers=HTMX,
    )
    _assert_refused(r, tenant, ghost, conn.connection_id)


def test_domain_level_without_confirm_step_reads_the_connection_once(
    operator_client, tenant, acme
) -> None:
    from adminsite.audit.models import AuditEntry

    conn = _first_connection(acme)
    was = auth0.domain_connection_index()[conn.connection_id].is_domain_connection  # warm
    tenant.clear_log()
    r = operator_client.post(
        reverse("connections:domain-level", args=[acme, conn.connection_id]),
        {"is_domain_connection": "false" if was else "true"},
        headers=HTMX,
    )
    assert "for the whole tenant" in r.content.decode()
    calls = [(c["method"], c["raw_path"]) for c in api_calls(tenant)]
    row = f"/api/v2/organizations/{acme}/enabled_connections/{conn.connection_id}"
    assert calls == [
        ("GET", row),  # the organization has the connection: one read
        ("PATCH", f"/api/v2/connections/{conn.connection_id}"),  # exactly one change
        ("GET", row),  # the fresh row
    ]
    [entry] = AuditEntry.objects.all()
    assert (entry.org_id, entry.connection_name) == (acme, conn.name)


@pytest.mark.parametrize("value", ["yes", "1", "True", ""])
def test_domain_level_accepts_only_true_or_false(operator_client, tenant, acme, value) -> None:
    conn = _first_connection(acme)
    tenant.clear_log()
    r = operator_client.post(
        reverse("connections:domain-level", args=[acme, conn.connection_id]),
        {"is_domain_connection": value},
        headers=HTMX,
    )
    body = r.content.decode()
    assert "Nothing was changed: the requested domain-level status" in body
    assert r["HX-Reswap"] == "none"
    assert api_calls(tenant) == []


def test_confirm_steps_post_no_name(operator_client, tenant, acme) -> None:
    conn = _first_connection(acme)
    for name, field in [("domain-level", 'name="is_domain_connection"'), ("remove", "hx-post")]:
        body = operator_client.get(
            reverse(f"connections:{name}", args=[acme, conn.connection_id]), headers=HTMX
        ).content.decode()
        assert field in body and conn.name in body  # the form, naming the connection
        assert 'name="name"' not in body  # but the name is not posted back


def test_toggle_answers_with_the_row_from_auth0s_answer_not_a_cache_reread(
    operator_client, tenant, acme, monkeypatch
) -> None:
    index = auth0.domain_connection_index()
    conn = next(
        e
        for e in auth0.list_enabled_connections(org_id=acme)
        if not index[e.connection_id].is_domain_connection
    )
    url = reverse("connections:domain-level", args=[acme, conn.connection_id])
    operator_client.get(url, headers=HTMX)  # the confirm step

    def reread(request):  # the row after the change must not come from here
        raise AssertionError("the connection index was read again for the answer")

    monkeypatch.setattr("connections.views.domain_levels", reread)
    r = operator_client.post(url, {"is_domain_connection": "true"}, headers=HTMX)
    body = r.content.decode()
    assert f'id="conn-{conn.connection_id}"' in body
    assert "Not domain-level" not in body and "Domain-level" in body
