"""Choosing many (issue #15 item 1) in the engine: "every member" listed by the job page by
page, and emails resolved before any change, the unresolved listed."""

from __future__ import annotations

import pytest

from adminsite.audit.models import AuditEntry
from adminsite.jobs import services
from adminsite.jobs.models import ItemOutcome, Kind, Status
from tests.helpers import mutations
from tests.jobs.conftest import held


def test_every_member_by_cursor(db, tenant, big, people, role, operator) -> None:
    job = services.create(
        kind=Kind.ASSIGN_ROLES,
        org_id=big,
        user=operator,
        roles=[role],
        subjects=[people[3]],  # also given: one item, first
        all_members=True,
    )
    assert job.total == 1
    tenant.clear_log()
    assert services.run(str(job.pk)) == Status.DONE
    job.refresh_from_db()
    assert (job.total, job.done, job.failed) == (1100, 1100, 0)
    assert [i.user_id for i in job.items.order_by("position")][:2] == [people[3], people[0]]
    assert job.items.values("user_id").distinct().count() == 1100
    assert all(role["id"] in held(tenant, big, u) for u in people)
    reads = [r for r in tenant.requests_log if r["method"] == "GET" and "/members" in r["raw_path"]]
    assert len(reads) == 23  # 50 a page, and the empty one after the last full page
    assert AuditEntry.objects.filter(job_id=job.pk).count() == 1100


def test_every_member_is_listed_once_when_resumed(db, tenant, big, role, operator) -> None:
    job = services.create(
        kind=Kind.REMOVE_ROLES, org_id=big, user=operator, roles=[role], all_members=True
    )
    services.run(str(job.pk))
    job.refresh_from_db()
    assert job.params["listed"] is True and job.total == 1100
    from adminsite.jobs import runner

    again = runner.Runner(job, job.worker)
    again.list_every_member()
    assert job.items.count() == 1100


def test_more_members_than_a_job_takes_changes_nothing(
    db, tenant, big, role, operator, monkeypatch
) -> None:
    monkeypatch.setattr(services, "MAX_ITEMS", 120)
    job = services.create(kind=Kind.REMOVE_MEMBERS, org_id=big, user=operator, all_members=True)
    tenant.clear_log()
    assert services.run(str(job.pk)) == Status.FAILED
    job.refresh_from_db()
    assert "more than 120 members" in job.message
    assert job.items.count() == 0
    assert mutations(tenant) == []


def test_every_member_only_for_role_changes_and_removal(db, tenant, big, operator) -> None:
    with pytest.raises(services.JobError):
        services.create(kind=Kind.ADD_MEMBERS, org_id=big, user=operator, all_members=True)
    with pytest.raises(services.JobError, match="at least one member"):
        services.create(kind=Kind.REMOVE_MEMBERS, org_id=big, user=operator)


def test_emails_are_resolved_before_any_change(db, tenant, big, people, role, operator):
    emails = [tenant.store.users[u]["email"] for u in people[:3]]
    subjects = [emails[0], people[10], "nobody@nowhere.example", emails[1], emails[2]]
    job = services.create(
        kind=Kind.ASSIGN_ROLES, org_id=big, user=operator, roles=[role], subjects=subjects
    )
    tenant.clear_log()
    services.run(str(job.pk))
    log = [(r["method"], r["raw_path"]) for r in tenant.requests_log if "/api/v2/" in r["raw_path"]]
    lookups = [i for i, (m, p) in enumerate(log) if "users-by-email" in p]
    changes = [i for i, (m, p) in enumerate(log) if m == "POST"]
    assert len(lookups) == 4 and len(changes) == 4
    assert max(lookups) < min(changes)  # every lookup before the first change
    skipped = job.items.get(outcome=ItemOutcome.SKIPPED)
    assert skipped.subject == "nobody@nowhere.example" and "No user" in skipped.message


def test_a_user_id_with_an_at_is_not_taken_for_an_email(db, tenant, role, operator) -> None:
    acme = list(tenant.store.orgs)[0]
    jane = "samlp|acme-saml|jane/doe@acme.example"  # a seeded member of Acme
    assert jane in tenant.store.members[acme]
    job = services.create(
        kind=Kind.ASSIGN_ROLES, org_id=acme, user=operator, roles=[role], subjects=[jane]
    )
    assert job.items.get().user_id == jane
    tenant.clear_log()
    services.run(str(job.pk))
    assert job.items.get().outcome == ItemOutcome.SUCCESS
    assert role["id"] in held(tenant, acme, jane)
    assert not [r for r in tenant.requests_log if "users-by-email" in r["raw_path"]]
