"""Bulk jobs in the production-shaped stack (issue #14 item 2, issue #15 items 4, 6 and 7).

Two gunicorn instances and two `manage.py jobs_worker` processes (one per instance, as two
hosts would run them) share one PostgreSQL (the jobs, their items, the audit log and
django-tasks-db's task queue) and one Redis (the jobs' pacing and the rate-limit budget), in
front of the sandbox tenant over HTTP, which limits every Management API call like Auth0's
member-roles group (a bucket of 20 refilled at 200 a minute).

What the engine guarantees, and what is tested here:

- **one worker per job at a time**: a task is claimed by one db_worker (django-tasks-db takes it
  with SELECT ... FOR UPDATE SKIP LOCKED), and the job itself by one run (services.run: an
  UPDATE from `queued` to `running`, which only one of any number of tasks for the job wins;
  the others return the job's status at once and touch nothing). Items are never shared
  between workers: the worker that holds the job runs them in order, one at a time. A job can
  change hands (a stopping worker hands it back, a sweep takes over a dead one's), but never
  while another worker runs it, and an item that has an outcome is never sent again;
- so: a job started through instance A's pages is run by exactly one of the two workers, each
  member is sent the role once, audited once (linked to the job), and the chain verifies;
- the same job's task enqueued again (a second `run_job.enqueue`) while both workers are free
  changes nothing more: one task runs the job, the others return;
- a double submit of the confirm step ("Start the job" posted eight times at once, on both
  instances, with the one review token) starts one job: the stashed choice is taken by the
  one request whose delete removed it from Redis (the interleaving that started two before
  that fix, two reads before either delete, is narrow and rarely met here:
  tests/jobs/test_choice_taken_once.py forces it);
- while the job runs, a person's members part on instance B answers normally, never refused
  for the rate limit: the job never bursts and leaves Auth0's last reported reserve to pages;
- the worker running a job killed with SIGKILL mid-call: the other worker, still running,
  takes the job over at its next sweep (its process is gone from this host; from another host
  it would take STALE_AFTER seconds without a heartbeat), settles the item in flight by
  reading Auth0, and finishes it: still one POST and one successful entry per member.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import unquote

import pytest

from tests.deploy.stack import Instance, Person, Stack, Worker, missing_binaries
from tests.deploy.test_two_instances import together

MISSING = missing_binaries()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"needs Debian's {' and '.join(MISSING)} (`make test` installs them)",
    ),
]

MEMBERS = 30  # per job
BURST, WINDOW = 20, 6.0  # the sandbox's bucket: 20, refilled at 200 a minute (Auth0's roles)
LIMITED = "rate limiting Org Desk (429"
ENDED = ("done", "failed", "cancelled")


@dataclass
class JobsDeployment:
    stack: Stack
    a: Instance
    b: Instance
    workers: list[Worker]
    org: str
    roles: list[dict[str, Any]]
    members: list[dict[str, Any]] = field(default_factory=list)
    killed: list[Worker] = field(default_factory=list)  # by a test, on purpose

    def without(self, role_id: str, count: int) -> list[str]:
        """`count` members of the organization who do not hold the role (read from the sandbox
        before anything changes)."""
        chosen = [
            m["user_id"]
            for m in self.members
            if role_id not in {r["id"] for r in m.get("roles") or []}
        ][:count]
        assert len(chosen) == count, f"only {len(chosen)} members without {role_id}"
        return chosen


@pytest.fixture(scope="module")
def deployment() -> Iterator[JobsDeployment]:
    with Stack(latency=0.02, members=80) as stack:
        a = stack.instance(workers=2, threads=4)
        b = stack.instance(workers=2, threads=4)
        workers = [stack.worker(), stack.worker()]  # one beside each instance
        sandbox = stack.sandbox()  # the test's own token, not in the log
        org = sandbox.get("/organizations/name/big-co")["id"]
        roles = sandbox.get("/roles")
        members = sandbox.get(f"/organizations/{org}/members", per_page=100, fields="user_id,roles")
        stack.configure_sandbox(rate_limit=BURST, rate_window=WINDOW)
        stack.clear_sandbox_log()
        yield JobsDeployment(stack, a, b, workers, org, roles, members)


# --- reading the shared state ----------------------------------------------------------------


def job_row(stack: Stack, job_id: str) -> dict[str, Any]:
    (row,) = stack.sql(
        "SELECT status, total, done, failed, worker, task_result_id, message "
        "FROM jobs_job WHERE id = %s",
        job_id,
    )
    keys = ("status", "total", "done", "failed", "worker", "task_result_id", "message")
    return dict(zip(keys, row, strict=True))


def wait_for_end(d: JobsDeployment, job_id: str, seconds: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = job_row(d.stack, job_id)
        if row["status"] in ENDED:
            return row
        dead = [w for w in d.workers if not w.running() and w not in d.killed]
        assert not dead, f"a jobs worker exited: {dead[0].log.read_text()[-3000:]}"
        time.sleep(0.1)
    logs = "\n".join(w.log.read_text()[-2000:] for w in d.workers)
    raise AssertionError(f"job {job_id} did not end: {job_row(d.stack, job_id)}\n{logs}")


def tasks_of(stack: Stack, job_id: str) -> list[dict[str, Any]]:
    """django-tasks-db's task rows for this job (run_job(job_id)), oldest first."""
    rows = stack.sql(
        "SELECT status, return_value, worker_ids FROM django_tasks_database_dbtaskresult "
        "WHERE args_kwargs -> 'args' ->> 0 = %s ORDER BY enqueued_at",
        job_id,
    )
    return [{"status": s, "return": r, "worker_ids": w} for s, r, w in rows]


def role_posts(log: list[dict[str, Any]], org: str) -> Counter[str]:
    """Member id → POSTs of roles the sandbox answered (any status), from its request log."""
    pattern = re.compile(rf"/api/v2/organizations/{re.escape(org)}/members/([^/]+)/roles")
    found: Counter[str] = Counter()
    for entry in log:
        match = pattern.fullmatch(entry["raw_path"])
        if entry["method"] == "POST" and match:
            found[unquote(match.group(1))] += 1
    return found


def check_applied_once(
    d: JobsDeployment, job_id: str, chosen: list[str], role_id: str, interrupted: int = 0
) -> None:
    """The job ended done with every item once: in the sandbox's log, its state, the items and
    the audit log (at most `interrupted` entries of calls cut by a killed worker, sealed failed
    and sent again); and the audit chain verifies."""
    stack = d.stack
    row = job_row(stack, job_id)
    assert (row["status"], row["total"], row["done"], row["failed"]) == (
        "done",
        len(chosen),
        len(chosen),
        0,
    ), row
    log = stack.sandbox_requests()
    posts = role_posts(log, d.org)
    assert posts == Counter(dict.fromkeys(chosen, 1)), posts  # one POST per member, no other
    assert not [e for e in log if e["status"] == 429], "the sandbox refused a call (429)"
    # The sandbox's state: every member holds the role, once (one read, with the test's own
    # token, not counted against the budget the pages and jobs share).
    stack.configure_sandbox(rate_limit=None)
    try:
        members = stack.sandbox().get(
            f"/organizations/{d.org}/members", per_page=100, fields="user_id,roles"
        )
    finally:
        stack.configure_sandbox(rate_limit=BURST, rate_window=WINDOW)
    held = {m["user_id"]: [r["id"] for r in m.get("roles") or []] for m in members}
    for user_id in chosen:
        assert held[user_id].count(role_id) == 1, (user_id, held[user_id])

    items = stack.sql(
        "SELECT i.user_id, i.outcome, e.member_id, e.outcome, e.job_id::text "
        "FROM jobs_jobitem i LEFT JOIN adminsite_auditentry e ON e.id = i.audit_entry_id "
        "WHERE i.job_id = %s",
        job_id,
    )
    assert sorted(i[0] for i in items) == sorted(chosen)
    for user_id, outcome, entry_member, entry_outcome, entry_job in items:
        assert (outcome, entry_member, entry_outcome, entry_job) == (
            "success",
            user_id,
            "success",
            job_id,
        )
    entries = stack.sql(
        "SELECT member_id, outcome, error FROM adminsite_auditentry WHERE job_id = %s", job_id
    )
    wins = sorted(member for member, outcome, _ in entries if outcome == "success")
    assert wins == sorted(chosen), entries  # one successful entry per member
    # Nothing pending; anything else only a call cut by a killed worker and sent again.
    others = [(m, o, e) for m, o, e in entries if o != "success"]
    assert len(others) <= interrupted and all(
        (o, e) == ("failed", "interrupted") for _, o, e in others
    ), others
    verify = stack.manage("verify_audit", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def ran_by(d: JobsDeployment, row: dict[str, Any]) -> Worker:
    """The stack's worker whose process ran the job (Job.worker is host:pid:token)."""
    pid = int(row["worker"].split(":")[1])
    (worker,) = [w for w in d.workers if w.pid == pid]
    return worker


def review(d: JobsDeployment, person: Person, on: Instance, role_id: str, chosen: list[str]) -> str:
    """The bulk panel's confirm step for assigning a role to `chosen`; its token."""
    page = person.post(
        on,
        f"/orgs/{d.org}/members/bulk/review/",
        {"action": "assign_roles", "roles": role_id, "pick": chosen},  # type: ignore[dict-item]
        htmx=True,
    )
    assert page.status_code == 200 and 'data-testid="bulk-confirm"' in page.text, page.text
    assert f"{len(chosen)} members" in page.text
    token = re.search(r'name="review" value="([^"]+)"', page.text)
    assert token is not None
    return token.group(1)


# --- the tests -------------------------------------------------------------------------------


class PagesOnB(threading.Thread):
    """Someone on instance B's members part of the organization every 0.4 s until stopped;
    each answer with whether the job was running before and after it."""

    def __init__(self, d: JobsDeployment, job_id: str) -> None:
        super().__init__(daemon=True)
        self.d, self.job_id = d, job_id
        self.person = Person("bea@example.com")
        self.answers: list[tuple[int, bool, bool, float]] = []  # status, ok, during, seconds
        self.problems: list[str] = []
        self.stop = threading.Event()

    def running(self) -> bool:
        row = job_row(self.d.stack, self.job_id)
        return bool(row["status"] == "running" and 0 < row["done"] < row["total"])

    def run(self) -> None:
        while not self.stop.is_set():
            before = self.running()
            began = time.monotonic()
            page = self.person.get(self.d.b, f"/orgs/{self.d.org}/members/", htmx=True)
            took = time.monotonic() - began
            ok = (
                page.status_code == 200
                and LIMITED not in page.text
                and 'data-testid="select-page"' in page.text  # the members table is there
            )
            if not ok:
                self.problems.append(f"{page.status_code}: {page.text[:2000]}")
            self.answers.append((page.status_code, ok, before and self.running(), took))
            self.stop.wait(0.4)


def test_a_job_started_on_a_is_run_once_by_one_of_two_workers_and_pages_on_b_answer(
    deployment: JobsDeployment,
) -> None:
    d, stack = deployment, deployment.stack
    role = d.roles[0]
    chosen = d.without(role["id"], MEMBERS)
    olivia = Person("olivia@example.com")
    assert olivia.get(d.a, f"/orgs/{d.org}/").status_code == 200 and olivia.csrf
    stack.clear_sandbox_log()

    # The bulk panel on A: the ticked rows, "Assign roles", the role; review, then start.
    token = review(d, olivia, d.a, role["id"], chosen)
    started = olivia.post(d.a, f"/orgs/{d.org}/members/bulk/", {"review": token}, htmx=True)
    assert started.status_code == 200, started.text[:2000]
    job_page = re.fullmatch(r"/jobs/([0-9a-f-]{36})/", started.headers["HX-Redirect"])
    assert job_page is not None, started.headers
    job_id = job_page.group(1)

    pages = PagesOnB(d, job_id)
    pages.start()
    try:
        row = wait_for_end(d, job_id)
    finally:
        pages.stop.set()
        pages.join(30)
    assert row["status"] == "done", row

    check_applied_once(d, job_id, chosen, role["id"])

    # One task, claimed once, run by one of the two workers (both were up and polling).
    (task,) = tasks_of(stack, job_id)
    assert (task["status"], task["return"], len(task["worker_ids"])) == ("SUCCESSFUL", "done", 1)
    runner = ran_by(d, row)
    assert all(w.running() for w in d.workers)
    print(
        f"job of {MEMBERS} on two workers: run by worker {d.workers.index(runner) + 1} "
        f"(pid {runner.pid}), 1 task, {MEMBERS} POSTs, {MEMBERS} audit entries"
    )

    # Instance B's members part while the job ran: every answer normal, none rate-limited.
    during = [a for a in pages.answers if a[2]]
    assert not pages.problems, pages.problems[:2]
    assert len(during) >= 5, pages.answers  # really while the job ran
    slowest = max(a[3] for a in during)
    print(
        f"members part on B while the job ran: {len(during)} answers, all 200, none "
        f"rate-limited, slowest {slowest * 1000:.0f} ms"
    )
    assert slowest < 2.0


CREATE_JOB = """
from adminsite.jobs import services
from adminsite.jobs.models import Kind
from adminsite.jobs.tasks import run_job
job = services.create(
    kind=Kind.ASSIGN_ROLES, org_id={org!r}, org_name="Big", user=None, username="shell",
    subjects={subjects!r}, roles=[{{"id": {role_id!r}, "name": {role_name!r}}}],
)
for _ in range({more}):  # the same job's task enqueued again
    run_job.enqueue(str(job.pk))
print(job.pk)
"""


def create_job(d: JobsDeployment, role: dict[str, Any], chosen: list[str], more: int = 0) -> str:
    """A role job made by services.create in `manage.py shell` (its task enqueued on commit),
    its task enqueued `more` times again; the job's id."""
    script = CREATE_JOB.format(
        org=d.org,
        subjects=chosen,
        role_id=role["id"],
        role_name=role.get("name", ""),
        more=more,
    )
    return d.stack.manage("shell", "-c", script).stdout.strip().splitlines()[-1]


def test_the_same_job_enqueued_three_times_applies_each_item_once(
    deployment: JobsDeployment,
) -> None:
    """Three tasks for one job, enqueued within milliseconds while both workers are free:
    both workers race for them, one task wins the job, the others return at once."""
    d, stack = deployment, deployment.stack
    role = d.roles[1]
    chosen = d.without(role["id"], MEMBERS)
    stack.clear_sandbox_log()
    job_id = create_job(d, role, chosen, more=2)
    row = wait_for_end(d, job_id)
    # every task has run (the losers at once, while the winner held the job)
    deadline = time.monotonic() + 30
    while any(t["status"] in ("READY", "RUNNING") for t in tasks_of(stack, job_id)):
        assert time.monotonic() < deadline, tasks_of(stack, job_id)
        time.sleep(0.1)
    tasks = tasks_of(stack, job_id)
    assert [t["status"] for t in tasks] == ["SUCCESSFUL"] * 3, tasks
    assert sorted(t["return"] for t in tasks) == ["done", "running", "running"], tasks
    claimed_by = {w for t in tasks for w in t["worker_ids"]}
    check_applied_once(d, job_id, chosen, role["id"])
    print(
        f"3 tasks for one job: {len(claimed_by)} worker(s) took them, worker "
        f"{d.workers.index(ran_by(d, row)) + 1} ran the job; "
        f"{MEMBERS} POSTs, {MEMBERS} audit entries"
    )

    # A fourth task once the job has ended: nothing is sent, nothing is audited.
    stack.clear_sandbox_log()
    stack.manage(
        "shell",
        "-c",
        f"from adminsite.jobs.tasks import run_job; run_job.enqueue({job_id!r})",
    )
    deadline = time.monotonic() + 30
    while len(tasks_of(stack, job_id)) < 4 or tasks_of(stack, job_id)[-1]["status"] in (
        "READY",
        "RUNNING",
    ):
        assert time.monotonic() < deadline, tasks_of(stack, job_id)
        time.sleep(0.1)
    assert tasks_of(stack, job_id)[-1]["return"] == "done"
    assert not role_posts(stack.sandbox_requests(), d.org)
    assert job_row(stack, job_id)["done"] == MEMBERS
    (count,) = stack.sql("SELECT count(*) FROM adminsite_auditentry WHERE job_id = %s", job_id)
    assert count == (MEMBERS,)


def test_the_worker_running_a_job_killed_the_other_takes_it_over(
    deployment: JobsDeployment,
) -> None:
    """kill -9 of the worker holding the job while an item's call is in flight (150 ms a
    call): no restart, the surviving worker's sweep (every SWEEP_EVERY = 30 s) finds the dead
    process and re-queues the job, and the survivor resumes it without loss or duplicate."""
    d, stack = deployment, deployment.stack
    role = d.roles[2]
    chosen = d.without(role["id"], MEMBERS)
    stack.clear_sandbox_log()
    stack.configure_sandbox(latency=0.15)
    try:
        job_id = create_job(d, role, chosen)
        deadline = time.monotonic() + 60
        while True:  # after a few items, while one's audit entry is pending (its call out)
            row = job_row(stack, job_id)
            pending = stack.sql(
                "SELECT member_id FROM adminsite_auditentry WHERE job_id = %s "
                "AND outcome = 'pending'",
                job_id,
            )
            if row["status"] == "running" and row["done"] >= 5 and pending:
                break
            assert time.monotonic() < deadline, row
            time.sleep(0.005)
        victim = ran_by(d, row)
        os.kill(victim.pid, signal.SIGKILL)
        victim.process.wait(10)
        d.killed.append(victim)
        killed_at = time.monotonic()
        (survivor,) = [w for w in d.workers if w.running()]
        left = job_row(stack, job_id)
        assert left["status"] == "running" and left["done"] < MEMBERS, left

        row = wait_for_end(d, job_id, seconds=120)
        took = time.monotonic() - killed_at
    finally:
        stack.configure_sandbox(latency=0.02)
    assert ran_by(d, row) is survivor
    check_applied_once(d, job_id, chosen, role["id"], interrupted=1)
    settled = stack.sql(
        "SELECT outcome, message FROM adminsite_auditentry WHERE job_id = %s AND message LIKE %s",
        job_id,
        "%worker stopped during this call%",
    )
    assert len(settled) <= 1, settled  # the in-flight entry, settled by reading Auth0 first
    tasks = tasks_of(stack, job_id)
    assert [t["status"] for t in tasks] == ["FAILED", "SUCCESSFUL"], tasks  # the dead one's
    print(
        f"kill -9 of the worker holding the job after {left['done']} items: the other took it "
        f"over and finished it {took:.1f} s later; {MEMBERS} POSTs, {MEMBERS} audit entries"
        f"{', the item in flight settled by a read' if settled else ''}"
    )
    # Two workers again for anything after this test.
    d.workers.append(stack.worker())


def test_start_posted_at_once_on_both_instances_starts_one_job(
    deployment: JobsDeployment,
) -> None:
    d, stack = deployment, deployment.stack
    role = d.roles[3]
    chosen = d.without(role["id"], MEMBERS)
    olivia = Person("olivia@example.com")
    assert olivia.get(d.a, f"/orgs/{d.org}/").status_code == 200 and olivia.csrf
    token = review(d, olivia, d.a, role["id"], chosen)
    (before,) = stack.sql("SELECT count(*) FROM jobs_job")
    stack.clear_sandbox_log()

    def start(on: Instance) -> Any:
        return olivia.post(on, f"/orgs/{d.org}/members/bulk/", {"review": token}, htmx=True)

    answers = together([partial(start, on) for on in [d.a, d.b] * 4])
    started = [a for a in answers if getattr(a, "status_code", 0) == 200]
    refused = [a for a in answers if getattr(a, "status_code", 0) == 400]
    assert len(started) == 1 and len(refused) == len(answers) - 1, answers
    (after,) = stack.sql("SELECT count(*) FROM jobs_job")
    assert after[0] == before[0] + 1
    job_page = re.fullmatch(r"/jobs/([0-9a-f-]{36})/", started[0].headers["HX-Redirect"])
    assert job_page is not None
    wait_for_end(d, job_page.group(1))
    check_applied_once(d, job_page.group(1), chosen, role["id"])
    print(f"'Start the job' posted {len(answers)} times at once on A and B: 1 job started")


def test_an_export_written_by_either_worker_is_downloaded_from_both_instances(
    deployment: JobsDeployment,
) -> None:
    """Exports are kept in the database (adminsite/jobs/export.py), not in the worker's files:
    an export started on A, written by whichever worker took it, is the same file from A and
    from B (two hosts, in production)."""
    d = deployment
    olivia = Person("olivia@example.com")
    assert olivia.get(d.a, f"/orgs/{d.org}/").status_code == 200 and olivia.csrf
    started = olivia.post(d.a, f"/orgs/{d.org}/members/export/", htmx=True)
    assert started.status_code == 200, started.text[:2000]
    page = re.fullmatch(r"/jobs/([0-9a-f-]{36})/", started.headers["HX-Redirect"])
    assert page is not None, started.headers
    job_id = page.group(1)
    row = wait_for_end(d, job_id)
    assert row["status"] == "done" and row["total"] == len(d.members), row

    files = []
    for instance in (d.a, d.b):
        assert f'href="/jobs/{job_id}/download/"' in olivia.get(instance, f"/jobs/{job_id}/").text
        got = olivia.http.get(f"{instance.base}/jobs/{job_id}/download/", timeout=30)
        assert got.status_code == 200, got.text[:1000]
        assert got.headers["Content-Disposition"].startswith("attachment; filename=")
        assert int(got.headers["Content-Length"]) == len(got.content)
        files.append(got.content)
    assert files[0] == files[1]
    text = files[0].decode("utf-8-sig")
    assert files[0].startswith(b"\xef\xbb\xbf") and text.startswith("user_id,email,name")
    listed = {line.split(",", 1)[0] for line in text.splitlines()[1:]}
    assert listed == {m["user_id"] for m in d.members}
    print(
        f"export of {len(listed)} members by worker {d.workers.index(ran_by(d, row)) + 1}: "
        f"the same {len(files[0]):,} bytes from instance A and instance B"
    )
