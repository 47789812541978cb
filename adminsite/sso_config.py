"""SSO by trusted headers: read and check the SSO_* settings.

Pure Python (no model or auth imports), so settings.py can check the configuration at start-up
and adminsite.sso can read it again at request time. Every mistake raises ImproperlyConfigured
with a message that names the setting and says what to do.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from django.core.exceptions import ImproperlyConfigured

type Network = ipaddress.IPv4Network | ipaddress.IPv6Network

HEADER_NAME = re.compile(r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$")
# Headers a proxy or the server sets for its own purposes: never an identity.
RESERVED_HEADERS = {
    "authorization",
    "connection",
    "content-length",
    "content-type",
    "cookie",
    "forwarded",
    "host",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-csrftoken",
    "hx-request",
}


@dataclass(frozen=True, slots=True)
class SSOConfig:
    """The checked SSO configuration. `None` stands for "SSO off" (Django's own login)."""

    user_header: str  # as configured, e.g. "X-Forwarded-Email"
    user_meta_key: str  # where Django puts it: "HTTP_X_FORWARDED_EMAIL"
    groups_header: str  # "" when groups are not read from the proxy
    groups_meta_key: str | None
    operator_groups: frozenset[str]
    trusted_proxies: tuple[Network, ...]
    logout_url: str

    def is_trusted(self, remote_addr: str | None) -> bool:
        """Whether REMOTE_ADDR (the peer that connected to Org Desk) is a trusted SSO proxy."""
        try:
            address = ipaddress.ip_address((remote_addr or "").strip())
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted_proxies)

    def groups_of(self, meta: Mapping[str, str]) -> frozenset[str]:
        """The groups the proxy sent (comma-separated, blanks ignored); empty without the header."""
        if self.groups_meta_key is None:
            return frozenset()
        raw = meta.get(self.groups_meta_key, "")
        return frozenset(g.strip() for g in raw.split(",") if g.strip())


def meta_key(header: str, setting: str) -> str:
    """`X-Forwarded-Email` -> `HTTP_X_FORWARDED_EMAIL`, the request.META key of that header."""
    if not HEADER_NAME.match(header):
        raise ImproperlyConfigured(
            f"{setting}={header!r} is not an HTTP header name: use letters, digits and dashes, "
            "e.g. X-Forwarded-Email."
        )
    if header.lower() in RESERVED_HEADERS:
        raise ImproperlyConfigured(
            f"{setting}={header!r} is a header with another meaning; use the header your SSO "
            "proxy sets for this, e.g. X-Forwarded-Email or X-Forwarded-Groups."
        )
    return "HTTP_" + header.upper().replace("-", "_")


def _network(value: str) -> Network:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        hint = ""
        with contextlib.suppress(ValueError):
            hint = f" Did you mean {ipaddress.ip_network(value, strict=False)}?"
        raise ImproperlyConfigured(
            f"SSO_TRUSTED_PROXIES: {value!r} is not an IP address or CIDR network ({exc}).{hint}"
        ) from None
    if network.prefixlen == 0:
        raise ImproperlyConfigured(
            f"SSO_TRUSTED_PROXIES: {value!r} would trust every address, so anyone could claim "
            "to be anyone. List only the SSO proxy's own addresses."
        )
    return network


def parse(
    user_header: str,
    groups_header: str = "",
    operator_groups: Iterable[str] = (),
    trusted_proxies: Iterable[str] = (),
    logout_url: str = "",
) -> SSOConfig | None:
    """Check the SSO_* settings; None when SSO is off (no SSO_USER_HEADER)."""
    user_header = (user_header or "").strip()
    groups_header = (groups_header or "").strip()
    groups = frozenset(g.strip() for g in operator_groups if g and g.strip())
    proxies = [p.strip() for p in trusted_proxies if p and p.strip()]
    logout_url = (logout_url or "").strip()
    if not user_header:
        extra = [
            name
            for name, value in (
                ("SSO_GROUPS_HEADER", groups_header),
                ("SSO_OPERATOR_GROUPS", groups),
                ("SSO_TRUSTED_PROXIES", proxies),
                ("SSO_LOGOUT_URL", logout_url),
            )
            if value
        ]
        if extra:
            raise ImproperlyConfigured(
                f"{', '.join(extra)} set without SSO_USER_HEADER: SSO is off, so they would be "
                "ignored. Set SSO_USER_HEADER (e.g. X-Forwarded-Email) or remove them."
            )
        return None
    if not proxies:
        raise ImproperlyConfigured(
            "SSO_USER_HEADER is set but SSO_TRUSTED_PROXIES is empty: Org Desk must know the "
            "SSO proxy's addresses, or anyone could send the header. Set SSO_TRUSTED_PROXIES "
            "to the proxy's IPs or CIDR networks, e.g. 10.0.3.7 or 10.0.3.0/24."
        )
    if groups and not groups_header:
        raise ImproperlyConfigured(
            "SSO_OPERATOR_GROUPS is set but SSO_GROUPS_HEADER is not: Org Desk cannot see "
            "anyone's groups. Set SSO_GROUPS_HEADER (e.g. X-Forwarded-Groups)."
        )
    user_key = meta_key(user_header, "SSO_USER_HEADER")
    groups_key = meta_key(groups_header, "SSO_GROUPS_HEADER") if groups_header else None
    if groups_key == user_key:
        raise ImproperlyConfigured("SSO_GROUPS_HEADER must differ from SSO_USER_HEADER.")
    if logout_url and not (
        logout_url.startswith("https://")
        or logout_url.startswith("http://")
        or (logout_url.startswith("/") and not logout_url.startswith("//"))
    ):
        raise ImproperlyConfigured(
            f"SSO_LOGOUT_URL={logout_url!r} must be a path such as /oauth2/sign_out "
            "or an http(s) URL."
        )
    return SSOConfig(
        user_header=user_header,
        user_meta_key=user_key,
        groups_header=groups_header,
        groups_meta_key=groups_key,
        operator_groups=groups,
        trusted_proxies=tuple(_network(p) for p in proxies),
        logout_url=logout_url,
    )


@lru_cache(maxsize=16)
def parse_cached(
    user_header: str,
    groups_header: str,
    operator_groups: tuple[str, ...],
    trusted_proxies: tuple[str, ...],
    logout_url: str,
) -> SSOConfig | None:
    """`parse` for hashable arguments, remembered: the middleware calls it on every request."""
    return parse(user_header, groups_header, operator_groups, trusted_proxies, logout_url)
