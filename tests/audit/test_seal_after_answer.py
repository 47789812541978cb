"""A request's audit seal is written once its answer is sent, before its thread takes another
request (adminsite.afteranswer, adminsite.audit.recording): the pending entry is committed before
the call, the person does not wait for the seal, and nothing reads the log before it lands."""

from __future__ import annotations

import logging
import threading

import pytest
from django.core.signals import request_finished, request_started
from django.db import DatabaseError
from django.http import HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.test import RequestFactory

from adminsite import afteranswer
from adminsite.audit import recording
from adminsite.audit.models import Action, AuditEntry, AuditQuerySet, Outcome
from tests.audit.helpers import body, confirm_and_remove, enabled_by_name, only_entry


def outcomes() -> list[str]:
    return list(AuditEntry.objects.order_by("pk").values_list("outcome", flat=True))


@pytest.fixture
def closes(monkeypatch):
    """What the log held when the WSGI server closed each answer (after its last byte), and
    right after: (answer's body, outcomes before close, outcomes after close)."""
    seen: list[tuple[str, list[str], list[str]]] = []
    real = HttpResponseBase.close

    def spy(self):
        before = outcomes()
        text = b"".join(self).decode() if not self.streaming else ""
        real(self)
        seen.append((text, before, outcomes()))

    monkeypatch.setattr(HttpResponseBase, "close", spy)
    return seen


@pytest.mark.django_db(transaction=True)
def test_the_seal_is_written_after_the_answer_is_sent(operator_client, tenant, closes) -> None:
    from tests.helpers import org_id

    acme = org_id("acme")
    conn = enabled_by_name(acme, "okta-workforce")
    r = confirm_and_remove(operator_client, acme, conn.connection_id)
    assert "Removed the connection okta-workforce" in body(r)
    answer, before, after = closes[-1]
    # The answer was complete, saying what happened, while the entry was still pending …
    assert "Removed the connection okta-workforce" in answer
    assert before == [Outcome.PENDING]
    # … and sealed when the server closed it, before anything else ran on this thread.
    assert after == [Outcome.SUCCESS]
    entry = only_entry()
    assert entry.action == Action.REMOVE_CONNECTION and entry.seal_hash
    from adminsite.audit import chain

    assert entry.seal_hash == chain.seal_hash(entry)  # what the page used is what was stored


def through_middleware(request, answer: HttpResponse, n: int = 1) -> HttpResponse:
    def view(req):
        for k in range(n):
            with recording.record(req, action=Action.REMOVE_CONNECTION, org_id=f"org_{k}"):
                pass
        return answer

    return afteranswer.AfterAnswerMiddleware(view)(request)


@pytest.fixture
def post(operator):
    request = RequestFactory().post("/")
    request.user = operator
    return request


@pytest.mark.django_db(transaction=True)
def test_every_seal_of_an_answer_is_written_when_it_is_closed(post) -> None:
    response = through_middleware(post, HttpResponse("done"), n=3)
    assert outcomes() == [Outcome.PENDING] * 3  # the answer is on its way
    assert not recording.wait_for_seals(timeout=0.01)
    response.close()  # the server sent its last byte
    assert outcomes() == [Outcome.SUCCESS] * 3
    assert recording.wait_for_seals(timeout=0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "answer",
    [
        HttpResponseRedirect("/audit/1/"),
        HttpResponse(headers={"HX-Redirect": "/audit/1/"}),
        HttpResponse(headers={"HX-Refresh": "true"}),
    ],
    ids=["redirect", "hx-redirect", "hx-refresh"],
)
def test_an_answer_that_leads_to_another_page_is_sealed_before_it_leaves(post, answer) -> None:
    through_middleware(post, answer)
    assert outcomes() == [Outcome.SUCCESS]  # the next page may be the log


@pytest.mark.django_db(transaction=True)
def test_a_server_that_never_closes_the_answer_has_it_sealed_by_the_next_request(
    post, operator
) -> None:
    through_middleware(post, HttpResponse("done"))
    assert outcomes() == [Outcome.PENDING]
    request_started.send(sender=None)
    assert outcomes() == [Outcome.SUCCESS]
    # A second answer on the thread seals the first one's, unclosed, before its own go out.
    second = RequestFactory().post("/")
    second.user = operator
    through_middleware(post, HttpResponse("one"))
    through_middleware(second, HttpResponse("two"))
    assert outcomes() == [Outcome.SUCCESS, Outcome.SUCCESS, Outcome.PENDING]
    request_finished.send(sender=None)
    assert outcomes() == [Outcome.SUCCESS] * 3


@pytest.mark.django_db(transaction=True)
def test_the_audit_page_waits_for_a_seal_another_thread_has_yet_to_write(
    operator_client, operator
) -> None:
    request = RequestFactory().post("/")
    request.user = operator
    answered = threading.Event()
    closed = threading.Event()

    def another_request() -> None:  # answered, then closed 0.3 s later
        response = through_middleware(request, HttpResponse("done"))
        answered.set()
        closed.wait(0.3)
        response.close()

    worker = threading.Thread(target=another_request)
    worker.start()
    assert answered.wait(5)
    page = operator_client.get("/audit/")
    worker.join()
    assert page.status_code == 200
    text = page.content.decode()
    assert "Remove connection" in text and "outcome-success" in text
    assert "outcome-pending" not in text and "No outcome was recorded" not in text


@pytest.mark.django_db(transaction=True)
def test_a_seal_that_fails_after_the_answer_leaves_the_entry_pending_and_is_logged(
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
    assert recording.wait_for_seals(timeout=0)  # a failed seal is not left in flight


@pytest.mark.django_db
def test_inside_a_transaction_the_seal_is_written_before_the_block_ends(post) -> None:
    """The `db` fixture runs each test in a transaction: the pending entry is not committed, and
    a rollback would take a deferred seal with it, so it is written at once."""
    through_middleware(post, HttpResponse("done"))
    assert outcomes() == [Outcome.SUCCESS]


@pytest.mark.django_db(transaction=True)
def test_without_the_middleware_the_seal_is_written_before_the_block_ends(post, operator) -> None:
    """A request that did not pass through AfterAnswerMiddleware, and a job (no request)."""
    for req in (post, None):
        with recording.record(
            req, action=Action.REMOVE_CONNECTION, org_id="org_x", author=operator
        ):
            pass
        assert outcomes()[-1] == Outcome.SUCCESS
