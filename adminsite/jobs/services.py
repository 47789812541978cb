"""Creating, running, cancelling and retrying jobs; the sweep and the exports' cleanup.

Nothing lost, nothing twice: a job is claimed by one worker at a time (an UPDATE from
`queued`), which writes its name and a heartbeat on the job (at least every few seconds, also
while it waits for the rate limit). `sweep()` runs when a worker starts and every
SWEEP_EVERY seconds while it runs (management command `jobs_worker`): a running job whose
worker is gone (a dead process on this host, or no heartbeat for STALE_AFTER seconds from any
host) is put back to `queued` with a new task, and resumes from its first item without an
outcome (runner.py settles the item that was in flight by reading Auth0 first).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from adminsite.jobs.models import ACTIVE, ExportPart, ItemOutcome, Job, JobItem, Kind, Status

logger = logging.getLogger(__name__)

MAX_ITEMS = 10_000
STALE_AFTER = 180  # seconds without a heartbeat after which any worker takes a job over
SWEEP_EVERY = 30
TASK_RESULTS_KEPT = timedelta(days=14)  # django-tasks-db's rows of finished tasks, then pruned


class JobError(ValueError):
    """A job that cannot be created or changed as asked (the message says why)."""


def _subjects(subjects: Iterable[str]) -> list[str]:
    cleaned = list(dict.fromkeys(s.strip() for s in subjects if s and s.strip()))
    if len(cleaned) > MAX_ITEMS:
        raise JobError(f"At most {MAX_ITEMS:,} members per job ({len(cleaned):,} given).")
    return cleaned


def is_email(subject: str) -> bool:
    """Whether a subject is an email to look up rather than a user id: Auth0's user ids are
    `provider|id`, and the id may hold an @ (`samlp|acme|jane@acme.example`)."""
    return "@" in subject and "|" not in subject


def enqueue(job: Job) -> None:
    from adminsite.jobs.tasks import run_job

    result = run_job.enqueue(str(job.pk))
    Job.objects.filter(pk=job.pk).update(task_result_id=str(result.id))
    job.task_result_id = str(result.id)


def create(
    *,
    kind: Kind,
    org_id: str,
    user: User | None,
    username: str = "",
    org_name: str = "",
    subjects: Sequence[str] = (),
    roles: Sequence[dict[str, str]] = (),
    labels: dict[str, str] | None = None,
    retry_of: Job | None = None,
    all_members: bool = False,
) -> Job:
    """A queued job with one item per distinct subject (user id or email), and its task.

    `roles`: [{"id", "name"}] as Auth0 gave them (the picker's answer). `labels`: names for
    subjects the page already knows (user id → name or email). `all_members`: every member of
    the organization, listed by the job when it starts (every page, by cursor; at most
    MAX_ITEMS), plus any `subjects` given."""
    from adminsite.auth0 import api

    api._org(org_id)  # InvalidId before anything is written
    if kind in (Kind.ASSIGN_ROLES, Kind.REMOVE_ROLES) and not roles:
        raise JobError("Choose at least one role.")
    if all_members and kind in (Kind.ADD_MEMBERS, Kind.EXPORT_MEMBERS):
        raise JobError("Every member can be chosen only to change their roles or remove them.")
    items = [] if kind == Kind.EXPORT_MEMBERS else _subjects(subjects)
    if kind != Kind.EXPORT_MEMBERS and not items and not all_members:
        raise JobError("Choose at least one member.")
    role_list = [{"id": str(r["id"]), "name": str(r.get("name") or "")} for r in roles]
    api._roles([r["id"] for r in role_list]) if role_list else None
    labels = labels or {}
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            org_id=org_id,
            org_name=org_name[:255],
            params={
                **({"roles": role_list} if role_list else {}),
                **({"all_members": True} if all_members else {}),
            },
            created_by=user if user is not None and user.pk else None,
            username=(user.get_username() if user is not None else "") or username,
            total=len(items),
            retry_of=retry_of,
        )
        JobItem.objects.bulk_create(
            JobItem(
                job=job,
                position=i,
                subject=s[:255],
                user_id="" if is_email(s) else s[:255],
                label=labels.get(s, "")[:500],
            )
            for i, s in enumerate(items)
        )
        transaction.on_commit(lambda: enqueue(job))
    return job


def cancel(job: Job) -> Job:
    """Ask a job to stop after the item in flight; a job not started yet stops at once."""
    now = timezone.now()
    if Job.objects.filter(pk=job.pk, status=Status.QUEUED, started_at__isnull=True).update(
        status=Status.CANCELLED, cancel_requested=True, finished_at=now, message="Cancelled."
    ):
        JobItem.objects.filter(job=job, outcome=ItemOutcome.PENDING).update(
            outcome=ItemOutcome.NOT_SENT, finished_at=now
        )
    else:
        Job.objects.filter(pk=job.pk, status__in=ACTIVE).update(cancel_requested=True)
        Job.objects.filter(pk=job.pk, status=Status.RUNNING).update(status=Status.CANCELLING)
    job.refresh_from_db()
    return job


def retry_failed(job: Job, user: User | None) -> Job:
    """A new job for the items that failed or were not sent, with the same action and roles."""
    if job.is_active:
        raise JobError("The job is still running: retry when it has ended.")
    if job.kind == Kind.EXPORT_MEMBERS:
        raise JobError("An export is not retried item by item: start a new export.")
    items = job.items.filter(outcome__in=(ItemOutcome.FAILED, ItemOutcome.NOT_SENT))
    subjects = [i.user_id or i.subject for i in items.order_by("position")]
    if not subjects:
        raise JobError("Nothing failed: there is nothing to retry.")
    labels = {i.user_id or i.subject: i.label for i in items if i.label}
    return create(
        kind=Kind(job.kind),
        org_id=job.org_id,
        org_name=job.org_name,
        user=user,
        subjects=subjects,
        roles=job.params.get("roles") or [],
        labels=labels,
        retry_of=job,
    )


# --- Running, and taking over from a dead worker ------------------------------------------------


def run(job_id: str) -> str:
    """Claim the job and run it (the task's body); a job another worker holds is left alone."""
    from adminsite.jobs import runner

    worker = runner.worker_name()
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING, worker=worker, heartbeat_at=now
    )
    if not claimed:
        job = Job.objects.filter(pk=job_id).first()
        return job.status if job is not None else "missing"
    Job.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=now)
    job = Job.objects.get(pk=job_id)
    if job.cancel_requested:
        Job.objects.filter(pk=job_id).update(status=Status.CANCELLING)
    try:
        status = runner.Runner(job, worker).run()
    finally:
        cleanup_exports()
    return str(status)


def _process_gone(worker: str) -> bool:
    """Whether the worker named `host:pid:token` is a process of this host that has ended."""
    host, _, rest = worker.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sweep(now: datetime | None = None) -> list[Job]:
    """Re-queue every running job whose worker is gone; returns them."""
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    stale = now - timedelta(seconds=STALE_AFTER)
    taken: list[Job] = []
    for job in Job.objects.filter(status__in=(Status.RUNNING, Status.CANCELLING)):
        gone = _process_gone(job.worker) or (job.heartbeat_at is None or job.heartbeat_at < stale)
        if not gone:
            continue
        requeued = Job.objects.filter(pk=job.pk, worker=job.worker, status=job.status).update(
            status=Status.QUEUED, worker=""
        )
        if not requeued:
            continue  # another worker's sweep took it first
        if job.task_result_id:  # the dead worker's task stays "running" in django-tasks-db
            DBTaskResult.objects.filter(pk=job.task_result_id, status="RUNNING").update(
                status="FAILED", finished_at=now
            )
        logger.warning("Job %s: its worker %s is gone; resuming it", job.pk, job.worker)
        enqueue(job)
        taken.append(job)
    return taken


def cleanup_exports(now: datetime | None = None) -> int:
    """Delete expired exports (and the parts an interrupted or cancelled one left); returns
    the exports deleted."""
    now = now or timezone.now()
    deleted = 0
    for job in Job.objects.filter(expires_at__lte=now, export_bytes__isnull=False):
        with transaction.atomic():
            ExportPart.objects.filter(job=job).delete()
            Job.objects.filter(pk=job.pk).update(export_bytes=None)
        deleted += 1
    # Parts of an export that did not finish: its job is not running and keeps no file.
    leftovers = ExportPart.objects.exclude(job__status__in=ACTIVE).filter(
        job__export_bytes__isnull=True
    )
    deleted += len(set(leftovers.values_list("job_id", flat=True)))
    leftovers.delete()
    return deleted


def prune_task_results(now: datetime | None = None) -> int:
    """Delete django-tasks-db's rows of tasks that finished more than TASK_RESULTS_KEPT ago
    (what its `prune_db_task_results` command does, here run by every worker's sweep instead
    of a timer to set up); the jobs themselves, their items and audit entries stay. Returns
    the rows deleted."""
    from django_tasks_db.models import DBTaskResult

    cutoff = (now or timezone.now()) - TASK_RESULTS_KEPT
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lte=cutoff).delete()
    return deleted


def export_kept(job: Job) -> bool:
    """Whether the export's CSV is kept (until expires_at, EXPORT_TTL after it was done)."""
    return job.export_bytes is not None and not (
        job.expires_at and job.expires_at <= timezone.now()
    )


def progress(job: Job) -> dict[str, Any]:
    """What a progress bar shows: done/total, failures, rate, seconds left (None: unknown)."""
    elapsed = None
    if job.started_at:
        end = job.finished_at or timezone.now()
        elapsed = max((end - job.started_at).total_seconds(), 0.001)
    rate = job.done / elapsed if elapsed and job.done else None
    left = (job.total - job.done) / rate if rate and job.total >= job.done else None
    return {
        "done": job.done,
        "total": job.total,
        "failed": job.failed,
        "percent": int(100 * job.done / job.total) if job.total else 0,
        "rate_per_minute": round(rate * 60, 1) if rate else None,
        "seconds_left": round(left) if left is not None and job.is_active else None,
        "time_left": duration(left) if left is not None and job.is_active else "",
    }


def duration(seconds: float) -> str:
    """ "45 s", "3 min 20 s", "2 h 05 min": how long, as a person reads it."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def estimate_seconds(kind: Kind, count: int, *, with_roles: bool = True) -> float:
    """How long `count` items take at the group's published rate (for a confirm step): one
    call each, or one per 10 members where the job sends them so (runner.batched), two each
    when adding members with roles."""
    from adminsite import auth0
    from adminsite.jobs import pacing, runner

    group = "members_read" if kind == Kind.EXPORT_MEMBERS else runner.PLANS[kind].group
    if runner.batched(kind, with_roles=with_roles):
        calls = -(-count // auth0.MEMBERS_PER_CALL)
    else:
        calls = count * (2 if kind == Kind.ADD_MEMBERS else 1)
    lim = pacing.limit(group)
    return max(0.0, calls - pacing.jobs_burst(group)) * lim.interval


# --- What the pages show (adminsite/jobs/views.py) ----------------------------------------------


ITEMS_PER_PAGE = 100


def job_context(job: Job, page_number: str | None, outcome: str | None = None) -> dict[str, Any]:
    """A job's page: the job, its progress and, once it has ended, a page of its items, of
    one outcome when `outcome` is one (anything else: every item), with the count of each."""
    from django.core.paginator import Paginator
    from django.db.models import Count

    context: dict[str, Any] = {"job": job, "progress": progress(job)}
    if not job.is_active:
        if job.kind != Kind.EXPORT_MEMBERS:
            counts = dict(
                job.items.order_by()
                .values_list("outcome")
                .annotate(n=Count("pk"))
                .values_list("outcome", "n")
            )
            shown = outcome if outcome in counts else None
            items = job.items.order_by("position")
            if shown is not None:
                items = items.filter(outcome=shown)
            context["items"] = Paginator(items, ITEMS_PER_PAGE).get_page(page_number)
            context["outcome"] = shown
            context["outcomes"] = [
                (value, label, counts[value])
                for value, label in ItemOutcome.choices
                if value in counts
            ]
            context["all_items"] = sum(counts.values())
            context["retryable"] = counts.get(ItemOutcome.FAILED, 0) + counts.get(
                ItemOutcome.NOT_SENT, 0
            )
        context["export"] = export_kept(job)
    return context


def export_filename(job: Job) -> str:
    """members-<organization name or id>-<date>.csv, with only safe characters."""
    import re

    name = re.sub(r"[^A-Za-z0-9._-]+", "-", job.org_name or job.org_id).strip("-")[:60]
    return f"members-{name or 'organization'}-{job.created_at:%Y%m%d-%H%M}.csv"


def running_job(org_id: str, job_id: str | None = None) -> Job | None:
    """The job an organization page's bar follows: `job_id` (the one it showed) while it runs
    and it is this organization's; else the newest queued or running one (started since, from
    another page, by another person); else the ended `job_id`, whose end stays shown."""
    import uuid

    followed = None
    if job_id:
        try:
            followed = Job.objects.filter(pk=uuid.UUID(job_id), org_id=org_id).first()
        except ValueError:
            followed = None
        if followed is not None and followed.is_active:
            return followed
    newest = Job.objects.filter(org_id=org_id, status__in=ACTIVE).order_by("-created_at").first()
    return newest or followed


# --- Choosing many and the confirm step (orgs/bulk.py) ------------------------------------------

BULK_KINDS = (Kind.ASSIGN_ROLES, Kind.REMOVE_ROLES, Kind.REMOVE_MEMBERS, Kind.ADD_MEMBERS)
CHOICE_TTL = 15 * 60  # seconds a confirm step stays confirmable


def choose(
    *, kind: Kind, picked: Sequence[str], lines: Sequence[str], all_members: bool
) -> dict[str, Any]:
    """What a bulk form chose, before anything is sent: the ticked rows' user ids and the pasted
    lines (user ids as given, emails to be looked up by the job before any change), distinct,
    at most MAX_ITEMS; the lines that are neither (`unreadable`, never sent). Raises JobError."""
    from orgs.forms import line_kind, shown_line

    if kind not in BULK_KINDS:
        raise JobError("Choose what to do.")
    if len(lines) > MAX_ITEMS:
        raise JobError(f"At most {MAX_ITEMS:,} lines ({len(lines):,} pasted).")
    subjects: dict[str, None] = {}
    emails, unreadable, pasted = 0, [], []
    from adminsite import auth0

    for user_id in picked:
        if not auth0.is_user_id(user_id):
            raise JobError("A ticked member's id is not an Auth0 user id.")
        subjects.setdefault(user_id, None)
    for line in (ln.strip() for ln in lines):
        if not line:
            continue
        what = line_kind(line)
        if not what:
            unreadable.append(shown_line(line))
        elif line not in subjects:
            subjects[line] = None
            emails += what == "email"
            pasted.append(line)
    if all_members and kind == Kind.ADD_MEMBERS:
        raise JobError("People are added by email or user id, not as “every member”.")
    if not subjects and not all_members:
        raise JobError("Choose at least one member: tick rows, tick “every member” or paste.")
    if len(subjects) > MAX_ITEMS:
        raise JobError(f"At most {MAX_ITEMS:,} members per job ({len(subjects):,} chosen).")
    return {
        "kind": str(kind),
        "subjects": list(subjects),
        "emails": emails,
        "unreadable": unreadable[:100],  # the first ones, shown on the confirm step
        "unreadable_count": len(unreadable),
        "all_members": all_members,
        "pasted": pasted,
        "labels": {},
        "not_found": [],
        "ambiguous": [],
        "resolved": False,
    }


RESOLVE_NOW = 50  # pasted lines looked up on the confirm step (one call each); more: by the job


def resolve_pasted(choice: dict[str, Any]) -> None:
    """Look up each pasted line now (an email: the users with it; a user id: that user), when
    there are at most RESOLVE_NOW: the choice then holds user ids with their names, and the
    lines that do not resolve (no such user; an email with several accounts) are listed and
    left out. More lines are left to the job, which resolves them before any change. Auth0's
    errors other than "no such user" are raised."""
    from adminsite import auth0
    from orgs.forms import line_kind, shown_line

    pasted = list(choice["pasted"])
    if not pasted or len(pasted) > RESOLVE_NOW:
        return
    subjects = [s for s in choice["subjects"] if s not in set(pasted)]
    labels: dict[str, str] = {}
    for line in pasted:
        if line_kind(line) == "email":
            users = auth0.users_by_email(email=line)
        else:
            try:
                users = [auth0.get_user(user_id=line)]
            except auth0.NotFound:
                users = []
        if not users:
            choice["not_found"].append(shown_line(line))
        elif len(users) > 1:
            choice["ambiguous"].append(shown_line(line))
        else:
            user = users[0]
            if user.user_id not in subjects:
                subjects.append(user.user_id)
            labels[user.user_id] = (user.name or user.email)[:500]
    choice.update(subjects=subjects, labels=labels, emails=0, resolved=True)


def stash_choice(user: User, org_id: str, choice: dict[str, Any]) -> str:
    """Keep a confirm step's choice for its author; the token the confirm posts back."""
    import secrets

    from django.core.cache import cache

    token = secrets.token_urlsafe(16)
    cache.set(f"jobs:choice:{user.pk}:{org_id}:{token}", choice, CHOICE_TTL)
    return token


def take_choice(user: User, org_id: str, token: str) -> dict[str, Any] | None:
    """The choice a confirm step stashed (once: it is deleted), None when unknown or expired."""
    from django.core.cache import cache

    if not token.replace("-", "").replace("_", "").isalnum() or len(token) > 64:
        return None
    key = f"jobs:choice:{user.pk}:{org_id}:{token}"
    choice = cache.get(key)
    # Two starts at once (a double click, two instances) may both read it: only the one whose
    # delete removed it gets it (one DEL in Redis), so a confirm step starts one job.
    if not cache.delete(key):
        return None
    return choice if isinstance(choice, dict) else None
