"""The sandbox tenant: seeded state plus the knobs tests turn (faults, scopes, tokens, rates)."""

from __future__ import annotations

import base64
import json
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import seed
from .seed import Store

TOKEN_LIFETIME = 86400

ALL_SCOPES: tuple[str, ...] = (
    "read:organizations",
    "read:organizations_summary",
    "update:organizations",
    "read:organization_connections",
    "create:organization_connections",
    "update:organization_connections",
    "delete:organization_connections",
    "read:organization_members",
    "create:organization_members",
    "delete:organization_members",
    "read:organization_member_roles",
    "create:organization_member_roles",
    "delete:organization_member_roles",
    "read:organization_invitations",
    "create:organization_invitations",
    "delete:organization_invitations",
    "read:clients",
    "read:connections",
    "update:connections",
    "read:connections_options",
    "update:connections_options",
    "read:roles",
    "read:users",
)


@dataclass
class Fault:
    method: str | None
    path: re.Pattern[str] | None
    status: int | None
    body: Any
    headers: dict[str, str]
    delay: float
    drop: bool
    remaining: int | None  # None: every matching request, until clear_faults()
    spec: dict[str, Any] = field(default_factory=dict)
    truncate: bool = False  # answer for real, but cut the body off halfway

    def matches(self, method: str, raw_path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or self.path.search(raw_path) is not None


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Tenant:
    """An in-memory Auth0 tenant. Every method is thread-safe (one lock, `self.lock`)."""

    def __init__(
        self,
        seed: int = 7,
        organizations: int = 1200,
        big_org_members: int = 1200,
        client_id: str = "org-desk-sandbox",
        client_secret: str = "sandbox-secret",
        latency: float = 0.0,
    ) -> None:
        self.seed = seed
        self.organizations = organizations
        self.big_org_members = big_org_members
        self.client_id = client_id
        self.client_secret = client_secret
        self._initial_latency = latency
        self.latency = latency
        # `limit` in the enabled_connections totals equals the number of items (observed quirk).
        self.enabled_connections_limit_quirk = True
        self.lock = threading.RLock()
        self.requests_log: list[dict[str, Any]] = []
        self._tokens: dict[str, float] = {}
        self._faults: list[Fault] = []
        self._scopes: list[str] | None = None
        self._search_status: int | None = None
        self._rate_limit: int | None = None
        self._rate_window = 60.0
        self._bucket = 0.0
        self._bucket_at = 0.0
        self.store: Store
        self.reset()

    # --- state -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Reseed the data and restore the defaults: no faults, all scopes, no rate limit.

        Issued tokens stay valid; the request log is emptied.
        """
        store = seed.build(self.seed, self.organizations, self.big_org_members)
        with self.lock:
            self.store = store
            self._faults.clear()
            self._scopes = None
            self._search_status = None
            self._rate_limit = None
            self._rate_window = 60.0
            self.latency = self._initial_latency
            self.enabled_connections_limit_quirk = True
            self.requests_log.clear()

    def clear_log(self) -> None:
        with self.lock:
            self.requests_log.clear()

    def log_request(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.requests_log.append(entry)

    # --- faults ------------------------------------------------------------------------------

    def add_fault(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        drop: bool = False,
        times: int | None = 1,
        truncate: bool = False,
    ) -> None:
        """The next `times` matching requests (method, and `path` re.search on the raw path)
        get `status` + `body` (dict: JSON, str: raw, None: Auth0's body for that status),
        after `delay` seconds; `drop` closes the connection without an answer; `truncate` handles
        the request for real (a change is made) but closes the connection halfway through the
        answer's body."""
        fault = Fault(
            method=method,
            path=re.compile(path) if path is not None else None,
            status=int(status) if status is not None else None,
            body=body,
            headers={str(k): str(v) for k, v in (headers or {}).items()},
            delay=float(delay),
            drop=bool(drop),
            truncate=bool(truncate),
            remaining=None if times is None else int(times),
            spec={"method": method, "path": path, "status": status, "times": times},
        )
        with self.lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def take_fault(self, method: str, raw_path: str) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.matches(method, raw_path):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # --- scopes and tokens -------------------------------------------------------------------

    def set_scopes(self, scopes: list[str] | None) -> None:
        """None grants every scope; otherwise only these (checked on every call)."""
        with self.lock:
            self._scopes = None if scopes is None else list(scopes)

    def disable_search(self, status: int | None = 404) -> None:
        """Make GET /organizations/search answer `status` with Auth0's body for it (404: a
        tenant whose API has no such endpoint); None makes search available again. reset()
        does too."""
        with self.lock:
            self._search_status = None if status is None else int(status)

    @property
    def search_status(self) -> int | None:
        """The status search answers while disabled (disable_search), or None."""
        with self.lock:
            return self._search_status

    @property
    def scopes(self) -> tuple[str, ...]:
        with self.lock:
            return ALL_SCOPES if self._scopes is None else tuple(self._scopes)

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (401 Invalid token)."""
        with self.lock:
            self._tokens.clear()

    def issue_token(self, audience: str) -> dict[str, Any]:
        now = int(time.time())
        scope = " ".join(self.scopes)
        header = {"alg": "RS256", "typ": "JWT", "kid": "sandbox"}
        claims = {
            "iss": "https://sandbox.orgdesk.invalid/",
            "sub": f"{self.client_id}@clients",
            "aud": audience,
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
            "scope": scope,
            "gty": "client-credentials",
            "azp": self.client_id,
            "jti": secrets.token_hex(8),
        }
        token = f"{_b64(header)}.{_b64(claims)}.{secrets.token_urlsafe(32)}"
        with self.lock:
            self._tokens[token] = time.time() + TOKEN_LIFETIME
        return {
            "access_token": token,
            "expires_in": TOKEN_LIFETIME,
            "scope": scope,
            "token_type": "Bearer",
        }

    def token_valid(self, token: str) -> bool:
        with self.lock:
            expiry = self._tokens.get(token)
            return expiry is not None and expiry > time.time()

    # --- rate limit --------------------------------------------------------------------------

    def set_rate_limit(self, limit: int | None, window: float = 60) -> None:
        """None: unlimited (the default). Otherwise a token bucket of `limit` requests,
        refilled at `limit` per `window` seconds, shared by every /api/v2 call."""
        with self.lock:
            self._rate_limit = None if limit is None else max(0, int(limit))
            self._rate_window = float(window) if window and window > 0 else 60.0
            self._bucket = float(self._rate_limit or 0)
            self._bucket_at = time.monotonic()

    def rate_limit_config(self) -> tuple[int | None, float]:
        with self.lock:
            return self._rate_limit, self._rate_window

    def take_rate_token(self, consume: bool = True) -> tuple[bool, dict[str, str]]:
        """Take one token from the bucket; returns (allowed, X-RateLimit-* headers)."""
        with self.lock:
            now = time.time()
            limit = self._rate_limit
            if limit is None:
                return True, _rate_headers(50, 50, now)
            rate = limit / self._rate_window
            mono = time.monotonic()
            self._bucket = min(float(limit), self._bucket + (mono - self._bucket_at) * rate)
            self._bucket_at = mono
            if self._bucket < 1:
                wait = (1 - self._bucket) / rate if rate else self._rate_window
                return False, _rate_headers(limit, 0, now + wait)
            if consume:
                self._bucket -= 1
            full_in = (limit - self._bucket) / rate if rate else 0.0
            return True, _rate_headers(limit, int(self._bucket), now + full_in)

    def exhausted_rate_headers(self) -> dict[str, str]:
        """Headers for a 429 that a fault injects: empty bucket, reset one window from now."""
        with self.lock:
            limit = self._rate_limit if self._rate_limit is not None else 50
            return _rate_headers(limit, 0, time.time() + self._rate_window)


def _rate_headers(limit: int, remaining: int, reset_at: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, remaining)),
        "X-RateLimit-Reset": str(math.ceil(reset_at)),
    }
