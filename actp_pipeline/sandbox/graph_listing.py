"""Fields, filtering and paging of the Graph API's answers: which fields an answer carries (`fields`,
`creative{...}`), the `filtering` predicates and the opaque `after` cursors of a list. Apart from the
parameter parsing (graph_params.py) because these shape the answer rather than read the request.

Lists page with `limit` (default 25, at most 1000) and the opaque `after` cursor; `paging.next` is present
while more items follow; `summary=true` adds `summary.total_count` (the SDK's Cursor.total()). List
filtering: `filtering=[{"field", "operator", "value"}]` on name, id, status, effective_status, objective,
campaign.id, adset.id with EQUAL, NOT_EQUAL, IN, NOT_IN, CONTAIN, NOT_CONTAIN; DELETED objects are listed
only when a status filter asks for them (ads_reading.py applies the filters).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any

from .graph_errors import SUB_CURSOR, invalid
from .graph_params import param_json

DEFAULT_LIMIT = 25
MAX_LIMIT = 1000
FILTER_FIELDS = {"name": "name", "id": "id", "status": "status", "effective_status": "effective_status",
                 "objective": "objective", "campaign.id": "campaign_id", "campaign_id": "campaign_id",
                 "adset.id": "adset_id", "adset_id": "adset_id"}
FILTER_OPERATORS = ("EQUAL", "NOT_EQUAL", "IN", "NOT_IN", "CONTAIN", "NOT_CONTAIN")


def param_fields(params: Mapping[str, Any]) -> set[str] | None:
    """Top-level names of `fields=id,name,creative{object_story_id}`; None = every field."""
    raw = params.get("fields")
    if raw is None or raw == "":
        return None
    if isinstance(raw, str) and raw.lstrip().startswith("["):  # a JSON list (what the SDK sends for async)
        raw = param_json(params, "fields")
    if isinstance(raw, list):
        raw = ",".join(str(f) for f in raw)
    if not isinstance(raw, str):
        raise invalid("fields must be a comma-separated string", field="fields")
    names, depth, current = set(), 0, ""
    for ch in raw + ",":
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            if current.strip():
                names.add(current.strip())
            current = ""
            continue
        if depth == 0 and ch != "}":
            current += ch
        if depth < 0:
            raise invalid("fields has unbalanced braces", field="fields")
    if depth != 0:
        raise invalid("fields has unbalanced braces", field="fields")
    return names | {"id"}


def page_limit(params: Mapping[str, Any]) -> int:
    raw = params.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except (TypeError, ValueError, OverflowError):
        raise invalid("limit must be an integer", field="limit") from None
    if limit < 1:
        raise invalid("limit must be at least 1", field="limit")
    return min(limit, MAX_LIMIT)


def cursor_of(value: int) -> str:
    return base64.urlsafe_b64encode(f"c:{value}".encode()).decode().rstrip("=")


def cursor_value(raw: str) -> int:
    try:
        text = base64.urlsafe_b64decode((raw + "=" * (-len(raw) % 4)).encode("ascii")).decode()
        if not text.startswith("c:"):
            raise ValueError
        if not re.fullmatch(r"[0-9]{1,20}", text[2:], re.ASCII):
            raise ValueError
        return int(text[2:])
    except (ValueError, UnicodeError, binascii.Error):
        raise invalid("after is not a cursor of this listing", SUB_CURSOR, "after") from None


def pick(obj: dict[str, Any], fields: set[str] | None) -> dict[str, Any]:
    return obj if fields is None else {k: v for k, v in obj.items() if k in fields}


def predicate(key: str, op: str, value: Any) -> Callable[[dict[str, Any]], bool]:
    if op in ("IN", "NOT_IN"):
        values = {str(v) for v in value}
        return (lambda o: str(o.get(key)) in values) if op == "IN" else (lambda o: str(o.get(key)) not in values)
    if op in ("EQUAL", "NOT_EQUAL"):
        return (lambda o: str(o.get(key)) == str(value)) if op == "EQUAL" else (lambda o: str(o.get(key)) != str(value))
    needle = str(value).lower()
    if op == "CONTAIN":
        return lambda o: needle in str(o.get(key) or "").lower()
    return lambda o: needle not in str(o.get(key) or "").lower()


def subfields(params: Mapping[str, Any], name: str) -> set[str] | None:
    """The names inside `name{...}` of the `fields` parameter (None when `name` is asked for bare or not at all)."""
    raw = params.get("fields")
    if not isinstance(raw, str):
        return None
    m = re.search(r"(?:^|,)\s*" + re.escape(name) + r"\s*\{([^{}]*)\}", raw)
    return {f.strip() for f in m.group(1).split(",") if f.strip()} if m else None
