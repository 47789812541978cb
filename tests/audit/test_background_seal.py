"""A request's audit seal runs beside it on PostgreSQL, and the answer leaves only once the seal is
written (adminsite.audit.recording.AuditSealMiddleware)."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from django.db import DatabaseError, connection
from django.test import RequestFactory
from django.urls import reverse

from adminsite.audit import recording
from adminsite.audit.models import Action, AuditEntry, AuditQuerySet, Outcome
from tests.audit.helpers import body, confirm_and_remove, enabled_by_name, only_entry

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="seals run beside the request on PostgreSQL only"
)


@pytest.fixture
def seals(monkeypatch):
    """Each seal's thread name, start and end, and what the database held when it began."""
    seen: list[dict[str, object]] = []
    real = AuditQuerySet.seal

    def spy(self, pk, **kw):
        record = {"thread": threading.current_thread().name, "started": time.monotonic()}
        record["pending_then"] = (
            AuditEntry.objects.filter(pk=pk).values_list("outcome", flat=True).first()
        )
        seen.append(record)
        time.sleep(getattr(spy, "delay", 0))
        result = real(self, pk, **kw)
        record["ended"] = time.monotonic()
        return result

    monkeypatch.setattr(AuditQuerySet, "seal", spy)
    return seen, spy


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_seal_runs_on_its_own_thread_and_the_answer_waits_for_it(
    operator_client, tenant, seals
) -> None:
    from tests.helpers import org_id

    acme = org_id("acme")
    seen, spy = seals
    spy.delay = 0.3  # a slow database: the answer must still come after the seal
    conn = enabled_by_name(acme, "okta-workforce")
    r = confirm_and_remove(operator_client, acme, conn.connection_id)
    answered = time.monotonic()
    assert "Removed the connection okta-workforce" in body(r)
    [seal] = seen
    assert str(seal["thread"]).startswith("audit-seal")
    assert seal["pending_then"] == Outcome.PENDING  # committed before the call, seen elsewhere
    assert isinstance(seal["ended"], float) and seal["ended"] <= answered
    entry = only_entry()
    assert (entry.action, entry.outcome) == (Action.REMOVE_CONNECTION, Outcome.SUCCESS)
    assert entry.finished_at is not None and entry.seal_hash
    # What the request thread used meanwhile matches what was stored.
    from adminsite.audit import chain

    assert entry.seal_hash == chain.seal_hash(entry)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_seal_overlaps_the_next_upstream_call(operator_client, tenant, monkeypatch) -> None:
    """A domain-level toggle reads the row again after its change: that read is sent while the
    seal is still being written, not after it."""
    from tests.helpers import HTMX, api_calls, org_id

    acme = org_id("acme")
    calls_while_sealing: list[list[str]] = []
    real = AuditQuerySet.seal

    def slow(self, pk, **kw):
        time.sleep(0.3)
        calls_while_sealing.append([c["method"] for c in api_calls(tenant)])
        return real(self, pk, **kw)

    monkeypatch.setattr(AuditQuerySet, "seal", slow)
    conn = enabled_by_name(acme, "okta-workforce")
    url = reverse("connections:domain-level", args=[acme, conn.connection_id])
    assert operator_client.get(url, headers=HTMX).status_code == 200
    tenant.clear_log()
    r = operator_client.post(url, {"is_domain_connection": "true"}, headers=HTMX)
    assert r.status_code == 200 and "now domain-level" in body(r)
    assert [c["method"] for c in api_calls(tenant)] == ["PATCH", "GET"]
    assert calls_while_sealing == [["PATCH", "GET"]]  # the re-read did not wait for the seal
    assert only_entry().outcome == Outcome.SUCCESS


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_seal_that_fails_beside_the_request_leaves_the_entry_pending_and_is_logged(
    operator_client, tenant, monkeypatch, caplog
) -> None:
    from tests.helpers import org_id

    acme = org_id("acme")

    def broken(self, pk, **kw):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(AuditQuerySet, "seal", broken)
    conn = enabled_by_name(acme, "okta-workforce")
    with caplog.at_level(logging.ERROR, logger="adminsite.audit.recording"):
        r = confirm_and_remove(operator_client, acme, conn.connection_id)
    assert "Removed the connection okta-workforce" in body(r)  # Auth0 made the change
    assert only_entry().outcome == Outcome.PENDING  # shown as "outcome unknown"
    assert [rec.getMessage() for rec in caplog.records] == [
        f"Could not record the outcome of audit entry {only_entry().pk}"
    ]


def test_inside_a_transaction_or_on_sqlite_the_request_thread_seals(
    operator_client, tenant, seals
) -> None:
    """The `db` fixture runs each test in a transaction: the pending entry is not committed, so
    no other connection could seal it."""
    from tests.helpers import org_id

    acme = org_id("acme")
    seen, _ = seals
    conn = enabled_by_name(acme, "okta-workforce")
    r = confirm_and_remove(operator_client, acme, conn.connection_id)
    assert "Removed the connection okta-workforce" in body(r)
    assert [s["thread"] for s in seen] == [threading.current_thread().name]
    assert only_entry().outcome == Outcome.SUCCESS


@pytest.mark.django_db(transaction=True)
def test_without_the_middleware_the_seal_is_written_before_the_block_ends(
    operator, tenant, seals
) -> None:
    """A request that did not pass through AuditSealMiddleware (nothing would wait for a seal
    beside it) and a job (no request) seal on their own thread."""
    seen, _ = seals
    request = RequestFactory().post("/")
    request.user = operator
    for req in (request, None):
        with recording.record(
            req, action=Action.REMOVE_CONNECTION, org_id="org_x", author=operator
        ):
            pass
    assert [s["thread"] for s in seen] == [threading.current_thread().name] * 2
    assert [e.outcome for e in AuditEntry.objects.all()] == [Outcome.SUCCESS] * 2


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_settle_waits_for_every_seal_of_the_request(operator, seals) -> None:
    seen, spy = seals
    spy.delay = 0.1
    request = RequestFactory().post("/")
    request.user = operator
    setattr(request, recording._SEALS_ATTR, [])
    for n in range(3):
        with recording.record(request, action=Action.REMOVE_CONNECTION, org_id=f"org_{n}"):
            pass
    assert AuditEntry.objects.filter(outcome=Outcome.PENDING).count() >= 1  # not yet
    recording.settle(request)
    assert sorted(AuditEntry.objects.values_list("outcome", flat=True)) == [Outcome.SUCCESS] * 3
    assert len(seen) == 3 and all(str(s["thread"]).startswith("audit-seal") for s in seen)
