"""Org Desk's gunicorn worker: gunicorn's threaded worker (`gthread`), sending each answer's
headers with its body's first bytes, in one send (`worker_class` in gunicorn.conf.py).

gunicorn sends an answer's headers, then its body, in two sends. Behind the SSO proxy each send
is a trip through the network stack and a wake-up of the reader, which then waits for the rest:
measured at the socket (`make bench`), one send takes 0.5 to 0.9 ms off a page. Chunked
answers (streams without a length) and answers with no body are sent as gunicorn sends them.

It relies on gunicorn's own parts (`Response.send_headers` writing through `self.sock`,
`Response._emit_body`, and `gunicorn.http.wsgi.create` making its HTTP/1 response from the
module's `Response`), which is why pyproject.toml pins gunicorn's major version.

Also tried, and left out: handing a kept-alive connection back to gthread's main thread before
the work left for after the answer (adminsite.afteranswer). That work then ran beside the next
request in the same process, and the two took turns holding Python's GIL: actions measured
0.3 to 0.7 ms slower.
"""

from __future__ import annotations

from typing import Any

from gunicorn import util
from gunicorn.http import wsgi
from gunicorn.workers import gthread


class _Held:
    """Stands in for the socket while gunicorn writes the headers: keeps them."""

    data = b""

    def sendall(self, data: bytes) -> None:
        self.data += bytes(data)


class OneWriteResponse(wsgi.Response):
    """gunicorn's HTTP/1 response, sending the headers with the body's first bytes."""

    sock: Any  # gunicorn's, set in its __init__
    _holding = False
    _held: bytes | None = None

    def send_headers(self) -> None:
        if not self._holding or self.headers_sent:
            super().send_headers()
            return
        sock, held = self.sock, _Held()
        self.sock = held
        try:
            super().send_headers()
        finally:
            self.sock = sock
        self._held = held.data

    def write(self, arg: bytes) -> None:
        if self.headers_sent or self.chunked:
            super().write(arg)
            return
        self._holding = True
        try:
            super().write(arg)
        finally:
            self._holding = False
            held, self._held = self._held, None
            if held:  # no body went out with them (none allowed, or none left to send)
                util.write(self.sock, held)

    def _emit_body(self, data: bytes) -> None:
        held, self._held = self._held, None
        super()._emit_body(held + data if held else data)  # not chunked: see write()


class ThreadWorker(gthread.ThreadWorker):
    """gthread, with OneWriteResponse for HTTP/1 answers."""

    def init_process(self) -> None:
        # create() makes its HTTP/1 response from the module's `Response` (HTTP/2 passes its
        # own class): in this worker process, that is ours.
        wsgi.Response = OneWriteResponse
        super().init_process()
