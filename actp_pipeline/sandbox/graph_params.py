"""The Graph API's request parameters: how a request's query and body become one mapping, and how each
kind of parameter (string, id, enum, JSON, budget, boolean) is read from it, raising the dialect's 400s.
Apart from the objects so that the ads objects and the Instagram nodes parse alike.

POST parameters come as a JSON object or application/x-www-form-urlencoded (where JSON-valued params
such as targeting, creative, filtering, rename_options arrive as JSON strings); GET parameters come in
the query string. Unknown parameters are ignored.

The budget bounds live here, with the parser that enforces them. Fields, filtering and cursors are in
graph_listing.py; times and insights periods in graph_times.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from .graph_errors import SUB_JSON, SUB_MIN_BUDGET, SUB_MISSING, invalid
from .validation import decode_json

MIN_DAILY_BUDGET = 100  # minor units ($1.00), per ad set and per campaign
# $100,000 a day: far above any budget this project rehearses, so a larger one is a typo (or hostile) and
# is refused rather than spent by the simulated world; it also keeps budget arithmetic small
MAX_DAILY_BUDGET = 10_000_000
_BUDGET_DIGITS = re.compile(r"\s*([0-9]{1,15})\s*", re.ASCII)  # ASCII only: int() would also take "٥٠٠" or "５００"
MAX_NAME = 400


def graph_params(query: Iterable[tuple[str, str]], method: str, content_type: str, raw: bytes) -> dict[str, Any]:
    """Query parameters (the last value of a name wins), overlaid by a POST body: a JSON object or
    form-urlencoded (`content_type` is the bare media type, "" when absent)."""
    params: dict[str, Any] = dict(query)
    if method != "POST" or not raw.strip():
        return params
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("the request body is not UTF-8", SUB_JSON) from None
    if content_type == "application/json" or (not content_type and text.lstrip().startswith("{")):
        try:
            body = decode_json(text)
        except ValueError as exc:
            raise invalid(f"malformed JSON body: {exc}", SUB_JSON) from None
        if not isinstance(body, dict):
            raise invalid("the JSON body must be an object of parameters", SUB_JSON)
        params.update(body)
    elif content_type in ("application/x-www-form-urlencoded", ""):
        params.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
    else:
        raise invalid(f"unsupported Content-Type {content_type!r}: send application/x-www-form-urlencoded or JSON")
    return params


def param_str(params: Mapping[str, Any], name: str, *, required: bool = False, max_len: int = MAX_NAME) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise invalid(f"the parameter {name} is required", SUB_MISSING, name)
        return None
    if not isinstance(value, str):
        raise invalid(f"{name} must be a string", field=name)
    if len(value) > max_len:
        raise invalid(f"{name} is longer than {max_len} characters", field=name)
    return value


def param_id(params: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    """An object id parameter (a string, or an integer from JSON clients)."""
    value = params.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    value = param_str(params, name, required=required, max_len=64)
    return value.strip() if value is not None else None


def param_enum(params: Mapping[str, Any], name: str, allowed: Iterable[str], default: str | None = None) -> str | None:
    value = param_str(params, name)
    if value is None:
        return default
    allowed = tuple(allowed)
    if value.upper() not in allowed:
        raise invalid(f"{name} must be one of {', '.join(allowed)}, got {value!r}", field=name)
    return value.upper()


def param_json(params: Mapping[str, Any], name: str) -> Any:
    """A JSON-valued parameter: already parsed (JSON bodies) or a JSON string (forms, query strings)."""
    value = params.get(name)
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return decode_json(value)
    except ValueError as exc:
        raise invalid(f"the parameter {name} is not valid JSON: {exc}", SUB_JSON, name) from None


def param_budget(params: Mapping[str, Any], name: str = "daily_budget", *, maximum: int = MAX_DAILY_BUDGET) -> int | None:
    """A budget in minor units (a JSON integer or a string of ASCII digits); None when absent; between
    MIN_DAILY_BUDGET and `maximum`."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    digits = _BUDGET_DIGITS.fullmatch(value) if isinstance(value, str) else None
    if digits:
        value = int(digits.group(1))
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        shown = value if isinstance(value, (int, float)) else repr(value)[:40]
        raise invalid(f"{name} must be an integer number of minor units (cents) in ASCII digits, got {shown}",
                      field=name)
    if value < MIN_DAILY_BUDGET:
        raise invalid(f"{name} {value} is below the minimum daily budget of {MIN_DAILY_BUDGET} minor units "
                      f"(${MIN_DAILY_BUDGET / 100:.2f})", SUB_MIN_BUDGET, name)
    if value > maximum:
        raise invalid(f"{name} {value} is above the sandbox's maximum of {maximum} minor "
                      f"units (${maximum // 100:,})", field=name)
    return value


def param_bool(params: Mapping[str, Any], name: str, default: bool) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in ("true", "1"):
        return True
    if str(value).strip().lower() in ("false", "0"):
        return False
    raise invalid(f"{name} must be true or false", field=name)
