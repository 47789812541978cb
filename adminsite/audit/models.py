"""The audit log: one append-only entry per change attempted through Org Desk.

An entry is written *before* the upstream call, as `pending`, and sealed once with its
outcome (adminsite.audit does both). After that nothing changes it: `save()` on a stored entry,
`delete()`, and the queryset's `update()`/`delete()` all raise `AuditImmutable`. The only
update there is, `AuditQuerySet.seal()`, touches the outcome columns of a still-pending row.

Each entry is chained to the one before it by hashes (adminsite.audit.chain), written one at a
time under a lock so that the chain stays a line; on PostgreSQL a trigger refuses, in the
database itself, every UPDATE but sealing, and every DELETE and TRUNCATE (migration 0003).
`manage.py verify_audit` walks the chain. Every sealed entry is also logged as one JSON line
to the `orgdesk.audit` logger, for a SIEM.
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import uuid
from collections.abc import Collection, Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connections, models, router, transaction
from django.urls import reverse
from django.utils import timezone

from adminsite.audit import chain

# The lock that writes entries one at a time on PostgreSQL (pg_advisory_xact_lock): any
# constant no other code uses; this one spells "orgdesk" and the number.
CHAIN_LOCK = 0x6F72_6764_6573_6B14
CHAIN_COLUMNS = ("prev_hash", "entry_hash", "seal_hash")

audit_logger = logging.getLogger("orgdesk.audit")


class AuditImmutable(Exception):
    """Audit entries are append-only: they are never edited (except sealing) or deleted."""


class Action(models.TextChoices):
    DOMAIN_LEVEL = "domain_level", "Domain-level status"
    REMOVE_CONNECTION = "remove_connection", "Remove connection"
    ASSIGN_ROLES = "assign_roles", "Assign roles"
    REMOVE_ROLE = "remove_role", "Remove role"
    RESTORE_CONNECTION = "restore_connection", "Restore connection"
    ENABLE_CONNECTION = "enable_connection", "Enable connection"
    UPDATE_CONNECTION = "update_connection", "Change connection settings"
    ADD_MEMBERS = "add_members", "Add members"
    REMOVE_MEMBER = "remove_member", "Remove member"
    RESTORE_MEMBER = "restore_member", "Restore member"
    INVITE = "invite", "Invite"
    REVOKE_INVITATION = "revoke_invitation", "Revoke invitation"
    RESEND_INVITATION = "resend_invitation", "Resend invitation"
    RESTORE_INVITATION = "restore_invitation", "Restore invitation"


class Outcome(models.TextChoices):
    PENDING = "pending", "Pending"  # written before the call; a crash leaves it so
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    NOT_SENT = "not_sent", "Not sent"  # Org Desk decided not to call Auth0 (e.g. role limit)


# What sealing may write; everything else is fixed at creation (and covered by entry_hash).
SEAL_FIELDS = frozenset(chain.SEAL_FIELDS)


NAME_UNKNOWN = "name unknown"


def labelled(name: str, ident: str) -> str:
    """A name Org Desk read from Auth0, or else the id saying that the name is unknown.

    Names in the audit log and in messages only ever come from Auth0's answers or Org Desk's
    own earlier reads; when neither is at hand, an empty string would read as a blank name.
    """
    return name if name else f"{ident} ({NAME_UNKNOWN})"


STATE_LABELS = {
    "name": "Connection",
    "strategy": "Strategy",
    "assign_membership_on_login": "Membership on login",
    "show_as_button": "Show as button",
    "is_signup_enabled": "Signup",
    "is_domain_connection": "Domain-level",
    "roles": "Roles",
    "had_role": "Had the role",
    "enabled": "Enabled in the organization",
    "remove_connection": "Remove connection",
    # members (orgs.membership)
    "member": "Member",
    "members": "Members",
    "added": "Added",
    "batches": "Batches of at most 10",
    "roles_not_given": "Roles not given to",
    # invitations (orgs/invitations.py); their links are never recorded
    "invitation_id": "Invitation",
    "invitee": "Invitee",
    "inviter": "Invited by",
    "client_id": "Application (client id)",
    "connection_id": "Connection id",
    "connection_name": "Connection",
    "created_at": "Created",
    "expires_at": "Expires",
    "ttl_sec": "Lifetime (seconds)",
    "send_invitation_email": "Invitation email sent",
    "revoke_invitation": "Revoke invitation",
    "resend_invitation": "Resend invitation",
    "revoked": "Old invitation revoked",
    "recreated": "New invitation created",
    "new_invitation_id": "New invitation",
    "invited": "Invited",
}


def _shown(key: str, value: Any) -> str:
    if value is None:
        return "n/a (not a database connection)" if key == "is_signup_enabled" else "unknown"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, dict) and "user_id" in value:  # a person: {"user_id", "name", "email"}
        return _person(value)
    if isinstance(value, dict) and "outcome" in value:  # a batch: {"members", "outcome"}
        return f"{len(value.get('members') or [])} of them {value['outcome']}"
    if isinstance(value, dict):  # a role: {"id", "name"}
        return labelled(str(value.get("name") or ""), str(value.get("id") or "?"))
    if isinstance(value, list):
        return ", ".join(_shown(key, v) for v in value) or "none"
    return str(value)


def _person(value: dict[str, Any]) -> str:
    """A person as an entry recorded them (names Auth0 gave): name, email, id, and why not."""
    name, email = str(value.get("name") or ""), str(value.get("email") or "")
    shown = " · ".join(t for t in (email, str(value.get("user_id") or "?")) if t)
    text = f"{name} ({shown})" if name else shown if email else f"{shown} ({NAME_UNKNOWN})"
    return f"{text}: {value['why']}" if value.get("why") else text


def state_items(state: Any) -> list[tuple[str, str]]:
    """A stored state as (label, text) pairs, in a stable order, for people to read."""
    if not isinstance(state, dict):
        return []
    order = list(STATE_LABELS)
    keys = sorted(state, key=lambda k: (order.index(k) if k in order else len(order), k))
    return [
        (STATE_LABELS.get(k, k.replace("_", " ").capitalize()), _shown(k, state[k])) for k in keys
    ]


def chain_head(using: str) -> str:
    """The hash the next entry follows; call inside the transaction that writes it.

    On PostgreSQL a transaction-level advisory lock makes writers take turns until commit
    (it is taken before the read, so the read sees the entry the previous holder committed);
    SQLite's IMMEDIATE transactions (adminsite.E002) hold the database's write lock anyway.
    """
    connection = connections[using]
    # Plain SQL, not the ORM: this runs on every change, and compiling the query cost more
    # than the database spent on it.
    head = f"SELECT entry_hash FROM {connection.ops.quote_name(AuditEntry._meta.db_table)} "
    head += "ORDER BY id DESC LIMIT 1"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Both in one round trip: two statements, each with its own snapshot (READ
            # COMMITTED), so the read still starts after the lock is held.
            cursor.execute(f"SELECT pg_advisory_xact_lock({int(CHAIN_LOCK)}); {head}")
            if not cursor.nextset():
                raise DatabaseError("The chain head's read gave no result.")
        else:
            cursor.execute(head)
        row = cursor.fetchone()
    return chain.GENESIS if row is None else str(row[0])


def log_sealed(entry: AuditEntry) -> None:
    """One JSON line for a SIEM: the sealed entry with its hashes (never a secret: Org Desk
    records none; invitation links are never recorded)."""
    record = {name: getattr(entry, name) for name in SIEM_FIELDS}
    record["restores"] = entry.restores_id
    audit_logger.info(json.dumps(chain.plain(record), sort_keys=True))


SIEM_FIELDS = (
    "id",
    "created_at",
    "finished_at",
    "username",
    "action",
    "org_id",
    "org_name",
    "connection_id",
    "connection_name",
    "member_id",
    "job_id",
    "roles",
    "outcome",
    "status_code",
    "error",
    "message",
    "requested",
    "before",
    "after",
    "prev_hash",
    "entry_hash",
    "seal_hash",
)


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditImmutable("Audit entries cannot be deleted.")

    # Kept off the manager like Django's own QuerySet.delete: Django reads this function
    # attribute, which no stub declares.
    delete.queryset_only = True  # type: ignore[attr-defined]

    def update(self, **kwargs: Any) -> int:
        raise AuditImmutable("Audit entries cannot be edited.")

    def bulk_create(
        self,
        objs: Iterable[Any],
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Collection[str] | None = None,
        unique_fields: Collection[str] | None = None,
    ) -> list[Any]:
        """New entries only, chained in the order given, under the chain's lock."""
        if ignore_conflicts or update_conflicts:
            raise AuditImmutable("Audit entries cannot be edited once written.")
        entries: list[Any] = list(objs)  # AuditEntry (the stubs type super() generically)
        if any(e.pk is not None for e in entries):
            raise AuditImmutable("Audit entries cannot be edited once written.")
        with transaction.atomic(using=self.db):
            prev = chain_head(self.db)
            for entry in entries:
                chain.stamp(entry, prev)
                prev = entry.entry_hash
            created = super().bulk_create(entries, batch_size=batch_size)
            for entry in created:
                if entry.outcome != Outcome.PENDING and entry.pk is not None:
                    transaction.on_commit(partial(log_sealed, entry), using=self.db, robust=True)
        return created

    def _seal_row(self, pk: int, entry_hash: str, **changes: Any) -> int:
        """UPDATE the row `pk` with `changes` if it is pending and has `entry_hash`; 1 or 0.

        Plain SQL with each field's own conversion, not the ORM: this runs on every change,
        and compiling the UPDATE cost more than the database spent on it."""
        connection = connections[self.db]
        meta, quote = self.model._meta, connection.ops.quote_name
        fields = [meta.get_field(name) for name in changes]
        assignments = ", ".join(f"{quote(str(f.column))} = %s" for f in fields)  # type: ignore[union-attr]
        params = [
            f.get_db_prep_save(changes[f.name], connection)  # type: ignore[union-attr]
            for f in fields
        ]
        sql = (
            f"UPDATE {quote(meta.db_table)} SET {assignments} "
            "WHERE id = %s AND outcome = %s AND entry_hash = %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, pk, Outcome.PENDING.value, entry_hash])
            return int(cursor.rowcount)

    def seal(self, pk: int, *, written: AuditEntry | None = None, **fields: Any) -> int:
        """Record the outcome of a pending entry, once; returns 1, or 0 if already sealed.

        The new seal_hash is written with it; once committed, the entry is logged as one JSON
        line to `orgdesk.audit`.

        `written` is the entry as this process wrote it (adminsite.audit.recording): then the
        seal is one UPDATE, without reading the row back first. It matches only while the row
        is pending and still has the entry_hash written with it, so the seal covers the row
        that is stored, as when it is read first.
        """
        if not fields or not SEAL_FIELDS.issuperset(fields):
            raise AuditImmutable(f"Only {sorted(SEAL_FIELDS)} may be written when sealing.")
        if fields.get("outcome", Outcome.PENDING) == Outcome.PENDING:
            raise AuditImmutable("Sealing needs a final outcome.")
        # Only a pending row matches: an entry is sealed once, and then never changes.
        pending = self.filter(pk=pk, outcome=Outcome.PENDING)
        if written is not None and written.pk == pk and written.entry_hash:
            copied = copy.copy(written)
            for name, value in fields.items():
                setattr(copied, name, value)
            copied.seal_hash = chain.seal_hash(copied)
            # One statement: atomic by itself, no transaction around it.
            sealed = self._seal_row(pk, written.entry_hash, seal_hash=copied.seal_hash, **fields)
            if sealed:
                transaction.on_commit(partial(log_sealed, copied), using=self.db, robust=True)
            return sealed
        with transaction.atomic(using=self.db):
            entry = pending.first()
            if entry is None:
                return 0
            for name, value in fields.items():
                setattr(entry, name, value)
            entry.seal_hash = chain.seal_hash(entry)
            sealed = self._seal_row(pk, entry.entry_hash, seal_hash=entry.seal_hash, **fields)
            if sealed:
                transaction.on_commit(partial(log_sealed, entry), using=self.db, robust=True)
        return sealed


class AuditEntry(models.Model):
    """Who did what to which organization, what it was before, and how it ended."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The username is kept as text: deleting the user (SET_NULL) loses nothing.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
        editable=False,
    )
    username = models.CharField(max_length=150, db_index=True, editable=False)
    action = models.CharField(max_length=32, choices=Action.choices, editable=False)
    org_id = models.CharField("organization id", max_length=64, db_index=True, editable=False)
    org_name = models.CharField("organization", max_length=255, blank=True, editable=False)
    connection_id = models.CharField(max_length=64, blank=True, editable=False)
    connection_name = models.CharField(max_length=255, blank=True, editable=False)
    member_id = models.CharField("member user id", max_length=255, blank=True, editable=False)
    roles = models.JSONField(default=list, blank=True, editable=False)  # [{"id", "name"}]
    before = models.JSONField(null=True, blank=True, editable=False)
    requested = models.JSONField(default=dict, blank=True, editable=False)
    after = models.JSONField(null=True, blank=True, editable=False)
    outcome = models.CharField(
        max_length=16,
        choices=Outcome.choices,
        default=Outcome.PENDING,
        db_index=True,
        editable=False,
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    error = models.CharField(max_length=64, blank=True, editable=False)  # e.g. timeout
    message = models.TextField(blank=True, editable=False)  # Auth0's message; never a secret
    restores = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="restorations",
        editable=False,
        help_text="For a restore: the remove_connection entry it undoes.",
    )
    # The bulk job (adminsite.jobs) this entry is one item of. An id, not a foreign key: jobs
    # may be deleted, entries never are. Covered by entry_hash when set (chain.py).
    job_id = models.UUIDField("job", null=True, blank=True, db_index=True, editable=False)
    # The hash chain (adminsite.audit.chain), written with the entry and, seal_hash, at sealing.
    prev_hash = models.CharField(max_length=64, default="", editable=False)
    entry_hash = models.CharField(max_length=64, default="", editable=False)
    seal_hash = models.CharField(max_length=64, default="", editable=False)

    objects = AuditQuerySet.as_manager()

    class Meta:
        db_table = "adminsite_auditentry"  # the table predates the audit app: kept, not moved
        ordering = ["-created_at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["org_id", "-created_at"], name="audit_org_newest"),
            models.Index(fields=["username", "-created_at"], name="audit_user_newest"),
        ]

    def __str__(self) -> str:
        when = timezone.localtime(self.created_at).strftime("%Y-%m-%d %H:%M:%S")
        return f"#{self.pk} {when} {self.username}: {self.get_action_display()} ({self.outcome})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None or not self._state.adding:
            raise AuditImmutable("Audit entries cannot be edited once written.")
        kwargs["force_insert"] = True
        using = kwargs.get("using") or router.db_for_write(type(self), instance=self)
        if connections[using].vendor == "postgresql" and set(kwargs) <= {"force_insert", "using"}:
            self._insert_chained(using)
            return
        with transaction.atomic(using=using):
            chain.stamp(self, chain_head(using))
            super().save(*args, **kwargs)
            if self.outcome != Outcome.PENDING:  # written sealed (imports, tests)
                transaction.on_commit(partial(log_sealed, self), using=using, robust=True)

    def _insert_chained(self, using: str) -> None:
        """Write this new entry on PostgreSQL in one statement: the chain's lock, its head and
        the insert, with the hashes finished by the database from the head it read.

        `adminsite_auditentry_append` (migration 0005) does it: a function, so the server plans
        its statements once per connection, and one statement, so outside a transaction it is
        one implicit transaction that holds the advisory lock until the entry is committed.
        Its head is read after the lock is held (each statement of the function has its own
        snapshot), so it sees the entry the lock's previous holder committed. Inside a
        transaction (`atomic`) it is part of it. What the database hashed is checked against
        the hashes computed here (adminsite.audit.chain): one format, two writers.
        """
        connection = connections[using]
        row: dict[str, Any] = {}
        for field in self._meta.concrete_fields:
            if field.primary_key or field.name in CHAIN_COLUMNS:
                continue
            value = field.pre_save(self, add=True)
            if not isinstance(field, models.JSONField):  # JSON goes in as it is
                value = field.get_db_prep_save(value, connection)
                if isinstance(value, datetime.datetime):
                    value = value.isoformat()  # microseconds and offset kept
                elif isinstance(value, uuid.UUID):
                    value = str(value)
            row[str(field.column)] = value
        entry_before, entry_after = chain.around(chain.entry_values(self), "prev_hash")
        seal_before, seal_after = chain.around(chain.seal_values(self), "entry_hash")
        params: list[int | str] = [
            int(CHAIN_LOCK),
            json.dumps(row),
            chain.GENESIS,
            entry_before,
            entry_after,
            seal_before,
            seal_after,
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT * FROM adminsite_auditentry_append(%s, %s::jsonb, %s, %s, %s, %s, %s)",
                params,
            )
            self.pk, self.prev_hash, self.entry_hash, self.seal_hash = cursor.fetchone()
        self._state.adding, self._state.db = False, using
        # The texts around the head are canonical JSON with the hash cut out (chain.around):
        # hashing them with the head it read is hashing the entry as chain.entry_hash would.
        entry_hash = chain.sha256_hex(entry_before + self.prev_hash + entry_after)
        seal_hash = chain.sha256_hex(seal_before + entry_hash + seal_after)
        if (self.entry_hash, self.seal_hash) != (entry_hash, seal_hash):
            raise DatabaseError(f"Audit entry #{self.pk}: the database hashed it differently.")
        if self.outcome != Outcome.PENDING:  # written sealed (imports, tests)
            transaction.on_commit(partial(log_sealed, self), using=using, robust=True)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditImmutable("Audit entries cannot be deleted.")

    def get_absolute_url(self) -> str:
        return reverse("audit:detail", args=[self.pk])

    # --- Presentation helpers (used by the audit pages and the admin) -----------------------

    @property
    def known_connection_name(self) -> str:
        """The connection's name as Org Desk read it ("" when unknown).

        A removal's before-state is the settings read from Auth0 (the confirm step's read or
        the read just before the change), so its name is preferred to the stored column.
        """
        named = self.before.get("name") if isinstance(self.before, dict) else None
        return str(named or self.connection_name or "")

    @property
    def connection_label(self) -> str:
        """The connection's name, or its id saying that the name is unknown."""
        return labelled(self.known_connection_name, self.connection_id)

    @property
    def org_label(self) -> str:
        """The organization's display name, or its id saying that the name is unknown."""
        return labelled(self.org_name, self.org_id)

    @property
    def target(self) -> str:
        return self.member_id or self.connection_label

    @property
    def restored_by(self) -> AuditEntry | None:
        """The successful restore of this removal (uses prefetched restorations if any)."""
        return next((r for r in self.restorations.all() if r.outcome == Outcome.SUCCESS), None)

    @property
    def before_items(self) -> list[tuple[str, str]]:
        return state_items(self.before)

    @property
    def after_items(self) -> list[tuple[str, str]]:
        return state_items(self.after)

    @property
    def requested_items(self) -> list[tuple[str, str]]:
        return state_items(self.requested)

    @property
    def uncertain(self) -> bool:
        """Failed in a way after which Auth0 may or may not have applied the change."""
        return self.outcome == Outcome.PENDING or (
            self.outcome == Outcome.FAILED
            and self.error in ("timeout", "connection", "bad_response", "unexpected")
        )

    @property
    def member_name(self) -> str:
        """The member's name (or email) as Auth0 gave it when the change was recorded ("" when
        unknown): a member change records the person it names in `requested`."""
        asked = self.requested if isinstance(self.requested, dict) else {}
        people = [asked.get("member")] + list(asked.get("members") or [])
        for person in people:
            if isinstance(person, dict) and person.get("user_id") == self.member_id:
                return str(person.get("name") or person.get("email") or "")
        return ""

    @property
    def role_names(self) -> str:
        return ", ".join(
            labelled(str(r.get("name") or ""), str(r.get("id") or "?")) for r in self.roles or []
        )

    @property
    def is_restorable(self) -> bool:
        """A successful removal its kind's Restorer can give back (adminsite.audit.restorers)."""
        from adminsite.audit import restorers

        return restorers.for_entry(self) is not None


@checks.register()
def audit_writes_are_not_rolled_back(**kwargs: Any) -> list[checks.CheckMessage]:
    """A pending audit entry must survive the request failing: no ATOMIC_REQUESTS."""
    return [
        checks.Error(
            f"DATABASES[{alias!r}]['ATOMIC_REQUESTS'] is on: a failing request would roll "
            "back its audit entry.",
            hint="Org Desk writes audit entries in autocommit mode; turn ATOMIC_REQUESTS off.",
            id="adminsite.E001",
        )
        for alias, db in settings.DATABASES.items()
        if db.get("ATOMIC_REQUESTS")
    ]


@checks.register()
def sqlite_transactions_take_the_write_lock(**kwargs: Any) -> list[checks.CheckMessage]:
    """SQLite ignores row locks: only IMMEDIATE transactions make a restore's check atomic."""
    return [
        checks.Error(
            f"DATABASES[{alias!r}] is SQLite without OPTIONS['transaction_mode'] = "
            "'IMMEDIATE': two concurrent restores of one removal could both be sent to Auth0.",
            hint="Set DATABASES[...]['OPTIONS']['transaction_mode'] = 'IMMEDIATE' for SQLite.",
            id="adminsite.E002",
        )
        for alias, db in settings.DATABASES.items()
        if db.get("ENGINE") == "django.db.backends.sqlite3"
        and str(db.get("OPTIONS", {}).get("transaction_mode", "")).upper() != "IMMEDIATE"
    ]
