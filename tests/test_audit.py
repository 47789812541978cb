"""The audit log (F7): one entry per change attempt, with its before-state and outcome, whatever
Auth0 answers; append-only; readable by everyone; restore by operators only."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import checks
from django.db import DatabaseError, transaction
from django.test import Client
from django.urls import reverse

from adminsite import auth0
from adminsite.audit import recording as audit
from adminsite.audit.models import (
    Action,
    AuditEntry,
    AuditImmutable,
    Outcome,
    audit_writes_are_not_rolled_back,
    sqlite_transactions_take_the_write_lock,
)
from tests.helpers import HTMX, api_calls, mutations, org_id

SECRET = "sandbox-secret"
SCOPE_403 = {
    "statusCode": 403,
    "error": "Forbidden",
    "message": "Insufficient scope, expected any of: update:everything",
    "errorCode": "insufficient_scope",
}
# (fault, expected status_code, expected error kind, words of the flash message)
FAULTS: dict[str, tuple[dict[str, Any], int | None, str, str]] = {
    "403": ({"status": 403, "body": SCOPE_403}, 403, "insufficient_scope", "update:everything"),
    "500": ({"status": 500}, 500, "server_error", "500 server error"),
    "timeout": ({"delay": 1.0}, None, "timeout", "did not answer in time"),
    "drop": ({"drop": True}, None, "connection", "could not be reached"),
}


@pytest.fixture
def acme(tenant) -> str:
    return org_id("acme")


@pytest.fixture
def short_timeout(settings) -> None:
    settings.AUTH0_TIMEOUT = 0.3


def only_entry() -> AuditEntry:
    [entry] = AuditEntry.objects.all()
    return entry


def enabled_by_name(org: str, name: str) -> auth0.EnabledConnection:
    return next(c for c in auth0.list_enabled_connections(org_id=org) if c.name == name)


def body(response) -> str:
    text = response.content.decode()
    assert SECRET not in text and "Bearer" not in text
    return text


def confirm_and_remove(client, org: str, conn_id: str):
    url = reverse("connections:remove", args=[org, conn_id])
    assert client.get(url, headers=HTMX).status_code == 200
    return client.post(url, headers=HTMX)


# --- remove_connection -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Username-Password-Authentication", "okta-workforce"])
def test_remove_records_the_settings_from_the_confirm_step_without_an_extra_call(
    operator_client, operator, tenant, acme, name
) -> None:
    conn = enabled_by_name(acme, name)
    operator_client.get(reverse("orgs:detail", args=[acme]))  # remembers the display name
    url = reverse("connections:remove", args=[acme, conn.connection_id])
    operator_client.get(url, headers=HTMX)
    tenant.clear_log()
    r = operator_client.post(url, headers=HTMX)
    assert f"Removed the connection {name}" in body(r)
    assert [(c["method"], c["raw_path"]) for c in api_calls(tenant)] == [
        ("DELETE", f"/api/v2/organizations/{acme}/enabled_connections/{conn.connection_id}")
    ]  # the before-state came from the confirm step: exactly one upstream call
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.status_code) == (
        Action.REMOVE_CONNECTION,
        Outcome.SUCCESS,
        None,
    )
    assert (entry.username, entry.user, entry.org_id) == ("olivia", operator, acme)
    assert entry.org_name == "Acme Corporation"
    assert (entry.connection_id, entry.connection_name) == (conn.connection_id, name)
    assert entry.before == {
        "name": name,
        "strategy": conn.strategy,
        "assign_membership_on_login": conn.assign_membership_on_login,
        "show_as_button": conn.show_as_button,
        "is_signup_enabled": conn.is_signup_enabled,
    }
    assert entry.finished_at is not None and entry.finished_at >= entry.created_at
    assert entry.is_restorable


def test_before_state_matches_the_sandbox_seed(operator_client, tenant, acme) -> None:
    conn = enabled_by_name(acme, "Username-Password-Authentication")
    seeded = dict(tenant.store.enabled[acme][conn.connection_id])
    confirm_and_remove(operator_client, acme, conn.connection_id)
    before = only_entry().before
    assert before is not None
    assert (
        {k: before[k] for k in seeded}
        == seeded
        == {
            "assign_membership_on_login": True,
            "show_as_button": True,
            "is_signup_enabled": True,
        }
    )


def test_remove_without_confirm_step_fetches_the_settings_first(
    operator_client, tenant, acme
) -> None:
    conn = enabled_by_name(acme, "okta-workforce")
    tenant.clear_log()
    r = operator_client.post(
        reverse("connections:remove", args=[acme, conn.connection_id]), headers=HTMX
    )
    assert r.status_code == 200
    assert [c["method"] for c in api_calls(tenant)] == ["GET", "DELETE"]
    entry = only_entry()
    assert entry.outcome == Outcome.SUCCESS
    assert entry.before is not None
    assert entry.before["show_as_button"] is False and entry.before["is_signup_enabled"] is None


def test_confirm_step_of_another_user_is_not_used(client, operator, tenant, acme) -> None:
    from django.contrib.auth import get_user_model

    other = get_user_model().objects.create_user("otto", is_superuser=True)
    conn = enabled_by_name(acme, "okta-workforce")
    client.force_login(other)
    client.get(reverse("connections:remove", args=[acme, conn.connection_id]), headers=HTMX)
    client.force_login(operator)
    tenant.clear_log()
    client.post(reverse("connections:remove", args=[acme, conn.connection_id]), headers=HTMX)
    assert [c["method"] for c in api_calls(tenant)] == ["GET", "DELETE"]


@pytest.mark.parametrize("fault", FAULTS)
def test_failed_remove_is_recorded_with_status_and_message(
    operator_client, tenant, acme, short_timeout, fault
) -> None:
    spec, status, kind, words = FAULTS[fault]
    conn = enabled_by_name(acme, "acme-saml")
    tenant.add_fault(method="DELETE", path=r"/enabled_connections/con_", **spec)
    r = confirm_and_remove(operator_client, acme, conn.connection_id)
    assert words in body(r) and r["HX-Reswap"] == "none"
    entry = only_entry()
    assert (entry.outcome, entry.status_code, entry.error) == (Outcome.FAILED, status, kind)
    assert entry.message and SECRET not in entry.message
    assert entry.before is not None
    assert entry.before["assign_membership_on_login"] is True  # known even though it failed
    assert not entry.is_restorable
    assert entry.uncertain is (kind in ("timeout", "connection"))
    assert conn.connection_id in {
        c.connection_id for c in auth0.list_enabled_connections(org_id=acme)
    }


def test_failure_to_read_the_settings_is_recorded_and_nothing_is_removed(
    operator_client, tenant, acme
) -> None:
    conn = enabled_by_name(acme, "acme-saml")
    tenant.add_fault(method="GET", path=r"/enabled_connections/con_", status=503)
    tenant.clear_log()
    r = operator_client.post(
        reverse("connections:remove", args=[acme, conn.connection_id]), headers=HTMX
    )
    assert "Auth0 failed (503" in body(r)
    assert mutations(tenant) == []
    entry = only_entry()
    assert (entry.outcome, entry.status_code, entry.before) == (Outcome.FAILED, 503, None)


def test_removing_a_connection_that_is_gone_is_recorded_as_404(
    operator_client, tenant, acme
) -> None:
    conn = enabled_by_name(acme, "acme-ad")
    url = reverse("connections:remove", args=[acme, conn.connection_id])
    operator_client.get(url, headers=HTMX)
    auth0.remove_enabled_connection(org_id=acme, connection_id=conn.connection_id)
    r = operator_client.post(url, headers=HTMX)
    assert "no longer exists in this organization (404)" in body(r)
    entry = only_entry()
    assert (entry.outcome, entry.status_code, entry.error) == (Outcome.FAILED, 404, "not_found")


# --- domain_level ----------------------------------------------------------------------------


def _not_domain_level(acme: str) -> auth0.EnabledConnection:
    index = auth0.domain_connection_index()
    return next(
        c
        for c in auth0.list_enabled_connections(org_id=acme)
        if not index[c.connection_id].is_domain_connection
    )


def test_domain_level_records_the_previous_status_from_the_cached_index(
    operator_client, tenant, acme
) -> None:
    conn = _not_domain_level(acme)
    url = reverse("connections:domain-level", args=[acme, conn.connection_id])
    operator_client.get(url, headers=HTMX)  # confirm step: the index is warm
    tenant.clear_log()
    r = operator_client.post(url, {"is_domain_connection": "true"}, headers=HTMX)
    assert "is now domain-level" in body(r)
    # the change plus one refresh of the row; no call for the before-state
    assert [c["method"] for c in api_calls(tenant)] == ["PATCH", "GET"]
    entry = only_entry()
    assert entry.action == Action.DOMAIN_LEVEL and entry.outcome == Outcome.SUCCESS
    assert entry.before == {"is_domain_connection": False}
    assert entry.requested == {"is_domain_connection": True}
    assert entry.after == {"is_domain_connection": True}
    assert entry.connection_name == conn.name


@pytest.mark.parametrize("fault", FAULTS)
def test_failed_domain_level_is_recorded(
    operator_client, tenant, acme, short_timeout, fault
) -> None:
    spec, status, kind, words = FAULTS[fault]
    conn = _not_domain_level(acme)
    tenant.add_fault(method="PATCH", path=r"^/api/v2/connections/", **spec)
    r = operator_client.post(
        reverse("connections:domain-level", args=[acme, conn.connection_id]),
        {"is_domain_connection": "true"},
        headers=HTMX,
    )
    assert words in body(r)
    entry = only_entry()
    assert (entry.outcome, entry.status_code, entry.error) == (Outcome.FAILED, status, kind)
    assert entry.before == {"is_domain_connection": False} and entry.after is None


def test_invalid_domain_level_request_is_not_an_attempt(operator_client, tenant, acme) -> None:
    conn = _not_domain_level(acme)
    operator_client.post(
        reverse("connections:domain-level", args=[acme, conn.connection_id]), {}, headers=HTMX
    )
    assert AuditEntry.objects.count() == 0


# --- assign_roles / remove_role --------------------------------------------------------------

MEMBER = "samlp|acme-saml|jane/doe@acme.example"


def _free_role(acme: str) -> auth0.Role:
    held = {r.id for r in auth0.get_member_roles(org_id=acme, user_id=MEMBER)}
    return next(r for r in auth0.list_roles() if r.id not in held)


def test_assign_roles_records_roles_before_and_after(operator_client, tenant, acme) -> None:
    before = auth0.get_member_roles(org_id=acme, user_id=MEMBER)
    role = _free_role(acme)
    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:assign-roles", args=[acme]),
        {"user_id": MEMBER, "roles": [role.id]},
        headers=HTMX,
    )
    assert f"Assigned {role.name}" in body(r)
    assert [c["method"] for c in api_calls(tenant)] == ["GET", "POST", "GET"]
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.member_id) == (
        Action.ASSIGN_ROLES,
        Outcome.SUCCESS,
        MEMBER,
    )
    assert entry.roles == [{"id": role.id, "name": role.name}]
    assert entry.before == {"roles": [{"id": x.id, "name": x.name} for x in before]}
    assert entry.after is not None
    assert {x["id"] for x in entry.after["roles"]} == {x.id for x in before} | {role.id}
    assert entry.requested == {"roles": [role.id]}


@pytest.mark.parametrize("fault", FAULTS)
def test_failed_assign_is_recorded(operator_client, tenant, acme, short_timeout, fault) -> None:
    spec, status, kind, words = FAULTS[fault]
    role = _free_role(acme)
    tenant.add_fault(method="POST", path=r"/members/[^/]+/roles$", **spec)
    r = operator_client.post(
        reverse("orgs:assign-roles", args=[acme]),
        {"user_id": MEMBER, "roles": [role.id]},
        headers=HTMX,
    )
    assert words in body(r)
    entry = only_entry()
    assert (entry.outcome, entry.status_code, entry.error) == (Outcome.FAILED, status, kind)
    assert entry.before is not None
    assert entry.before["roles"]  # the current roles were read before the change
    assert entry.roles == [{"id": role.id, "name": ""}]  # no refresh, so no name from Auth0


def test_assign_that_fails_reading_current_roles_is_recorded(operator_client, tenant, acme) -> None:
    role = _free_role(acme)
    tenant.add_fault(method="GET", path=r"/members/[^/]+/roles", status=429)
    operator_client.post(
        reverse("orgs:assign-roles", args=[acme]),
        {"user_id": MEMBER, "roles": [role.id]},
        headers=HTMX,
    )
    entry = only_entry()
    assert (entry.outcome, entry.status_code, entry.error) == (Outcome.FAILED, 429, "rate_limited")
    assert entry.before is None


def test_assign_not_sent_over_the_limit_or_when_nothing_is_new(
    operator_client, tenant, acme
) -> None:
    crowded = "auth0|65f0a1b2c3d4e5f60718293a"  # 49 roles in acme
    held = {r.id for r in auth0.get_member_roles(org_id=acme, user_id=crowded)}
    free = [r.id for r in auth0.list_roles() if r.id not in held][:2]
    tenant.clear_log()
    url = reverse("orgs:assign-roles", args=[acme])
    r = operator_client.post(url, {"user_id": crowded, "roles": free}, headers=HTMX)
    assert "Auth0 allows at most 50" in body(r)
    assert mutations(tenant) == []
    entry = only_entry()
    assert entry.outcome == Outcome.NOT_SENT and "at most 50" in entry.message
    assert entry.before is not None
    assert len(entry.before["roles"]) == 49

    one_held = sorted(held)[0]
    operator_client.post(url, {"user_id": crowded, "roles": [one_held]}, headers=HTMX)
    latest = AuditEntry.objects.first()
    assert latest is not None
    assert latest.outcome == Outcome.NOT_SENT and "already has every role" in latest.message
    assert latest.roles[0]["id"] == one_held and latest.roles[0]["name"]


def _show_roles_cell(client, acme: str) -> None:
    client.get(reverse("orgs:member-roles", args=[acme]), {"user_id": MEMBER}, headers=HTMX)


def test_remove_role_after_the_picker_records_the_roles_it_read(
    operator_client, tenant, acme
) -> None:
    """With the role picker open, Org Desk has read the member's roles: they are the before."""
    before = auth0.get_member_roles(org_id=acme, user_id=MEMBER)
    assert before  # the seeded member has roles, so the state below is not vacuous
    operator_client.get(reverse("orgs:role-picker", args=[acme]), {"user_id": MEMBER}, headers=HTMX)
    r = operator_client.post(
        reverse("orgs:remove-role", args=[acme]),
        {"user_id": MEMBER, "role": before[0].id},
        headers=HTMX,
    )
    assert r.status_code == 200
    entry = only_entry()
    assert entry.before == {"roles": [{"id": x.id, "name": x.name} for x in before]}
    assert entry.after is not None
    assert before[0].id not in {x["id"] for x in entry.after["roles"]}


def test_remove_role_records_the_role_and_the_roles_after(operator_client, tenant, acme) -> None:
    role = auth0.get_member_roles(org_id=acme, user_id=MEMBER)[0]
    _show_roles_cell(operator_client, acme)  # where Org Desk reads the role's name
    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:remove-role", args=[acme]),
        {"user_id": MEMBER, "role": role.id},
        headers=HTMX,
    )
    assert f"Removed the role {role.name}" in body(r)
    assert [c["method"] for c in api_calls(tenant)] == ["DELETE", "GET"]
    entry = only_entry()
    assert (entry.action, entry.outcome) == (Action.REMOVE_ROLE, Outcome.SUCCESS)
    assert entry.before is None  # not read before the change: unknown, not claimed
    assert entry.after is not None
    assert role.id not in {x["id"] for x in entry.after["roles"]}


@pytest.mark.parametrize("fault", FAULTS)
def test_failed_remove_role_is_recorded(
    operator_client, tenant, acme, short_timeout, fault
) -> None:
    spec, status, kind, words = FAULTS[fault]
    role = auth0.get_member_roles(org_id=acme, user_id=MEMBER)[0]
    tenant.add_fault(method="DELETE", path=r"/members/[^/]+/roles$", **spec)
    r = operator_client.post(
        reverse("orgs:remove-role", args=[acme]),
        {"user_id": MEMBER, "role": role.id},
        headers=HTMX,
    )
    assert words in body(r)
    entry = only_entry()
    assert (entry.outcome, entry.status_code, entry.error) == (Outcome.FAILED, status, kind)
    assert role.id in {x.id for x in auth0.get_member_roles(org_id=acme, user_id=MEMBER)}


def test_a_failing_refresh_does_not_turn_a_done_change_into_a_failure(
    operator_client, tenant, acme
) -> None:
    role = auth0.get_member_roles(org_id=acme, user_id=MEMBER)[0]
    _show_roles_cell(operator_client, acme)  # where Org Desk reads the role's name
    tenant.add_fault(method="GET", path=r"/members/[^/]+/roles", status=500)
    r = operator_client.post(
        reverse("orgs:remove-role", args=[acme]),
        {"user_id": MEMBER, "role": role.id},
        headers=HTMX,
    )
    assert f"Removed the role {role.name}" in body(r)
    entry = only_entry()
    assert entry.outcome == Outcome.SUCCESS and entry.after is None


# --- Nothing is lost ---------------------------------------------------------------------------


def test_an_unexpected_crash_still_seals_the_entry(operator_client, tenant, acme, monkeypatch):
    conn = enabled_by_name(acme, "acme-saml")

    def boom(**kwargs):
        raise RuntimeError("token=abc.def")  # its text is never stored

    monkeypatch.setattr(auth0, "remove_enabled_connection", boom)
    r = confirm_and_remove(operator_client, acme, conn.connection_id)
    assert "unexpected error" in body(r)
    entry = only_entry()
    assert (entry.outcome, entry.error) == (Outcome.FAILED, "unexpected")
    assert "RuntimeError" in entry.message and "abc.def" not in entry.message
    assert entry.uncertain


def test_entry_stays_pending_when_the_outcome_cannot_be_written(
    operator_client, tenant, acme, monkeypatch, caplog
) -> None:
    conn = enabled_by_name(acme, "acme-saml")

    def broken(self, pk, **fields):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(type(AuditEntry.objects.all()), "seal", broken)
    r = confirm_and_remove(operator_client, acme, conn.connection_id)
    assert "Removed the connection" in body(r)  # the change happened: say so
    entry = only_entry()
    assert entry.outcome == Outcome.PENDING and entry.uncertain
    assert "Could not record the outcome" in caplog.text


def test_no_change_is_sent_when_the_entry_cannot_be_written(
    operator_client, tenant, acme, monkeypatch
) -> None:
    conn = enabled_by_name(acme, "acme-saml")

    def broken(**kwargs):
        raise DatabaseError("disk full")

    url = reverse("connections:remove", args=[acme, conn.connection_id])
    operator_client.get(url, headers=HTMX)
    monkeypatch.setattr(AuditEntry.objects, "create", broken)
    tenant.clear_log()
    r = operator_client.post(url, headers=HTMX)
    assert "unexpected error" in body(r)
    assert mutations(tenant) == []


def test_deleting_a_user_keeps_their_entries(operator_client, operator, tenant, acme) -> None:
    confirm_and_remove(operator_client, acme, enabled_by_name(acme, "acme-ad").connection_id)
    operator.delete()
    entry = only_entry()
    assert entry.user is None and entry.username == "olivia"


# --- Append-only -------------------------------------------------------------------------------


def _entry(**fields) -> AuditEntry:
    values = {
        "username": "olivia",
        "action": Action.REMOVE_CONNECTION,
        "org_id": "org_abc",
        "connection_id": "con_abc",
        "outcome": Outcome.SUCCESS,
        "before": {"assign_membership_on_login": True, "show_as_button": False},
        **fields,
    }
    return AuditEntry.objects.create(**values)


def test_entries_cannot_be_edited_or_deleted(db) -> None:
    entry = _entry()
    entry.message = "rewritten"
    with pytest.raises(AuditImmutable):
        entry.save()
    with pytest.raises(AuditImmutable):
        entry.delete()
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.all().delete()
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.filter(pk=entry.pk).update(username="mallory")
    with pytest.raises(AuditImmutable), transaction.atomic():  # (a savepoint for the test)
        AuditEntry.objects.bulk_update([entry], ["message"])
    with pytest.raises(AuditImmutable):
        AuditEntry(pk=entry.pk, username="mallory", action=Action.REMOVE_ROLE).save()
    # sealing writes only a pending entry's outcome, once
    assert AuditEntry.objects.seal(entry.pk, outcome=Outcome.FAILED) == 0
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.seal(entry.pk, username="mallory")
    pending = _entry(outcome=Outcome.PENDING)
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.seal(pending.pk, outcome=Outcome.PENDING)
    assert AuditEntry.objects.seal(pending.pk, outcome=Outcome.SUCCESS) == 1
    assert AuditEntry.objects.seal(pending.pk, outcome=Outcome.FAILED) == 0
    fresh = AuditEntry.objects.get(pk=entry.pk)
    assert (fresh.username, fresh.message) == ("olivia", "")
    assert AuditEntry.objects.get(pk=pending.pk).outcome == Outcome.SUCCESS


def test_admin_is_read_only(admin_client, db) -> None:
    entry = _entry()
    changelist = admin_client.get(reverse("admin:audit_auditentry_changelist"))
    assert changelist.status_code == 200 and "olivia" in changelist.content.decode()
    assert 'name="action"' not in changelist.content.decode()  # no bulk delete
    assert admin_client.get(reverse("admin:audit_auditentry_add")).status_code == 403
    change_url = reverse("admin:audit_auditentry_change", args=[entry.pk])
    page = admin_client.get(change_url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_client.post(change_url, {"username": "mallory"}).status_code == 403
    delete_url = reverse("admin:audit_auditentry_delete", args=[entry.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).username == "olivia"


def test_the_site_has_no_route_that_edits_entries(operator_client, db) -> None:
    entry = _entry()
    detail = reverse("audit:detail", args=[entry.pk])
    assert operator_client.post(detail).status_code == 405
    assert operator_client.delete(detail).status_code == 405
    assert operator_client.get(reverse("audit:restore", args=[entry.pk])).status_code == 405


def test_atomic_requests_would_be_reported(monkeypatch) -> None:
    from django.conf import settings

    assert audit_writes_are_not_rolled_back in checks.registry.registry.get_checks()
    assert audit_writes_are_not_rolled_back() == []
    monkeypatch.setitem(settings.DATABASES["default"], "ATOMIC_REQUESTS", True)
    assert [m.id for m in audit_writes_are_not_rolled_back()] == ["adminsite.E001"]


def test_sqlite_without_immediate_transactions_would_be_reported(monkeypatch) -> None:
    from django.conf import settings

    assert sqlite_transactions_take_the_write_lock in checks.registry.registry.get_checks()
    assert sqlite_transactions_take_the_write_lock() == []  # the settings take the lock
    options = {**settings.DATABASES["default"].get("OPTIONS", {}), "transaction_mode": "DEFERRED"}
    monkeypatch.setitem(settings.DATABASES["default"], "OPTIONS", options)
    assert [m.id for m in sqlite_transactions_take_the_write_lock()] == ["adminsite.E002"]


# --- The audit page ----------------------------------------------------------------------------


def test_viewer_reads_the_audit_page_newest_first(viewer_client, db) -> None:
    old = _entry(connection_name="older-conn")
    new = _entry(
        connection_name="newer-conn", org_name="<script>alert(1)</script>", username="ines"
    )
    r = viewer_client.get(reverse("audit:list"))
    text = body(r)
    assert r.status_code == 200
    assert text.index("newer-conn") < text.index("older-conn")
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text
    assert "Membership on login: <strong>Yes</strong>" in text
    assert "Restore…" not in text  # viewers get no restore control
    assert f'href="/audit/{old.pk}/"' in text and f'href="/audit/{new.pk}/"' in text


def test_audit_page_filters_by_organization_person_and_action(viewer_client, db) -> None:
    _entry(org_id="org_one", connection_name="first-conn")
    _entry(org_id="org_two", connection_name="second-conn", username="ines")
    _entry(org_id="org_two", action=Action.REMOVE_ROLE, member_id="auth0|third", username="ines")
    url = reverse("audit:list")
    text = body(viewer_client.get(url, {"org": "org_two"}))
    assert "second-conn" in text and "auth0|third" in text and "first-conn" not in text
    text = body(viewer_client.get(url, {"user": "olivia"}))
    assert "first-conn" in text and "second-conn" not in text
    text = body(viewer_client.get(url, {"org": "org_two", "action": "remove_role"}))
    assert "auth0|third" in text and "second-conn" not in text
    r = viewer_client.get(url, {"org": "../../admin"})
    assert "An organization id looks like org_" in body(r)
    assert 'data-testid="audit-entry"' not in r.content.decode()


def test_audit_page_pages_by_fifty(viewer_client, db) -> None:
    AuditEntry.objects.bulk_create(
        AuditEntry(
            username="bulk",
            action=Action.REMOVE_ROLE,
            org_id="org_many",
            member_id=f"auth0|member{i:03}",
            outcome=Outcome.SUCCESS,
        )
        for i in range(120)
    )
    url = reverse("audit:list")
    first = body(viewer_client.get(url, {"org": "org_many"}))
    assert first.count('data-testid="audit-entry"') == 50
    assert "Page 1 of 3" in first and "120 entries" in first
    assert "?org=org_many&amp;page=2" in first  # the pager keeps the filter
    last = body(viewer_client.get(url, {"org": "org_many", "page": 3}))
    assert last.count('data-testid="audit-entry"') == 20
    rows = re.findall(r"auth0\|member(\d{3})", first)
    assert rows == sorted(rows, reverse=True)  # newest first (same second: by id)
    beyond = body(viewer_client.get(url, {"org": "org_many", "page": "999"}))
    assert "Page 3 of 3" in beyond


def test_audit_page_costs_the_same_queries_for_any_number_of_entries(
    viewer_client, django_assert_max_num_queries, db
) -> None:
    removals = [_entry(connection_name=f"conn-{i}") for i in range(40)]
    for removal in removals[:20]:
        _entry(action=Action.RESTORE_CONNECTION, restores=removal, before={"enabled": False})
    with django_assert_max_num_queries(6):  # session, user, groups, count, page, restorations
        r = viewer_client.get(reverse("audit:list"))
    assert body(r).count('data-testid="audit-entry"') == 50


def test_organization_page_and_header_link_to_the_audit_log(viewer_client, tenant, acme) -> None:
    text = body(viewer_client.get(reverse("orgs:detail", args=[acme])))
    assert f'href="/audit/?org={acme}"' in text
    assert 'href="/audit/"' in text


# --- Restore -----------------------------------------------------------------------------------


def _removed(client, acme: str, name: str):
    conn = enabled_by_name(acme, name)
    confirm_and_remove(client, acme, conn.connection_id)
    entry = AuditEntry.objects.get(action=Action.REMOVE_CONNECTION, outcome=Outcome.SUCCESS)
    assert conn.connection_id not in {
        c.connection_id for c in auth0.list_enabled_connections(org_id=acme)
    }
    return conn, entry


@pytest.mark.parametrize(
    ("name", "sent_signup"),
    [("Username-Password-Authentication", True), ("okta-workforce", None)],
)
def test_restore_brings_the_connection_back_with_its_settings(
    operator_client, tenant, acme, name, sent_signup
) -> None:
    conn, removal = _removed(operator_client, acme, name)
    tenant.clear_log()
    r = operator_client.post(reverse("audit:restore", args=[removal.pk]), follow=True)
    assert f"Restored the connection {name}" in body(r)
    [post] = api_calls(tenant)  # exactly one upstream call
    assert post["method"] == "POST"
    assert post["raw_path"] == f"/api/v2/organizations/{acme}/enabled_connections"
    expected = {
        "connection_id": conn.connection_id,
        "assign_membership_on_login": conn.assign_membership_on_login,
        "show_as_button": conn.show_as_button,
    }
    if sent_signup is not None:
        expected["is_signup_enabled"] = sent_signup
    assert post["json"] == expected  # is_signup_enabled only when it was known
    assert enabled_by_name(acme, name) == conn  # same settings as before the removal
    restore = AuditEntry.objects.get(action=Action.RESTORE_CONNECTION)
    assert (restore.outcome, restore.restores, restore.org_id) == (
        Outcome.SUCCESS,
        removal,
        acme,
    )
    assert restore.after is not None
    assert restore.after["show_as_button"] == conn.show_as_button
    assert list(removal.restorations.all()) == [restore]
    page = body(operator_client.get(reverse("audit:detail", args=[removal.pk])))
    assert "This connection was restored by olivia" in page
    assert "Restore the connection" not in page
    listing = body(operator_client.get(reverse("audit:list")))
    assert "Restored by olivia" in listing and "Restore…" not in listing


def test_restoring_twice_is_refused_without_a_call(operator_client, tenant, acme) -> None:
    _, removal = _removed(operator_client, acme, "acme-saml")
    url = reverse("audit:restore", args=[removal.pk])
    operator_client.post(url)
    tenant.clear_log()
    r = operator_client.post(url, follow=True)
    assert "already restored by olivia" in body(r) and "nothing was sent" in body(r)
    assert api_calls(tenant) == []
    assert AuditEntry.objects.filter(action=Action.RESTORE_CONNECTION).count() == 1


def test_restore_of_a_connection_enabled_again_meanwhile_says_409(
    operator_client, tenant, acme
) -> None:
    conn, removal = _removed(operator_client, acme, "acme-saml")
    auth0.add_enabled_connection(
        org_id=acme,
        connection_id=conn.connection_id,
        assign_membership_on_login=False,
        show_as_button=True,
        is_signup_enabled=None,
    )
    r = operator_client.post(reverse("audit:restore", args=[removal.pk]), follow=True)
    text = body(r)
    assert "acme-saml is already enabled for this organization (409" in text
    restore = AuditEntry.objects.get(action=Action.RESTORE_CONNECTION)
    assert (restore.outcome, restore.status_code, restore.error) == (
        Outcome.FAILED,
        409,
        "conflict",
    )
    # a failed restore does not count: the entry can still be restored later
    assert "Restore the connection" in body(
        operator_client.get(reverse("audit:detail", args=[removal.pk]))
    )


@pytest.mark.parametrize("fault", FAULTS)
def test_failed_restore_is_recorded_and_reported(
    operator_client, tenant, acme, short_timeout, fault
) -> None:
    spec, status, kind, words = FAULTS[fault]
    conn, removal = _removed(operator_client, acme, "corp-oidc")
    tenant.add_fault(method="POST", path=r"/enabled_connections$", **spec)
    r = operator_client.post(reverse("audit:restore", args=[removal.pk]), follow=True)
    assert words in body(r)
    restore = AuditEntry.objects.get(action=Action.RESTORE_CONNECTION)
    assert (restore.outcome, restore.status_code, restore.error) == (Outcome.FAILED, status, kind)
    assert restore.restores == removal


def test_only_successful_removals_can_be_restored(operator_client, tenant, acme) -> None:
    failed = _entry(org_id=acme, outcome=Outcome.FAILED)
    role = _entry(org_id=acme, action=Action.REMOVE_ROLE, member_id="auth0|x", before=None)
    tenant.clear_log()
    for entry in (failed, role):
        r = operator_client.post(reverse("audit:restore", args=[entry.pk]), follow=True)
        assert "Only a successful removal of a connection can be restored" in body(r)
    assert api_calls(tenant) == []
    assert operator_client.post(reverse("audit:restore", args=[999999])).status_code == 404


def test_viewer_cannot_restore_even_with_a_valid_csrf_token(viewer, tenant, acme) -> None:
    conn = enabled_by_name(acme, "acme-saml")
    removal = _entry(
        org_id=acme,
        connection_id=conn.connection_id,
        before=audit.connection_settings(conn),
    )
    auth0.remove_enabled_connection(org_id=acme, connection_id=conn.connection_id)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(viewer)
    page = browser.get(reverse("audit:detail", args=[removal.pk]))
    assert "Restore the connection" not in page.content.decode()
    assert "read-only access (viewer)" in page.content.decode()
    token = browser.cookies["csrftoken"].value
    tenant.clear_log()
    r = browser.post(reverse("audit:restore", args=[removal.pk]), {"csrfmiddlewaretoken": token})
    assert r.status_code == 403
    assert "read-only access (viewer)" in r.content.decode()
    assert api_calls(tenant) == []
    assert AuditEntry.objects.count() == 1  # the removal only
    assert conn.connection_id not in {
        c.connection_id for c in auth0.list_enabled_connections(org_id=acme)
    }


def test_restore_without_csrf_token_is_refused(operator, tenant, acme) -> None:
    removal = _entry(org_id=acme)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator)
    tenant.clear_log()
    r = browser.post(reverse("audit:restore", args=[removal.pk]))
    assert r.status_code == 403 and api_calls(tenant) == []


def test_a_restore_under_way_is_not_sent_twice(operator_client, tenant, acme) -> None:
    from datetime import timedelta

    from django.utils import timezone

    _, removal = _removed(operator_client, acme, "acme-saml")
    in_flight = _entry(
        org_id=acme,
        action=Action.RESTORE_CONNECTION,
        restores=removal,
        outcome=Outcome.PENDING,
        before={"enabled": False},
    )
    url = reverse("audit:restore", args=[removal.pk])
    tenant.clear_log()
    r = operator_client.post(url, follow=True)
    assert "already under way" in body(r) and api_calls(tenant) == []
    assert f"audit entry #{in_flight.pk}" in body(r)  # which restore, by whom, since when
    assert 'data-testid="restore-pending"' in body(r)  # and the page says it has no outcome
    # A pending entry left by a process that died long ago does not block for ever.
    AuditEntry.objects.seal(in_flight.pk, outcome=Outcome.FAILED, error="unexpected")
    _entry(
        org_id=acme,
        action=Action.RESTORE_CONNECTION,
        restores=removal,
        outcome=Outcome.PENDING,
        created_at=timezone.now() - timedelta(minutes=5),
    )
    r = operator_client.post(url, follow=True)
    assert "Restored the connection acme-saml" in body(r)
    assert len(api_calls(tenant)) == 1


# --- Names come from Auth0 or Org Desk's own reads, never from the browser --------------------

FORGED = "forged-by-browser"


def _everything_recorded() -> str:
    return " ".join(
        str(v) for e in AuditEntry.objects.values() for v in e.values() if v is not None
    )


@pytest.mark.parametrize("confirm", [True, False], ids=["confirmed", "direct"])
@pytest.mark.parametrize("action", ["domain-level", "remove"])
def test_a_posted_name_is_never_recorded_or_shown(
    operator_client, tenant, acme, action, confirm
) -> None:
    conn = _not_domain_level(acme)
    # The connection index is down: before, the posted name filled the gap.
    tenant.add_fault(method="GET", path=r"^/api/v2/connections$", status=503, times=None)
    url = reverse(f"connections:{action}", args=[acme, conn.connection_id])
    if confirm:
        assert operator_client.get(url, headers=HTMX).status_code == 200
    r = operator_client.post(url, {"name": FORGED, "is_domain_connection": "true"}, headers=HTMX)
    text = body(r)
    assert conn.name in text and FORGED not in text  # the success message names it truly
    entry = only_entry()
    assert entry.outcome == Outcome.SUCCESS
    # (a removal without confirm step reads the name inside the attempt: in its before-state)
    assert entry.connection_name in (conn.name, "") and entry.known_connection_name == conn.name
    assert FORGED not in _everything_recorded()
    for page in (reverse("audit:list"), reverse("audit:detail", args=[entry.pk])):
        shown = body(operator_client.get(page))
        assert conn.name in shown and FORGED not in shown


def test_unknown_names_are_shown_as_unknown_with_the_id(viewer_client, db) -> None:
    entry = _entry(
        org_id="org_nameless",
        org_name="",
        connection_id="con_nameless",
        connection_name="",
        before={"assign_membership_on_login": True, "show_as_button": False},
    )
    role = _entry(
        org_id="org_nameless",
        action=Action.REMOVE_ROLE,
        connection_id="",
        member_id="auth0|someone",
        roles=[{"id": "rol_nameless", "name": ""}],
        before={"had_role": {"id": "rol_nameless", "name": ""}},
    )
    listing = body(viewer_client.get(reverse("audit:list")))
    assert listing.count('data-testid="name-unknown"') == 3  # two organizations, a connection
    assert "con_nameless" in listing and "org_nameless" in listing
    assert "rol_nameless (name unknown)" in listing
    detail = body(viewer_client.get(reverse("audit:detail", args=[entry.pk])))
    assert detail.count('data-testid="name-unknown"') == 2  # the organization, the connection
    assert "con_nameless" in detail and "org_nameless" in detail
    detail = body(viewer_client.get(reverse("audit:detail", args=[role.pk])))
    assert detail.count('data-testid="name-unknown"') == 2  # the organization, the role
    assert "rol_nameless (name unknown)" in detail  # the before-state


def test_restore_names_the_connection_from_auth0s_answer(operator_client, tenant, acme) -> None:
    conn = enabled_by_name(acme, "acme-saml")
    removal = _entry(
        org_id=acme,
        org_name="",
        connection_id=conn.connection_id,
        connection_name="",  # e.g. written before names were recorded
        before={"assign_membership_on_login": True, "show_as_button": False},
    )
    auth0.remove_enabled_connection(org_id=acme, connection_id=conn.connection_id)
    page = body(operator_client.get(reverse("audit:detail", args=[removal.pk])))
    assert f"Enable <strong>{conn.connection_id} (name unknown)</strong>" in page
    assert f"<strong>{acme} (name unknown)</strong>" in page
    r = operator_client.post(reverse("audit:restore", args=[removal.pk]), follow=True)
    assert f"Restored the connection acme-saml to {acme} (name unknown)" in body(r)


@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_the_audit_app_keeps_its_entries() -> None:
    """The model moved from the adminsite app to the audit app: state only, same table."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from adminsite.audit.models import AuditEntry as Entry

    executor = MigrationExecutor(connection)
    executor.migrate([("adminsite", "0001_audit_entry"), ("audit", None)])
    with connection.cursor() as cursor:  # a row written while the adminsite app owned it
        cursor.execute(
            "INSERT INTO adminsite_auditentry (created_at, username, action, org_id, org_name,"
            " connection_id, connection_name, member_id, roles, outcome, error, message,"
            " requested) VALUES (CURRENT_TIMESTAMP, 'olivia', 'remove_connection', 'org_old',"
            " '', 'con_old', 'old-db', '', '[]', 'success', '', '', '{}')"
        )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    entry = Entry.objects.get(org_id="org_old")
    assert (entry.username, entry.connection_name) == ("olivia", "old-db")
    assert Entry._meta.db_table == "adminsite_auditentry"
