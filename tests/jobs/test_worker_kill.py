"""Nothing lost, nothing twice: a real `manage.py jobs_worker` is killed with SIGKILL in the
middle of a job's call to the sandbox (over HTTP, with latency per call); a new worker resumes
the job, and the sandbox's state, its request log and the audit log agree item by item."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from adminsite.audit.models import AuditEntry, Outcome
from adminsite.jobs import services
from adminsite.jobs.models import ItemOutcome, Job, Kind, Status

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )


def worker_env(tmp_path: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH0_", "DJANGO_"))}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "adminsite.settings",
        "DEBUG": "true",
        "SECRET_KEY": "tests-only-worker-secret",
        "DATABASE_URL": database_url(),
        "CACHE_URL": "locmemcache://worker",
        "AUTH0_DOMAIN": settings.AUTH0_BASE_URL,
        "AUTH0_CLIENT_ID": settings.AUTH0_CLIENT_ID,
        "AUTH0_CLIENT_SECRET": settings.AUTH0_CLIENT_SECRET,
        "AUTH0_TIMEOUT": "5",
    }


def start_worker(tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    log = (tmp_path / f"{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "manage.py", "jobs_worker", "--interval", "0.1"],
        cwd=ROOT,
        env=worker_env(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def wait_for(check: Any, seconds: float, what: str, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        if worker.poll() is not None:
            raise AssertionError(f"the worker exited ({worker.returncode}) waiting for {what}")
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_kill_9_mid_call_then_a_new_worker_resumes_without_loss_or_duplicate(
    transactional_db, http_tenant, operator, tmp_path
) -> None:
    tenant = http_tenant
    big = list(tenant.store.orgs)[1]
    role = next(iter(tenant.store.roles.values()))
    chosen = [
        u
        for u in tenant.store.members[big]
        if role["id"] not in tenant.store.member_roles.get((big, u), [])
    ][:40]
    tenant.latency = 0.15  # every API call takes this long: a kill lands mid-call
    try:
        job = services.create(
            kind=Kind.ASSIGN_ROLES,
            org_id=big,
            org_name="Big",
            user=operator,
            subjects=chosen,
            roles=[{"id": role["id"], "name": role["name"]}],
        )
        first = start_worker(tmp_path, "first")
        try:
            # Kill while an item's audit entry is pending (its call in flight), after some work.
            wait_for(
                lambda: (
                    Job.objects.get(pk=job.pk).done >= 8
                    and AuditEntry.objects.filter(job_id=job.pk, outcome=Outcome.PENDING).exists()
                ),
                60,
                "the job to be mid-call after 8 items",
                first,
            )
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        killed = Job.objects.get(pk=job.pk)
        assert killed.status == Status.RUNNING and killed.done < len(chosen)
        in_flight = AuditEntry.objects.filter(job_id=job.pk, outcome=Outcome.PENDING)
        assert in_flight.count() == 1
        in_flight_member = in_flight.get().member_id

        second = start_worker(tmp_path, "second")
        try:
            wait_for(
                lambda: Job.objects.get(pk=job.pk).status == Status.DONE,
                90,
                "the job to finish",
                second,
            )
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(10)
            except subprocess.TimeoutExpired:
                second.kill()
    finally:
        tenant.latency = 0.0

    job.refresh_from_db()
    assert (job.done, job.failed, job.total) == (len(chosen), 0, len(chosen))
    assert set(job.items.values_list("outcome", flat=True)) == {ItemOutcome.SUCCESS}
    for user_id in chosen:  # the sandbox: every member holds the role, once
        assert tenant.store.member_roles[(big, user_id)].count(role["id"]) == 1
    # the sandbox's request log: one POST per member, the one in flight included
    posts: dict[str, int] = {}
    for r in tenant.requests_log:
        if r["method"] == "POST" and r["raw_path"].endswith("/roles"):
            posts[r["raw_path"]] = posts.get(r["raw_path"], 0) + 1
    assert len(posts) == len(chosen) and set(posts.values()) == {1}, posts
    # the audit log, item by item: one successful entry per member, none pending
    entries = AuditEntry.objects.filter(job_id=job.pk)
    assert not entries.filter(outcome=Outcome.PENDING).exists()
    wins = sorted(entries.filter(outcome=Outcome.SUCCESS).values_list("member_id", flat=True))
    assert wins == sorted(chosen)
    settled = entries.filter(member_id=in_flight_member).order_by("pk")
    assert "worker stopped during this call" in settled[0].message
    for item in job.items.all():
        assert item.audit_entry is not None and item.audit_entry.member_id == item.user_id
    call_command("verify_audit", stdout=io.StringIO())  # the chain holds


@pytest.mark.slow
def test_sigterm_stops_the_worker_between_items_and_the_next_worker_resumes(
    transactional_db, http_tenant, operator, tmp_path
) -> None:
    """systemd's stop (SIGTERM): the worker exits within an item, not at the job's end."""
    tenant = http_tenant
    big = list(tenant.store.orgs)[1]
    role = next(iter(tenant.store.roles.values()))
    chosen = [
        u
        for u in tenant.store.members[big]
        if role["id"] not in tenant.store.member_roles.get((big, u), [])
    ][:30]
    tenant.latency = 0.1
    try:
        job = services.create(
            kind=Kind.ASSIGN_ROLES,
            org_id=big,
            user=operator,
            subjects=chosen,
            roles=[{"id": role["id"], "name": role["name"]}],
        )
        first = start_worker(tmp_path, "first")
        try:
            wait_for(lambda: Job.objects.get(pk=job.pk).done >= 5, 60, "5 items", first)
            first.send_signal(signal.SIGTERM)
            assert first.wait(10) == 0
        finally:
            if first.poll() is None:
                first.kill()
        stopped = Job.objects.get(pk=job.pk)
        assert stopped.status == Status.QUEUED and 5 <= stopped.done < len(chosen)
        assert not AuditEntry.objects.filter(job_id=job.pk, outcome=Outcome.PENDING).exists()
        second = start_worker(tmp_path, "second")
        try:
            wait_for(
                lambda: Job.objects.get(pk=job.pk).status == Status.DONE, 90, "the end", second
            )
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(10)
    finally:
        tenant.latency = 0.0
    wins = AuditEntry.objects.filter(job_id=job.pk, outcome=Outcome.SUCCESS)
    assert sorted(wins.values_list("member_id", flat=True)) == sorted(chosen)
