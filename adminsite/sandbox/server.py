"""Serve the sandbox over real HTTP on a loopback port, in a daemon thread."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import socketserver
import sys
import threading
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from .app import DropConnection, make_app
from .tenant import Tenant


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _ServerHandler(ServerHandler):
    dropped = False
    # Set by handle() below and by BaseHandler.run() (setup_environ), undeclared in the stubs.
    request_handler: WSGIRequestHandler
    environ: dict[str, Any]

    def handle_error(self) -> None:
        if isinstance(sys.exc_info()[1], DropConnection):
            self.dropped = True  # write nothing: the socket is closed below
            return
        super().handle_error()


class _RequestHandler(WSGIRequestHandler):
    server: WSGIServer  # the server this handler class is given to (below)

    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        env["RAW_URI"] = env["REQUEST_URI"] = self.path  # the path as sent, still encoded
        return env

    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _ServerHandler(
            self.rfile,
            # socketserver's _SocketWriter, not an IO[bytes] as the stub wants; the handler only
            # writes and flushes it (the same call as CPython's WSGIRequestHandler.handle).
            self.wfile,  # type: ignore[arg-type]
            self.get_stderr(),
            self.get_environ(),
            multithread=True,
        )
        handler.request_handler = self
        app = self.server.get_app()
        assert app is not None  # SandboxServer sets it before serving
        handler.run(app)
        if handler.dropped or handler.environ.get("sandbox.truncated"):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn); skip that lookup.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that went away (e.g. after its read timeout) is not an error here


class SandboxServer:
    """A running sandbox HTTP server: `url`, `tenant`, `shutdown()`."""

    def __init__(self, tenant: Tenant, host: str = "127.0.0.1", port: int = 0) -> None:
        if not is_loopback(host):
            raise ValueError(f"The sandbox serves loopback hosts only, not {host!r}.")
        self.tenant = tenant
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("_Server", (_ThreadingWSGIServer,), {"address_family": family})
        self._server = server_class((host.strip("[]"), port), _RequestHandler)
        self._in_flight = 0
        self._settled = threading.Condition()
        self._server.set_app(self._counted(make_app(tenant)))
        self.host = host
        self.port = int(self._server.server_address[1])
        shown = f"[{host.strip('[]')}]" if family == socket.AF_INET6 else host
        self.url = f"http://{shown}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-api-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def _counted(self, app: Any) -> Any:
        """`app`, counting the requests it is handling (wait_idle)."""

        def counted(environ: dict[str, Any], start_response: Any) -> Any:
            with self._settled:
                self._in_flight += 1
            try:
                return app(environ, start_response)  # the tenant is changed within the call
            finally:
                with self._settled:
                    self._in_flight -= 1
                    self._settled.notify_all()

        return counted

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no request is being handled: one a client gave up on (a delay fault
        past its read timeout) still changes the tenant when its delay ends. False on timeout."""
        with self._settled:
            return self._settled.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def serve(tenant: Tenant, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """Serve `tenant` over HTTP on a loopback address (port 0: any free port)."""
    return SandboxServer(tenant, host, port)
