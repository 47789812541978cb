"""Metrics and logs settings: who may read /metrics, and the log format (text or JSON lines).

Pure Python (no model, view or prometheus_client import), so settings.py can check the
configuration at start-up, as adminsite.sso_config does for SSO; mistakes raise
ImproperlyConfigured naming the setting.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS

type Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOG_FORMATS = ("text", "json")
METRICS_TOKEN_MIN_LENGTH = 16
# The fields every line starts with; JSON lines rename them to time, level and logger.
LOG_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
# A JSON line holds every attribute a log call adds (`extra`), except these: Django's loggers add
# the request, whose text is its full path with the query string (a search for an email is one),
# and the database's debug lines add the SQL and its parameters.
JSON_LEFT_OUT = ("request", "sql", "params")


def _network(value: str) -> Network:
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS: {value!r} is not an IP address or CIDR network ({exc})."
        ) from None
    if network.prefixlen == 0:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS: {value!r} would let every address read /metrics. List the "
            "Prometheus server's addresses, or use METRICS_TOKEN."
        )
    return network


@lru_cache(maxsize=16)
def metrics_networks(values: tuple[str, ...]) -> tuple[Network, ...]:
    """METRICS_ALLOWED_IPS (IPs or CIDR networks), checked; remembered for the next request."""
    return tuple(_network(v.strip()) for v in values if v and v.strip())


def setting_list(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """A list setting given as a list or as one comma-separated string."""
    if not value:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(v.strip() for v in value if v and v.strip())


def check_metrics(allowed_ips: Iterable[str], token: str) -> None:
    """Stop start-up on a METRICS_ALLOWED_IPS entry that is not an address, or a short token."""
    metrics_networks(setting_list(allowed_ips))
    if token and len(token) < METRICS_TOKEN_MIN_LENGTH:
        raise ImproperlyConfigured(
            f"METRICS_TOKEN is shorter than {METRICS_TOKEN_MIN_LENGTH} characters, so it could "
            'be guessed. Use e.g. python -c "import secrets; print(secrets.token_urlsafe(32))".'
        )


def log_format(value: str) -> str:
    value = (value or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT={value!r}: use text (the default) or json.")
    return value


def logging_config(base: dict[str, Any], fmt: str, level: str) -> dict[str, Any]:
    """`base` (settings.LOGGING) with the console handler on stderr in `fmt` (text or json),
    and the `orgdesk.request` logger at `level`. Other loggers and handlers are kept as they are.

    In JSON mode Django's own loggers hand their records to the same handler (instead of
    Django's default text handlers), so every line on stderr is one JSON object."""
    config = copy.deepcopy(base)
    config.setdefault("formatters", {}).update(
        {
            "text": {"format": LOG_FIELDS},
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": LOG_FIELDS,
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                "reserved_attrs": [*RESERVED_ATTRS, *JSON_LEFT_OUT],
            },
        }
    )
    console = config.setdefault("handlers", {}).setdefault(
        "console", {"class": "logging.StreamHandler"}
    )
    console.update(stream="ext://sys.stderr", formatter=log_format(fmt))
    loggers = config.setdefault("loggers", {})
    loggers["orgdesk.request"] = {"level": level}
    if fmt == "json":
        for name in ("django", "django.server"):
            loggers[name] = {"handlers": [], "level": "INFO", "propagate": True}
    return config
