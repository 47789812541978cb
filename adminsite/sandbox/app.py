"""The sandbox as a WSGI application: faults, token endpoint, auth, scopes, rate limit, routing.

Delays and dropped connections are signalled to the transport: the app calls
`environ["sandbox.sleep"](seconds)` when the transport provides it (the requests adapter turns a
delay longer than the read timeout into a ReadTimeout), and raises `DropConnection`, which the
adapter turns into a ConnectionError and the HTTP server into a closed socket.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from . import api, control
from .endpoints_search import search_orgs
from .params import ApiError, decode_json, error_body, reason
from .tenant import Fault, Tenant

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

JSON_TYPE = "application/json; charset=utf-8"
TOO_MANY = error_body(429, "Global limit has been reached", "too_many_requests")
WWW_AUTHENTICATE = 'Bearer realm="Auth0", error="invalid_token", error_description="Invalid token"'


class DropConnection(Exception):  # noqa: N818 - it is a signal, not an error
    """Close the connection without any response."""


class Response:
    def __init__(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.headers = dict(headers or {})
        self.truncated = False
        if body is None or status == 204:
            self.content = b""
        elif isinstance(body, bytes):
            self.content = body
        elif isinstance(body, str):
            self.content = body.encode("utf-8")
            kind = "text/html" if body.lstrip().startswith("<") else "text/plain"
            self.headers.setdefault("Content-Type", f"{kind}; charset=utf-8")
        else:
            self.content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            self.headers.setdefault("Content-Type", JSON_TYPE)


def raw_target(environ: dict[str, Any]) -> tuple[str, str]:
    """The request path exactly as sent (still percent-encoded) and the raw query string."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        if "://" in raw.split("?", 1)[0]:
            parts = urlsplit(raw)
            return parts.path or "/", parts.query
        path, _, query = raw.partition("?")
        return path or "/", query
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    path = quote(path.encode("latin-1", "replace"), safe="/:@!$&'()*+,;=-._~")
    return path or "/", environ.get("QUERY_STRING", "")


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    return stream.read(length) if stream is not None and length > 0 else b""


class SandboxApp:
    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        response = self.handle(environ)
        headers = list(response.headers.items())
        if response.status != 204 or response.content:
            headers.append(("Content-Length", str(len(response.content))))
        start_response(f"{response.status} {reason(response.status)}", headers)
        if response.truncated:  # the transport closes the connection after this half
            environ["sandbox.truncated"] = True
            return [response.content[: len(response.content) // 2]]
        return [response.content]

    def handle(self, environ: dict[str, Any]) -> Response:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        raw_path, raw_query = raw_target(environ)
        body = _read_body(environ)
        if raw_path.startswith("/__sandbox/"):
            status, payload = control.handle(self.tenant, method, raw_path, body)
            return Response(status, payload)
        sleep: Callable[[float], None] = environ.get("sandbox.sleep") or time.sleep
        entry: dict[str, Any] = {
            "method": method,
            "raw_path": raw_path,
            "query": raw_query,
            "json": _logged_json(body),
            "status": None,
        }
        self.tenant.log_request(entry)
        response = self._respond(method, raw_path, raw_query, body, environ, sleep)
        entry["status"] = response.status
        return response

    def _respond(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        body: bytes,
        environ: dict[str, Any],
        sleep: Callable[[float], None],
    ) -> Response:
        is_api = raw_path.startswith("/api/v2/") or raw_path == "/api/v2"
        fault = self.tenant.take_fault(method, raw_path)
        extra_headers: dict[str, str] = {}
        if fault is not None:
            if fault.delay > 0:
                sleep(fault.delay)
            if fault.drop:
                raise DropConnection
            if fault.status is not None:
                return self._fault_response(fault, method, raw_path, raw_query, is_api)
            extra_headers = fault.headers
        if is_api and self.tenant.latency > 0:
            sleep(self.tenant.latency)
        if raw_path == "/oauth/token" and method == "POST":
            response = self._token(environ, body)
        elif is_api:
            response = self._api(method, raw_path, raw_query, body, environ)
        else:
            response = Response(404, error_body(404, "Not Found"))
        _override(response.headers, extra_headers)
        if fault is not None and fault.truncate:
            if not response.content:  # nothing to cut (204): the answer is lost after the change
                raise DropConnection
            response.truncated = True
        return response

    def _fault_response(
        self, fault: Fault, method: str, raw_path: str, raw_query: str, is_api: bool
    ) -> Response:
        status = fault.status or 500
        headers: dict[str, str] = {}
        if is_api:
            headers.update(self.tenant.take_rate_token(consume=False)[1])
        body = fault.body
        if body is None:
            body = self._standard_body(status, method, raw_path, raw_query)
            if status == 429:
                headers.update(self.tenant.exhausted_rate_headers())
            if status == 401:
                headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        _override(headers, fault.headers)
        return Response(status, body, headers)

    def _standard_body(self, status: int, method: str, raw_path: str, raw_query: str) -> Any:
        if status == 429:
            return dict(TOO_MANY)
        if status == 401:
            return {**error_body(401, "Invalid token"), "attributes": {"error": "Invalid token"}}
        if status == 403:
            found = _route(method, raw_path)
            if found is not None:
                scopes = [s for g in found[0].scopes(raw_query, None) for s in g]
                return _scope_error(scopes).body
            return error_body(403, "Forbidden")
        if status == 500:
            return error_body(500, "An internal server error occurred")
        if status == 204:
            return None
        if status < 400:
            return {}
        return error_body(status, reason(status))

    def _token(self, environ: dict[str, Any], body: bytes) -> Response:
        content_type = environ.get("CONTENT_TYPE", "")
        if "json" in content_type:
            try:
                data = json.loads(body.decode("utf-8") or "{}")
            except (UnicodeDecodeError, ValueError):
                data = None
            if not isinstance(data, dict):
                return Response(400, {"error": "invalid_request", "error_description": "Bad body"})
        else:
            data = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        for key in ("grant_type", "client_id", "audience"):
            if not data.get(key):
                return Response(
                    400,
                    {
                        "error": "invalid_request",
                        "error_description": f"Missing required parameter: {key}",
                    },
                )
        if data["grant_type"] != "client_credentials":
            return Response(
                403,
                {
                    "error": "unauthorized_client",
                    "error_description": (
                        f"Grant type '{data['grant_type']}' not allowed for the client."
                    ),
                },
            )
        if (
            data.get("client_id") != self.tenant.client_id
            or data.get("client_secret") != self.tenant.client_secret
        ):
            return Response(401, {"error": "access_denied", "error_description": "Unauthorized"})
        audience = str(data["audience"])
        if not audience.endswith("/api/v2/"):
            return Response(
                403,
                {"error": "access_denied", "error_description": f"Service not found: {audience}"},
            )
        return Response(
            200,
            self.tenant.issue_token(audience),
            {"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _api(
        self, method: str, raw_path: str, raw_query: str, body: bytes, environ: dict[str, Any]
    ) -> Response:
        allowed, rate_headers = self.tenant.take_rate_token()
        if not allowed:
            return Response(429, dict(TOO_MANY), rate_headers)
        try:
            response = self._dispatch(method, raw_path, raw_query, body, environ)
        except ApiError as exc:
            response = Response(exc.status, exc.body, exc.headers)
        except Exception:  # an unexpected bug in the fake: answer like Auth0 would, loudly
            traceback.print_exc()
            response = Response(500, error_body(500, "An internal server error occurred"))
        response.headers.update(rate_headers)
        return response

    def _dispatch(
        self, method: str, raw_path: str, raw_query: str, body: bytes, environ: dict[str, Any]
    ) -> Response:
        found = _route(method, raw_path)
        if found is None:
            raise ApiError(404, "Not Found")
        route, params = found
        disabled = self.tenant.search_status
        if disabled is not None and route.handler is search_orgs:
            raise ApiError(disabled, "Not Found" if disabled == 404 else reason(disabled))
        auth = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Missing authentication")
        if not self.tenant.token_valid(token.strip()):
            raise ApiError(
                401,
                "Invalid token",
                body={**error_body(401, "Invalid token"), "attributes": {"error": "Invalid token"}},
                headers={"WWW-Authenticate": WWW_AUTHENTICATE},
            )
        payload = None
        if method in ("POST", "PATCH", "PUT", "DELETE") and body.strip():
            if "json" not in environ.get("CONTENT_TYPE", ""):
                raise ApiError(415, "Unsupported Media Type")
            payload = decode_json(body)
        granted = set(self.tenant.scopes)
        groups = route.scopes(raw_query, payload)
        if any(not granted.intersection(group) for group in groups):
            raise _scope_error([s for g in groups for s in g])
        with self.tenant.lock:
            ctx = api.Ctx(
                store=self.tenant.store,
                params=params,
                raw_query=raw_query,
                payload=payload,
                scopes=tuple(granted),
                limit_quirk=self.tenant.enabled_connections_limit_quirk,
            )
            status, out = route.handler(ctx)
        return Response(status, out)


def _route(method: str, raw_path: str) -> tuple[api.Route, dict[str, str]] | None:
    """Split the RAW path on "/" and decode each segment: `%2F` stays inside its segment."""
    if not raw_path.startswith("/api/v2/"):
        return None
    segments = [unquote(s, errors="replace") for s in raw_path[len("/api/v2/") :].split("/")]
    return api.match(method, segments)


def _scope_error(scopes: list[str]) -> ApiError:
    return ApiError(
        403, f"Insufficient scope, expected any of: {', '.join(scopes)}", "insufficient_scope"
    )


def _logged_json(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(data, dict) and "client_secret" in data:
        data = {**data, "client_secret": "[redacted]"}
    return data


def make_app(tenant: Tenant) -> WSGIApp:
    """The sandbox tenant as a WSGI callable."""
    return SandboxApp(tenant)


def _override(headers: dict[str, str], extra: dict[str, str]) -> None:
    """Set `extra` on `headers`, replacing any header of the same name in another case."""
    lowered = {name.lower() for name in extra}
    for name in [n for n in headers if n.lower() in lowered]:
        del headers[name]
    headers.update(extra)
