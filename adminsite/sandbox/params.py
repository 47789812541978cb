"""Error bodies, query/body validation and pagination, shaped like the Management API's (hapi)."""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

OFFSET_CAP = 1000


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def error_body(status: int, message: str, error_code: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"statusCode": status, "error": reason(status), "message": message}
    if error_code:
        body["errorCode"] = error_code
    return body


class ApiError(Exception):
    """An error answered with Auth0's `{"statusCode","error","message"[,"errorCode"]}` body."""

    def __init__(
        self,
        status: int,
        message: str,
        error_code: str | None = None,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else error_body(status, message, error_code)
        self.headers = headers or {}


def query_error(message: str, prop: str | None = None) -> ApiError:
    where = f" on property {prop}" if prop else ""
    return ApiError(400, f"Query validation error: '{message}'{where}.", "invalid_query_string")


def body_error(message: str, prop: str | None = None) -> ApiError:
    where = f" on property {prop}" if prop else ""
    return ApiError(400, f"Payload validation error: '{message}'{where}.", "invalid_body")


# --- query strings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Q:
    """One allowed query parameter: kind is int, bool, str or multi (a repeatable string)."""

    kind: str
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    pattern: str | None = None


PAGE = Q("int", 0, 1000)
PER_PAGE = Q("int", 1, 100)
TAKE = Q("int", 1, 100)
BOOL = Q("bool")
STR = Q("str")
OFFSET_PARAMS = {"page": PAGE, "per_page": PER_PAGE, "include_totals": BOOL}
CHECKPOINT_PARAMS = {"from": STR, "take": TAKE}
FIELDS_PARAMS = {"fields": STR, "include_fields": BOOL}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def parse_query(raw_query: str, schema: dict[str, Q]) -> dict[str, Any]:
    """Validate a raw query string against the allowed parameters, or raise 400."""
    try:
        pairs = parse_qsl(raw_query, keep_blank_values=True, strict_parsing=False)
    except ValueError as exc:
        raise query_error(str(exc)) from None
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    unknown = [k for k in grouped if k not in schema]
    if unknown:
        raise query_error(f"Additional properties not allowed: {','.join(unknown)}")
    out: dict[str, Any] = {}
    for key, values in grouped.items():
        spec = schema[key]
        if spec.kind == "multi":
            out[key] = values
            continue
        if len(values) > 1:
            raise query_error(f"Expected type {_kind_name(spec)} but found type array", key)
        out[key] = _convert(key, values[0], spec)
    return out


def _kind_name(spec: Q) -> str:
    return {"int": "integer", "bool": "boolean"}.get(spec.kind, "string")


def _convert(key: str, value: str, spec: Q) -> Any:
    if spec.kind == "int":
        if not re.fullmatch(r"-?\d{1,12}", value):
            raise query_error("Expected type integer but found type string", key)
        number = int(value)
        if spec.minimum is not None and number < spec.minimum:
            raise query_error(f"Value {number} is less than minimum {spec.minimum}", key)
        if spec.maximum is not None and number > spec.maximum:
            raise query_error(f"Value {number} is greater than maximum {spec.maximum}", key)
        return number
    if spec.kind == "bool":
        if value not in ("true", "false"):
            raise query_error("Expected type boolean but found type string", key)
        return value == "true"
    if spec.max_length is not None and len(value) > spec.max_length:
        raise query_error(
            f"String is too long ({len(value)} chars), maximum {spec.max_length}", key
        )
    if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
        raise query_error(f"String does not match pattern {spec.pattern}: {value}", key)
    return value


# --- bodies -------------------------------------------------------------------------------------

# kinds: boolean, string, object, array_str (array of strings), array
Body = dict[str, str]


def parse_body(
    payload: Any,
    schema: Body,
    *,
    required: Sequence[str] = (),
    min_items: dict[str, int] | None = None,
    max_lengths: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Validate a decoded JSON payload (additionalProperties false), or raise 400 invalid_body."""
    if not isinstance(payload, dict):
        raise body_error(f"Expected type object but found type {_json_type(payload)}")
    unknown = [k for k in payload if k not in schema]
    if unknown:
        raise body_error(f"Additional properties not allowed: {','.join(unknown)}")
    for key in required:
        if key not in payload:
            raise body_error(f"Missing required property: {key}")
    for key, value in payload.items():
        kind = schema[key]
        expected = "array" if kind.startswith("array") else kind
        if _json_type(value) != expected:
            raise body_error(f"Expected type {expected} but found type {_json_type(value)}", key)
        if kind == "array_str":
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    found = _json_type(item)
                    raise body_error(f"Expected type string but found type {found}", f"{key}[{i}]")
        least = (min_items or {}).get(key)
        if least is not None and len(value) < least:
            raise body_error(f"Array is too short ({len(value)}), minimum {least}", key)
        most = (max_lengths or {}).get(key)
        if most is not None and len(value) > most:
            what = "Array" if isinstance(value, list) else "String"
            unit = "" if isinstance(value, list) else " chars"
            raise body_error(f"{what} is too long ({len(value)}{unit}), maximum {most}", key)
    return payload


def decode_json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "Invalid request payload JSON format") from None


# --- pagination ---------------------------------------------------------------------------------


def is_checkpoint(q: dict[str, Any]) -> bool:
    return "from" in q or "take" in q


def offset_page(
    items: Sequence[Any], q: dict[str, Any], *, default_per_page: int = 50
) -> tuple[list[Any], int, int]:
    """The offset slice, its start and per_page, enforcing the 1,000-record cap."""
    page = q.get("page", 0)
    per_page = q.get("per_page", default_per_page)
    if page * per_page + per_page > OFFSET_CAP:
        raise ApiError(
            400,
            f"Requesting page {page} exceeds the allowed maximum of {OFFSET_CAP} records. "
            "To fetch results beyond 1000, use the checkpoint pagination method.",
            "invalid_paging",
        )
    start = page * per_page
    return list(items[start : start + per_page]), start, per_page


# Checkpoint cursors are opaque to clients, as Auth0's are. The sandbox's deliberately hold
# characters that are special in URLs and not base64 (`|`, `+`, `/`, `=`, `&`, `~`), so that a
# client which does not percent-encode the cursor, or which checks its shape, fails in tests.
CURSOR_PREFIX = "ck~1|"
CURSOR_SUFFIX = "|/=&"
_CURSOR_TIME = re.compile(r"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d{6})")


def encode_cursor(created_at: str, ident: str) -> str:
    """An opaque cursor after (created_at, id): `ck~1|<digits of the time>+<id>|/=&`."""
    digits = re.sub(r"\D", "", created_at)
    return f"{CURSOR_PREFIX}{digits}+{ident}{CURSOR_SUFFIX}"


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The (created_at, id) a cursor of encode_cursor stands for; anything else is a 400."""
    if not (cursor.startswith(CURSOR_PREFIX) and cursor.endswith(CURSOR_SUFFIX)):
        raise query_error("Invalid checkpoint value", "from")
    digits, _, ident = cursor[len(CURSOR_PREFIX) : -len(CURSOR_SUFFIX)].partition("+")
    found = _CURSOR_TIME.fullmatch(digits)
    if found is None or not ident:
        raise query_error("Invalid checkpoint value", "from")
    y, mo, d, h, mi, sec, micro = found.groups()
    return f"{y}-{mo}-{d} {h}:{mi}:{sec}.{micro}", ident


def checkpoint_window(
    keys: Sequence[tuple[str, str]],
    q: dict[str, Any],
    *,
    position: Mapping[str, int] | None = None,
) -> tuple[int, int, str | None, bool]:
    """A checkpoint page over sorted cursor keys (created_at, id): (start, end, cursor of the
    last item or None, whether more follow).

    Without `position` the keys are in cursor order and the cursor is found by bisection;
    with it (another sort order) the cursor's id is looked up there.
    """
    take = q.get("take", 50)
    start = 0
    if q.get("from"):
        cursor = decode_cursor(q["from"])
        if position is None:
            start = bisect_right(keys, cursor)
        else:
            found = position.get(cursor[1])
            if found is None:
                raise query_error("Invalid checkpoint value", "from")
            start = found + 1
    end = min(start + take, len(keys))
    cursor_out = encode_cursor(*keys[end - 1]) if end > start else None
    return start, end, cursor_out, end < len(keys)


def checkpoint_page(
    items: Sequence[Any],
    key: Callable[[Any], tuple[str, str]],
    q: dict[str, Any],
    *,
    ordered_by_key: bool = True,
) -> tuple[list[Any], str | None, bool]:
    """A checkpoint page of sorted `items`: (items, cursor of the last item or None, whether
    more follow). For small lists; big ones use checkpoint_window over a cached order."""
    keys = [key(item) for item in items]
    position = None if ordered_by_key else {k[1]: i for i, k in enumerate(keys)}
    start, end, cursor, more = checkpoint_window(keys, q, position=position)
    return list(items[start:end]), cursor, more
