"""The audit log's hash chain: what each entry's hashes cover, and walking the chain.

Every entry carries three SHA-256 hashes (hex):

- `prev_hash`: the `entry_hash` of the entry before it (by id), or `GENESIS` for the first;
- `entry_hash`: the fields fixed when the entry is written (`ENTRY_FIELDS`) plus `prev_hash`,
  so an edited field, or an entry removed or inserted before it, no longer matches;
- `seal_hash`: `entry_hash` plus the outcome columns (`SEAL_FIELDS`), written with the
  pending entry and again when it is sealed, the one update an entry ever gets.

The hash of a set of values is SHA-256 over canonical JSON: keys sorted, no spaces, ASCII
escapes, datetimes as UTC ISO strings with microseconds, integral floats as integers (what
PostgreSQL's jsonb gives back for 1e16 is 10000000000000000). The values are those the
database gives back, so a hash computed before the insert matches the row read later.

The chain has no secret: it proves that nobody edited, removed or inserted an entry without
rewriting every hash after it. The Postgres trigger (migration 0003) refuses edits in the
database; `manage.py verify_audit` walks the chain; the `orgdesk.audit` JSON lines hold each
entry's hashes outside the database, so even a rewritten tail can be compared with them.

This module is the format: the migration that chained existing entries imports it. Changing
what a hash covers breaks every stored hash; a new column is covered by neither hash until a
new format says so (tests/audit/test_chain.py lists every column on purpose).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

GENESIS = "0" * 64

# Fixed when the entry is written. `user_id` is left out: deleting a Django user sets it to
# NULL (on_delete=SET_NULL); the entry keeps the username, which is covered.
ENTRY_FIELDS = (
    "created_at",
    "username",
    "action",
    "org_id",
    "org_name",
    "connection_id",
    "connection_name",
    "member_id",
    "requested",
    "restores_id",
)
# Fixed when the entry is written, and covered only when set: an entry without it hashes
# exactly as before the column existed, so every stored hash stays valid (no new format);
# one with it cannot lose, gain or change it unseen. `job_id`: the bulk job of the entry.
OPTIONAL_ENTRY_FIELDS = ("job_id",)
# Written with the pending entry and once more when it is sealed (models.SEAL_FIELDS).
SEAL_FIELDS = (
    "outcome",
    "status_code",
    "error",
    "message",
    "finished_at",
    "before",
    "after",
    "roles",
)


def plain(value: Any) -> Any:
    """A value as canonical JSON holds it (see the module's docstring)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value  # json.dumps raises for anything a JSONField could not hold either


def canonical(values: dict[str, Any]) -> str:
    """The text a hash is taken of (ASCII)."""
    return json.dumps(plain(values), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def digest(values: dict[str, Any]) -> str:
    return sha256_hex(canonical(values))


def sha256_hex(text: str) -> str:
    """The hash of a canonical text (ASCII), as the chain stores it."""
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def around(values: dict[str, Any], key: str) -> tuple[str, str]:
    """The canonical text of `values` with `key`'s value cut out: (before, after), such that
    SHA-256 of `before + h + after` is `digest(values | {key: h})` for any hex hash `h`.

    For a database to finish a hash whose last input only it knows: the PostgreSQL insert
    (models.AuditEntry.save) reads the chain's head and hashes in the same statement. The cut
    is found by a random mark, which no other value can contain by chance."""
    mark = secrets.token_hex(32)
    before, found, after = canonical({**values, key: mark}).partition(f'"{mark}"')
    if not found or mark in after:
        raise ValueError("the mark is not in the text exactly once")
    return before + '"', '"' + after


def entry_values(entry: Any) -> dict[str, Any]:
    """What an entry's entry_hash covers, except its link (`prev_hash`)."""
    values = {name: getattr(entry, name) for name in ENTRY_FIELDS}
    for name in OPTIONAL_ENTRY_FIELDS:
        value = getattr(entry, name, None)
        if value is not None:
            values[name] = UUID(str(value)) if name == "job_id" else value
    return values


def seal_values(entry: Any) -> dict[str, Any]:
    """What an entry's seal_hash covers, except its binding to the entry (`entry_hash`)."""
    return {name: getattr(entry, name) for name in SEAL_FIELDS}


def entry_hash(entry: Any) -> str:
    """The hash of an entry's fixed fields and its link to the entry before it."""
    return digest({**entry_values(entry), "prev_hash": entry.prev_hash})


def seal_hash(entry: Any) -> str:
    """The hash of an entry's outcome columns, bound to the entry by its entry_hash."""
    return digest({**seal_values(entry), "entry_hash": entry.entry_hash})


def stamp(entry: Any, prev_hash: str) -> None:
    """Set the hashes of an entry about to be written after the entry whose hash is given."""
    entry.prev_hash = prev_hash
    entry.entry_hash = entry_hash(entry)
    entry.seal_hash = seal_hash(entry)


# --- Walking the chain -------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """The first entry that does not match the chain, and how."""

    pk: int
    created_at: datetime
    problem: str

    def __str__(self) -> str:
        when = self.created_at.astimezone(UTC).isoformat(timespec="seconds")
        return f"entry #{self.pk} (created {when}): {self.problem}"


@dataclass
class Walk:
    """How far a walk got: entries checked, pending among them, the last one, the break."""

    checked: int = 0
    pending: int = 0
    last_pk: int | None = None
    last_hash: str = GENESIS
    broken: Break | None = None


def problem(entry: Any, prev_pk: int | None, prev_hash: str) -> str | None:
    """What is wrong with one entry, which follows the entry `prev_pk` (hash `prev_hash`)."""
    if entry.prev_hash != prev_hash:
        after = "the start of the log" if prev_pk is None else f"#{prev_pk}"
        return f"it does not follow {after} (an entry before it was removed or inserted)"
    if entry.entry_hash != entry_hash(entry):
        return "its fields do not match its hash (edited?)"
    if entry.seal_hash != seal_hash(entry):
        return "its outcome does not match its seal (edited?)"
    return None


def walk(entries: Iterable[Any], *, pending: str = "pending") -> Walk:
    """Check entries in id order; stops at the first that does not match."""
    result = Walk()
    for entry in entries:
        found = problem(entry, result.last_pk, result.last_hash)
        if found is not None:
            result.broken = Break(entry.pk, entry.created_at, found)
            return result
        result.checked += 1
        result.pending += entry.outcome == pending
        result.last_pk, result.last_hash = entry.pk, entry.entry_hash
    return result


def batches(queryset: Any, size: int = 2000) -> Iterator[Any]:
    """Entries in id order, `size` at a time by keyset (memory stays flat, writes allowed)."""
    last = 0
    while True:
        chunk = list(queryset.filter(pk__gt=last).order_by("pk")[:size])
        yield from chunk
        if len(chunk) < size:
            return
        last = chunk[-1].pk
