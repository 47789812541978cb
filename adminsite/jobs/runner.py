"""Running a job: its items one at a time, each audited, paced, and resumable after a crash.

For each item, from the first without an outcome:

1. a cancel asked for since the last item stops the job here (the item in flight finished);
2. a subject given as an email is resolved to the organization member's user id;
3. if an earlier run left an audit entry for this item (the worker died), it decides: a sealed
   entry is taken as the item's outcome, no call; a pending one (the call's fate unknown) is
   settled by reading Auth0's state first (the member's roles, or membership), sealed with
   what that read shows, and the change is sent only if it was not applied;
4. otherwise the change: `audit.record(...)` writes the pending entry (linked to the job), the
   one upstream call goes through adminsite.auth0 (patient: it waits for the rate limit
   instead of failing), the entry is sealed;
5. one UPDATE of the item and one UPDATE of the job's counters (and heartbeat).

Removing members, and adding members without roles, go 10 members a call (Auth0's maximum for
POST/DELETE organizations/{id}/members): up to 10 items that need the change are gathered, each
gets its own pending entry, one call is made, and each entry is sealed with its outcome. Auth0
refuses such a call as a whole (one member who does not exist fails it): the entries are sealed
failed with Auth0's answer and marked `batch_refused`, and each member is then sent on its own
(new entries), so one member's problem is that member's alone. A worker that dies during a call
leaves up to 10 pending entries, each settled on resuming by reading that member's state.

An error every next item would hit too (credentials, a missing scope, the organization gone)
stops the job as failed, its remaining items `not_sent`. Any other error fails that item only.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import F
from django.utils import timezone

from adminsite import auth0
from adminsite.audit import recording
from adminsite.audit.models import Action, AuditEntry, Outcome
from adminsite.auth0 import client
from adminsite.jobs import export, pacing
from adminsite.jobs.models import ItemOutcome, Job, JobItem, Kind, Status

logger = logging.getLogger(__name__)

CHUNK = 200  # items read at a time
RATE_LIMIT_ATTEMPTS = 5  # an item refused with 429 this many times (after waiting) fails
EXPORT_TAKE = 50

# Set when the worker is asked to stop (jobs_worker: SIGTERM, Ctrl-C): the job in hand stops
# between items, goes back to the queue, and the next worker resumes it.
STOPPING = threading.Event()

# Errors after which every next item would fail the same way: the job stops.
_STOPS_JOB: tuple[type[Exception], ...] = (auth0.Unauthorized, auth0.Forbidden)
# A batch Auth0 refused as a whole: its entries say so, and their members are sent on their own.
BATCH_REFUSED = "batch_refused"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Plan:
    """What one kind of job does to a member."""

    action: Action
    group: str  # pacing group of its call
    method: str


PLANS = {
    Kind.ASSIGN_ROLES: Plan(Action.ASSIGN_ROLES, "member_roles", "POST"),
    Kind.REMOVE_ROLES: Plan(Action.REMOVE_ROLE, "member_roles", "DELETE"),
    Kind.REMOVE_MEMBERS: Plan(Action.REMOVE_MEMBER, "members_write", "DELETE"),
    Kind.ADD_MEMBERS: Plan(Action.ADD_MEMBERS, "members_write", "POST"),
}


class Lost(Exception):
    """Another worker holds the job now: this one leaves it without writing anything more."""


class Requeue(Exception):
    """The worker is stopping: put the job back in the queue for the next one."""


class StopJob(Exception):
    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def batched(kind: Kind, *, with_roles: bool) -> bool:
    """Whether a job of this kind sends its members 10 a call: removing them, or adding them
    without roles (adding with roles gives each member a roles call of their own anyway)."""
    return kind == Kind.REMOVE_MEMBERS or (kind == Kind.ADD_MEMBERS and not with_roles)


def _quote(value: str) -> str:
    return quote(value, safe="")


def _roles_path(job: Job, user_id: str) -> str:
    return f"/api/v2/organizations/{_quote(job.org_id)}/members/{_quote(user_id)}/roles"


def _path(job: Job, user_id: str) -> str:
    """The full path of the item's call (the client's rate-limit budget is kept per path)."""
    if job.kind in (Kind.ASSIGN_ROLES, Kind.REMOVE_ROLES):
        return _roles_path(job, user_id)
    return f"/api/v2/organizations/{_quote(job.org_id)}/members"


class Runner:
    def __init__(
        self, job: Job, worker: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.job = job
        self.worker = worker
        self.sleep = sleep
        self.author = (
            User.objects.filter(pk=job.created_by_id).first() if job.created_by_id else None
        )

    # --- bookkeeping -------------------------------------------------------------------------

    def heartbeat(self) -> None:
        Job.objects.filter(pk=self.job.pk, worker=self.worker).update(heartbeat_at=timezone.now())

    def cancel_requested(self) -> bool:
        """Whether to stop before the next item; raises Lost when the job is no longer ours (a
        sweep gave it to another worker while this one was silent, e.g. a very long wait)."""
        row = Job.objects.filter(pk=self.job.pk).values_list("cancel_requested", "worker").first()
        if row is None or row[1] != self.worker:
            raise Lost
        return bool(row[0])

    def finish_item(self, item: JobItem, outcome: ItemOutcome, **fields: Any) -> None:
        now = timezone.now()
        JobItem.objects.filter(pk=item.pk).update(outcome=outcome, finished_at=now, **fields)
        Job.objects.filter(pk=self.job.pk).update(
            done=F("done") + 1,
            failed=F("failed") + (1 if outcome == ItemOutcome.FAILED else 0),
            heartbeat_at=now,
        )

    def pending_items(self) -> Iterator[JobItem]:
        last = -1
        while True:
            chunk = list(
                JobItem.objects.filter(
                    job=self.job, outcome=ItemOutcome.PENDING, position__gt=last
                ).order_by("position")[:CHUNK]
            )
            yield from chunk
            if len(chunk) < CHUNK:
                return
            last = chunk[-1].position

    # --- the run -------------------------------------------------------------------------------

    def run(self) -> Status:
        try:
            with client.patient(tick=self.heartbeat):
                if self.job.kind == Kind.EXPORT_MEMBERS:
                    self.export()
                else:
                    self.finish_in_flight()
                    if self.job.params.get("all_members"):
                        self.list_every_member()
                    self.resolve_emails()
                    batch: list[JobItem] = []
                    for item in self.pending_items():
                        if self.cancel_requested():
                            raise StopJob(Status.CANCELLED, "Cancelled.")
                        if STOPPING.is_set():
                            raise Requeue
                        if not self.batched():
                            self.item(item)
                        elif self.needs_change(item):
                            if any(b.user_id == item.user_id for b in batch):
                                # The same person given twice (an email and their id): the
                                # call goes first, then this item finds its entry (no call).
                                self.apply(batch)
                                batch = []
                                if not self.needs_change(item):
                                    continue
                            batch.append(item)
                            if len(batch) == auth0.MEMBERS_PER_CALL:
                                self.apply(batch)
                                batch = []
                    if batch:
                        self.apply(batch)
        except Requeue:
            return self.requeue()
        except Lost:
            logger.warning("Job %s was taken over by another worker; leaving it", self.job.pk)
            return Status.RUNNING
        except StopJob as stop:
            return self.end(stop.status, stop.message)
        except Exception as exc:
            logger.exception("Job %s stopped by an unexpected error", self.job.pk)
            return self.end(Status.FAILED, recording.failure(exc)["message"])
        return self.end(Status.DONE, "")

    def finish_in_flight(self) -> None:
        """The item a dead worker left in flight is settled first, even when the job was
        cancelled meanwhile: cancel stops *after* the item in flight."""
        members = AuditEntry.objects.filter(job_id=self.job.pk, outcome=Outcome.PENDING)
        in_flight = JobItem.objects.filter(
            job=self.job,
            outcome=ItemOutcome.PENDING,
            user_id__in=members.values_list("member_id", flat=True),
        )
        for item in in_flight.order_by("position"):
            self.item(item)

    def list_every_member(self) -> None:
        """ "Every member" of the job: the organization's members, every page by cursor, become
        items (after any given ones) in one transaction; a resumed job that has them already
        does not list them again. More than MAX_ITEMS stops the job before any change."""
        from django.db import transaction

        from adminsite.jobs.services import MAX_ITEMS

        job = self.job
        if job.params.get("listed"):
            return
        given = set(JobItem.objects.filter(job=job).values_list("user_id", flat=True))
        found: dict[str, str] = {}
        path = f"/api/v2/organizations/{_quote(job.org_id)}/members"
        cursor: str | None = None
        while True:
            if self.cancel_requested():
                raise StopJob(Status.CANCELLED, "Cancelled.")
            self.pace("members_read", "GET", path)
            try:
                page = auth0.list_members(org_id=job.org_id, from_=cursor, take=EXPORT_TAKE)
            except _STOPS_JOB + (auth0.Auth0Error,) as exc:
                raise StopJob(Status.FAILED, recording.failure(exc)["message"]) from exc
            for m in page.members:
                if m.user_id not in given:
                    found.setdefault(m.user_id, (m.name or m.email)[:500])
            if len(found) + len(given) > MAX_ITEMS:
                raise StopJob(
                    Status.FAILED,
                    f"This organization has more than {MAX_ITEMS:,} members: a job changes at "
                    "most that many. Nothing was changed.",
                )
            if not page.next or not page.members:
                break
            cursor = page.next
        start = JobItem.objects.filter(job=job).count()
        with transaction.atomic():
            JobItem.objects.bulk_create(
                JobItem(job=job, position=start + i, subject=uid[:255], user_id=uid[:255], label=n)
                for i, (uid, n) in enumerate(found.items())
            )
            job.params = {**job.params, "listed": True}
            Job.objects.filter(pk=job.pk).update(
                params=job.params, total=F("total") + len(found), heartbeat_at=timezone.now()
            )

    def resolve_emails(self) -> None:
        """Every item given as an email is looked up before any change is made: those that do
        not resolve (no user, or several) are skipped and listed with why."""
        for item in JobItem.objects.filter(
            job=self.job, outcome=ItemOutcome.PENDING, user_id=""
        ).order_by("position"):
            if self.cancel_requested():
                raise StopJob(Status.CANCELLED, "Cancelled.")
            if STOPPING.is_set():
                raise Requeue
            try:
                self.resolve(item)
            except _STOPS_JOB as exc:
                raise StopJob(Status.FAILED, recording.failure(exc)["message"]) from exc
            except (auth0.Auth0Error, auth0.InvalidId) as exc:
                self.finish_item(item, ItemOutcome.FAILED, **_failure(exc))

    def requeue(self) -> Status:
        """Hand the job back (its items keep their outcomes) with a new task to resume it."""
        from adminsite.jobs import services

        if Job.objects.filter(pk=self.job.pk, worker=self.worker).update(
            status=Status.QUEUED, worker=""
        ):
            services.enqueue(self.job)
            logger.info("Job %s handed back to the queue: the worker is stopping", self.job.pk)
        return Status.QUEUED

    def end(self, status: Status, message: str) -> Status:
        now = timezone.now()
        if status != Status.DONE:  # what was not reached will not be sent
            JobItem.objects.filter(job=self.job, outcome=ItemOutcome.PENDING).update(
                outcome=ItemOutcome.NOT_SENT, finished_at=now
            )
        Job.objects.filter(pk=self.job.pk).update(
            status=status, finished_at=now, message=message[:1000], heartbeat_at=now
        )
        return status

    # --- one item ---------------------------------------------------------------------------

    def resolve(self, item: JobItem) -> bool:
        """Make sure the item has a user id; False (item finished) when it does not resolve."""
        if item.user_id:
            return True
        subject = item.subject.strip()
        from adminsite.jobs.services import is_email

        if not is_email(subject):
            item.user_id = subject
            JobItem.objects.filter(pk=item.pk).update(user_id=subject)
            return True
        self.pace("members_read", "GET", "/api/v2/users-by-email")
        users = auth0.users_by_email(email=subject)
        if not users:
            self.finish_item(item, ItemOutcome.SKIPPED, message="No user has this email.")
            return False
        if len(users) > 1:
            self.finish_item(
                item,
                ItemOutcome.SKIPPED,
                message=f"{len(users)} users have this email: give the user id instead.",
            )
            return False
        user = users[0]
        item.user_id, item.label = user.user_id, (user.name or user.email)[:500]
        JobItem.objects.filter(pk=item.pk).update(user_id=item.user_id, label=item.label)
        return True

    def pace(self, group: str, method: str, path: str) -> None:
        pacing.acquire(group, method=method, path=path, tick=self.heartbeat, sleep=self.sleep)

    def item(self, item: JobItem) -> None:
        if self.needs_change(item):
            self.apply([item])

    def needs_change(self, item: JobItem) -> bool:
        """Resolve the item and settle what an earlier run left for it: True when its change
        is still to be sent (False: the item has its outcome)."""
        try:
            if not self.resolve(item):
                return False
        except _STOPS_JOB as exc:
            raise StopJob(Status.FAILED, recording.failure(exc)["message"]) from exc
        except (auth0.Auth0Error, auth0.InvalidId) as exc:
            self.finish_item(item, ItemOutcome.FAILED, **_failure(exc))
            return False
        earlier = (
            AuditEntry.objects.filter(job_id=self.job.pk, member_id=item.user_id)
            .order_by("-pk")
            .first()
        )
        return earlier is None or not self.settle(item, earlier)

    def batched(self) -> bool:
        return batched(Kind(self.job.kind), with_roles=bool(self.job.role_ids))

    def settle(self, item: JobItem, entry: AuditEntry) -> bool:
        """An earlier run's entry for this item: True when it decides the item's outcome."""
        if entry.outcome == Outcome.SUCCESS:
            self.finish_item(item, ItemOutcome.SUCCESS, audit_entry=entry)
            return True
        if entry.outcome == Outcome.NOT_SENT:
            self.finish_item(item, ItemOutcome.SKIPPED, audit_entry=entry, message=entry.message)
            return True
        resend = ("interrupted", "rate_limited", BATCH_REFUSED)
        if entry.outcome == Outcome.FAILED and entry.error not in resend:
            # Sealed failed, then the worker died before the item said so.
            self.finish_item(
                item,
                ItemOutcome.FAILED,
                audit_entry=entry,
                error=entry.error,
                message=entry.message,
            )
            return True
        if entry.outcome != Outcome.PENDING:
            return False  # refused for the rate limit, or sent again after a crash: send it
        # The worker died during the call: read Auth0's state, never send it blindly again.
        try:
            applied, state = self.applied(item)
        except _STOPS_JOB as exc:
            raise StopJob(Status.FAILED, recording.failure(exc)["message"]) from exc
        now = timezone.now()
        if applied:
            AuditEntry.objects.seal(
                entry.pk,
                outcome=Outcome.SUCCESS,
                after=state,
                finished_at=now,
                message="The worker stopped during this call; Auth0's state read on resuming "
                "shows the change made, so it was not sent again.",
            )
            self.finish_item(item, ItemOutcome.SUCCESS, audit_entry=entry)
            return True
        AuditEntry.objects.seal(
            entry.pk,
            outcome=Outcome.FAILED,
            error="interrupted",
            after=state,
            finished_at=now,
            message="The worker stopped during this call; Auth0's state read on resuming "
            "shows the change not made: it is sent again (next entry).",
        )
        return False

    def applied(self, item: JobItem) -> tuple[bool, dict[str, Any]]:
        """Whether this item's change shows in Auth0 (one read), and the state read."""
        job, user_id = self.job, item.user_id
        self.pace("member_roles", "GET", _roles_path(job, user_id))
        try:
            roles = auth0.get_member_roles(org_id=job.org_id, user_id=user_id)
        except auth0.NotFound:
            member = False
            held: set[str] = set()
        else:
            member = True
            held = {r.id for r in roles}
        wanted = set(job.role_ids)
        state: dict[str, Any] = {"member": member, "roles": sorted(held)}
        match job.kind:
            case Kind.ASSIGN_ROLES:
                return member and wanted <= held, state
            case Kind.REMOVE_ROLES:
                return not (wanted & held), state
            case Kind.REMOVE_MEMBERS:
                return not member, state
            case Kind.ADD_MEMBERS:
                return member and wanted <= held, state
        raise AssertionError(job.kind)

    def record(self, item: JobItem) -> recording.Recording:
        """The item's audit entry, written pending when entered (linked to the job)."""
        job = self.job
        person = {"user_id": item.user_id, "name": item.label, "email": ""}
        return recording.record(
            None,
            action=PLANS[Kind(job.kind)].action,
            org_id=job.org_id,
            org_name=job.org_name,
            member_id=item.user_id,
            roles=list(job.params.get("roles") or []),
            requested={"roles": job.role_ids, "member": person},
            job_id=job.pk,
            author=self.author,
            author_name=job.username,
        )

    def apply(self, items: list[JobItem]) -> None:
        """One call for these items, an audit entry each: one member, or up to 10 when the
        job's members go 10 a call (see the module's docstring). A call refused as a whole for
        several members is sent again for each on its own."""
        job = self.job
        plan = PLANS[Kind(job.kind)]
        for attempt in range(1, RATE_LIMIT_ATTEMPTS + 1):
            self.pace(plan.group, plan.method, _path(job, items[0].user_id))
            entries = [self.record(item) for item in items]
            try:
                with ExitStack() as stack:
                    for entry in entries:
                        stack.enter_context(entry)
                    if len(items) == 1:
                        self.call(items[0].user_id)
                    else:
                        self.call_batch([item.user_id for item in items], entries)
            except auth0.RateLimited as exc:
                if attempt == RATE_LIMIT_ATTEMPTS:
                    self.finish_items(items, entries, ItemOutcome.FAILED, **_failure(exc))
                    return
                self.sleep(min(float(exc.retry_after or 1), client.PATIENT_MAX_WAIT))
                continue
            except _STOPS_JOB as exc:
                self.finish_items(items, entries, ItemOutcome.FAILED, **_failure(exc))
                raise StopJob(Status.FAILED, recording.failure(exc)["message"]) from exc
            except (auth0.Auth0Error, auth0.InvalidId) as exc:
                if len(items) == 1:
                    self.finish_items(items, entries, ItemOutcome.FAILED, **_failure(exc))
                else:  # sealed failed as refused with the rest: each on its own
                    for item in items:
                        self.apply([item])
                return
            self.finish_items(items, entries, ItemOutcome.SUCCESS)
            return

    def finish_items(
        self,
        items: list[JobItem],
        entries: list[recording.Recording],
        outcome: ItemOutcome,
        **fields: Any,
    ) -> None:
        for item, entry in zip(items, entries, strict=True):
            self.finish_item(item, outcome, audit_entry=entry.entry, **fields)

    def call_batch(self, user_ids: list[str], entries: list[recording.Recording]) -> None:
        """The one call for these members; refused as a whole (not for the rate limit or the
        credentials), their entries say that it was the call's refusal, sent again one by one."""
        job = self.job
        try:
            if job.kind == Kind.REMOVE_MEMBERS:
                auth0.remove_members(org_id=job.org_id, user_ids=user_ids)
            else:
                auth0.add_members(org_id=job.org_id, user_ids=user_ids)
        except (auth0.Auth0Error, auth0.InvalidId) as exc:
            if not isinstance(exc, (auth0.RateLimited, *_STOPS_JOB)):
                why = recording.failure(exc)
                for entry in entries:
                    entry.failed_as(
                        error=BATCH_REFUSED,
                        status_code=why.get("status_code"),
                        message=f"Auth0 refused the call for {len(user_ids)} members as a whole "
                        f"({why['message']}); each is sent again on its own (next entry).",
                    )
            raise

    def call(self, user_id: str) -> None:
        job = self.job
        match job.kind:
            case Kind.ASSIGN_ROLES:
                auth0.assign_member_roles(org_id=job.org_id, user_id=user_id, role_ids=job.role_ids)
            case Kind.REMOVE_ROLES:
                auth0.remove_member_roles(org_id=job.org_id, user_id=user_id, role_ids=job.role_ids)
            case Kind.REMOVE_MEMBERS:
                auth0.remove_members(org_id=job.org_id, user_ids=[user_id])
            case Kind.ADD_MEMBERS:
                auth0.add_members(org_id=job.org_id, user_ids=[user_id])
                if job.role_ids:
                    self.pace("member_roles", "POST", _roles_path(job, user_id))
                    auth0.assign_member_roles(
                        org_id=job.org_id, user_id=user_id, role_ids=job.role_ids
                    )

    # --- export -------------------------------------------------------------------------------

    def export(self) -> None:
        job = self.job
        # A resumed export starts over: its parts are written again from the first page.
        Job.objects.filter(pk=job.pk).update(done=0, total=0, export_bytes=None)
        path = f"/api/v2/organizations/{_quote(job.org_id)}/members"

        def pages() -> Iterator[list[auth0.Member]]:
            cursor: str | None = None
            while True:
                if self.cancel_requested():
                    raise StopJob(Status.CANCELLED, "Cancelled; no file was kept.")
                self.pace("members_read", "GET", path)
                page = auth0.list_members(org_id=job.org_id, from_=cursor, take=EXPORT_TAKE)
                yield page.members
                if not page.next or not page.members:
                    return
                cursor = page.next

        def on_page(rows: int) -> None:
            Job.objects.filter(pk=job.pk).update(
                done=F("done") + rows, total=F("total") + rows, heartbeat_at=timezone.now()
            )

        with export.Parts(job) as out:
            rows = export.write(out, pages(), on_page)
        expires = timezone.now() + timedelta(seconds=int(settings.EXPORT_TTL))
        Job.objects.filter(pk=job.pk).update(
            export_bytes=out.size, expires_at=expires, total=rows, done=rows
        )


def _failure(exc: BaseException) -> dict[str, Any]:
    details = recording.failure(exc)
    return {"error": details.get("error", "")[:64], "message": details.get("message", "")}
