"""The Meta Marketing (Graph) API's dialect as the sandbox speaks it: rules, errors, parameters, cursors.

Framework-free: routes/ads.py serves it over HTTP, ads_objects.py and ads_world.py hold the objects and
the world behind it.

Why: the ads orchestrator talks to Meta only through `actp_pipeline.ads.meta.MetaAdsClient` over
HTTP. Serving the same paths, parameters, objects and error bodies here lets the pipeline rehearse a
testing strategy against a seeded world; a real account is just another base URL and token.

Endpoints (prefix /graph/v<major>.<minor>, e.g. /graph/v21.0; `Authorization: Bearer <sandbox key>`)
---------------------------------------------------------------------------------------------------
  GET|POST /act_{acc}/campaigns     list / create (name, objective, status, daily_budget = CBO)
  GET|POST /act_{acc}/adsets        list / create (name, campaign_id, daily_budget iff ABO, targeting, ...)
  GET|POST /act_{acc}/ads           list / create (name, adset_id, status, creative {object_story_id, url_tags})
  GET      /act_{acc}/insights      level=adset, time_range, time_increment (1 | all_days),
                                    breakdowns=hourly_stats_aggregated_by_advertiser_time_zone
  GET|POST /{object_id}             read (fields=...) / update name, status, daily_budget -> {"success": true}
  POST     /{adset_id}/copies       campaign_id, deep_copy, status_option, rename_options
                                    (+ sandbox conveniences: name, daily_budget) -> {"copied_adset_id": ...,
                                    "ad_object_ids": [{"ad_object_type": "ad_set" | "ad", "source_id", "copied_id"}]}
  GET      /v1/_truth/ads           (X-Truth-Token) true rates and spend per ad set, for evaluation only

POST parameters come as a JSON object or application/x-www-form-urlencoded (where JSON-valued params
such as targeting, creative, filtering, rename_options arrive as JSON strings); GET parameters come in
the query string. Unknown parameters are ignored. Lists page with `limit` (default 25, at most 1000) and
the opaque `after` cursor; `paging.next` is present while more items follow. List filtering:
`filtering=[{"field", "operator", "value"}]` on name, id, status, effective_status, objective,
campaign.id, adset.id with EQUAL, NOT_EQUAL, IN, NOT_IN, CONTAIN, NOT_CONTAIN. `fields` picks the
returned fields (unknown names are ignored); without it every field is returned (a sandbox convenience:
Meta returns only ids, so clients should always name their fields).

Sandbox conveniences, Meta differences: ad accounts `act_<[A-Za-z0-9_-]{1,64}>` are provisioned on first
write (reading an unused account gives empty lists); the account time zone is UTC and the currency USD;
money is in minor units (cents) as strings; `account_id` fields are the bare id (as on Meta); a copy
takes `name` and `daily_budget`; insights ignore `fields` and always return the same columns;
`object_story_id` is a sandbox post id (/v1/posts); rows without impressions are omitted (as on Meta).

Errors (Graph shape: {"error": {"message", "type": "OAuthException", "code", "error_subcode",
"is_transient", "fbtrace_id"}}); subcodes other than 33 are the sandbox's own:
  HTTP 400 code 100 /1001 missing required parameter      /1002 invalid value (enum, type, range, fields)
               /1003 malformed JSON parameter (names it)   /1004 daily budget below 100 minor units ($1.00)
               /1005 budget on the wrong level: ad set budget on a CBO campaign, none on an ABO ad set,
                     or a campaign budget change on an ABO campaign
               /1006 object does not belong to the account  /1007 invalid paging cursor
  HTTP 404 code 100 /33   unknown object (in the path or referenced by a parameter, posts included)
  HTTP 400 code 17  /1701 more than 4 budget changes of one object within a rolling 60 simulated
                          minutes (Meta's own limit); is_transient: it lifts once the hour has passed
  HTTP 400 code 2500      unknown path component
  Authentication (401), unknown routes outside /graph and 405s come from the route table in the
  sandbox's own error shape ({"error": {"code": "<word>", "message"}}).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import parse_qs

from .clock import EARLIEST, LATEST
from .errors import ApiError
from .validation import decode_json

# ------------------------------------------------------------------------------------ the rules
MIN_DAILY_BUDGET = 100  # minor units ($1.00), per ad set and per campaign
# $100,000 a day: far above any budget this project rehearses, so a larger one is a typo (or hostile) and
# is refused rather than spent by the simulated world; it also keeps budget arithmetic small
MAX_DAILY_BUDGET = 10_000_000
_BUDGET_DIGITS = re.compile(r"\s*([0-9]{1,15})\s*", re.ASCII)  # ASCII only: int() would also take "٥٠٠" or "５００"
BUDGET_CHANGE_LIMIT = 4  # budget changes of one object ...
BUDGET_CHANGE_WINDOW_S = 3600.0  # ... within any rolling 60 simulated minutes
OBJECTIVES = ("OUTCOME_AWARENESS", "OUTCOME_TRAFFIC", "OUTCOME_ENGAGEMENT", "OUTCOME_LEADS",
              "OUTCOME_APP_PROMOTION", "OUTCOME_SALES")
STATUSES = ("ACTIVE", "PAUSED")
STATUS_OPTIONS = ("ACTIVE", "PAUSED", "INHERITED_FROM_SOURCE")
RENAME_STRATEGIES = ("DEEP_RENAME", "ONLY_TOP_LEVEL_RENAME", "NO_RENAME")
HOURLY = "hourly_stats_aggregated_by_advertiser_time_zone"
MAX_NAME = 400
DEFAULT_LIMIT = 25
MAX_LIMIT = 1000
ID_BASE = 120_210_000_000_000_000  # ids look like Meta's 18-digit ids
ACCOUNT_RE = re.compile(r"^act_[A-Za-z0-9_-]{1,64}$")

# error codes and the sandbox's subcodes (see the module docstring)
INVALID, RATE_LIMIT, UNKNOWN_PATH = 100, 17, 2500
SUB_MISSING, SUB_INVALID, SUB_JSON, SUB_MIN_BUDGET, SUB_BUDGET_LEVEL, SUB_ACCOUNT, SUB_CURSOR = range(1001, 1008)
SUB_UNKNOWN_OBJECT = 33
SUB_BUDGET_CHANGES = 1701

FILTER_FIELDS = {"name": "name", "id": "id", "status": "status", "effective_status": "effective_status",
                 "objective": "objective", "campaign.id": "campaign_id", "campaign_id": "campaign_id",
                 "adset.id": "adset_id", "adset_id": "adset_id"}
FILTER_OPERATORS = ("EQUAL", "NOT_EQUAL", "IN", "NOT_IN", "CONTAIN", "NOT_CONTAIN")


class GraphError(ApiError):
    """An error with the Graph API's body (routes/ads.py sends exc.body() with exc.status)."""

    def __init__(self, message: str, *, code: int = INVALID, subcode: int = SUB_INVALID, status: int = 400,
                 transient: bool = False, field: str | None = None):
        super().__init__(status, str(code), message, field)
        self.graph_code = code
        self.subcode = subcode
        self.transient = transient

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": "OAuthException", "code": self.graph_code,
                          "error_subcode": self.subcode, "is_transient": self.transient,
                          "fbtrace_id": self.trace_id()}}

    def trace_id(self) -> str:
        """A Meta-like trace id derived from the error itself (no random draw: the sandbox is reproducible)."""
        digest = hashlib.sha256(f"{self.graph_code}|{self.subcode}|{self.message}".encode()).digest()
        return "A" + base64.urlsafe_b64encode(digest[:15]).decode("ascii").rstrip("=")


def invalid(message: str, subcode: int = SUB_INVALID, field: str | None = None) -> GraphError:
    return GraphError(message, subcode=subcode, field=field)


def unknown_object(object_id: str, what: str = "Object") -> GraphError:
    return GraphError(f"Unsupported request: {what} with ID '{object_id}' does not exist", status=404,
                      subcode=SUB_UNKNOWN_OBJECT)


# ------------------------------------------------------------------------------------ parameters
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


def param_budget(params: Mapping[str, Any], name: str = "daily_budget") -> int | None:
    """A budget in minor units (a JSON integer or a string of ASCII digits); None when absent; between
    MIN_DAILY_BUDGET and MAX_DAILY_BUDGET."""
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
    if value > MAX_DAILY_BUDGET:
        raise invalid(f"{name} {value} is above the sandbox's maximum daily budget of {MAX_DAILY_BUDGET} minor "
                      f"units (${MAX_DAILY_BUDGET // 100:,})", field=name)
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


def param_fields(params: Mapping[str, Any]) -> set[str] | None:
    """Top-level names of `fields=id,name,creative{object_story_id}`; None = every field."""
    raw = params.get("fields")
    if raw is None or raw == "":
        return None
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


def graph_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def pick(obj: dict[str, Any], fields: set[str] | None) -> dict[str, Any]:
    return obj if fields is None else {k: v for k, v in obj.items() if k in fields}


def created_change(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """The change-log row of a new object: its initial status and budget."""
    return row["id"], "create", json.dumps({"status": row["status"], "daily_budget": row.get("daily_budget")})


def check_budget_level(campaign: Mapping[str, Any], budget: int | None) -> None:
    if campaign["daily_budget"] is not None and budget is not None:
        raise invalid(f"campaign {campaign['id']} uses campaign budget optimization (CBO): its ad sets take no "
                      "daily_budget", SUB_BUDGET_LEVEL, "daily_budget")
    if campaign["daily_budget"] is None and budget is None:
        raise invalid(f"campaign {campaign['id']} uses ad set budgets (ABO): daily_budget is required",
                      SUB_BUDGET_LEVEL, "daily_budget")


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


def time_range(raw: Any, today: date) -> tuple[date, date]:
    """(since, until), both inclusive; the last 30 days when absent (Meta's default)."""
    if raw is None:
        return today - timedelta(days=29), today
    if not isinstance(raw, dict) or "since" not in raw or "until" not in raw:
        raise invalid('time_range must be a JSON object {"since": "YYYY-MM-DD", "until": "YYYY-MM-DD"}',
                      field="time_range")
    try:
        since, until = date.fromisoformat(str(raw["since"])), date.fromisoformat(str(raw["until"]))
    except ValueError:
        raise invalid("time_range dates must be YYYY-MM-DD", field="time_range") from None
    if since < EARLIEST.date() or until > LATEST.date():  # date arithmetic on them cannot overflow
        raise invalid(f"time_range dates must be between {EARLIEST.date()} and {LATEST.date()}", field="time_range")
    if since > until:
        raise invalid("time_range.since is after time_range.until", field="time_range")
    if (until - since).days > 400:
        raise invalid("time_range spans more than 400 days", field="time_range")
    return since, until


def utm_content(ad: Mapping[str, Any]) -> str | None:
    tags = parse_qs((ad.get("creative") or {}).get("url_tags") or "")
    return tags.get("utm_content", [None])[0]

