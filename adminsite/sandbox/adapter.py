"""A requests transport adapter that calls the sandbox WSGI app in-process (no socket)."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from .app import DropConnection, WSGIApp


class _ReadTimedOut(Exception):
    """Raised inside the app by the adapter's sleep when the read timeout runs out."""


def _read_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, tuple):
        return None if timeout[1] is None else float(timeout[1])
    read = getattr(timeout, "read_timeout", timeout)  # a urllib3 Timeout
    return None if read is None else float(read)


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)


class SandboxAdapter(BaseAdapter):
    """Mount on `SANDBOX_BASE_URL + "/"`: PreparedRequest -> WSGI environ -> requests.Response.

    Faults behave as on a socket: a delay longer than the read timeout sleeps the timeout and
    raises ReadTimeout; a dropped connection raises ConnectionError.
    """

    def __init__(self, app: WSGIApp) -> None:
        super().__init__()
        self.app = app

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = request.url or ""
        parts = urlsplit(url)
        raw_path = parts.path or "/"
        target = raw_path + (f"?{parts.query}" if parts.query else "")
        body = _body_bytes(request.body)
        limit = _read_timeout(timeout)
        waited = 0.0

        def sleep(seconds: float) -> None:
            nonlocal waited
            if limit is not None and waited + seconds > limit:
                time.sleep(max(0.0, limit - waited))
                raise _ReadTimedOut
            time.sleep(seconds)
            waited += seconds

        scheme = parts.scheme or "https"
        environ: dict[str, Any] = {
            "REQUEST_METHOD": (request.method or "GET").upper(),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(raw_path, encoding="latin-1"),
            "QUERY_STRING": parts.query,
            "RAW_URI": target,
            "REQUEST_URI": target,
            "SERVER_NAME": parts.hostname or "localhost",
            "SERVER_PORT": str(parts.port or (443 if scheme == "https" else 80)),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "sandbox.sleep": sleep,
        }
        if body:
            environ["CONTENT_LENGTH"] = str(len(body))
        for name, value in (request.headers or {}).items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key != "CONTENT_LENGTH":
                environ[f"HTTP_{key}"] = value

        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            captured["status"] = status
            captured["headers"] = headers
            return lambda data: None

        try:
            result: Iterable[bytes] = self.app(environ, start_response)
            try:
                content = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except _ReadTimedOut:
            raise requests.exceptions.ReadTimeout(
                f"Read timed out. (read timeout={limit})", request=request
            ) from None
        except DropConnection:
            raise requests.exceptions.ConnectionError(
                "('Connection aborted.', RemoteDisconnected('Remote end closed connection "
                "without response'))",
                request=request,
            ) from None

        if environ.get("sandbox.truncated"):  # what urllib3 reports for a body cut short
            raise requests.exceptions.ChunkedEncodingError(
                "('Connection broken: IncompleteRead', IncompleteRead(...))", request=request
            )
        code, _, phrase = captured["status"].partition(" ")
        response = requests.Response()
        response.status_code = int(code)
        response.reason = phrase
        response.headers = CaseInsensitiveDict(captured["headers"])
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = io.BytesIO(content)
        response.url = url
        response.request = request
        # The adapter that sent it, as HTTPAdapter.build_response records itself; the stub
        # narrows this attribute to HTTPAdapter.
        response.connection = self  # type: ignore[assignment]
        if not stream:
            _ = response.content  # read now, like a non-streamed real response
        return response

    def close(self) -> None:
        pass
