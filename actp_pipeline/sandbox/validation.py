"""Field checks of the sandbox's JSON requests: each failure is an ApiError 400 that names its field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .errors import ApiError, bad_request


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object (no NaN/Infinity); 400 invalid_json on anything else."""
    if not raw.strip():
        raise bad_request("the request body must be a JSON object", field="body", code="invalid_json")

    def _no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        parsed = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
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
    """An ISO 8601 timestamp in UTC (naive = UTC)."""
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise bad_request(f"{name} must be an ISO 8601 timestamp", field=name, code="invalid_field") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
