"""The audit log (F7): one entry per change attempt, with its before-state and outcome, whatever
Auth0 answers; nothing lost; append-only."""

from __future__ import annotations

import pytest
from django.core import checks
from django.db import DatabaseError, transaction
from django.urls import reverse

from adminsite import auth0
from adminsite.audit.models import (
    Action,
    AuditEntry,
    AuditImmutable,
    Outcome,
    audit_writes_are_not_rolled_back,
    sqlite_transactions_take_the_write_lock,
)
from tests.audit.helpers import (
    FAULTS,
    SECRET,
    body,
    confirm_and_remove,
    enabled_by_name,
    make_entry,
    not_domain_level,
    only_entry,
)
from tests.helpers import HTMX, api_calls, mutations

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


def test_domain_level_records_the_previous_status_from_the_cached_index(
    operator_client, tenant, acme
) -> None:
    conn = not_domain_level(acme)
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
    conn = not_domain_level(acme)
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
    conn = not_domain_level(acme)
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
    assert f"Assigned the role {role.name} to " in body(r)
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


def test_entries_cannot_be_edited_or_deleted(db) -> None:
    entry = make_entry()
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
    pending = make_entry(outcome=Outcome.PENDING)
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.seal(pending.pk, outcome=Outcome.PENDING)
    assert AuditEntry.objects.seal(pending.pk, outcome=Outcome.SUCCESS) == 1
    assert AuditEntry.objects.seal(pending.pk, outcome=Outcome.FAILED) == 0
    fresh = AuditEntry.objects.get(pk=entry.pk)
    assert (fresh.username, fresh.message) == ("olivia", "")
    assert AuditEntry.objects.get(pk=pending.pk).outcome == Outcome.SUCCESS


def test_admin_is_read_only(admin_client, db) -> None:
    entry = make_entry()
    changelist = admin_client.get(reverse("admin:audit_auditentry_changelist"))
    assert changelist.status_code == 200 and "olivia" in changelist.content.decode()
    assert 'name="action"' not in changelist.content.decode()  # no bulk delete
    assert admin_client.get(reverse("admin:audit_auditentry_add")).status_code == 403
    change_url = reverse("admin:audit_auditentry_change", args=[entry.pk])
    page = admin_client.get(change_url)
    assert page.status_code == 200 and "olivia" in page.content.decode()  # the entry, shown
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(change_url, {"username": "mallory"}).status_code == 403
    delete_url = reverse("admin:audit_auditentry_delete", args=[entry.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).username == "olivia"


def test_the_site_has_no_route_that_edits_entries(operator_client, db) -> None:
    entry = make_entry()
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
    # (on a Postgres test run the check has nothing to say: pretend the database is SQLite)
    monkeypatch.setitem(settings.DATABASES["default"], "ENGINE", "django.db.backends.sqlite3")
    assert [m.id for m in sqlite_transactions_take_the_write_lock()] == ["adminsite.E002"]


def test_a_removal_after_its_confirm_step_reads_the_stash_and_the_org_name_at_once(
    operator_client, operator, tenant, acme, monkeypatch
) -> None:
    from django.core.cache import cache

    from adminsite import memo, readahead

    conn = enabled_by_name(acme, "acme-saml")
    operator_client.get(reverse("orgs:detail", args=[acme]))  # remembers the display name
    url = reverse("connections:remove", args=[acme, conn.connection_id])
    operator_client.get(url, headers=HTMX)
    reads: list[str] = []

    class Counting:
        def __getattr__(self, name: str):
            if name in ("get", "get_many"):
                reads.append(name)
            return getattr(cache, name)

    # the confirm step's, named after its person (adminsite.readahead.owner)
    stash = f"audit:before:{readahead.owner(operator.username)}:{acme}:{conn.connection_id}"
    assert cache.get(stash) is not None
    monkeypatch.setattr(memo, "cache", Counting())
    r = operator_client.post(url, headers=HTMX)
    assert "Removed the connection acme-saml" in body(r)
    assert reads == ["get_many"]  # the stash and the organization's name: one cache read
    assert only_entry().org_name == "Acme Corporation"
    assert cache.get(stash) is None  # used once
