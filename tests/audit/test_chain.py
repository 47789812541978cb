"""The audit log proves it was not edited (issue #14): a hash chain that `verify_audit` walks, a
Postgres trigger that refuses edits in the database itself, and one JSON line per sealed entry
for a SIEM.

Edits "behind Django's back" are raw SQL, as someone with the database's password would run
it; on PostgreSQL with the table's triggers switched off first, as its owner could.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from adminsite.audit import chain
from adminsite.audit.models import Action, AuditEntry, AuditImmutable, Outcome
from tests.audit.helpers import confirm_and_remove, enabled_by_name, make_entry

TABLE = "adminsite_auditentry"
HEX64 = re.compile(r"\A[0-9a-f]{64}\Z")

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the trigger exists on PostgreSQL only (SQLite: Django refuses edits, AuditImmutable)",
)


def verify() -> str:
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def verify_fails() -> str:
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit", stdout=io.StringIO())
    return str(caught.value)


def checked_now() -> None:
    """Run the foreign-key checks Postgres defers to commit (the test's transaction never
    commits): ALTER TABLE and TRUNCATE refuse to run while such checks are pending."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def behind_djangos_back(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            checked_now()
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        cursor.execute(sql, params or [])
        if connection.vendor == "postgresql":
            checked_now()
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")


def three_entries() -> list[AuditEntry]:
    first = make_entry(connection_name="first")
    second = make_entry(connection_name="second", outcome=Outcome.FAILED, status_code=500)
    third = make_entry(connection_name="third", outcome=Outcome.PENDING)
    return [first, second, third]


# --- The chain -------------------------------------------------------------------------------


def test_every_column_is_covered_by_a_hash_or_named_here() -> None:
    """A new column is covered by no hash until chain.py's format says so: decide, here."""
    columns = {f.attname for f in AuditEntry._meta.concrete_fields}
    not_hashed = {"id", "user_id", "prev_hash", "entry_hash", "seal_hash"}
    hashed = set(chain.ENTRY_FIELDS) | set(chain.OPTIONAL_ENTRY_FIELDS) | set(chain.SEAL_FIELDS)
    assert columns == hashed | not_hashed
    assert not set(chain.ENTRY_FIELDS) & set(chain.SEAL_FIELDS)


def test_entries_are_chained_when_written_and_when_sealed(db) -> None:
    first = make_entry(outcome=Outcome.PENDING, before=None)
    second = make_entry(outcome=Outcome.SUCCESS)
    assert first.prev_hash == chain.GENESIS
    assert second.prev_hash == first.entry_hash != second.entry_hash
    stored = AuditEntry.objects.get(pk=first.pk)
    assert all(HEX64.match(h) for h in (stored.entry_hash, stored.seal_hash, second.seal_hash))
    # The hashes computed before the insert match the row as the database gives it back.
    assert (stored.entry_hash, stored.seal_hash) == (first.entry_hash, first.seal_hash)
    assert stored.entry_hash == chain.entry_hash(stored)
    assert stored.seal_hash == chain.seal_hash(stored)

    assert AuditEntry.objects.seal(first.pk, outcome=Outcome.SUCCESS, before={"x": 1.0}) == 1
    sealed = AuditEntry.objects.get(pk=first.pk)
    assert sealed.entry_hash == first.entry_hash  # what was fixed at creation did not change
    assert sealed.seal_hash != first.seal_hash
    assert sealed.seal_hash == chain.seal_hash(sealed)
    third = make_entry()
    assert third.prev_hash == second.entry_hash


def test_bulk_written_entries_are_chained_in_order(db) -> None:
    make_entry()
    AuditEntry.objects.bulk_create(
        AuditEntry(username="bulk", action=Action.REMOVE_ROLE, org_id="org_b", member_id=str(i))
        for i in range(5)
    )
    assert "Checked 6 entries (5 pending): the chain is intact." in verify()
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.bulk_create([AuditEntry(username="x")], ignore_conflicts=True)


def test_canonical_values_match_what_the_databases_give_back() -> None:
    """jsonb gives 1e16 back as 10000000000000000 and 2.0 as 2.0: the hash must not differ."""
    assert chain.digest({"a": [1e16, 2.0, (1, "x")]}) == chain.digest({"a": [10**16, 2, [1, "x"]]})
    assert chain.digest({"a": 0.5}) != chain.digest({"a": 0.25})
    assert chain.digest({"b": 1, "a": 2}) == chain.digest({"a": 2, "b": 1})


AWKWARD = {
    "connection_name": 'quote " backslash \\ percent %s %(x)s é 😀',
    "org_name": "'; DROP TABLE adminsite_auditentry; --",
    "requested": {"prev_hash": "x", "entry_hash": "y", "nested": [1.5, None, "\u2028"]},
    "before": {"entry_hash": "0" * 64, "name": "ünïcode"},
}


@pytest.mark.parametrize("key", ["prev_hash", "entry_hash", "zzz", "aaa"])
def test_a_hash_finished_from_the_text_around_a_value_is_the_same_hash(key) -> None:
    """chain.around: what the database gets to finish a hash; the same values may appear
    elsewhere in the text (nested keys of the same name)."""
    values = {**AWKWARD, "created_at": None, "n": 10**16}
    before, after = chain.around(values, key)
    for value in (chain.GENESIS, "ab" * 32):
        text = (before + value + after).encode("ascii")
        assert hashlib.sha256(text).hexdigest() == chain.digest({**values, key: value})


def test_an_entry_written_on_postgres_is_one_query_and_its_hashes_are_pythons(db) -> None:
    """On PostgreSQL the lock, the head's read and the insert are one statement (the function
    of migration 0005), and the database's hashes of awkward text are the ones Python computes
    (the insert checks too)."""
    make_entry()
    with CaptureQueriesContext(connection) as captured:
        entry = make_entry(outcome=Outcome.PENDING, **AWKWARD)
    if connection.vendor == "postgresql":
        [query] = captured.captured_queries
        assert query["sql"].startswith("SELECT * FROM adminsite_auditentry_append(")
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.connection_name, stored.org_name) == (
        AWKWARD["connection_name"],
        AWKWARD["org_name"],
    )
    assert stored.requested == AWKWARD["requested"] and stored.before == AWKWARD["before"]
    assert (stored.prev_hash, stored.entry_hash, stored.seal_hash) == (
        entry.prev_hash,
        entry.entry_hash,
        entry.seal_hash,
    )
    assert stored.entry_hash == chain.entry_hash(stored) != chain.GENESIS
    assert stored.seal_hash == chain.seal_hash(stored)
    assert entry._state.adding is False and entry._state.db == "default"
    assert "Checked 2 entries (1 pending): the chain is intact." in verify()


def test_every_kind_of_column_is_stored_as_python_hashed_it(db, django_user_model) -> None:
    """Each column's kind through the writer (on PostgreSQL, JSON into the table's row type):
    a user, a job, an entry it restores, a status, times with microseconds, JSON null."""
    user = django_user_model.objects.create(username="olivia")
    first = make_entry()
    job = uuid.UUID("6f2c1a6e-1b5d-4f7e-9a3c-0d1e2f3a4b5c")
    when = datetime.datetime(2026, 11, 30, 4, 5, 6, 789012, tzinfo=datetime.UTC)
    entry = make_entry(
        user=user,
        job_id=job,
        restores=first,
        status_code=204,
        created_at=when,
        finished_at=when + datetime.timedelta(microseconds=1),
        before=None,
        after={"n": 10**16, "x": 1.5, "list": [True, None]},
        roles=[{"id": "rol_1", "name": "Räder"}],
        message="line one\nline two",
    )
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert (stored.user_id, stored.job_id, stored.restores_id) == (user.pk, job, first.pk)
    assert (stored.status_code, stored.created_at, stored.finished_at) == (
        204,
        when,
        when + datetime.timedelta(microseconds=1),
    )
    assert stored.before is None and stored.after == {"n": 10**16, "x": 1.5, "list": [True, None]}
    assert stored.roles == [{"id": "rol_1", "name": "Räder"}]
    assert stored.message == "line one\nline two"
    assert stored.prev_hash == first.entry_hash
    assert stored.entry_hash == chain.entry_hash(stored) == entry.entry_hash
    assert "Checked 2 entries (0 pending): the chain is intact." in verify()


def test_an_entry_the_database_hashed_differently_is_refused(db, monkeypatch) -> None:
    """On PostgreSQL the database finishes the hashes: the writer checks them against its own
    (from the texts it sent), and a difference is an error, not a silent link in the chain."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's entries are hashed by Python alone")
    make_entry()
    monkeypatch.setattr(chain, "sha256_hex", lambda text: "0" * 64)
    with pytest.raises(DatabaseError, match="hashed it differently"):
        make_entry()


def test_an_entry_written_inside_a_transaction_goes_with_it(db) -> None:
    first = make_entry()
    with pytest.raises(RuntimeError), transaction.atomic():
        make_entry(org_name="rolled back")
        raise RuntimeError("the block failed")
    after = make_entry()
    assert after.prev_hash == first.entry_hash
    assert not AuditEntry.objects.filter(org_name="rolled back").exists()
    assert "Checked 2 entries (0 pending): the chain is intact." in verify()


# --- verify_audit --------------------------------------------------------------------------


def test_verify_passes_on_an_empty_log(db) -> None:
    assert verify().strip() == "Checked 0 entries: the audit log is empty."


def test_verify_passes_on_a_fresh_log_with_pending_and_sealed_entries(
    operator_client, tenant, acme
) -> None:
    for name in ("acme-saml", "acme-ad"):
        confirm_and_remove(operator_client, acme, enabled_by_name(acme, name).connection_id)
    make_entry(outcome=Outcome.PENDING)
    last = make_entry(outcome=Outcome.NOT_SENT, message="Auth0 allows at most 50 roles")
    assert [e.outcome for e in AuditEntry.objects.order_by("pk")] == [
        Outcome.SUCCESS,
        Outcome.SUCCESS,
        Outcome.PENDING,
        Outcome.NOT_SENT,
    ]
    assert verify().strip() == (
        "Checked 4 entries (1 pending): the chain is intact. "
        f"Last entry #{last.pk}, hash {last.entry_hash}."
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("org_name", "Evil Corp"),
        ("username", "mallory"),
        ("action", "remove_role"),
        ("requested", '{"roles": ["rol_admin"]}'),
    ],
)
def test_an_edited_entry_is_named(db, column, value) -> None:
    first, second, third = three_entries()
    behind_djangos_back(f"UPDATE {TABLE} SET {column} = %s WHERE id = %s", [value, second.pk])
    assert getattr(AuditEntry.objects.get(pk=second.pk), column) != getattr(second, column)
    text = verify_fails()
    assert f"broken at entry #{second.pk} (created " in text
    assert "its fields do not match its hash (edited?)" in text
    assert "1 entry before it matches" in text


def test_a_job_link_is_covered_when_set_and_absent_links_hash_as_before(db) -> None:
    """job_id (adminsite.jobs) is in entry_hash only when set: older entries keep their hashes;
    a job entry's link cannot be changed, added or removed unseen."""
    job = uuid.uuid4()
    plain_entry = make_entry(connection_name="no job")
    values = {name: getattr(plain_entry, name) for name in chain.ENTRY_FIELDS}
    assert plain_entry.entry_hash == chain.digest({**values, "prev_hash": plain_entry.prev_hash})
    linked = make_entry(connection_name="a job's item", job_id=job)
    assert linked.entry_hash != chain.digest(
        {**{n: getattr(linked, n) for n in chain.ENTRY_FIELDS}, "prev_hash": linked.prev_hash}
    )
    verify()  # the chain holds with both kinds of entry
    behind_djangos_back(f"UPDATE {TABLE} SET job_id = NULL WHERE id = %s", [linked.pk])
    text = verify_fails()
    assert f"broken at entry #{linked.pk} (created " in text
    assert "its fields do not match its hash (edited?)" in text


def test_an_edited_creation_time_is_named(db) -> None:
    first, second, third = three_entries()
    behind_djangos_back(
        f"UPDATE {TABLE} SET created_at = %s WHERE id = %s", [first.created_at, third.pk]
    )
    assert f"entry #{third.pk} " in verify_fails()


def test_an_edit_whose_hash_was_recomputed_is_named_by_the_entry_after_it(db) -> None:
    first, second, third = three_entries()
    second.org_name = "Evil Corp"
    second.entry_hash = chain.entry_hash(second)
    behind_djangos_back(
        f"UPDATE {TABLE} SET org_name = %s, entry_hash = %s, seal_hash = %s WHERE id = %s",
        ["Evil Corp", second.entry_hash, chain.seal_hash(second), second.pk],
    )
    text = verify_fails()
    assert f"entry #{third.pk} (created" in text
    assert f"it does not follow #{second.pk} (an entry before it was removed or inserted)" in text


def test_a_removed_entry_is_named_by_the_entry_after_it(db) -> None:
    first, second, third = three_entries()
    behind_djangos_back(f"DELETE FROM {TABLE} WHERE id = %s", [second.pk])
    text = verify_fails()
    assert f"entry #{third.pk} (created" in text and f"does not follow #{first.pk}" in text


def test_removing_the_oldest_entries_is_seen(db) -> None:
    first, second, third = three_entries()
    behind_djangos_back(f"DELETE FROM {TABLE} WHERE id = %s", [first.pk])
    text = verify_fails()
    assert f"entry #{second.pk} (created" in text and "does not follow the start of the log" in text


@pytest.mark.parametrize(
    ("which", "sql"),
    [
        (0, "outcome = 'failed'"),  # a success turned into a failure
        (1, "status_code = 404"),
        (1, "message = 'all fine'"),
        (2, "outcome = 'success'"),  # a pending entry "sealed" without its seal
        (2, "before = '{\"roles\": []}'"),  # a pending entry's before-state
    ],
)
def test_an_edited_outcome_breaks_the_seal(db, which, sql) -> None:
    entry = three_entries()[which]
    behind_djangos_back(f"UPDATE {TABLE} SET {sql} WHERE id = %s", [entry.pk])
    text = verify_fails()
    assert f"entry #{entry.pk} (created" in text
    assert "its outcome does not match its seal (edited?)" in text


@pytest.mark.django_db(transaction=True)
def test_the_migration_chains_the_entries_already_there() -> None:
    """An upgraded database passes verify_audit (more entries than one batch of 1,000)."""
    executor = MigrationExecutor(connection)
    executor.migrate([("audit", "0002_more_actions")])
    old = executor.loader.project_state([("audit", "0002_more_actions")]).apps
    Old = old.get_model("audit", "AuditEntry")
    Old.objects.bulk_create(
        Old(
            username="olivia",
            action="remove_role",
            org_id="org_old",
            member_id=f"auth0|{i}",
            outcome="pending" if i % 500 == 0 else "success",
            before={"roles": [{"id": f"rol_{i}", "name": "Räder"}]},
        )
        for i in range(2100)
    )
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert "Checked 2100 entries (5 pending): the chain is intact." in verify()
    assert make_entry().prev_hash == AuditEntry.objects.order_by("-pk")[1].entry_hash


# --- Writing at once ---------------------------------------------------------------------------

THREADS, EACH = 8, 5


@pytest.mark.django_db(transaction=True)
def test_entries_written_at_once_make_one_unbroken_chain(monkeypatch) -> None:
    """Each writer reads the last hash, then inserts: without the lock (advisory on Postgres,
    IMMEDIATE on SQLite) two would follow the same entry. On SQLite slowed down between read
    and insert; on PostgreSQL the lock, the read and the insert are one round trip
    (AuditEntry._insert_chained), which the writers race for."""
    stamp = chain.stamp

    def slow_stamp(entry: AuditEntry, prev_hash: str) -> None:
        time.sleep(0.005)
        stamp(entry, prev_hash)

    monkeypatch.setattr(chain, "stamp", slow_stamp)
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            start.wait()
            for j in range(EACH):
                entry = make_entry(outcome=Outcome.PENDING, member_id=f"auth0|{i}-{j}")
                written = entry if j % 2 else None  # both ways of sealing, as Recording does
                sealed = AuditEntry.objects.seal(entry.pk, written=written, outcome=Outcome.SUCCESS)
                assert sealed == 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert AuditEntry.objects.filter(outcome=Outcome.SUCCESS).count() == THREADS * EACH
    assert f"Checked {THREADS * EACH} entries (0 pending): the chain is intact." in verify()


# --- JSON lines for a SIEM -------------------------------------------------------------------


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def siem() -> Iterator[list[logging.LogRecord]]:
    """Records of the `orgdesk.audit` logger, which does not propagate."""
    logger = logging.getLogger("orgdesk.audit")
    lines = Lines()
    logger.addHandler(lines)
    try:
        yield lines.records
    finally:
        logger.removeHandler(lines)


def test_each_sealed_entry_is_one_json_line(
    operator_client, operator, tenant, acme, siem, django_capture_on_commit_callbacks
) -> None:
    conn = enabled_by_name(acme, "acme-saml")
    with django_capture_on_commit_callbacks(execute=True):
        confirm_and_remove(operator_client, acme, conn.connection_id)
    entry = AuditEntry.objects.get()
    [record] = [r for r in siem if r.name == "orgdesk.audit"]
    assert record.levelno == logging.INFO
    line = record.getMessage()
    assert "\n" not in line
    data = json.loads(line)
    assert data == {
        "id": entry.pk,
        "created_at": chain.plain(entry.created_at),
        "finished_at": chain.plain(entry.finished_at),
        "username": "olivia",
        "action": "remove_connection",
        "org_id": acme,
        "job_id": None,
        "org_name": entry.org_name,
        "connection_id": conn.connection_id,
        "connection_name": "acme-saml",
        "member_id": "",
        "roles": [],
        "outcome": "success",
        "status_code": None,
        "error": "",
        "message": "",
        "requested": {"remove_connection": conn.connection_id},
        "before": entry.before,
        "after": None,
        "restores": None,
        "prev_hash": chain.GENESIS,
        "entry_hash": entry.entry_hash,
        "seal_hash": entry.seal_hash,
    }
    assert list(data) == sorted(data)  # sorted keys
    assert "sandbox-secret" not in line and "Bearer" not in line


def test_a_pending_entry_is_not_logged_and_its_sealing_is_logged_once(
    db, siem, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        entry = make_entry(outcome=Outcome.PENDING)
    assert [r for r in siem if r.name == "orgdesk.audit"] == []
    with django_capture_on_commit_callbacks(execute=True):
        assert AuditEntry.objects.seal(entry.pk, outcome=Outcome.FAILED, status_code=503) == 1
        assert AuditEntry.objects.seal(entry.pk, outcome=Outcome.SUCCESS) == 0
    lines = [json.loads(r.getMessage()) for r in siem if r.name == "orgdesk.audit"]
    assert [(d["id"], d["outcome"], d["status_code"]) for d in lines] == [(entry.pk, "failed", 503)]
    assert lines[0]["seal_hash"] == AuditEntry.objects.get(pk=entry.pk).seal_hash


def test_a_rolled_back_sealing_is_not_logged(db, siem, django_capture_on_commit_callbacks) -> None:
    entry = make_entry(outcome=Outcome.PENDING)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        AuditEntry.objects.seal(entry.pk, outcome=Outcome.SUCCESS)
        raise RuntimeError("the block failed")
    assert callbacks == [] and [r for r in siem if r.name == "orgdesk.audit"] == []
    assert AuditEntry.objects.get(pk=entry.pk).outcome == Outcome.PENDING


def test_the_audit_logger_writes_the_json_alone_and_apart() -> None:
    logger = logging.getLogger("orgdesk.audit")
    assert logger.isEnabledFor(logging.INFO) and logger.propagate is False
    [handler] = [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]
    # Standard error, without AUDIT_LOG_FILE (the tests' kind follows stderr as pytest swaps it).
    assert isinstance(handler, logging.StreamHandler)
    assert not isinstance(handler, logging.FileHandler)
    record = logger.makeRecord("orgdesk.audit", logging.INFO, __file__, 1, '{"id": 1}', (), None)
    assert handler.format(record) == '{"id": 1}'


# --- The Postgres trigger --------------------------------------------------------------------


def refused(sql: str, params: list[Any] | None = None, match: str = "append-only") -> None:
    with (
        pytest.raises(DatabaseError, match=match),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params or [])


@postgres_only
def test_postgres_refuses_edits_of_a_sealed_entry(db) -> None:
    first, second, third = three_entries()
    for sql in (
        "outcome = 'success'",  # second failed
        "outcome = 'pending'",
        "org_name = 'Evil Corp'",
        "message = 'all fine'",
        "entry_hash = 'x'",
        "seal_hash = 'x'",
        "created_at = now()",
    ):
        refused(f"UPDATE {TABLE} SET {sql} WHERE id = %s", [second.pk])
    assert "the chain is intact" in verify()


@postgres_only
def test_postgres_refuses_edits_of_a_pending_entry_other_than_sealing(db) -> None:
    first, second, third = three_entries()
    for sql in (
        "org_name = 'Evil Corp'",  # not sealing
        "message = 'all fine'",  # still pending
        "outcome = 'success', org_name = 'Evil Corp'",  # sealing, and an edit with it
        "outcome = 'success', prev_hash = 'x'",
    ):
        refused(f"UPDATE {TABLE} SET {sql} WHERE id = %s", [third.pk])
    assert "the chain is intact" in verify()


@postgres_only
def test_postgres_refuses_delete_and_truncate(db) -> None:
    first, second, third = three_entries()
    refused(f"DELETE FROM {TABLE} WHERE id = %s", [first.pk])
    refused(f"DELETE FROM {TABLE}")
    checked_now()
    # Plain TRUNCATE is refused before the trigger too since bulk jobs' items reference the log
    # (jobs_jobitem.audit_entry_id); CASCADE gets past that, to the trigger.
    refused(f"TRUNCATE {TABLE}", match="append-only|referenced in a foreign key constraint")
    refused(f"TRUNCATE {TABLE} CASCADE")
    assert AuditEntry.objects.count() == 3


@postgres_only
def test_postgres_allows_sealing_and_verify_catches_a_forged_seal(db) -> None:
    first, second, third = three_entries()
    extra = make_entry(outcome=Outcome.PENDING)
    assert AuditEntry.objects.seal(third.pk, outcome=Outcome.SUCCESS, after={"x": True}) == 1
    assert "Checked 4 entries (1 pending): the chain is intact." in verify()
    # The trigger lets any sealing through, also one written by hand without its seal_hash:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET outcome = 'failed' WHERE id = %s", [extra.pk])
    assert AuditEntry.objects.get(pk=extra.pk).outcome == Outcome.FAILED
    assert f"entry #{extra.pk} (created" in verify_fails()


@postgres_only
def test_postgres_deleting_a_user_keeps_their_entries_and_the_chain(
    operator_client, operator, viewer, tenant, acme
) -> None:
    confirm_and_remove(operator_client, acme, enabled_by_name(acme, "acme-ad").connection_id)
    entry = AuditEntry.objects.get()
    refused(
        f"UPDATE {TABLE} SET user_id = %s WHERE id = %s",
        [viewer.pk, entry.pk],
        match="user_id may only become NULL",
    )
    operator.delete()
    entry = AuditEntry.objects.get()
    assert entry.user is None and entry.username == "olivia"
    assert "Checked 1 entry (0 pending): the chain is intact." in verify()


@postgres_only
def test_postgres_with_the_trigger_off_an_edit_is_caught(db) -> None:
    first, second, third = three_entries()
    refused(f"UPDATE {TABLE} SET org_name = 'Evil Corp' WHERE id = %s", [first.pk])
    checked_now()
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        cursor.execute(f"UPDATE {TABLE} SET org_name = 'Evil Corp' WHERE id = %s", [first.pk])
        cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")
    assert f"broken at entry #{first.pk} (created" in verify_fails()
    refused(f"UPDATE {TABLE} SET org_name = 'Acme' WHERE id = %s", [first.pk])  # on again


# --- Sealing what this process wrote: one statement ---------------------------------------------


@pytest.mark.django_db
def test_sealing_the_written_entry_is_one_update_and_the_chain_still_verifies(
    django_assert_num_queries, django_capture_on_commit_callbacks, siem
) -> None:
    written = make_entry(outcome=Outcome.PENDING, before={"x": 1.0})
    with (
        django_capture_on_commit_callbacks(execute=True),
        django_assert_num_queries(1) as captured,  # no read-back, no transaction around it
    ):
        sealed = AuditEntry.objects.seal(
            written.pk, written=written, outcome=Outcome.SUCCESS, after={"y": [1, "z"]}
        )
    assert sealed == 1
    assert captured.captured_queries[0]["sql"].startswith("UPDATE")
    stored = AuditEntry.objects.get(pk=written.pk)
    assert (stored.outcome, stored.after) == (Outcome.SUCCESS, {"y": [1, "z"]})
    assert stored.seal_hash == chain.seal_hash(stored)
    [line] = [r.getMessage() for r in siem if r.name == "orgdesk.audit"]
    assert json.loads(line)["seal_hash"] == stored.seal_hash
    assert "Checked 1 entry (0 pending): the chain is intact." in verify()
    # sealed once: a second seal from the same written entry matches nothing
    assert AuditEntry.objects.seal(written.pk, written=written, outcome=Outcome.FAILED) == 0


@pytest.mark.django_db
def test_sealing_the_written_entry_matches_only_the_row_it_wrote() -> None:
    written = make_entry(outcome=Outcome.PENDING)
    other = make_entry(outcome=Outcome.PENDING)
    forged = AuditEntry.objects.get(pk=other.pk)
    forged.pk = written.pk  # the hash of another row: the stored row is not the one written
    assert AuditEntry.objects.seal(written.pk, written=forged, outcome=Outcome.SUCCESS) == 0
    assert AuditEntry.objects.get(pk=written.pk).outcome == Outcome.PENDING
