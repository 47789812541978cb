"""Control endpoints under /__sandbox/ (not Auth0 paths; no auth): faults, reset, config, log."""

from __future__ import annotations

import json
from typing import Any

from .tenant import Tenant

FAULT_KEYS = {"method", "path", "status", "body", "headers", "delay", "drop", "times", "truncate"}
CONFIG_KEYS = {"scopes", "rate_limit", "rate_window", "latency", "expire_tokens", "search_status"}


def _bad(message: str) -> tuple[int, Any]:
    return 400, {"statusCode": 400, "error": "Bad Request", "message": message}


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def config_of(tenant: Tenant) -> dict[str, Any]:
    limit, window = tenant.rate_limit_config()
    return {
        "scopes": list(tenant.scopes),
        "rate_limit": limit,
        "rate_window": window,
        "latency": tenant.latency,
        "search_status": tenant.search_status,
    }


def handle(tenant: Tenant, method: str, raw_path: str, body: bytes) -> tuple[int, Any]:
    path = raw_path.rstrip("/")
    if path == "/__sandbox/faults" and method == "POST":
        data = _json_object(body)
        if data is None:
            return _bad("Send a JSON object with add_fault's keys.")
        unknown = sorted(set(data) - FAULT_KEYS)
        if unknown:
            return _bad(f"Unknown keys: {', '.join(unknown)}")
        try:
            tenant.add_fault(**data)
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
        return 201, {"fault": {k: data[k] for k in data if k != "body"}}
    if path == "/__sandbox/faults" and method == "DELETE":
        tenant.clear_faults()
        return 204, None
    if path == "/__sandbox/reset" and method == "POST":
        tenant.reset()
        return 204, None
    if path == "/__sandbox/config" and method in ("POST", "GET"):
        if method == "GET":
            return 200, config_of(tenant)
        data = _json_object(body)
        if data is None:
            return _bad("Send a JSON object.")
        unknown = sorted(set(data) - CONFIG_KEYS)
        if unknown:
            return _bad(f"Unknown keys: {', '.join(unknown)}")
        try:
            if "scopes" in data:
                tenant.set_scopes(data["scopes"])
            if "rate_limit" in data or "rate_window" in data:
                current, window = tenant.rate_limit_config()
                tenant.set_rate_limit(
                    data.get("rate_limit", current), float(data.get("rate_window", window))
                )
            if "latency" in data:
                tenant.latency = float(data["latency"])
            if "search_status" in data:
                tenant.disable_search(data["search_status"])
            if data.get("expire_tokens"):
                tenant.expire_tokens()
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
        return 200, config_of(tenant)
    if path == "/__sandbox/requests" and method == "GET":
        with tenant.lock:
            return 200, [dict(entry) for entry in tenant.requests_log]
    if path == "/__sandbox/requests" and method == "DELETE":
        tenant.clear_log()
        return 204, None
    return 404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"}
