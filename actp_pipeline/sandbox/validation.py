"""Field checks of the sandbox's JSON requests: each failure is an ApiError 400 that names its field."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from .clock import EARLIEST, LATEST
from .errors import ApiError, bad_request


# Real requests nest a few levels (targeting specs are the deepest); 64 is far beyond any of them and far
# below the interpreter's recursion limit, which a hostile body would otherwise hit.
MAX_JSON_DEPTH = 64
# Every number the sandbox takes (budgets, hours, ids, offsets) fits in a signed 64-bit integer; bigger
# ones are hostile, and would overflow SQLite or float conversion further in.
MAX_JSON_INT = 2**63 - 1


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_JSON_INT:
        raise ValueError(f"the number {text[:40]}... is out of range")
    return value


def _check_text(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string holds a lone surrogate (not valid Unicode)") from None


def _walk(value: Any) -> None:
    """Iteratively (a hostile body must not recurse): the depth is at most MAX_JSON_DEPTH and every
    string, keys too, is valid Unicode; the parse hooks already checked the numbers."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")
            for k in item if isinstance(item, dict) else ():
                _check_text(k)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))


def decode_json(text: str) -> Any:
    """The one JSON decoder of every sandbox route: no NaN/Infinity, no number beyond 64 bits or float
    range, no lone surrogate, at most MAX_JSON_DEPTH levels. ValueError (with a reason) on anything else,
    so each dialect can say it in its own error shape."""
    try:
        parsed = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float,
                            parse_int=_bounded_int)
    except RecursionError:  # the C parser's own guard, far deeper than MAX_JSON_DEPTH
        raise ValueError(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels") from None
    _walk(parsed)
    return parsed


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object (see decode_json); 400 invalid_json on anything else."""
    if not raw.strip():
        raise bad_request("the request body must be a JSON object", field="body", code="invalid_json")
    try:
        parsed = decode_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request(f"malformed JSON body: {exc}", field="body", code="invalid_json") from None
    if not isinstance(parsed, dict):
        raise bad_request("the request body must be a JSON object", field="body", code="invalid_json")
    return parsed


def type_error(name: str, expected: str, value: Any) -> ApiError:
    got = "null" if value is None else type(value).__name__
    return bad_request(f"{name} must be {expected}, got {got}", field=name, code="invalid_field")


def missing(name: str) -> ApiError:
    return bad_request(f"{name} is required", field=name, code="missing_field")


def str_field(body: dict[str, Any], name: str, *, required: bool = True, max_len: int | None = None,
              allow_empty: bool = False, default: str | None = None) -> str | None:
    """A string field; None/absent gives `default` unless required."""
    if name not in body or (body[name] is None and not required):
        if required:
            raise missing(name)
        return default
    value = body[name]
    if not isinstance(value, str):
        raise type_error(name, "a string", value)
    if not allow_empty and not value.strip():
        raise bad_request(f"{name} must not be empty", field=name, code="invalid_field")
    if max_len is not None and len(value) > max_len:
        raise bad_request(f"{name} is longer than {max_len} characters", field=name, code="invalid_field")
    return value


def str_list_field(body: dict[str, Any], name: str, *, max_items: int, max_len: int,
                   required: bool = False) -> list[str]:
    if name not in body or body[name] is None:
        if required:
            raise missing(name)
        return []
    value = body[name]
    if not isinstance(value, list):
        raise type_error(name, "a list of strings", value)
    if len(value) > max_items:
        raise bad_request(f"{name} has {len(value)} entries; at most {max_items} are allowed", field=name,
                          code="invalid_field")
    for i, v in enumerate(value):
        if not isinstance(v, str):
            got = "null" if v is None else type(v).__name__
            raise bad_request(f"{name}[{i}] must be a string, got {got}", field=name, code="invalid_field")
        if len(v) > max_len:
            raise bad_request(f"{name}[{i}] is longer than {max_len} characters", field=name, code="invalid_field")
    return list(value)


def parse_time(value: str, name: str) -> datetime:
    """An ISO 8601 timestamp in UTC (naive = UTC), within the simulated clock's range (clock.EARLIEST to
    clock.LATEST), so date arithmetic on it cannot overflow."""
    try:
        dt = datetime.fromisoformat(value.strip())
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        dt = dt.astimezone(UTC)
    except (ValueError, OverflowError):
        raise bad_request(f"{name} must be an ISO 8601 timestamp", field=name, code="invalid_field") from None
    if not EARLIEST <= dt <= LATEST:
        raise bad_request(f"{name} must be between {EARLIEST.date()} and {LATEST.date()}", field=name,
                          code="invalid_field")
    return dt
