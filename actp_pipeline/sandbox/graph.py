"""The Meta Marketing (Graph) API's dialect as the sandbox speaks it: rules, errors, parameters, cursors.

Framework-free: routes/ads.py serves it over HTTP, ads_objects.py and ads_world.py hold the objects and
the world behind it.

Why: the ads orchestrator talks to Meta through `actp_pipeline.ads.meta.MetaAdsClient` (httpx) or
`actp_pipeline.ads.meta_sdk.MetaSdkAdsClient` (Meta's own SDK, `facebook-business`). Serving Meta's paths,
parameters, objects, error bodies and rate-limit signals here lets the pipeline, and the official SDK
unchanged (only its base URL overridden, `FacebookSession.GRAPH = "<sandbox url>/graph"`), rehearse a
testing strategy against a seeded world; a real account is just another base URL and token.
tests/contract/ drives the sandbox with the SDK and checks its answers against documented examples.

Auth: the key as `access_token` (query string or form body: what the SDKs send) or `Authorization: Bearer`.
A missing token is HTTP 400 code 104, a wrong one HTTP 400 code 190 (OAuthException), as on Meta.

Endpoints (prefix /graph/v<major>.<minor>, e.g. /graph/v21.0)
---------------------------------------------------------------
  POST     /                       batch=[{method, relative_url, body}] (at most 50) -> [{code, headers, body}]
  GET      /act_{acc}              the ad account (currency USD, timezone_name UTC)
  GET|POST /act_{acc}/campaigns    list / create (name, objective, status, daily_budget = CBO, or lifetime_budget
                                   with stop_time, bid_strategy, special_ad_categories)
  GET|POST /act_{acc}/adsets       list / create (name, campaign_id, daily_budget or lifetime_budget + end_time
                                   iff ABO, start_time, end_time, targeting, bid_strategy, bid_amount, ...)
  GET|POST /act_{acc}/adcreatives  list / create (name, object_story_id = a published post, url_tags)
  GET|POST /act_{acc}/ads          list / create (name, adset_id, status, creative {"creative_id"} or an inline
                                   spec {object_story_id, url_tags}, which makes a creative too)
  GET|POST /act_{acc}/insights     GET: rows; POST: an async job -> {"report_run_id"}
  GET|POST /{id}                   read (fields=..., creative{object_story_id,url_tags}) / update name, status
                                   (ACTIVE, PAUSED, ARCHIVED, DELETED), budgets, end/stop time, bid -> {"success"}
  DELETE   /{id}                   status DELETED -> {"success": true} (the object stays readable)
  GET      /{campaign}/adsets, /{campaign}/ads, /{adset}/ads   the object's children
  GET|POST /{campaign|adset|ad}/insights   that object's rows (level defaults to the object's) / async job
  GET      /{report_run_id}        async_status ("Job Running" 50% on the first read, then "Job Completed" 100%)
  GET      /{report_run_id}/insights        the job's rows (of the moment it was asked for)
  POST     /{adset_id}/copies      campaign_id, deep_copy, status_option, rename_options
                                   (+ sandbox conveniences: name, daily_budget) -> {"copied_adset_id": ...,
                                   "ad_object_ids": [{"ad_object_type": "ad_set" | "ad", "source_id", "copied_id"}]}
  GET      /v1/_truth/ads          (X-Truth-Token) true rates and spend per ad set, for evaluation only

Insights: level account | campaign | adset | ad; fields (without it Meta's default: impressions, spend, plus
date_start/date_stop); time_range, else date_preset (today, yesterday, last_3d/7d/14d/28d/30d/90d,
this/last_month, this/last_quarter, this/last_year, this_week_*, last_week_*, maximum), else last_30d;
time_increment 1 | all_days; breakdowns=hourly_stats_aggregated_by_advertiser_time_zone. Rows carry spend,
impressions, clicks, inline_link_clicks, cpm, ctr, cpc, actions, cost_per_action_type, and ThruPlays as
Meta reports them: `video_thruplay_watched_actions` = [{"action_type": "video_view", "value"}] (with
cost_per_thruplay), never an action named "thruplay". Lists and values without events are left out.

POST parameters come as a JSON object or application/x-www-form-urlencoded (where JSON-valued params
such as targeting, creative, filtering, rename_options arrive as JSON strings); GET parameters come in
the query string. Unknown parameters are ignored. Lists page with `limit` (default 25, at most 1000) and
the opaque `after` cursor; `paging.next` is present while more items follow; `summary=true` adds
`summary.total_count` (the SDK's Cursor.total()). List filtering: `filtering=[{"field", "operator",
"value"}]` on name, id, status, effective_status, objective, campaign.id, adset.id with EQUAL, NOT_EQUAL,
IN, NOT_IN, CONTAIN, NOT_CONTAIN; DELETED objects are listed only when a status filter asks for them.

Rate-limit signals: every call on an account's objects carries `x-business-use-case-usage` ({account:
[{type: ads_management | ads_insights, call_count, total_cputime, total_time,
estimated_time_to_regain_access}]}) and `x-ad-account-usage` (insights also `x-fb-ads-insights-throttle`);
past the account's calls per rolling real hour (ads_objects.AccountUsage, 100,000 by default) the answer is
code 80004 (80000 for insights), subcode 2446079, is_transient. More than 4 budget changes of one object
within 60 simulated minutes is code 17 (transient).

Errors (Graph shape: {"error": {"message", "type": "OAuthException", "code", "error_subcode"?,
"is_transient", "error_user_title"?, "error_user_msg"?, "fbtrace_id"}}); every error under /graph is in
this shape, the route table's included. Subcodes other than 33 and 2446079 are the sandbox's own:
  HTTP 400 code 100 /1001 missing required parameter      /1002 invalid value (enum, type, range, fields)
               /1003 malformed JSON parameter (names it)   /1004 daily budget below 100 minor units ($1.00)
               /1005 budget on the wrong level: ad set budget on a CBO campaign, none on an ABO ad set,
                     a campaign budget change on an ABO campaign, daily vs lifetime budget mixed up
               /1006 object does not belong to the account  /1007 invalid paging cursor
               /1008 the object is DELETED (or ARCHIVED and the change is not a deletion)
  HTTP 404 code 100 /33   unknown object (in the path or referenced by a parameter, posts included)
  HTTP 400 code 17  /1701 more than 4 budget changes of one object within a rolling 60 simulated
                          minutes (Meta's own limit); is_transient: it lifts once the hour has passed
  HTTP 400 code 80004 (80000) /2446079 the account's call budget is used up; is_transient
  HTTP 400 code 104 / 190  missing / invalid access token
  HTTP 400 code 2500      unknown path component

Where the sandbox still differs from Meta (deliberately, or not modelled):
- ad accounts `act_<[A-Za-z0-9_-]{1,64}>` are provisioned on first write (reading an unused one gives empty
  lists); the account time zone is UTC and the currency USD; money is in minor units (cents);
- without `fields`, an object read returns every field (Meta returns only the id): clients should name
  their fields; unknown field names are ignored (Meta answers code 100);
- an unknown object is HTTP 404 (Meta: 400 with the same code 100 / subcode 33); the sandbox's subcodes
  (1001-1008, 1701) are its own, Meta's are many and undocumented as a list; error_user_title/msg are
  present on every validation error (Meta sends them on many, not all);
- an empty list answers {"data": [], "paging": {}} (Meta usually leaves paging out);
- `object_story_id` is a sandbox post id (/v1/posts), not "<page id>_<post id>"; a creative is only
  object_story_id + url_tags (no object_story_spec, asset feeds, images, videos); creatives cannot be
  updated or deleted;
- a copy takes `name` and `daily_budget` (Meta's /copies takes neither); only ad sets can be copied;
- insights: breakdowns other than the hourly one, action_breakdowns, attribution windows, reach,
  frequency, video_view (3-second views) and filtering on insights are not modelled; level=ad needs ad sets
  with one ad (the world delivers per ad set); the action types smartlink_click, profile_view and
  presave_complete are ACTP's stand-ins for custom conversions (Meta would report offsite_conversion.*);
- a campaign lifetime budget needs a stop_time on the campaign (Meta takes the end from its ad sets); a
  lifetime budget is paced evenly over [start, end) and a change re-spreads the whole amount;
- async jobs complete on their second read; batch calls cannot refer to each other's results
  (`{result=name:$.id}`), take no `attached_files`, and `include_headers` is ignored;
- rate limits count calls only (not CPU or time) in real time; the usage headers are on every call, not
  only once usage is noticeable; apps, users, pages (X-App-Usage) are not limited.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
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
STATUSES = ("ACTIVE", "PAUSED")  # what a new object may be created with
UPDATE_STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED", "DELETED")  # what an update may set (DELETE = DELETED)
BID_STRATEGIES = ("LOWEST_COST_WITHOUT_CAP", "LOWEST_COST_WITH_BID_CAP", "COST_CAP", "LOWEST_COST_WITH_MIN_ROAS")
BID_AMOUNT_STRATEGIES = ("LOWEST_COST_WITH_BID_CAP", "COST_CAP")  # these need a bid_amount
INSIGHT_LEVELS = ("account", "campaign", "adset", "ad")
DEFAULT_INSIGHT_FIELDS = ("impressions", "spend")  # Meta's answer to an insights call without `fields`
MAX_BATCH = 50  # Meta's limit of requests in one batch call
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
INVALID_TOKEN, NO_TOKEN = 190, 104  # Meta's codes for a bad and for a missing access token
ACCOUNT_LIMIT, SUB_ACCOUNT_LIMIT = 80004, 2446079  # Meta's ads_management business-use-case throttle
SUB_DELETED = 1008  # the object is deleted (or archived, and the change is not a deletion)
SUB_MISSING, SUB_INVALID, SUB_JSON, SUB_MIN_BUDGET, SUB_BUDGET_LEVEL, SUB_ACCOUNT, SUB_CURSOR = range(1001, 1008)
SUB_UNKNOWN_OBJECT = 33
SUB_BUDGET_CHANGES = 1701

FILTER_FIELDS = {"name": "name", "id": "id", "status": "status", "effective_status": "effective_status",
                 "objective": "objective", "campaign.id": "campaign_id", "campaign_id": "campaign_id",
                 "adset.id": "adset_id", "adset_id": "adset_id"}
FILTER_OPERATORS = ("EQUAL", "NOT_EQUAL", "IN", "NOT_IN", "CONTAIN", "NOT_CONTAIN")


# error_user_title of each kind of error (Meta shows these to people in Ads Manager; error_user_msg is the
# message itself, which already speaks to a person)
USER_TITLES = {
    SUB_MISSING: "Missing Parameter", SUB_INVALID: "Invalid Parameter", SUB_JSON: "Malformed Parameter",
    SUB_MIN_BUDGET: "Budget Too Low", SUB_BUDGET_LEVEL: "Budget On The Wrong Level",
    SUB_ACCOUNT: "Object From Another Ad Account", SUB_CURSOR: "Invalid Cursor",
    SUB_UNKNOWN_OBJECT: "Object Does Not Exist", SUB_BUDGET_CHANGES: "Too Many Budget Changes",
    SUB_ACCOUNT_LIMIT: "Too Many Calls", SUB_DELETED: "Object Deleted Or Archived",
}


class GraphError(ApiError):
    """An error with the Graph API's body (routes/ads.py sends exc.body() with exc.status)."""

    def __init__(self, message: str, *, code: int = INVALID, subcode: int | None = SUB_INVALID, status: int = 400,
                 transient: bool = False, field: str | None = None, user_title: str | None = None,
                 user_msg: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(status, str(code), message, field, headers)
        self.graph_code = code
        self.subcode = subcode
        self.transient = transient
        self.user_title = user_title if user_title is not None else USER_TITLES.get(subcode or 0)
        self.user_msg = user_msg if user_msg is not None else (message if self.user_title else None)

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message, "type": "OAuthException", "code": self.graph_code}
        if self.subcode:
            err["error_subcode"] = self.subcode
        err["is_transient"] = self.transient
        if self.user_title:
            err["error_user_title"] = self.user_title
            err["error_user_msg"] = self.user_msg or self.message
        err["fbtrace_id"] = self.trace_id()
        return {"error": err}

    def trace_id(self) -> str:
        """A Meta-like trace id derived from the error itself (no random draw: the sandbox is reproducible)."""
        digest = hashlib.sha256(f"{self.graph_code}|{self.subcode}|{self.message}".encode()).digest()
        return "A" + base64.urlsafe_b64encode(digest[:15]).decode("ascii").rstrip("=")


def invalid(message: str, subcode: int = SUB_INVALID, field: str | None = None) -> GraphError:
    return GraphError(message, subcode=subcode, field=field)


def unknown_object(object_id: str, what: str = "Object") -> GraphError:
    return GraphError(f"Unsupported request: {what} with ID '{object_id}' does not exist", status=404,
                      subcode=SUB_UNKNOWN_OBJECT)


def as_graph_error(exc: ApiError) -> GraphError:
    """Any error raised under /graph in the Graph shape (the route table's 401/404/405/413/500 included)."""
    if isinstance(exc, GraphError):
        return exc
    if exc.status == 401:
        return GraphError(f"Invalid OAuth access token - {exc.message}", code=INVALID_TOKEN, subcode=None,
                          status=400, headers=exc.headers)
    if exc.status >= 500:
        return GraphError("An unexpected error has occurred. Please retry your request later.", code=2,
                          subcode=None, status=500, transient=True, headers=exc.headers)
    if exc.status == 404:
        return GraphError(f"Unknown path components: {exc.message}", code=UNKNOWN_PATH, subcode=None, status=400)
    return GraphError(exc.message, subcode=None, status=exc.status, field=exc.field, headers=exc.headers)


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


def subfields(params: Mapping[str, Any], name: str) -> set[str] | None:
    """The names inside `name{...}` of the `fields` parameter (None when `name` is asked for bare or not at all)."""
    raw = params.get("fields")
    if not isinstance(raw, str):
        return None
    m = re.search(r"(?:^|,)\s*" + re.escape(name) + r"\s*\{([^{}]*)\}", raw)
    return {f.strip() for f in m.group(1).split(",") if f.strip()} if m else None


def date_preset(preset: str, today: date) -> tuple[date, date]:
    """(since, until) of Meta's `date_preset` values (the account's time zone is UTC)."""
    p = preset.lower()
    yesterday = today - timedelta(days=1)
    fixed = {"today": (today, today), "yesterday": (yesterday, yesterday),
             "this_month": (today.replace(day=1), today),
             "this_year": (today.replace(month=1, day=1), today),
             "this_week_mon_today": (today - timedelta(days=today.weekday()), today),
             "this_week_sun_today": (today - timedelta(days=(today.weekday() + 1) % 7), today),
             "maximum": (EARLIEST.date(), today), "data_maximum": (EARLIEST.date(), today)}
    if p in fixed:
        return fixed[p]
    m = re.fullmatch(r"last_(3|7|14|28|30|90)d", p)
    if m:
        return today - timedelta(days=int(m.group(1))), yesterday
    if p == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if p == "last_year":
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    if p in ("last_week_mon_sun", "last_week_sun_sat"):
        start = today - timedelta(days=today.weekday() + 7 + (1 if p.endswith("sat") else 0))
        return start, start + timedelta(days=6)
    if p in ("this_quarter", "last_quarter"):
        q0 = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        if p == "this_quarter":
            return q0, today
        end = q0 - timedelta(days=1)
        return date(end.year, 3 * ((end.month - 1) // 3) + 1, 1), end
    raise invalid(f"date_preset {preset!r} is not a valid date preset", field="date_preset")


def insights_period(params: Mapping[str, Any], today: date) -> tuple[date, date]:
    """The period of an insights call: time_range, else date_preset, else Meta's default last_30d."""
    raw = param_json(params, "time_range")
    if raw is not None:
        return time_range(raw, today)
    preset = param_str(params, "date_preset", max_len=40)
    return date_preset(preset or "last_30d", today)


def param_time(params: Mapping[str, Any], name: str) -> float | None:
    """A time parameter (ISO 8601 with an offset, or epoch seconds) as epoch seconds; None when absent."""
    value = params.get(name)
    if value is None or value == "" or value == 0 or value == "0":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        ts = float(value)
    elif isinstance(value, str) and re.fullmatch(r"[0-9]{1,12}", value.strip(), re.ASCII):
        ts = float(value.strip())
    elif isinstance(value, str) and len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise invalid(f"{name} must be an ISO 8601 time or epoch seconds", field=name) from None
        ts = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    else:
        raise invalid(f"{name} must be an ISO 8601 time or epoch seconds", field=name)
    if not EARLIEST.timestamp() <= ts < LATEST.timestamp():
        raise invalid(f"{name} must be between {EARLIEST.date()} and {LATEST.date()}", field=name)
    return ts


def time_range(raw: Any, today: date) -> tuple[date, date]:
    """(since, until), both inclusive; Meta's default last_30d (30 days up to yesterday) when absent."""
    if raw is None:
        return date_preset("last_30d", today)
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

