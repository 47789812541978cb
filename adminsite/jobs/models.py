"""A bulk job and its items: what a worker needs to run, resume and report a job.

A job's items are the members it changes, in the order given (`position`). An item's outcome
is written once, when its upstream change is done (or refused); the first item without one is
where a restarted worker resumes. The counters on the job are updated by one UPDATE per item
(runner.py), so a progress bar reads one row.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Kind(models.TextChoices):
    ASSIGN_ROLES = "assign_roles", "Assign roles"
    REMOVE_ROLES = "remove_roles", "Remove roles"
    REMOVE_MEMBERS = "remove_members", "Remove from the organization"
    ADD_MEMBERS = "add_members", "Add to the organization"
    EXPORT_MEMBERS = "export_members", "Export members"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    CANCELLING = "cancelling", "Cancelling"  # asked to stop: stops after the item in flight
    CANCELLED = "cancelled", "Cancelled"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"  # stopped by an error every next item would hit too


ACTIVE = (Status.QUEUED, Status.RUNNING, Status.CANCELLING)


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    org_id = models.CharField("organization id", max_length=64, db_index=True)
    org_name = models.CharField("organization", max_length=255, blank=True)
    # e.g. {"roles": [{"id": "rol_...", "name": "billing"}]}: names as Auth0 gave them.
    params = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    username = models.CharField(max_length=150)  # kept if the user is deleted
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)  # items with an outcome (any) / rows exported
    failed = models.PositiveIntegerField(default=0)  # of which failed
    cancel_requested = models.BooleanField(default=False)
    message = models.TextField(blank=True)  # why a job failed, or a note on how it ended
    # An export's CSV, once complete: its size in bytes (None: no file is kept; the bytes are
    # ExportPart rows) and when it is deleted.
    export_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # The django.tasks result running the job, and the worker holding it (host:pid:token)
    # with its last sign of life: the sweep re-queues a job whose worker is gone.
    task_result_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} in {self.org_name or self.org_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def role_ids(self) -> list[str]:
        return [str(r["id"]) for r in self.params.get("roles") or []]


class ItemOutcome(models.TextChoices):
    PENDING = "pending", "Pending"  # not done yet: a worker resumes from the first of these
    SUCCESS = "success", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"  # nothing to do (e.g. not found, already so)
    NOT_SENT = "not_sent", "Not sent"  # the job stopped (cancelled or failed) before it


class JobItem(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    subject = models.CharField(max_length=255)  # a user id or an email, as given
    user_id = models.CharField(max_length=255, blank=True)  # resolved
    label = models.CharField(max_length=500, blank=True)  # name or email, as Auth0 gave it
    outcome = models.CharField(
        max_length=16, choices=ItemOutcome.choices, default=ItemOutcome.PENDING
    )
    error = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)
    audit_entry = models.ForeignKey(
        "audit.AuditEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "position"], name="jobitem_position"),
        ]
        indexes = [models.Index(fields=["job", "outcome", "position"], name="jobitem_todo")]

    def __str__(self) -> str:
        return f"{self.subject}: {self.outcome}"


class ExportPart(models.Model):
    """A piece of an export's CSV, in order. Exports are kept in the database, not in a file:
    any host serving Org Desk can hand out a download that a worker on another host wrote, and
    deleting the job deletes them."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="export_parts")
    position = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["job", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "position"], name="exportpart_position"),
        ]

    def __str__(self) -> str:
        return f"part {self.position} of {self.job_id}"
