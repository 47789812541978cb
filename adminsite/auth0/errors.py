"""Typed failures of the Management API, and how an error response becomes one of them.

`message` is safe to show to a support person: it is Auth0's own `message` or
`error_description` when there is one, otherwise a sentence of ours. Never a secret or a token.
"""

from __future__ import annotations

import re
from datetime import datetime

# Real bodies say "Insufficient scope, expected any of: a, b"; the docs write "scope; expected".
_SCOPES = re.compile(r"expected any of\s*:\s*(.+)", re.IGNORECASE | re.DOTALL)


class Auth0Error(Exception):
    """Any failure of a Management API (or token endpoint) call."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_code: str | None = None,
        summary: str | None = None,
    ) -> None:
        super().__init__(summary or message)
        self.message = message
        self.status_code = status_code
        self.error_code = error_code


class BadRequest(Auth0Error):
    """400: invalid_body, invalid_query_string, invalid_paging, invalid_uri."""


class Unauthorized(Auth0Error):
    """401 after one token refresh and retry, or the token endpoint refused our credentials."""


class Forbidden(Auth0Error):
    """403: a missing scope (`missing_scopes`), or the token endpoint's access_denied."""

    def __init__(
        self,
        message: str,
        *,
        missing_scopes: list[str] | None = None,
        status_code: int | None = 403,
        error_code: str | None = None,
        summary: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, error_code=error_code, summary=summary)
        self.missing_scopes = (
            parse_missing_scopes(message) if missing_scopes is None else missing_scopes
        )


class NotFound(Auth0Error):
    """404: the organization, connection, member or role does not exist (any more)."""


class Conflict(Auth0Error):
    """409."""


class RateLimited(Auth0Error):
    """429 that was not worth waiting for; `reset_at` is when the budget refills."""

    def __init__(
        self,
        message: str,
        *,
        reset_at: datetime | None = None,
        retry_after: int = 1,
        status_code: int | None = 429,
        error_code: str | None = None,
        summary: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, error_code=error_code, summary=summary)
        self.reset_at = reset_at
        self.retry_after = max(1, retry_after)


class Unavailable(Auth0Error):
    """Auth0 failed or could not be read: reason is timeout, connection, server_error or
    bad_response."""

    def __init__(
        self,
        message: str,
        *,
        reason: str = "server_error",
        status_code: int | None = None,
        error_code: str | None = None,
        summary: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, error_code=error_code, summary=summary)
        self.reason = reason


class InvalidId(ValueError):
    """An id or name failed validation; raised before any HTTP call."""


def parse_missing_scopes(message: str) -> list[str]:
    """The scopes named by "Insufficient scope, expected any of: a, b" (also ";" or ",")."""
    found = _SCOPES.search(message or "")
    if not found:
        return []
    return [s for s in re.split(r"[\s,;]+", found.group(1).strip().rstrip(".")) if s]


_BY_STATUS: dict[int, type[Auth0Error]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}


def error_for_status(status: int, message: str, error_code: str | None) -> Auth0Error:
    """The typed exception for a non-2xx status other than 429."""
    if status >= 500:
        return Unavailable(
            message, reason="server_error", status_code=status, error_code=error_code
        )
    cls = _BY_STATUS.get(status, Auth0Error)
    return cls(message, status_code=status, error_code=error_code)
