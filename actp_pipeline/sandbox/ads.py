"""The sandbox's ads API in the shape of the Meta Marketing (Graph) API, and the ads world behind it.

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

The world model (deterministic from the world seed and the change log)
---------------------------------------------------------------------
Every create, status, budget and name change is logged with its simulated time. An ad set delivers
during the part of an hour in which it, its campaign and at least one of its ads are ACTIVE. Its budget
for the hour is daily_budget / 24 (ABO), or its campaign's daily_budget / 24 split across the campaign's
delivering ad sets in proportion to their creative multiplier (CBO favours performers); budgets and
states are integrated piecewise over the hour. spend = floor(budget x pacing), pacing in [0.85, 1.0],
so spend never exceeds the budget; impressions = spend / CPM x 1000 with CPM = $3.33 x the account's
seeded factor (0.8..1.2); each action count ~ Poisson(impressions x base rate x creative multiplier),
clicks ~ Poisson(impressions x link_click rate x multiplier). The creative multiplier is the
platform-neutral engagement probability of the post's media descriptor (World.true_appeal) over the
world's mean across all factor combinations, so creatives that do better organically do better in ads.
Every random number is a lane of a hash of (world seed, ad set id, hour), one lane per draw (pacing,
clicks, each action type): reproducible and independent of query order. Only completed hours are
reported; an hour once complete never changes (changes are logged at the current time, never in the
past), so computed hours are cached.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import re
import secrets
import threading
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping
from urllib.parse import parse_qs, quote, urlencode

import numpy as np

from . import forms
from .api import JSON_BODY_LIMIT, Request, Response
from .clock import iso
from .errors import ApiError
from .seeding import stream
from .world import FACTOR_LEVELS

if TYPE_CHECKING:
    from .api import SandboxAPI

# ------------------------------------------------------------------------------------- the model
BASE_RATES: dict[str, float] = {
    "thruplay": 0.20,
    "link_click": 0.010,
    "smartlink_click": 0.008,
    "profile_view": 0.006,
    "presave_complete": 0.003,
    "lead": 0.002,
}
ACTION_TYPES = tuple(BASE_RATES)
BASE_CPM = 3.33  # dollars per 1000 impressions before the account factor ($5 buys ~1,500 impressions)
ACCOUNT_CPM_RANGE = (0.8, 1.2)
PACING_RANGE = (0.85, 1.0)

# ------------------------------------------------------------------------------------ the rules
MIN_DAILY_BUDGET = 100  # minor units ($1.00), per ad set and per campaign
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
    """An error with the Graph API's body; server.py sends exc.body() with exc.status."""

    def __init__(self, message: str, *, code: int = INVALID, subcode: int = SUB_INVALID, status: int = 400,
                 transient: bool = False, field: str | None = None):
        super().__init__(status, str(code), message, field)
        self.graph_code = code
        self.subcode = subcode
        self.transient = transient

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": "OAuthException", "code": self.graph_code,
                          "error_subcode": self.subcode, "is_transient": self.transient,
                          "fbtrace_id": "A" + secrets.token_urlsafe(15)}}


def _invalid(message: str, subcode: int = SUB_INVALID, field: str | None = None) -> GraphError:
    return GraphError(message, subcode=subcode, field=field)


def _unknown_object(object_id: str, what: str = "Object") -> GraphError:
    return GraphError(f"Unsupported request: {what} with ID '{object_id}' does not exist", status=404,
                      subcode=SUB_UNKNOWN_OBJECT)


# ------------------------------------------------------------------------------------ parameters
def _params(req: Request) -> dict[str, Any]:
    """Query parameters, overlaid by the POST body (JSON object or form-urlencoded)."""
    params: dict[str, Any] = {k: v[-1] for k, v in req.query.items() if v}
    if req.method != "POST":
        return params
    raw = req.body.read_all(JSON_BODY_LIMIT)
    if not raw.strip():
        return params
    ctype = forms.media_type(req.headers.get("Content-Type"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("the request body is not UTF-8", SUB_JSON) from None
    if ctype == "application/json" or (not ctype and text.lstrip().startswith("{")):
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise _invalid(f"malformed JSON body: {exc}", SUB_JSON) from None
        if not isinstance(body, dict):
            raise _invalid("the JSON body must be an object of parameters", SUB_JSON)
        params.update(body)
    elif ctype in ("application/x-www-form-urlencoded", ""):
        params.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
    else:
        raise _invalid(f"unsupported Content-Type {ctype!r}: send application/x-www-form-urlencoded or JSON")
    return params


def _str(params: Mapping[str, Any], name: str, *, required: bool = False, max_len: int = MAX_NAME) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise _invalid(f"the parameter {name} is required", SUB_MISSING, name)
        return None
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string", field=name)
    if len(value) > max_len:
        raise _invalid(f"{name} is longer than {max_len} characters", field=name)
    return value


def _id(params: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    """An object id parameter (a string, or an integer from JSON clients)."""
    value = params.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    value = _str(params, name, required=required, max_len=64)
    return value.strip() if value is not None else None


def _enum(params: Mapping[str, Any], name: str, allowed: Iterable[str], default: str | None = None) -> str | None:
    value = _str(params, name)
    if value is None:
        return default
    allowed = tuple(allowed)
    if value.upper() not in allowed:
        raise _invalid(f"{name} must be one of {', '.join(allowed)}, got {value!r}", field=name)
    return value.upper()


def _json(params: Mapping[str, Any], name: str) -> Any:
    """A JSON-valued parameter: already parsed (JSON bodies) or a JSON string (forms, query strings)."""
    value = params.get(name)
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise _invalid(f"the parameter {name} is not valid JSON: {exc}", SUB_JSON, name) from None


def _budget(params: Mapping[str, Any], name: str = "daily_budget") -> int | None:
    """A budget in minor units (int or digit string); None when absent; at least MIN_DAILY_BUDGET."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _invalid(f"{name} must be an integer number of minor units (cents)", field=name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,15}\s*", value):
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise _invalid(f"{name} must be an integer number of minor units (cents), got {value!r}", field=name)
    if value < MIN_DAILY_BUDGET:
        raise _invalid(f"{name} {value} is below the minimum daily budget of {MIN_DAILY_BUDGET} minor units "
                       f"(${MIN_DAILY_BUDGET / 100:.2f})", SUB_MIN_BUDGET, name)
    return value


def _bool(params: Mapping[str, Any], name: str, default: bool) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in ("true", "1"):
        return True
    if str(value).strip().lower() in ("false", "0"):
        return False
    raise _invalid(f"{name} must be true or false", field=name)


def _fields(params: Mapping[str, Any]) -> set[str] | None:
    """Top-level names of `fields=id,name,creative{object_story_id}`; None = every field."""
    raw = params.get("fields")
    if raw is None or raw == "":
        return None
    if isinstance(raw, list):
        raw = ",".join(str(f) for f in raw)
    if not isinstance(raw, str):
        raise _invalid("fields must be a comma-separated string", field="fields")
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
            raise _invalid("fields has unbalanced braces", field="fields")
    if depth != 0:
        raise _invalid("fields has unbalanced braces", field="fields")
    return names | {"id"}


def _limit(params: Mapping[str, Any]) -> int:
    raw = params.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise _invalid("limit must be an integer", field="limit") from None
    if limit < 1:
        raise _invalid("limit must be at least 1", field="limit")
    return min(limit, MAX_LIMIT)


def _cursor(value: int) -> str:
    return base64.urlsafe_b64encode(f"c:{value}".encode()).decode().rstrip("=")


def _uncursor(raw: str) -> int:
    try:
        text = base64.urlsafe_b64decode((raw + "=" * (-len(raw) % 4)).encode("ascii")).decode()
        if not text.startswith("c:"):
            raise ValueError
        return int(text[2:])
    except (ValueError, UnicodeError, binascii.Error):
        raise _invalid("after is not a cursor of this listing", SUB_CURSOR, "after") from None


def _page(req: Request, params: Mapping[str, Any], keys: list[int],
          render: Callable[[int], dict[str, Any]]) -> Response:
    """The page of items after the `after` cursor; `keys` are the items' ascending cursor values and
    `render(i)` builds item i (only the page's items are built)."""
    limit = _limit(params)
    start = 0
    after = params.get("after")
    if after:
        start = bisect_right(keys, _uncursor(str(after)))
    stop = min(start + limit, len(keys))
    page = [render(i) for i in range(start, stop)]
    paging: dict[str, Any] = {}
    if page:
        paging["cursors"] = {"before": _cursor(keys[start]), "after": _cursor(keys[stop - 1])}
        if stop < len(keys):
            query = {k: v[-1] for k, v in req.query.items() if k != "after" and v}
            query["after"] = paging["cursors"]["after"]
            host = req.headers.get("Host") or "127.0.0.1"
            paging["next"] = f"http://{host}{quote(req.path)}?{urlencode(query)}"
    return Response(200, {"data": page, "paging": paging})


def _graph_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _pick(obj: dict[str, Any], fields: set[str] | None) -> dict[str, Any]:
    return obj if fields is None else {k: v for k, v in obj.items() if k in fields}


# ------------------------------------------------------------------------------- random numbers
DRAWS = ("pacing", "clicks", *ACTION_TYPES)  # the random draws of one ad set-hour, one hash lane each


def _uniforms(seed: int, cells: list[tuple[str, int]]) -> np.ndarray:
    """Uniforms in (0, 1), shape (len(cells), len(DRAWS)): lane j of the 512-bit hash of (world seed, ad set
    id, hour) is draw DRAWS[j], so each draw depends only on those and its name, never on query order."""
    raw = b"".join(hashlib.blake2b(f"{seed}|ads|{sid}|{hour}".encode(), digest_size=64).digest() for sid, hour in cells)
    lanes = np.frombuffer(raw, dtype=">u8").reshape(len(cells), 8)[:, : len(DRAWS)]
    return np.minimum((lanes.astype(np.float64) + 0.5) / 2.0**64, 1.0 - 2.0**-53)  # 2**64 - 1 rounds up to 1.0


def _poisson_quantile(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Smallest k with P(Poisson(lam) <= k) >= u, elementwise (inversion keeps each draw one uniform)."""
    from scipy.special import ndtri, pdtr  # here: scipy is slow to import and only insights need it

    lam = np.maximum(np.asarray(lam, dtype=float), 0.0)
    z = ndtri(u)
    k = np.maximum(np.floor(lam + np.sqrt(lam) * z + (z * z - 1.0) / 6.0 + 0.5), 0.0)  # Cornish-Fisher guess
    for _ in range(200):
        up = pdtr(k, lam) < u
        down = (k > 0) & (pdtr(k - 1, lam) >= u)
        if not (up.any() or down.any()):
            break
        k = k + up - down
    k[lam <= 0] = 0
    return k.astype(np.int64)


# -------------------------------------------------------------------------------------- timeline
class _Timeline:
    """Status and daily budget of every object of an account over time, from its change log."""

    def __init__(self, changes: list[dict[str, Any]]):
        self._series: dict[tuple[str, str], tuple[list[float], list[Any]]] = {}
        for ch in changes:
            oid, f, at = ch["object_id"], ch["field"], ch["at_s"]
            if f == "create":
                init = json.loads(ch["value"])
                self._add(oid, "status", at, init["status"])
                self._add(oid, "daily_budget", at, init.get("daily_budget"))
            elif f == "status":
                self._add(oid, "status", at, ch["value"])
            elif f == "daily_budget":
                self._add(oid, "daily_budget", at, int(ch["value"]) if ch["value"] is not None else None)

    def _add(self, oid: str, field: str, at: float, value: Any) -> None:
        times, values = self._series.setdefault((oid, field), ([], []))
        times.append(at)
        values.append(value)

    def at(self, oid: str, field: str, t: float) -> Any:
        """The value at time t (changes at t included); None before the object existed."""
        series = self._series.get((oid, field))
        if series is None:
            return None
        i = bisect_right(series[0], t)
        return series[1][i - 1] if i else None

    def change_times(self, oids: Iterable[str]) -> list[float]:
        """Every time one of these objects changed status or budget, sorted (for cuts())."""
        out: set[float] = set()
        for oid in oids:
            for f in ("status", "daily_budget"):
                series = self._series.get((oid, f))
                if series is not None:
                    out.update(series[0])
        return sorted(out)

    @staticmethod
    def cuts(times: list[float], start: float, end: float) -> list[float]:
        """start, end and the change `times` strictly between them, sorted."""
        inside = times[bisect_right(times, start) : bisect_right(times, end)]
        return [start, *(t for t in inside if t < end), end]


@dataclass(frozen=True)
class _Cell:
    """What one ad set delivered in one completed hour."""

    spend_cents: int
    impressions: int
    clicks: int
    actions: tuple[int, ...]  # in ACTION_TYPES order


_NOTHING = _Cell(0, 0, 0, (0,) * len(ACTION_TYPES))
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


# ----------------------------------------------------------------------------------------- ads API
class AdsAPI:
    """Handlers of the Graph-shaped routes (registered in SandboxAPI) and the world behind them."""

    def __init__(self, api: SandboxAPI):
        self.api = api
        self.state = api.state
        self.clock = api.clock
        self.seed = int(api.config.seed)
        self._write_lock = threading.Lock()  # validate-then-write (e.g. the budget change limit) is atomic
        self._cells: dict[tuple[str, int], _Cell] = {}
        self._cells_lock = threading.Lock()
        self._multipliers: dict[str, float] = {}
        self._mean_er: float | None = None

    # --------------------------------------------------------------------------------- the world
    def account_cpm(self, account: str) -> float:
        lo, hi = ACCOUNT_CPM_RANGE
        return BASE_CPM * float(stream(self.seed, "ads_account_cpm", account).uniform(lo, hi))

    def mean_er(self) -> float:
        """The world's mean engagement probability over every combination of factor levels."""
        if self._mean_er is None:
            names = list(FACTOR_LEVELS)
            ers = [self.api.world.true_appeal(dict(zip(names, combo)))["true_er"]
                   for combo in itertools.product(*FACTOR_LEVELS.values())]
            self._mean_er = float(np.mean(ers))
        return self._mean_er

    def multiplier(self, post_id: str) -> float:
        """How much better than the world's mean the post's creative converts (its true appeal)."""
        mult = self._multipliers.get(post_id)
        if mult is None:
            post = self.state.get_post(post_id)
            media = (self.state.get_media(post["media_id"]) if post else None) or {}
            app = self.api.world.true_appeal(media.get("descriptor"), None, media.get("duration_s"))
            mult = self._multipliers[post_id] = app["true_er"] / self.mean_er()
        return mult

    def _ad_multiplier(self, ad: Mapping[str, Any]) -> float:
        return self.multiplier(ad["creative"]["object_story_id"])

    def _allocate(self, camp: dict[str, Any], adsets: list[dict[str, Any]], ads: dict[str, list[dict[str, Any]]],
                  tl: _Timeline, times: list[float], hour: int) -> dict[str, tuple[float, float]]:
        """Per ad set of the campaign: (budget in cents it may spend in the hour, that x its multiplier).
        `times` are the change times of the campaign and everything in it."""
        h0, h1 = hour * 3600.0, (hour + 1) * 3600.0
        out = {s["id"]: (0.0, 0.0) for s in adsets}
        cuts = tl.cuts(times, h0, h1)
        for a, b in zip(cuts, cuts[1:]):
            if tl.at(camp["id"], "status", a) != "ACTIVE":
                continue
            delivering: dict[str, float] = {}
            for s in adsets:
                if tl.at(s["id"], "status", a) != "ACTIVE":
                    continue
                mults = [self._ad_multiplier(ad) for ad in ads.get(s["id"], [])
                         if tl.at(ad["id"], "status", a) == "ACTIVE"]
                if mults:
                    delivering[s["id"]] = sum(mults) / len(mults)
            if not delivering:
                continue
            hours = (b - a) / 3600.0
            cbo = tl.at(camp["id"], "daily_budget", a)
            total_w = sum(delivering.values())
            for sid, mult in delivering.items():
                if camp["daily_budget"] is not None:
                    cents = (cbo or 0) / 24.0 * hours * mult / total_w
                else:
                    cents = (tl.at(sid, "daily_budget", a) or 0) / 24.0 * hours
                spent, weighted = out[sid]
                out[sid] = (spent + cents, weighted + cents * mult)
        return out

    def _draw(self, cells: list[tuple[str, int, float, float, float]]) -> list[_Cell]:
        """Spend, impressions, clicks and actions of (ad set id, hour, budget cents, weighted, cpm) cells."""
        if not cells:
            return []
        k = len(ACTION_TYPES)
        u = _uniforms(self.seed, [(sid, hour) for sid, hour, *_ in cells])
        budget = np.array([c[2] for c in cells])
        mult = np.array([c[3] / c[2] for c in cells])
        cpm = np.array([c[4] for c in cells])
        lo, hi = PACING_RANGE
        spend = np.floor(budget * (lo + (hi - lo) * u[:, 0]) + 1e-9).astype(np.int64)
        spend = np.minimum(spend, np.floor(budget + 1e-9).astype(np.int64))
        impressions = np.rint(spend / 100.0 / cpm * 1000.0)
        rates = np.array([BASE_RATES["link_click"], *BASE_RATES.values()])
        lam = impressions[:, None] * mult[:, None] * rates[None, :]
        counts = _poisson_quantile(u[:, 1:], lam)
        return [_Cell(sp, int(im), row[0], tuple(row[1 : k + 1]))
                for sp, im, row in zip(spend.tolist(), impressions.tolist(), counts.tolist())]

    def hourly(self, account: str, wanted: Mapping[str, range], *, objects: _Objects) -> dict[tuple[str, int], _Cell]:
        """The cells of completed hours `wanted[adset_id]` (hour = epoch seconds // 3600) of the account's
        `objects`, computed once."""
        out: dict[tuple[str, int], _Cell] = {}
        missing: set[tuple[str, int]] = set()
        with self._cells_lock:
            for sid, hours in wanted.items():
                for h in hours:
                    cell = self._cells.get((sid, h))
                    if cell is None:
                        missing.add((sid, h))
                    else:
                        out[(sid, h)] = cell
        if not missing:
            return out
        tl = _Timeline(self.state.ads_changes(account))
        cpm = self.account_cpm(account)
        computed: dict[tuple[str, int], _Cell] = {}
        draws: list[tuple[str, int, float, float, float]] = []
        times: dict[str, list[float]] = {}
        for camp_id, h in sorted({(objects.adsets[sid]["campaign_id"], h) for sid, h in missing}):
            siblings = objects.adsets_of.get(camp_id, [])
            if camp_id not in times:
                ads = (a["id"] for s in siblings for a in objects.ads_of.get(s["id"], []))
                times[camp_id] = tl.change_times([camp_id, *(s["id"] for s in siblings), *ads])
            alloc = self._allocate(objects.campaigns[camp_id], siblings, objects.ads_of, tl, times[camp_id], h)
            for sid, (cents, weighted) in alloc.items():
                if cents > 0:
                    draws.append((sid, h, cents, weighted, cpm))
                else:
                    computed[(sid, h)] = _NOTHING
        for (sid, h, *_), cell in zip(draws, self._draw(draws)):
            computed[(sid, h)] = cell
        with self._cells_lock:
            self._cells.update(computed)
        out.update({key: computed[key] for key in missing})
        return out

    # ------------------------------------------------------------------------------- objects
    def _objects(self, account: str) -> _Objects:
        return _Objects(self.state.ads_list("campaign", account), self.state.ads_list("adset", account),
                        self.state.ads_list("ad", account))

    def _now(self) -> tuple[float, str]:
        now = self.clock.now()
        return now.timestamp(), iso(now)

    def _require(self, object_id: str, kind: str | None = None, account: str | None = None,
                 param: str | None = None) -> dict[str, Any]:
        found = self.state.ads_get(object_id)
        label = {"campaign": "Campaign", "adset": "Ad set", "ad": "Ad"}.get(kind or "", "Object")
        if found is None:
            raise _unknown_object(object_id, label)
        got_kind, obj = found
        if kind is not None and got_kind != kind:
            raise _invalid(f"{param or 'id'} {object_id} is a {got_kind}, not a {kind}", field=param)
        if account is not None and obj["account_id"] != account:
            raise _invalid(f"{label} {object_id} does not belong to account act_{account}", SUB_ACCOUNT, param)
        return obj

    @staticmethod
    def _account(raw: str) -> str:
        if not ACCOUNT_RE.match(raw):
            raise _invalid(f"invalid ad account id {raw!r}: use act_<[A-Za-z0-9_-]{{1,64}}>")
        return raw[len("act_"):]

    def _new_ids(self, n: int) -> list[str]:
        return [str(ID_BASE + i) for i in self.state.ads_new_ids(n)]

    @staticmethod
    def _effective(own: str, *parents: tuple[str, str | None]) -> str:
        if own != "ACTIVE":
            return own
        for label, status in parents:
            if status is not None and status != "ACTIVE":
                return f"{label}_PAUSED"
        return "ACTIVE"

    def _public(self, kind: str, obj: dict[str, Any], campaign_status: str | None = None,
                adset_status: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": obj["id"], "account_id": obj["account_id"]}
        if kind == "campaign":
            out.update(name=obj["name"], objective=obj["objective"], status=obj["status"],
                       effective_status=obj["status"], buying_type="AUCTION", special_ad_categories=[])
        elif kind == "adset":
            out.update(campaign_id=obj["campaign_id"], name=obj["name"], status=obj["status"],
                       effective_status=self._effective(obj["status"], ("CAMPAIGN", campaign_status)),
                       targeting=obj["targeting"], optimization_goal=obj["optimization_goal"],
                       billing_event=obj["billing_event"])
            if obj["source_adset_id"]:
                out["source_adset_id"] = obj["source_adset_id"]
        else:
            out.update(campaign_id=obj["campaign_id"], adset_id=obj["adset_id"], name=obj["name"], status=obj["status"],
                       effective_status=self._effective(obj["status"], ("CAMPAIGN", campaign_status),
                                                        ("ADSET", adset_status)),
                       creative=obj["creative"])
        if kind != "ad" and obj["daily_budget"] is not None:
            out["daily_budget"] = str(obj["daily_budget"])
        out["created_time"] = _graph_time(obj["created_s"])
        out["updated_time"] = _graph_time(obj["updated_s"])
        return out

    def _public_one(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        camp_status = set_status = None
        if kind in ("adset", "ad"):
            found = self.state.ads_get(obj["campaign_id"])
            camp_status = found[1]["status"] if found else None
        if kind == "ad":
            found = self.state.ads_get(obj["adset_id"])
            set_status = found[1]["status"] if found else None
        return self._public(kind, obj, camp_status, set_status)

    # --------------------------------------------------------------------------------- listing
    EDGES = {"campaigns": "campaign", "adsets": "adset", "ads": "ad"}

    def list_objects(self, req: Request, account: str, edge: str) -> Response:
        acc = self._account("act_" + account)
        params = _params(req)
        kind = self.EDGES[edge]
        objs = self._objects(acc)
        camp_status = {c["id"]: c["status"] for c in objs.campaigns.values()}
        set_status = {s["id"]: s["status"] for s in objs.adsets.values()}
        rows = {"campaign": objs.campaigns, "adset": objs.adsets, "ad": objs.ads}[kind]
        items = [(o["seq"], self._public(kind, o, camp_status.get(o.get("campaign_id", "")),
                                         set_status.get(o.get("adset_id", "")))) for o in rows.values()]
        predicates = self._filters(params)
        items = [(seq, o) for seq, o in items if all(p(o) for p in predicates)]
        fields = _fields(params)
        return _page(req, params, [seq for seq, _ in items], lambda i: _pick(items[i][1], fields))

    def _filters(self, params: Mapping[str, Any]) -> list[Callable[[dict[str, Any]], bool]]:
        preds = []
        raw = _json(params, "filtering")
        if raw is not None:
            if not isinstance(raw, list):
                raise _invalid("filtering must be a JSON list of {field, operator, value}", SUB_JSON, "filtering")
            for i, f in enumerate(raw):
                if not isinstance(f, dict) or not {"field", "operator", "value"} <= set(f):
                    raise _invalid(f"filtering[{i}] must be an object with field, operator and value",
                                   field="filtering")
                field, op, value = f["field"], str(f["operator"]).upper(), f["value"]
                if field not in FILTER_FIELDS:
                    raise _invalid(f"filtering field {field!r} is not supported; use one of "
                                   f"{', '.join(FILTER_FIELDS)}", field="filtering")
                if op not in FILTER_OPERATORS:
                    raise _invalid(f"filtering operator {op!r} is not supported; use one of "
                                   f"{', '.join(FILTER_OPERATORS)}", field="filtering")
                if op in ("IN", "NOT_IN") and not isinstance(value, list):
                    raise _invalid(f"filtering[{i}]: {op} needs a list value", field="filtering")
                preds.append(_predicate(FILTER_FIELDS[field], op, value))
        statuses = _json(params, "effective_status")  # the older list parameter
        if statuses is not None:
            if not isinstance(statuses, list):
                raise _invalid("effective_status must be a JSON list", field="effective_status")
            preds.append(_predicate("effective_status", "IN", statuses))
        return preds

    # --------------------------------------------------------------------------------- creating
    def create_object(self, req: Request, account: str, edge: str) -> Response:
        acc = self._account("act_" + account)
        params = _params(req)
        kind = self.EDGES[edge]
        with self._write_lock:
            now_s, now_iso = self._now()
            new = {"campaign": self._new_campaign, "adset": self._new_adset, "ad": self._new_ad}[kind]
            row = new(acc, params, now_s)
            self.state.ads_apply(acc, now_s, now_iso, creates=[(kind, row)], changes=[_created(row)])
        return Response(200, {"id": row["id"]})

    def _new_campaign(self, acc: str, params: Mapping[str, Any], now_s: float) -> dict[str, Any]:
        name = _str(params, "name", required=True)
        objective = _enum(params, "objective", OBJECTIVES)
        if objective is None:
            raise _invalid("the parameter objective is required", SUB_MISSING, "objective")
        status = _enum(params, "status", STATUSES, "PAUSED")
        budget = _budget(params)
        return {"id": self._new_ids(1)[0], "account_id": acc, "name": name, "objective": objective,
                "status": status, "daily_budget": budget, "created_s": now_s, "updated_s": now_s}

    def _new_adset(self, acc: str, params: Mapping[str, Any], now_s: float) -> dict[str, Any]:
        name = _str(params, "name", required=True)
        camp_id = str(_id(params, "campaign_id", required=True))
        camp = self._require(camp_id, "campaign", acc, "campaign_id")
        budget = _budget(params)
        _check_budget_level(camp, budget)
        targeting = _json(params, "targeting")
        if targeting is not None and not isinstance(targeting, dict):
            raise _invalid("targeting must be a JSON object", field="targeting")
        return {"id": self._new_ids(1)[0], "account_id": acc, "campaign_id": camp_id, "name": name,
                "status": _enum(params, "status", STATUSES, "PAUSED"), "daily_budget": budget, "targeting": targeting,
                "optimization_goal": (_str(params, "optimization_goal") or "LINK_CLICKS").upper(),
                "billing_event": (_str(params, "billing_event") or "IMPRESSIONS").upper(),
                "source_adset_id": None, "created_s": now_s, "updated_s": now_s}

    def _new_ad(self, acc: str, params: Mapping[str, Any], now_s: float) -> dict[str, Any]:
        name = _str(params, "name", required=True)
        set_id = str(_id(params, "adset_id", required=True))
        adset = self._require(set_id, "adset", acc, "adset_id")
        creative = _json(params, "creative")
        if creative is None:
            raise _invalid("the parameter creative is required", SUB_MISSING, "creative")
        if not isinstance(creative, dict) or not isinstance(creative.get("object_story_id"), str):
            raise _invalid("creative must be a JSON object with an object_story_id (a post id)", field="creative")
        story = creative["object_story_id"]
        if self.state.get_post(story) is None:
            raise GraphError(f"creative.object_story_id: post '{story}' does not exist", status=404,
                             subcode=SUB_UNKNOWN_OBJECT, field="creative")
        url_tags = creative.get("url_tags")
        if url_tags is not None and not isinstance(url_tags, str):
            raise _invalid("creative.url_tags must be a string", field="creative")
        ad_id, creative_id = self._new_ids(2)
        return {"id": ad_id, "account_id": acc, "campaign_id": adset["campaign_id"], "adset_id": set_id, "name": name,
                "status": _enum(params, "status", STATUSES, "PAUSED"),
                "creative": {"id": creative_id, "object_story_id": story,
                             **({"url_tags": url_tags} if url_tags else {})},
                "created_s": now_s, "updated_s": now_s}

    # ------------------------------------------------------------------------- read and update
    def get_object(self, req: Request, object_id: str) -> Response:
        params = _params(req)
        fields = _fields(params)
        if object_id.startswith("act_"):
            acc = self._account(object_id)
            return Response(200, _pick({"id": object_id, "account_id": acc, "name": f"Sandbox account {acc}",
                                        "currency": "USD", "timezone_name": "UTC", "account_status": 1}, fields))
        found = self.state.ads_get(object_id)
        if found is None:
            raise _unknown_object(object_id)
        return Response(200, _pick(self._public_one(*found), fields))

    def update_object(self, req: Request, object_id: str) -> Response:
        params = _params(req)
        if object_id.startswith("act_"):
            raise _invalid("the sandbox does not update ad accounts")
        with self._write_lock:
            found = self.state.ads_get(object_id)
            if found is None:
                raise _unknown_object(object_id)
            kind, obj = found
            now_s, now_iso = self._now()
            fields: dict[str, Any] = {}
            name = _str(params, "name")
            if name is not None and name != obj["name"]:
                fields["name"] = name
            status = _enum(params, "status", STATUSES)
            if status is not None and status != obj["status"]:
                fields["status"] = status
            budget = _budget(params) if kind != "ad" else None
            if budget is not None:
                if kind == "campaign" and obj["daily_budget"] is None:
                    raise _invalid(f"campaign {object_id} uses ad set budgets (ABO); set the budget on its ad sets",
                                   SUB_BUDGET_LEVEL, "daily_budget")
                if kind == "adset":
                    _check_budget_level(self._require(obj["campaign_id"], "campaign"), budget)
                if budget != obj["daily_budget"]:
                    self._check_budget_rate(object_id, kind, now_s)
                    fields["daily_budget"] = budget
            if fields:
                changes = [(object_id, f, None if v is None else str(v)) for f, v in fields.items()]
                self.state.ads_apply(obj["account_id"], now_s, now_iso, updates=[(kind, object_id, fields)],
                                     changes=changes)
        return Response(200, {"success": True})

    def _check_budget_rate(self, object_id: str, kind: str, now_s: float) -> None:
        times = self.state.ads_change_times(object_id, "daily_budget", now_s - BUDGET_CHANGE_WINDOW_S)
        if len(times) >= BUDGET_CHANGE_LIMIT:
            retry_at = _graph_time(times[-BUDGET_CHANGE_LIMIT] + BUDGET_CHANGE_WINDOW_S)
            what = {"campaign": "campaign", "adset": "ad set"}[kind]
            raise GraphError(
                f"User request limit reached: the budget of {what} {object_id} was changed {len(times)} times in "
                f"the last 60 minutes; at most {BUDGET_CHANGE_LIMIT} budget changes per object per hour are "
                f"allowed. Try again after {retry_at}.",
                code=RATE_LIMIT, subcode=SUB_BUDGET_CHANGES, transient=True, field="daily_budget")

    # ------------------------------------------------------------------------------------- copies
    def copy_adset(self, req: Request, object_id: str) -> Response:
        params = _params(req)
        with self._write_lock:
            src = self._require(object_id, "adset")
            acc = src["account_id"]
            target_id = _id(params, "campaign_id") or src["campaign_id"]
            target = self._require(target_id, "campaign", acc, "campaign_id")
            deep = _bool(params, "deep_copy", False)
            option = _enum(params, "status_option", STATUS_OPTIONS, "PAUSED")
            rename = _json(params, "rename_options") or {}
            if not isinstance(rename, dict):
                raise _invalid("rename_options must be a JSON object", field="rename_options")
            strategy = str(rename.get("rename_strategy") or "DEEP_RENAME").upper()
            if strategy not in RENAME_STRATEGIES:
                raise _invalid(f"rename_options.rename_strategy must be one of {', '.join(RENAME_STRATEGIES)}",
                               field="rename_options")
            prefix = str(rename.get("rename_prefix") or "")
            suffix = str(rename.get("rename_suffix", " - Copy") or "")

            def renamed(name: str, top: bool) -> str:
                keep = strategy == "NO_RENAME" or (strategy == "ONLY_TOP_LEVEL_RENAME" and not top)
                return name if keep else (prefix + name + suffix)[:MAX_NAME]

            budget = _budget(params)
            if target["daily_budget"] is not None:
                _check_budget_level(target, budget)
            else:
                budget = budget if budget is not None else src["daily_budget"]
                _check_budget_level(target, budget)
            now_s, now_iso = self._now()
            ads = [a for a in self.state.ads_list("ad", acc) if a["adset_id"] == src["id"]] if deep else []
            ids = self._new_ids(1 + len(ads))
            copy = dict(src, id=ids[0], campaign_id=target_id, daily_budget=budget, source_adset_id=src["id"],
                        name=_str(params, "name") or renamed(src["name"], True),
                        status=src["status"] if option == "INHERITED_FROM_SOURCE" else option,
                        created_s=now_s, updated_s=now_s)
            creates = [("adset", copy)]
            for ad, ad_id in zip(ads, ids[1:]):
                creates.append(("ad", dict(ad, id=ad_id, adset_id=copy["id"], campaign_id=target_id,
                                           name=renamed(ad["name"], False),
                                           status=ad["status"] if option == "INHERITED_FROM_SOURCE" else option,
                                           created_s=now_s, updated_s=now_s)))
            self.state.ads_apply(acc, now_s, now_iso, creates=creates, changes=[_created(r) for _, r in creates])
        objects = [{"ad_object_type": "ad_set", "source_id": src["id"], "copied_id": copy["id"]}]
        objects += [{"ad_object_type": "ad", "source_id": ad["id"], "copied_id": new["id"]}
                    for ad, (_, new) in zip(ads, creates[1:])]
        return Response(200, {"copied_adset_id": copy["id"], "ad_object_ids": objects})

    def unknown_path(self, req: Request, **_: str) -> Response:
        raise GraphError(f"Unknown path components: {req.path}", code=UNKNOWN_PATH, subcode=0)

    # ------------------------------------------------------------------------------------ insights
    def insights(self, req: Request, account: str) -> Response:
        acc = self._account("act_" + account)
        params = _params(req)
        level = _str(params, "level") or "adset"
        if level != "adset":
            raise _invalid(f"level {level!r} is not supported by the sandbox; use level=adset", field="level")
        now = self.clock.now()
        since, until = _time_range(_json(params, "time_range"), now.date())
        breakdowns = params.get("breakdowns") or []
        if isinstance(breakdowns, str):  # a JSON list or a comma-separated string
            breakdowns = _json(params, "breakdowns") if breakdowns.lstrip().startswith("[") else breakdowns.split(",")
        if not isinstance(breakdowns, list) or any(b != HOURLY for b in breakdowns if b):
            raise _invalid(f"breakdowns supports only {HOURLY}", field="breakdowns")
        hourly = any(breakdowns)
        increment = str(params.get("time_increment") or "all_days")
        if increment not in ("1", "all_days"):
            raise _invalid("time_increment must be 1 or all_days", field="time_increment")
        start = int(datetime.combine(since, datetime.min.time(), UTC).timestamp()) // 3600
        end = min(int(datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC).timestamp()) // 3600,
                  int(now.timestamp()) // 3600)
        objs = self._objects(acc)
        wanted = {sid: range(max(start, int(s["created_s"]) // 3600), end) for sid, s in objs.adsets.items()}
        cells = self.hourly(acc, {k: v for k, v in wanted.items() if len(v)}, objects=objs)
        groups: dict[tuple[Any, ...], list[_Cell]] = {}
        for (sid, h), cell in cells.items():
            if cell.impressions == 0 and cell.spend_cents == 0:
                continue
            day = date.fromordinal(_EPOCH_ORDINAL + h // 24)
            period = (day, day) if increment == "1" else (since, until)
            key = (period, h % 24 if hourly else -1, objs.adsets[sid]["seq"], sid)
            groups.setdefault(key, []).append(cell)
        keys = sorted(groups)

        def row(i: int) -> dict[str, Any]:
            period, hod, _, sid = key = keys[i]
            group = groups[key]
            s = objs.adsets[sid]
            out = {"account_id": acc, "campaign_id": s["campaign_id"], "adset_id": sid, "adset_name": s["name"],
                   "date_start": period[0].isoformat(), "date_stop": period[1].isoformat()}
            if hourly:
                out[HOURLY] = f"{hod:02d}:00:00 - {hod:02d}:59:59"
            spend = sum(c.spend_cents for c in group)
            impressions = sum(c.impressions for c in group)
            out.update(spend=f"{spend / 100:.2f}", impressions=str(impressions),
                       clicks=str(sum(c.clicks for c in group)),
                       cpm=f"{spend / 100 / impressions * 1000:.4f}" if impressions else "0")
            counts = [sum(c.actions[j] for c in group) for j in range(len(ACTION_TYPES))]
            actions = [{"action_type": a, "value": str(v)} for a, v in zip(ACTION_TYPES, counts) if v]
            if actions:
                out["actions"] = actions
            return out

        return _page(req, params, list(range(len(keys))), row)

    # ------------------------------------------------------------------------------------- truth
    def truth(self, req: Request) -> Response:
        now_h = int(self.clock.now().timestamp()) // 3600
        items = []
        for acc in self.state.ads_accounts():
            objs = self._objects(acc)
            cpm = self.account_cpm(acc)
            cells = self.hourly(acc, {sid: range(int(s["created_s"]) // 3600, now_h) for sid, s in objs.adsets.items()},
                                objects=objs)
            totals: dict[str, list[int]] = {}
            for (sid, _), c in cells.items():
                t = totals.setdefault(sid, [0, 0])
                t[0] += c.spend_cents
                t[1] += c.impressions
            for sid, s in objs.adsets.items():
                ads = objs.ads_of.get(sid, [])
                mults = [self._ad_multiplier(a) for a in ads]
                mult = sum(mults) / len(mults) if mults else 0.0
                camp = objs.campaigns[s["campaign_id"]]
                items.append({
                    "adset_id": sid, "name": s["name"], "account_id": acc, "campaign_id": s["campaign_id"],
                    "budget_mode": "CBO" if camp["daily_budget"] is not None else "ABO",
                    "variant_id": next((v for v in (_utm_content(a) for a in ads) if v), None),
                    "post_ids": [a["creative"]["object_story_id"] for a in ads],
                    "multiplier": mult,
                    "rates": {a: BASE_RATES[a] * mult for a in ACTION_TYPES},  # events per impression
                    "cpm": cpm,
                    "spend_to_date": totals.get(sid, [0, 0])[0] / 100.0,
                    "impressions_to_date": totals.get(sid, [0, 0])[1],
                })
        return Response(200, {"items": items, "base_rates": BASE_RATES, "base_cpm": BASE_CPM,
                              "mean_er": self.mean_er()})


class _Objects:
    """An account's campaigns, ad sets and ads by id, with the ad sets per campaign and ads per ad set."""

    def __init__(self, campaigns: list[dict[str, Any]], adsets: list[dict[str, Any]], ads: list[dict[str, Any]]):
        self.campaigns = {c["id"]: c for c in campaigns}
        self.adsets = {s["id"]: s for s in adsets}
        self.ads = {a["id"]: a for a in ads}
        self.adsets_of: dict[str, list[dict[str, Any]]] = {}
        for s in adsets:
            self.adsets_of.setdefault(s["campaign_id"], []).append(s)
        self.ads_of: dict[str, list[dict[str, Any]]] = {}
        for a in ads:
            self.ads_of.setdefault(a["adset_id"], []).append(a)


# ---------------------------------------------------------------------------------------- helpers
def _created(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """The change-log row of a new object: its initial status and budget."""
    return row["id"], "create", json.dumps({"status": row["status"], "daily_budget": row.get("daily_budget")})


def _check_budget_level(campaign: Mapping[str, Any], budget: int | None) -> None:
    if campaign["daily_budget"] is not None and budget is not None:
        raise _invalid(f"campaign {campaign['id']} uses campaign budget optimization (CBO): its ad sets take no "
                       "daily_budget", SUB_BUDGET_LEVEL, "daily_budget")
    if campaign["daily_budget"] is None and budget is None:
        raise _invalid(f"campaign {campaign['id']} uses ad set budgets (ABO): daily_budget is required",
                       SUB_BUDGET_LEVEL, "daily_budget")


def _predicate(key: str, op: str, value: Any) -> Callable[[dict[str, Any]], bool]:
    if op in ("IN", "NOT_IN"):
        values = {str(v) for v in value}
        return (lambda o: str(o.get(key)) in values) if op == "IN" else (lambda o: str(o.get(key)) not in values)
    if op in ("EQUAL", "NOT_EQUAL"):
        return (lambda o: str(o.get(key)) == str(value)) if op == "EQUAL" else (lambda o: str(o.get(key)) != str(value))
    needle = str(value).lower()
    if op == "CONTAIN":
        return lambda o: needle in str(o.get(key) or "").lower()
    return lambda o: needle not in str(o.get(key) or "").lower()


def _time_range(raw: Any, today: date) -> tuple[date, date]:
    """(since, until), both inclusive; the last 30 days when absent (Meta's default)."""
    if raw is None:
        return today - timedelta(days=29), today
    if not isinstance(raw, dict) or "since" not in raw or "until" not in raw:
        raise _invalid('time_range must be a JSON object {"since": "YYYY-MM-DD", "until": "YYYY-MM-DD"}',
                       field="time_range")
    try:
        since, until = date.fromisoformat(str(raw["since"])), date.fromisoformat(str(raw["until"]))
    except ValueError:
        raise _invalid("time_range dates must be YYYY-MM-DD", field="time_range") from None
    if since > until:
        raise _invalid("time_range.since is after time_range.until", field="time_range")
    if (until - since).days > 400:
        raise _invalid("time_range spans more than 400 days", field="time_range")
    return since, until


def _utm_content(ad: Mapping[str, Any]) -> str | None:
    tags = parse_qs((ad.get("creative") or {}).get("url_tags") or "")
    return tags.get("utm_content", [None])[0]

