"""Jobs run item by item: lifecycle, counters, audit linkage, cancel, retry, resume (issue #15)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from adminsite.audit import recording
from adminsite.audit.models import Action, AuditEntry, Outcome
from adminsite.jobs import runner, services
from adminsite.jobs.models import ItemOutcome, Job, JobItem, Kind, Status
from tests.jobs.conftest import held, new_job


def test_assigning_a_role_to_many_members(db, tenant, big, people, role, operator) -> None:
    chosen = people[:12]
    job = new_job(operator, Kind.ASSIGN_ROLES, big, chosen, [role])
    assert (job.status, job.total, job.done) == (Status.QUEUED, 12, 0)
    assert services.run(str(job.pk)) == Status.DONE
    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.failed) == (Status.DONE, 12, 12, 0)
    assert job.started_at and job.finished_at and job.started_at <= job.finished_at
    for user_id in chosen:
        assert role["id"] in held(tenant, big, user_id)
    items = list(job.items.order_by("position"))
    assert [i.subject for i in items] == chosen
    assert {i.outcome for i in items} == {ItemOutcome.SUCCESS}
    # one audit entry per item, sealed, linked both ways, written for the job's author
    entries = AuditEntry.objects.filter(job_id=job.pk).order_by("pk")
    assert [e.member_id for e in entries] == chosen
    assert [i.audit_entry_id for i in items] == [e.pk for e in entries]
    for entry in entries:
        assert entry.outcome == Outcome.SUCCESS and entry.action == Action.ASSIGN_ROLES
        assert entry.username == "olivia" and entry.user == operator
        assert entry.roles == [role] and entry.org_id == big
    posts = [r for r in tenant.requests_log if r["method"] == "POST" and "/roles" in r["raw_path"]]
    assert len(posts) == 12  # one call per member, no reads


def test_counters_are_one_update_per_item(db, tenant, big, people, role, operator) -> None:
    job = new_job(operator, Kind.ASSIGN_ROLES, big, people[:3], [role])
    with CaptureQueriesContext(connection) as queries:
        services.run(str(job.pk))
    counter_updates = [
        q["sql"] for q in queries if q["sql"].startswith("UPDATE") and '"done"' in q["sql"]
    ]
    assert len(counter_updates) == 3


def test_the_same_member_twice_is_one_item(db, tenant, big, people, role, operator) -> None:
    job = new_job(operator, Kind.ASSIGN_ROLES, big, [people[0], f" {people[0]} ", ""], [role])
    assert job.total == 1 and job.items.count() == 1


def test_removing_roles_and_members(db, tenant, big, people, role, operator) -> None:
    a, b = people[:2]
    tenant.store.member_roles[(big, a)] = [role["id"]]
    job = new_job(operator, Kind.REMOVE_ROLES, big, [a], [role])
    services.run(str(job.pk))
    assert role["id"] not in held(tenant, big, a)
    job = new_job(operator, Kind.REMOVE_MEMBERS, big, [a, b], [])
    services.run(str(job.pk))
    assert a not in tenant.store.members[big] and b not in tenant.store.members[big]
    assert AuditEntry.objects.filter(job_id=job.pk, action=Action.REMOVE_MEMBER).count() == 2


def member_calls(tenant, method: str) -> list[list[str]]:
    """The members of each POST/DELETE organizations/{id}/members the sandbox received."""
    return [
        r["json"]["members"]
        for r in tenant.requests_log
        if r["method"] == method and r["raw_path"].endswith("/members")
    ]


def test_removing_members_goes_ten_a_call_with_an_entry_each(
    db, tenant, big, people, operator
) -> None:
    chosen = people[:25]
    tenant.clear_log()
    job = new_job(operator, Kind.REMOVE_MEMBERS, big, chosen, [])
    assert services.run(str(job.pk)) == Status.DONE
    calls = member_calls(tenant, "DELETE")
    assert [len(c) for c in calls] == [10, 10, 5]
    assert [u for c in calls for u in c] == chosen  # in the job's order, each once
    assert not set(chosen) & set(tenant.store.members[big])
    entries = AuditEntry.objects.filter(job_id=job.pk)
    assert entries.count() == 25
    assert set(entries.values_list("outcome", flat=True)) == {Outcome.SUCCESS}
    assert sorted(entries.values_list("member_id", flat=True)) == sorted(chosen)
    job.refresh_from_db()
    assert (job.done, job.failed, job.total) == (25, 0, 25)
    for item in job.items.all():
        assert item.outcome == ItemOutcome.SUCCESS
        assert item.audit_entry is not None and item.audit_entry.member_id == item.user_id


def test_a_person_given_twice_is_removed_by_one_call_with_one_entry(
    db, tenant, big, people, operator
) -> None:
    """Their email and their user id: two items, one member. The second item is settled by the
    entry of the call that removed them, so the log holds one removal."""
    email = tenant.store.users[people[1]]["email"]
    tenant.clear_log()
    job = new_job(operator, Kind.REMOVE_MEMBERS, big, [people[0], people[1], email, people[2]], [])
    assert services.run(str(job.pk)) == Status.DONE
    assert member_calls(tenant, "DELETE") == [[people[0], people[1]], [people[2]]]
    entries = AuditEntry.objects.filter(job_id=job.pk)
    assert sorted(entries.values_list("member_id", flat=True)) == sorted(people[:3])
    items = list(job.items.order_by("position"))
    assert [i.outcome for i in items] == [ItemOutcome.SUCCESS] * 4
    assert items[1].audit_entry_id == items[2].audit_entry_id


def test_a_batch_auth0_refuses_is_sent_again_member_by_member(db, tenant, big, operator) -> None:
    """One user who does not exist makes Auth0 refuse the call for all: the others are added
    on their own, the stranger fails alone, and the log says what happened to each."""
    acme = list(tenant.store.orgs)[0]
    newcomers = [u for u in tenant.store.members[big] if u not in tenant.store.members[acme]][:4]
    ghost = "auth0|nobodyhasthisid"
    chosen = [*newcomers[:2], ghost, *newcomers[2:]]
    tenant.clear_log()
    job = new_job(operator, Kind.ADD_MEMBERS, acme, chosen, [])
    assert services.run(str(job.pk)) == Status.DONE
    calls = member_calls(tenant, "POST")
    assert calls[0] == chosen and [len(c) for c in calls[1:]] == [1] * 5
    for user_id in newcomers:
        assert user_id in tenant.store.members[acme]
    job.refresh_from_db()
    assert (job.done, job.failed) == (5, 1)
    failed = job.items.get(outcome=ItemOutcome.FAILED)
    assert failed.user_id == ghost and failed.error == "not_found"
    refused = AuditEntry.objects.filter(job_id=job.pk, error=runner.BATCH_REFUSED)
    assert refused.count() == 5 and set(refused.values_list("outcome", flat=True)) == {"failed"}
    first = refused.first()
    assert first is not None and "as a whole" in first.message
    wins = AuditEntry.objects.filter(job_id=job.pk, outcome=Outcome.SUCCESS)
    assert sorted(wins.values_list("member_id", flat=True)) == sorted(newcomers)


def test_a_worker_that_died_during_a_batch_reads_each_member_then_sends_the_rest(
    db, tenant, big, people, operator
) -> None:
    """A call for three members whose fate is unknown (pending entries, the worker gone): each
    is read on resuming; those already removed are not sent again, the others are."""
    chosen = people[:5]
    job = new_job(operator, Kind.REMOVE_MEMBERS, big, chosen, [])
    job.refresh_from_db()
    Job.objects.filter(pk=job.pk).update(status=Status.RUNNING, worker="gone:1:dead")
    dead = runner.Runner(job, "gone:1:dead")
    pending = [dead.record(item).open() for item in job.items.order_by("position")[:3]]
    for user_id in chosen[:2]:  # the call had reached Auth0 for two of them
        del tenant.store.members[big][user_id]
    Job.objects.filter(pk=job.pk).update(status=Status.QUEUED, worker="")
    tenant.clear_log()
    assert services.run(str(job.pk)) == Status.DONE
    reads = [r for r in tenant.requests_log if r["method"] == "GET" and "/api/v2" in r["raw_path"]]
    assert len(reads) == 3  # one per member in flight
    assert member_calls(tenant, "DELETE") == [[chosen[2]], chosen[3:]]
    for entry in pending:
        entry.refresh_from_db()
    assert [e.outcome for e in pending] == [Outcome.SUCCESS, Outcome.SUCCESS, Outcome.FAILED]
    assert pending[2].error == "interrupted"
    wins = AuditEntry.objects.filter(job_id=job.pk, outcome=Outcome.SUCCESS)
    assert sorted(wins.values_list("member_id", flat=True)) == sorted(chosen)
    assert not set(chosen) & set(tenant.store.members[big])


def test_adding_members_with_a_role(db, tenant, big, role, operator) -> None:
    acme = list(tenant.store.orgs)[0]
    newcomer = next(u for u in tenant.store.members[big] if u not in tenant.store.members[acme])
    job = new_job(operator, Kind.ADD_MEMBERS, acme, [newcomer], [role])
    assert services.run(str(job.pk)) == Status.DONE
    assert newcomer in tenant.store.members[acme]
    assert held(tenant, acme, newcomer) == [role["id"]]


def test_an_email_is_resolved_and_an_unknown_one_skipped(db, tenant, big, people, role, operator):
    user = tenant.store.users[people[5]]
    job = new_job(
        operator, Kind.ASSIGN_ROLES, big, [user["email"], "nobody@nowhere.example"], [role]
    )
    services.run(str(job.pk))
    first, second = job.items.order_by("position")
    assert (first.outcome, first.user_id, first.label) == (
        ItemOutcome.SUCCESS,
        people[5],
        user["name"],
    )
    assert second.outcome == ItemOutcome.SKIPPED and "No user" in second.message
    job.refresh_from_db()
    assert (job.done, job.failed) == (2, 0)


def test_a_failed_item_does_not_stop_the_job_and_is_retried(
    db, tenant, big, people, role, operator
) -> None:
    stranger = "auth0|notamemberofthisorg"
    job = new_job(operator, Kind.ASSIGN_ROLES, big, [people[0], stranger, people[1]], [role])
    services.run(str(job.pk))
    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == (Status.DONE, 3, 1)
    failed = job.items.get(outcome=ItemOutcome.FAILED)
    assert failed.subject == stranger and failed.error == "not_found"
    assert failed.audit_entry is not None and failed.audit_entry.outcome == Outcome.FAILED
    retry = services.retry_failed(job, operator)
    assert retry.retry_of == job and [i.subject for i in retry.items.all()] == [stranger]
    tenant.store.members[big][stranger] = "2026-01-01"  # now a member
    assert services.run(str(retry.pk)) == Status.DONE
    assert role["id"] in held(tenant, big, stranger)
    with pytest.raises(services.JobError):
        services.retry_failed(Job.objects.get(pk=retry.pk), operator)


def test_a_missing_scope_stops_the_job_and_the_rest_is_not_sent(
    db, tenant, big, people, role, operator
) -> None:
    tenant.add_fault(
        method="POST",
        path="/roles$",
        status=403,
        times=None,
        body={
            "statusCode": 403,
            "error": "Forbidden",
            "message": "Insufficient scope, expected any of: create:organization_member_roles",
            "errorCode": "insufficient_scope",
        },
    )
    job = new_job(operator, Kind.ASSIGN_ROLES, big, people[:4], [role])
    assert services.run(str(job.pk)) == Status.FAILED
    job.refresh_from_db()
    outcomes = list(job.items.order_by("position").values_list("outcome", flat=True))
    assert outcomes == ["failed", "not_sent", "not_sent", "not_sent"]
    assert "create:organization_member_roles" in job.message


def test_cancel_stops_after_the_item_in_flight(
    db, tenant, big, people, role, operator, monkeypatch
):
    job = new_job(operator, Kind.ASSIGN_ROLES, big, people[:6], [role])
    real_call = runner.Runner.call

    def call(self, user_id):
        real_call(self, user_id)
        if user_id == people[1]:  # someone presses Cancel while the second item is in flight
            services.cancel(Job.objects.get(pk=job.pk))

    monkeypatch.setattr(runner.Runner, "call", call)
    assert services.run(str(job.pk)) == Status.CANCELLED
    job.refresh_from_db()
    outcomes = list(job.items.order_by("position").values_list("outcome", flat=True))
    assert outcomes == ["success", "success"] + ["not_sent"] * 4
    assert (job.done, job.status, job.cancel_requested) == (2, Status.CANCELLED, True)
    assert AuditEntry.objects.filter(job_id=job.pk).count() == 2


def test_cancelling_a_job_not_started_stops_it_at_once(db, tenant, big, people, role, operator):
    job = services.cancel(new_job(operator, Kind.ASSIGN_ROLES, big, people[:3], [role]))
    assert job.status == Status.CANCELLED
    assert services.run(str(job.pk)) == Status.CANCELLED  # the task finds nothing to do
    assert not AuditEntry.objects.exists()


def test_a_429_waits_for_the_reset_and_goes_on(
    db, tenant, big, people, role, operator, monkeypatch
):
    """Jobs wait (pages don't): Auth0 asks for 7 s, more than a page would wait."""
    slept: list[float] = []
    monkeypatch.setattr("adminsite.auth0.client.time.sleep", slept.append)
    reset = str(int(timezone.now().timestamp()) + 7)
    tenant.add_fault(
        method="POST",
        path="/roles$",
        status=429,
        headers={
            "x-ratelimit-limit": "20",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": reset,
        },
    )
    job = new_job(operator, Kind.ASSIGN_ROLES, big, people[:2], [role])
    assert services.run(str(job.pk)) == Status.DONE
    assert slept and 5 <= slept[0] <= 8
    assert all(role["id"] in held(tenant, big, u) for u in people[:2])
    # the 429 was retried inside the one audited attempt: one entry per item, both success
    assert list(AuditEntry.objects.filter(job_id=job.pk).values_list("outcome", flat=True)) == [
        "success",
        "success",
    ]


# --- Resuming after the worker died ------------------------------------------------------------


def died_mid_item(job: Job, position: int, *, applied: bool, tenant, role) -> AuditEntry:
    """What a worker killed during item `position`'s call leaves: earlier items done, this
    item's audit entry pending, the job `running` under a process that no longer exists."""
    items = list(job.items.order_by("position"))
    for item in items[:position]:
        tenant.store.member_roles.setdefault((job.org_id, item.subject), []).append(role["id"])
        JobItem.objects.filter(pk=item.pk).update(outcome=ItemOutcome.SUCCESS)
    item = items[position]
    rec = recording.record(
        None,
        action=Action.ASSIGN_ROLES,
        org_id=job.org_id,
        member_id=item.subject,
        roles=[role],
        job_id=job.pk,
        author_name=job.username,
    )
    entry = rec.open()
    if applied:
        tenant.store.member_roles.setdefault((job.org_id, item.subject), []).append(role["id"])
    Job.objects.filter(pk=job.pk).update(
        status=Status.RUNNING,
        worker="nohost-never:999999:dead",
        heartbeat_at=timezone.now() - timedelta(seconds=services.STALE_AFTER + 1),
        done=position,
    )
    return entry


@pytest.mark.parametrize("applied", [True, False])
def test_a_job_whose_worker_died_resumes_and_reads_auth0_for_the_item_in_flight(
    db, tenant, big, people, role, operator, applied, django_capture_on_commit_callbacks
) -> None:
    chosen = [u for u in people if role["id"] not in held(tenant, big, u)][:5]
    job = new_job(operator, Kind.ASSIGN_ROLES, big, chosen, [role])
    entry = died_mid_item(job, 2, applied=applied, tenant=tenant, role=role)
    tenant.clear_log()
    assert services.run(str(job.pk)) == Status.RUNNING  # held by the dead worker: left alone
    [taken] = services.sweep()
    assert taken.pk == job.pk and Job.objects.get(pk=job.pk).status == Status.QUEUED
    assert services.run(str(job.pk)) == Status.DONE
    job.refresh_from_db()
    assert (job.done, job.failed) == (5, 0)
    entry.refresh_from_db()
    in_flight = chosen[2]
    calls = [
        (r["method"], r["raw_path"]) for r in tenant.requests_log if "/api/v2" in r["raw_path"]
    ]
    reads = [c for c in calls if c[0] == "GET"]
    posts = [c for c in calls if c[0] == "POST"]
    assert len(reads) == 1  # the one read, for the item in flight only
    if applied:
        assert entry.outcome == Outcome.SUCCESS and "not sent again" in entry.message
        assert len(posts) == 2  # items 3 and 4 only
        assert job.items.get(position=2).audit_entry_id == entry.pk
    else:
        assert entry.outcome == Outcome.FAILED and entry.error == "interrupted"
        assert len(posts) == 3  # the item in flight again, then 3 and 4
        again = AuditEntry.objects.filter(job_id=job.pk, member_id=in_flight).latest("pk")
        assert again.pk != entry.pk and again.outcome == Outcome.SUCCESS
    for user_id in chosen:
        assert held(tenant, big, user_id).count(role["id"]) == 1
    # every member of the job has exactly one successful entry
    wins = AuditEntry.objects.filter(job_id=job.pk, outcome=Outcome.SUCCESS)
    assert sorted(wins.values_list("member_id", flat=True)) == sorted(chosen[2:])


def test_the_sweep_leaves_a_live_worker_alone(db, tenant, big, people, role, operator) -> None:
    job = new_job(operator, Kind.ASSIGN_ROLES, big, people[:2], [role])
    Job.objects.filter(pk=job.pk).update(
        status=Status.RUNNING, worker=runner.worker_name(), heartbeat_at=timezone.now()
    )
    assert services.sweep() == []
    # this host, a process that has ended: taken over at once, without waiting for the lease
    Job.objects.filter(pk=job.pk).update(worker=f"{runner.socket.gethostname()}:2147483646:x")
    assert [j.pk for j in services.sweep()] == [job.pk]


def test_an_item_sealed_before_the_worker_died_is_not_sent_again(
    db, tenant, big, people, role, operator
) -> None:
    job = new_job(operator, Kind.ASSIGN_ROLES, big, people[:2], [role])
    entry = died_mid_item(job, 0, applied=True, tenant=tenant, role=role)
    AuditEntry.objects.seal(entry.pk, outcome=Outcome.SUCCESS, finished_at=timezone.now())
    services.sweep()
    tenant.clear_log()
    services.run(str(job.pk))
    posts = [r for r in tenant.requests_log if r["method"] == "POST" and "/api/v2" in r["raw_path"]]
    reads = [r for r in tenant.requests_log if r["method"] == "GET" and "/api/v2" in r["raw_path"]]
    assert len(posts) == 1 and not reads
    assert job.items.get(position=0).audit_entry_id == entry.pk


def test_a_job_cancelled_while_its_worker_was_dead_settles_the_item_in_flight_then_stops(
    db, tenant, big, people, role, operator
) -> None:
    chosen = [u for u in people if role["id"] not in held(tenant, big, u)][:4]
    job = new_job(operator, Kind.ASSIGN_ROLES, big, chosen, [role])
    entry = died_mid_item(job, 1, applied=True, tenant=tenant, role=role)
    Job.objects.filter(pk=job.pk).update(status=Status.CANCELLING, cancel_requested=True)
    services.sweep()
    assert services.run(str(job.pk)) == Status.CANCELLED
    entry.refresh_from_db()
    assert entry.outcome == Outcome.SUCCESS
    outcomes = list(job.items.order_by("position").values_list("outcome", flat=True))
    assert outcomes == ["success", "success", "not_sent", "not_sent"]


def test_entries_of_a_job_whose_author_was_deleted_keep_their_name(
    db, tenant, big, people, role, operator
) -> None:
    job = new_job(operator, Kind.ASSIGN_ROLES, big, people[:1], [role])
    operator.delete()
    services.run(str(job.pk))
    entry = AuditEntry.objects.get(job_id=job.pk)
    assert (entry.user, entry.username) == (None, "olivia")


def test_the_task_runs_on_the_database_backend_by_the_worker_command(
    transactional_db, tenant, big, people, role, operator
) -> None:
    """services.create enqueues run_job (django-tasks-db); `jobs_worker --batch` runs it."""
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    job = new_job(operator, Kind.ASSIGN_ROLES, big, people[:3], [role])
    job.refresh_from_db()
    task = DBTaskResult.objects.get(pk=job.task_result_id)
    assert task.args_kwargs["args"] == [str(job.pk)] and task.status == "READY"
    call_command("jobs_worker", batch=True, verbosity=0)
    job.refresh_from_db()
    assert job.status == Status.DONE and job.done == 3
    task.refresh_from_db()
    assert task.status == "SUCCESSFUL" and task.return_value == "done"

    # Its row is pruned by a sweep 14 days after it finished; the job and its items stay.
    queued = new_job(operator, Kind.ASSIGN_ROLES, big, people[3:4], [role])
    queued.refresh_from_db()
    finished = task.finished_at
    assert finished is not None
    assert services.prune_task_results(now=finished + timedelta(days=13)) == 0
    assert services.prune_task_results(now=finished + timedelta(days=14, seconds=1)) == 1
    assert list(DBTaskResult.objects.values_list("pk", flat=True)) == [
        UUID(queued.task_result_id)
    ]  # not finished: kept, whatever its age
    job.refresh_from_db()
    assert job.status == Status.DONE and job.items.count() == 3


def test_a_stopping_worker_hands_the_job_back_between_items(
    db, tenant, big, people, role, operator, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    job = new_job(operator, Kind.ASSIGN_ROLES, big, people[:5], [role])
    job.refresh_from_db()
    first_task = job.task_result_id
    real_call = runner.Runner.call

    def call(self, user_id):
        real_call(self, user_id)
        if user_id == people[1]:  # SIGTERM arrives while the second item is in flight
            runner.STOPPING.set()

    monkeypatch.setattr(runner.Runner, "call", call)
    try:
        assert services.run(str(job.pk)) == Status.QUEUED
    finally:
        runner.STOPPING.clear()
    job.refresh_from_db()
    assert (job.status, job.worker, job.done) == (Status.QUEUED, "", 2)
    assert job.task_result_id and job.task_result_id != first_task  # a new task resumes it
    outcomes = list(job.items.order_by("position").values_list("outcome", flat=True))
    assert outcomes == ["success", "success", "pending", "pending", "pending"]
    assert services.run(str(job.pk)) == Status.DONE
    assert AuditEntry.objects.filter(job_id=job.pk, outcome=Outcome.SUCCESS).count() == 5


def test_a_worker_that_lost_its_job_to_a_sweep_leaves_it(
    db, tenant, big, people, role, operator, monkeypatch
) -> None:
    """Silent too long (a very long wait), its job was given to another worker: it stops
    before the next item and writes nothing more."""
    job = new_job(operator, Kind.ASSIGN_ROLES, big, people[:4], [role])
    real_call = runner.Runner.call

    def call(self, user_id):
        real_call(self, user_id)
        if user_id == people[0]:
            Job.objects.filter(pk=job.pk).update(worker="elsewhere:1:x")

    monkeypatch.setattr(runner.Runner, "call", call)
    assert services.run(str(job.pk)) == Status.RUNNING
    job.refresh_from_db()
    assert (job.status, job.worker, job.done) == (Status.RUNNING, "elsewhere:1:x", 1)
    assert job.items.filter(outcome=ItemOutcome.PENDING).count() == 3


def test_progress_shows_done_total_failures_rate_and_time_left(db, operator) -> None:
    from datetime import timedelta as td

    from django.utils import timezone as tz

    job = Job.objects.create(
        kind=Kind.ASSIGN_ROLES,
        org_id="org_x",
        username="olivia",
        status=Status.RUNNING,
        total=1000,
        done=100,
        failed=3,
        started_at=tz.now() - td(seconds=30),
    )
    shown = services.progress(job)
    assert (shown["done"], shown["total"], shown["failed"], shown["percent"]) == (100, 1000, 3, 10)
    assert shown["rate_per_minute"] == pytest.approx(200, rel=0.05)
    assert shown["seconds_left"] == pytest.approx(270, rel=0.05)
