"""Org Desk's gunicorn worker (adminsite.gunicorn_worker): an answer leaves in one send, with the
same bytes as gunicorn's own response. gunicorn itself runs it in tests/adminsite/test_deploy.py
(and `make bench`)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from gunicorn import util
from gunicorn.config import Config
from gunicorn.http import wsgi

from adminsite.gunicorn_worker import OneWriteResponse


class Wire:
    """A socket that keeps each send."""

    def __init__(self) -> None:
        self.sends: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sends.append(bytes(data))


def answer(
    response_class: type[wsgi.Response],
    status: str,
    headers: list[tuple[str, str]],
    body: list[bytes],
    *,
    method: str = "GET",
    version: tuple[int, int] = (1, 1),
) -> Wire:
    """What `response_class` sends for one answer, as gunicorn's worker drives it."""
    wire = Wire()
    req = SimpleNamespace(version=version, method=method, should_close=lambda: False)
    response = response_class(req, wire, Config())
    response.start_response(status, headers)
    for chunk in body:
        response.write(chunk)
    response.close()
    return wire


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(util, "http_date", lambda *a: "Mon, 30 Nov 2026 08:00:00 GMT")


HTML = [("Content-Type", "text/html; charset=utf-8")]

CASES = {
    "a page": ("200 OK", [*HTML, ("Content-Length", "11")], [b"<p>page</p>"]),
    "a body in two parts": ("200 OK", [*HTML, ("Content-Length", "10")], [b"<p>", b"two</p>"]),
    "an empty body": ("200 OK", [*HTML, ("Content-Length", "0")], [b""]),
    "no body allowed (204)": ("204 No Content", [("HX-Trigger", "x")], [b""]),
    "not modified (304)": ("304 Not Modified", [("ETag", '"a"')], [b""]),
    "a redirect": ("302 Found", [("Location", "/orgs/"), ("Content-Length", "0")], [b""]),
    "more body than its length": ("200 OK", [("Content-Length", "3")], [b"abcdef"]),
    "a stream without a length": ("200 OK", [("Content-Type", "text/csv")], [b"a,b\n", b"c,d\n"]),
    "no body written at all": ("200 OK", [("Content-Length", "0")], []),
}


@pytest.mark.parametrize("case", CASES)
def test_the_bytes_on_the_wire_are_gunicorns(case: str) -> None:
    status, headers, body = CASES[case]
    ours = answer(OneWriteResponse, status, headers, body)
    theirs = answer(wsgi.Response, status, headers, body)
    assert b"".join(ours.sends) == b"".join(theirs.sends)
    assert b"".join(ours.sends).startswith(b"HTTP/1.1 " + status.encode() + b"\r\n")


def test_headers_and_body_leave_in_one_send() -> None:
    status, headers, body = CASES["a page"]
    wire = answer(OneWriteResponse, status, headers, body)
    assert len(wire.sends) == 1
    head, _, rest = wire.sends[0].partition(b"\r\n\r\n")
    assert b"Content-Length: 11" in head and rest == b"<p>page</p>"
    assert len(answer(wsgi.Response, status, headers, body).sends) == 2  # gunicorn's: two


def test_later_parts_of_the_body_are_sent_as_they_come() -> None:
    wire = answer(OneWriteResponse, *CASES["a body in two parts"])
    assert len(wire.sends) == 2
    assert wire.sends[0].endswith(b"\r\n\r\n<p>") and wire.sends[1] == b"two</p>"


@pytest.mark.parametrize("case", ["no body allowed (204)", "an empty body", "a redirect"])
def test_an_answer_with_no_body_sends_its_headers(case: str) -> None:
    wire = answer(OneWriteResponse, *CASES[case])
    assert len(wire.sends) == 1 and wire.sends[0].endswith(b"\r\n\r\n")


def test_a_head_request_gets_the_headers_alone() -> None:
    wire = answer(OneWriteResponse, *CASES["a page"], method="HEAD")
    assert len(wire.sends) == 1
    assert b"Content-Length: 11" in wire.sends[0] and wire.sends[0].endswith(b"\r\n\r\n")


def test_a_stream_keeps_gunicorns_chunked_framing() -> None:
    wire = answer(OneWriteResponse, *CASES["a stream without a length"])
    assert b"Transfer-Encoding: chunked" in wire.sends[0]
    assert wire.sends[1:] == [b"4\r\na,b\n\r\n", b"4\r\nc,d\n\r\n", b"0\r\n\r\n"]
