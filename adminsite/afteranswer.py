"""Work a request leaves for after its answer: done by the request's own thread once the WSGI
server has sent the answer's last byte and closed it, before that thread takes another request.

The person does not wait for it. Two kinds use it: the audit seals of the request's changes
(adminsite.audit.recording) and cache bookkeeping the answer does not depend on
(adminsite.memo.set_after_answer). A server closes each answer (Django's `request_finished`,
sent from `HttpResponse.close()`); had one not, the thread's next request does the work first
(`request_started`), so it is done late, never lost. An answer that sends the browser to another
page at once (a redirect, or htmx's) does its work before it leaves: the next page may read it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.core.signals import request_finished, request_started
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

Work = Callable[[], None]
_queued: ContextVar[list[Work] | None] = ContextVar("after_answer_work", default=None)
_handed_over = threading.local()  # the work of the answer this thread is sending


def defer(work: Work) -> bool:
    """Queue `work` for after this request's answer; False outside a request that passed
    through AfterAnswerMiddleware (the caller does it now)."""
    queued = _queued.get()
    if queued is None:
        return False
    queued.append(work)
    return True


def _run(works: list[Work]) -> None:
    while works:
        work = works.pop(0)
        try:
            work()
        except Exception:  # the answer is out, or on its way: log it, do the rest
            logger.exception("Work left for after an answer failed")


def _leads_elsewhere(response: HttpResponse) -> bool:
    return 300 <= response.status_code < 400 or any(
        h in response.headers for h in ("HX-Redirect", "HX-Location", "HX-Refresh")
    )


class AfterAnswerMiddleware:
    """Collects the request's work for after its answer and hands it to its thread, to be done
    when the server closes the answer. First in MIDDLEWARE, so that everything the request does
    is inside it, the request log's line included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        works: list[Work] = []
        token = _queued.set(works)
        try:
            response = self.get_response(request)
        except BaseException:
            _run(works)
            raise
        finally:
            _queued.reset(token)
        if _leads_elsewhere(response):
            _run(works)
        elif works:
            _run(getattr(_handed_over, "works", None) or [])  # one answer at a time
            _handed_over.works = works
        return response


def _run_handed_over(**kwargs: Any) -> None:
    works = getattr(_handed_over, "works", None)
    if works:
        _handed_over.works = None
        _run(works)


request_finished.connect(_run_handed_over, dispatch_uid="after-answer-finished")
request_started.connect(_run_handed_over, dispatch_uid="after-answer-next-request")
