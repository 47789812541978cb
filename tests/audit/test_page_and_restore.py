"""The audit log's page, readable by everyone; restore by operators only; names in entries come
from Auth0 or Org Desk's own reads, never from the browser."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from adminsite import auth0
from adminsite.audit import recording as audit
from adminsite.audit.models import (
    Action,
    AuditEntry,
    Outcome,
)
from tests.audit.helpers import (
    FAULTS,
    body,
    confirm_and_remove,
    enabled_by_name,
    make_entry,
    not_domain_level,
    only_entry,
)
from tests.helpers import HTMX, api_calls

# --- The audit page ----------------------------------------------------------------------------


def test_viewer_reads_the_audit_page_newest_first(viewer_client, db) -> None:
    old = make_entry(connection_name="older-conn")
    new = make_entry(
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
    make_entry(org_id="org_one", connection_name="first-conn")
    make_entry(org_id="org_two", connection_name="second-conn", username="ines")
    make_entry(
        org_id="org_two", action=Action.REMOVE_ROLE, member_id="auth0|third", username="ines"
    )
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
    removals = [make_entry(connection_name=f"conn-{i}") for i in range(40)]
    for removal in removals[:20]:
        make_entry(action=Action.RESTORE_CONNECTION, restores=removal, before={"enabled": False})
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
    failed = make_entry(org_id=acme, outcome=Outcome.FAILED)
    role = make_entry(org_id=acme, action=Action.REMOVE_ROLE, member_id="auth0|x", before=None)
    tenant.clear_log()
    for entry in (failed, role):
        r = operator_client.post(reverse("audit:restore", args=[entry.pk]), follow=True)
        assert "Only a successful removal can be restored" in body(r)
    assert api_calls(tenant) == []
    assert operator_client.post(reverse("audit:restore", args=[999999])).status_code == 404


def test_viewer_cannot_restore_even_with_a_valid_csrf_token(viewer, tenant, acme) -> None:
    conn = enabled_by_name(acme, "acme-saml")
    removal = make_entry(
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
    removal = make_entry(org_id=acme)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator)
    tenant.clear_log()
    r = browser.post(reverse("audit:restore", args=[removal.pk]))
    assert r.status_code == 403 and api_calls(tenant) == []


def test_a_restore_under_way_is_not_sent_twice(operator_client, tenant, acme) -> None:
    from datetime import timedelta

    from django.utils import timezone

    _, removal = _removed(operator_client, acme, "acme-saml")
    in_flight = make_entry(
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
    make_entry(
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
    conn = not_domain_level(acme)
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
    entry = make_entry(
        org_id="org_nameless",
        org_name="",
        connection_id="con_nameless",
        connection_name="",
        before={"assign_membership_on_login": True, "show_as_button": False},
    )
    role = make_entry(
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
    assert detail.count('data-testid="name-unknown"') == 3  # the organization, member, role
    assert "rol_nameless (name unknown)" in detail  # the before-state


def test_restore_names_the_connection_from_auth0s_answer(operator_client, tenant, acme) -> None:
    conn = enabled_by_name(acme, "acme-saml")
    removal = make_entry(
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
