"""Typed failures of the Management API, and how an error response becomes one of them.

`message` is safe to show to a support person: it is Auth0's own `message` or
`error_description` when there is one, otherwise a sentence of ours. Never a secret or a token.
`error_code` (Auth0's `errorCode`) comes from the same untrusted body and goes through the same
redaction (`redact`, `redact_code`) before a page or the audit log can show it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from django.conf import settings

# Real bodies say "Insufficient scope, expected any of: a, b"; the docs write "scope; expected".
_SCOPES = re.compile(r"expected any of\s*:\s*(.+)", re.IGNORECASE | re.DOTALL)

REDACTED = "[redacted]"
CODE_LIMIT = 64
# Credentials that can be recognised without knowing them: an Authorization value, and a JWT
# (three base64url parts, the first one a JSON object: "eyJ").
_BEARER = re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def redact(text: str, *secrets: str | None) -> str:
    """`text` with Org Desk's client secret, the given secrets (e.g. the access token in use),
    bearer credentials and JWTs replaced by "[redacted]"; the rest is kept.

    Secrets shorter than 4 characters are not replaced (they would shred ordinary words).
    """
    for secret in (getattr(settings, "AUTH0_CLIENT_SECRET", None), *secrets):
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def redact_code(code: object, *secrets: str | None) -> str | None:
    """Auth0's `errorCode` as Org Desk may show and store it: a string, redacted like messages,
    without control characters, at most CODE_LIMIT characters; None when there is none."""
    if not isinstance(code, str):
        return None
    code = "".join(c for c in code if unicodedata.category(c)[0] != "C").strip()
    return redact(code, *secrets)[:CODE_LIMIT] or None


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
        # Redacted here too, whoever raises: str(exc) reaches log lines, `message` and
        # `error_code` reach pages and the audit log.
        message = redact(message)
        super().__init__(redact(summary) if summary else message)
        self.message = message
        self.status_code = status_code
        self.error_code = redact_code(error_code)


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
