"""Recording changes in the audit log: the only code that writes `AuditEntry` rows.

A view wraps its upstream change in `record(...)`:

    with audit.record(request, action=Action.REMOVE_CONNECTION, org_id=..., ...) as entry:
        entry.before = ...                     # the state before, when it is known
        auth0.remove_enabled_connection(...)   # the one upstream change

The entry is written as `pending` when the block is entered (if that write fails, the block
never runs, so nothing changes upstream without an entry) and sealed when it is left:
`success`, or `failed` with the upstream status, error kind and Auth0's message, whatever the
exception (a timeout, a dropped connection, a bug). A process that dies mid-call leaves the
entry `pending`, which the audit page shows as "outcome unknown". The exception is re-raised
for the view to turn into a flash message.

Both writes extend the log's hash chain (adminsite.audit.chain); sealing also logs the entry as
one JSON line to the `orgdesk.audit` logger (AuditQuerySet.seal), for a SIEM.

A request's seals are written once its answer is sent (adminsite.afteranswer): the person does
not wait for the database, and the thread writes them before it takes another request. The
pending entry is committed before the call either way, so a process that dies in between leaves
"outcome unknown", as one that dies mid-call does. An answer that sends the browser elsewhere (a
redirect) seals first, because the next page may show the log. Jobs (no request) and a request
inside a transaction (the entry is not committed yet) seal at once.

Before-states come without extra upstream calls where possible: the confirm step of a removal
stashes the connection's settings here (`stash_connection`), and organization pages remember
display names (`remember_org`), both in Django's cache.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from types import TracebackType
from typing import Any, Literal
from uuid import UUID

from django.contrib.auth.models import AnonymousUser, User
from django.db import connections, router, transaction
from django.http import HttpRequest
from django.utils import timezone

from adminsite import afteranswer, auth0, memo, readahead
from adminsite.audit.models import Action, AuditEntry, Outcome

logger = logging.getLogger(__name__)

STASH_TTL = 300  # seconds a confirm step's before-state stays usable
ORG_NAME_TTL = 3600
MAX_MESSAGE = 1000


# --- Recording ---------------------------------------------------------------------------------


class Recording:
    """Context manager around one upstream change; yields itself to collect state."""

    def __init__(
        self,
        request: HttpRequest | None,
        *,
        author: User | None = None,
        author_name: str = "",
        **fields: Any,
    ) -> None:
        self.request = request
        self.author = author
        self.author_name = author_name
        self.fields = fields
        self.entry: AuditEntry | None = None
        self.before: Any = fields.pop("before", None)
        self.after: Any = None
        self.roles: list[dict[str, str]] = fields.pop("roles", [])
        self._succeeded = False
        self._not_sent: str | None = None
        self._failed_as: dict[str, Any] | None = None

    def succeeded(self) -> None:
        """The upstream change is done: whatever fails later in the block, it happened."""
        self._succeeded = True

    def not_sent(self, reason: str) -> None:
        """Org Desk decided not to call Auth0 (the block should end without calling)."""
        self._not_sent = reason

    def failed_as(self, *, error: str, message: str, status_code: int | None = None) -> None:
        """If the block ends with an exception, record this failure rather than the one read
        from the exception (the caller knows better what it means for this entry)."""
        self._failed_as = {
            "error": error[:64],
            "message": message[:MAX_MESSAGE],
            "status_code": status_code,
        }

    def __enter__(self) -> Recording:
        if self.entry is None:
            self.open()
        return self

    def open(self) -> AuditEntry:
        """Write the pending entry now (`with` does it unless this was called first).

        Called on its own inside `locked(...)`, the entry is written under the same lock as
        the check that allowed the attempt, so no second attempt can pass the same check.
        """
        user: User | AnonymousUser | None = getattr(self.request, "user", self.author)
        author = user if user is not None and user.is_authenticated else None
        if author is not None:
            username = author.get_username()
        else:  # a job whose author was deleted keeps their name (adminsite.jobs)
            username = self.author_name or "(anonymous)"
        self.entry = AuditEntry.objects.create(
            user=author,
            username=username,
            before=self.before,
            roles=self.roles,
            **self.fields,
        )
        return self.entry

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        fields: dict[str, Any] = {"before": self.before, "after": self.after, "roles": self.roles}
        if exc is None or self._succeeded:
            if self._not_sent is not None and not self._succeeded:
                fields.update(outcome=Outcome.NOT_SENT, message=self._not_sent[:MAX_MESSAGE])
            else:
                fields["outcome"] = Outcome.SUCCESS
                if exc is not None:
                    fields["message"] = (
                        f"The change was made; Org Desk then failed ({type(exc).__name__})."
                    )
        else:
            fields.update(outcome=Outcome.FAILED, **(self._failed_as or failure(exc)))
        self._seal(fields)
        return False  # never swallow the exception: the view reports it

    def _seal(self, fields: dict[str, Any]) -> None:
        assert self.entry is not None
        fields["finished_at"] = timezone.now()
        # The entry as written, for the seal to check against the stored row; this request
        # goes on with the outcome set, and the seal is written once its answer is sent.
        written = copy.copy(self.entry)
        if _seal_later(written, fields) or _write_seal(self.entry, fields):
            for name, value in fields.items():
                setattr(self.entry, name, value)


def _write_seal(entry: AuditEntry, fields: dict[str, Any]) -> bool:
    """Seal the pending entry with its outcome; False (and logged) if the database failed:
    the entry then stays pending, which the audit page shows as "outcome unknown"."""
    try:
        AuditEntry.objects.seal(entry.pk, written=entry, **fields)
    except Exception:
        logger.exception("Could not record the outcome of audit entry %s", entry.pk)
        return False
    return True


# --- Sealing after the answer ------------------------------------------------------------------

_in_flight = 0  # seals of this process left for after their answer, not written yet
_written = threading.Condition()


def _seal_later(entry: AuditEntry, fields: dict[str, Any]) -> bool:
    """Leave the seal for after the request's answer (adminsite.afteranswer); False when it
    must be written now: outside a request, or inside a transaction (the pending entry is not
    committed, and a rollback would take a seal written later with it)."""
    global _in_flight
    if connections[router.db_for_write(AuditEntry)].in_atomic_block:
        return False
    if not afteranswer.defer(partial(_write_counted, entry, fields)):
        return False
    with _written:  # counted before this thread can write it: after its answer is sent
        _in_flight += 1
    return True


def _write_counted(entry: AuditEntry, fields: dict[str, Any]) -> None:
    global _in_flight
    try:
        _write_seal(entry, fields)
    finally:
        with _written:
            _in_flight -= 1
            _written.notify_all()


def wait_for_seals(timeout: float = 1.0) -> bool:
    """Wait (at most `timeout` seconds) until the seals this process left for after their
    answers are written: the audit pages call it first, so that a person who opens the log
    right after a change finds its outcome. False if some were still unwritten."""
    with _written:
        return _written.wait_for(lambda: _in_flight == 0, timeout=timeout)


def record(
    request: HttpRequest | None,
    *,
    action: Action,
    org_id: str,
    org_name: str = "",
    connection_id: str = "",
    connection_name: str = "",
    member_id: str = "",
    roles: list[dict[str, str]] | None = None,
    before: Any = None,
    requested: Mapping[str, object] | None = None,
    restores: AuditEntry | None = None,
    job_id: UUID | None = None,
    author: User | None = None,
    author_name: str = "",
) -> Recording:
    """An audit entry for one change attempt; use as `with record(...) as entry:`.

    A background job has no request: it passes `request=None`, the job's `author` (None once
    that user was deleted) and `author_name` (the username the job keeps), and its `job_id`."""
    return Recording(
        request,
        author=author,
        author_name=author_name,
        job_id=job_id,
        action=action,
        org_id=org_id,
        org_name=(org_name or cached_org_name(org_id))[:255],
        connection_id=connection_id,
        connection_name=connection_name[:255],
        member_id=member_id,
        roles=roles or [],
        before=before,
        requested=requested or {},
        restores=restores,
    )


@contextmanager
def locked(entry: AuditEntry) -> Iterator[AuditEntry]:
    """A transaction holding a lock on `entry`, for a check-then-write decision about it.

    On databases with row locks (Postgres) this is SELECT ... FOR UPDATE on the entry's row:
    a second request waits at that line until the first one's block has committed, then sees
    what it wrote. SQLite has no row locks and ignores FOR UPDATE; there the settings start
    every transaction IMMEDIATE, which takes the database's single write lock at BEGIN, so
    the blocks run one after the other (checked at start-up by adminsite.E002). Keep the
    block short and free of upstream calls: it holds the lock until it ends.
    """
    with transaction.atomic():
        yield AuditEntry.objects.select_for_update().get(pk=entry.pk)


def failure(exc: BaseException) -> dict[str, Any]:
    """status_code, error kind and message of a failed attempt; never a secret."""
    if isinstance(exc, auth0.Auth0Error):
        return {
            "status_code": exc.status_code,
            "error": error_kind(exc),
            "message": (exc.message or str(exc))[:MAX_MESSAGE],
        }
    if isinstance(exc, auth0.InvalidId):
        return {"error": "invalid_id", "message": str(exc)[:MAX_MESSAGE]}
    # Anything else (a bug, a worker killed mid-call): the type only, str(exc) could hold data.
    return {
        "error": "unexpected",
        "message": f"Org Desk hit an unexpected error ({type(exc).__name__}); "
        "whether Auth0 applied the change is unknown.",
    }


def error_kind(exc: auth0.Auth0Error) -> str:
    match exc:
        case auth0.Unavailable():
            return exc.reason
        case auth0.Forbidden() if exc.missing_scopes:
            return "insufficient_scope"
        case auth0.RateLimited():
            return "rate_limited"
        case auth0.NotFound():
            return "not_found"
        case auth0.Conflict():
            return "conflict"
    return (auth0.errors.redact_code(exc.error_code) or type(exc).__name__)[:64]


# --- Before-states without extra upstream calls ------------------------------------------------


def connection_settings(enabled: auth0.EnabledConnection) -> dict[str, Any]:
    """What a restore needs to put an enabled connection back as it was."""
    return {
        "name": enabled.name,
        "strategy": enabled.strategy,
        "assign_membership_on_login": enabled.assign_membership_on_login,
        "show_as_button": enabled.show_as_button,
        "is_signup_enabled": enabled.is_signup_enabled,
    }


def connection_stash_key(owner: str, org_id: str, connection_id: str) -> str:
    """The key of a confirm step's stash of a connection (`owner`: adminsite.readahead)."""
    return f"audit:before:{owner}:{org_id}:{connection_id}"


def _stash_key(request: HttpRequest, org_id: str, connection_id: str) -> str:
    return connection_stash_key(readahead.owner_of(request), org_id, connection_id)


def stash_connection(request: HttpRequest, org_id: str, enabled: auth0.EnabledConnection) -> None:
    """Keep what the confirm step (or a change) just fetched, to be the before-state of the
    next change; written once the answer is sent (see stash_member_roles)."""
    key = _stash_key(request, org_id, enabled.connection_id)
    memo.set_after_answer({key: connection_settings(enabled)}, timeout=STASH_TTL)


def _with_org_name(org_id: str, key: str, *also: str) -> Any:
    """The cached value at `key`, read with the organization's display name (and `also`) in one
    round trip: the change's entry then takes the name without a read of its own
    (`cached_org_name`, the request's adminsite.memo)."""
    return memo.get_many([key, _org_name_key(org_id), *also]).get(key)


def read_ahead(org_id: str, *keys: str) -> None:
    """Read the organization's display name (its entry's label) and `keys` in one round trip,
    kept for the request (adminsite.memo): for a change whose view needs several indexes."""
    memo.get_many([_org_name_key(org_id), *keys])


def take_stash(org_id: str, key: str, *also: str) -> Any:
    """A confirm step's stash at `key`, used once: read and deleted with the organization's
    display name (and `also`, kept for the request by adminsite.memo) in one round trip."""
    value, _found = memo.take(key, _org_name_key(org_id), *also)
    return value


def stashed_connection(
    request: HttpRequest, org_id: str, connection_id: str, *also: str
) -> dict[str, Any] | None:
    """The confirm step's stash (kept for a next step), read with the organization's name and
    `also` (kept for the request by adminsite.memo) in one round trip."""
    value = _with_org_name(org_id, _stash_key(request, org_id, connection_id), *also)
    return value if isinstance(value, dict) else None


def take_connection(request: HttpRequest, org_id: str, connection_id: str) -> dict[str, Any] | None:
    """The confirm step's stash, used once: read and deleted in the same round trip."""
    value = take_stash(org_id, _stash_key(request, org_id, connection_id))
    return value if isinstance(value, dict) else None


def member_stash_key(owner: str, org_id: str, user_id: str) -> str:
    """The key of a stash of a member's roles (`owner`: adminsite.readahead)."""
    digest = hashlib.sha256(user_id.encode()).hexdigest()[:32]  # user ids hold any character
    return f"audit:roles:{owner}:{org_id}:{digest}"


def _member_key(request: HttpRequest, org_id: str, user_id: str) -> str:
    return member_stash_key(readahead.owner_of(request), org_id, user_id)


def stash_member_roles(
    request: HttpRequest, org_id: str, user_id: str, roles: list[auth0.Role]
) -> None:
    """Keep the roles the role picker just fetched, to be the before-state of the assignment.

    Written once the answer is sent (adminsite.afteranswer), as every confirm step's stash but
    the add-members review's (which the next step cannot do without): a next step that comes
    before it, a person could not click that fast, reads the state from Auth0 again."""
    value = [{"id": r.id, "name": r.name, "description": r.description} for r in roles]
    memo.set_after_answer({_member_key(request, org_id, user_id): value}, timeout=STASH_TTL)


def stashed_member_roles(
    request: HttpRequest, org_id: str, user_id: str
) -> list[auth0.Role] | None:
    return _as_roles(_with_org_name(org_id, _member_key(request, org_id, user_id)))


def take_member_roles(
    request: HttpRequest, org_id: str, user_id: str, *also: str
) -> list[auth0.Role] | None:
    """The role picker's or confirm step's stash, used once: read and deleted in the same
    round trip as the organization's name (and `also`, kept for the request)."""
    key = _member_key(request, org_id, user_id)
    return _as_roles(take_stash(org_id, key, *also))


def _as_roles(value: Any) -> list[auth0.Role] | None:
    if not isinstance(value, list):
        return None
    try:
        return [auth0.Role(id=r["id"], name=r["name"], description=r["description"]) for r in value]
    except (KeyError, TypeError):
        return None


def org_name_key(org_id: str) -> str:
    """The key of the organization's display name, for a view's read-ahead."""
    return _org_name_key(org_id)


def _org_name_key(org_id: str) -> str:
    return f"audit:org-name:{org_id}"


# What this process wrote last, by organization id: (display name, when). The same name is not
# written again within REMEMBER_AGAIN seconds (each page view would otherwise be a write).
_remembered: dict[str, tuple[str, float]] = {}
REMEMBER_AGAIN = 60.0
REMEMBERED_MAX = 10_000


def remember_org(org: auth0.Organization) -> None:
    """An organization page was shown: its display name labels later entries for free."""
    now = time.monotonic()
    last = _remembered.get(org.id)
    if last is not None and last[0] == org.display_name and now - last[1] < REMEMBER_AGAIN:
        return
    memo.set(_org_name_key(org.id), org.display_name, timeout=ORG_NAME_TTL)
    if len(_remembered) >= REMEMBERED_MAX:
        _remembered.clear()
    _remembered[org.id] = (org.display_name, now)


def forget_remembered() -> None:
    """Forget what this process wrote (the cache was cleared: tests)."""
    _remembered.clear()


def cached_org_name(org_id: str) -> str:
    """The display name an organization page last showed ("" when unknown); no cache read
    when this request read it already (with a confirm step's stash: adminsite.memo)."""
    value = memo.get(_org_name_key(org_id))
    return value if isinstance(value, str) else ""
