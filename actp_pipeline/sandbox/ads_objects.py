"""The ads objects of the sandbox's Graph API: ad accounts, campaigns, ad sets, ad creatives and ads,
created, read, listed, updated, archived, deleted and copied under Meta's rules (budget levels, lifetime
budgets with an end, bid strategies, the budget change limit), and the per-account call budget.

Framework-free: methods take the request's parameters as a mapping and return the Graph response body;
routes/ads.py serves them. Every write goes through one lock, so validate-then-write (the budget change
limit) is atomic, and is logged with its simulated time for the ads world (ads_world.py).

Where things live: campaigns, ad sets and ads in the state's ads tables; what those tables have no column
for (lifetime budgets, start/end times, bid strategies) and the ad creatives, per account, as JSON in the
state's key-value table (ads_world.read_extras / read_creatives), so the state's schema is unchanged.
A lifetime budget is delivered as its even daily share over [start, end) (the `daily_budget` column holds
that share; the world stops delivery at the end).
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from . import clock as real_time
from .ads_world import (
    CREATIVE_OWNER_KEY,
    Objects,
    read_creatives,
    read_extras,
    write_creatives,
    write_extras,
)
from .clock import SimClock, iso
from .graph import (
    ACCOUNT_LIMIT,
    ACCOUNT_RE,
    BID_AMOUNT_STRATEGIES,
    BID_STRATEGIES,
    BUDGET_CHANGE_LIMIT,
    BUDGET_CHANGE_WINDOW_S,
    FILTER_FIELDS,
    FILTER_OPERATORS,
    ID_BASE,
    MAX_DAILY_BUDGET,
    MAX_NAME,
    MIN_DAILY_BUDGET,
    OBJECTIVES,
    RATE_LIMIT,
    RENAME_STRATEGIES,
    STATUS_OPTIONS,
    STATUSES,
    SUB_ACCOUNT,
    SUB_ACCOUNT_LIMIT,
    SUB_BUDGET_CHANGES,
    SUB_BUDGET_LEVEL,
    SUB_DELETED,
    SUB_JSON,
    SUB_MIN_BUDGET,
    SUB_MISSING,
    SUB_UNKNOWN_OBJECT,
    UPDATE_STATUSES,
    GraphError,
    check_budget_level,
    created_change,
    graph_time,
    invalid,
    param_bool,
    param_budget,
    param_enum,
    param_fields,
    param_id,
    param_json,
    param_str,
    param_time,
    pick,
    predicate,
    subfields,
    unknown_object,
)
from .state import SandboxState

EDGES = {"campaigns": "campaign", "adsets": "adset", "ads": "ad", "adcreatives": "adcreative"}
GONE = ("ARCHIVED", "DELETED")
MAX_LIFETIME_BUDGET = MAX_DAILY_BUDGET * 400  # the longest schedule the sandbox takes is 400 days
# Meta's business-use-case limit of the ads_management and ads_insights calls of one ad account: at the
# Standard (full) access tier its base is 100,000 calls an hour plus 40 per active ad (Marketing API
# "Rate Limiting"); the sandbox counts calls in a rolling real hour (not simulated time: advancing the
# clock must not clear it) against this base, and a test may lower `AccountUsage.limit`.
DEFAULT_CALL_LIMIT = 100_000
USAGE_WINDOW_S = 3600.0
THROTTLE_CODES = {"ads_management": ACCOUNT_LIMIT, "ads_insights": 80000}  # Meta's codes per use case


class AccountUsage:
    """Calls per (ad account, use case) in the last USAGE_WINDOW_S real seconds: Meta's usage headers and
    its throttle errors (80004 ads_management, 80000 ads_insights)."""

    def __init__(self, limit: int = DEFAULT_CALL_LIMIT, monotonic: Callable[[], float] | None = None):
        self.limit = limit
        self._monotonic = monotonic or real_time.monotonic
        self._calls: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def call(self, account: str, use_case: str = "ads_management") -> dict[str, str]:
        """Count one call of the account; its usage headers, or a throttle GraphError (carrying them) once
        the account has used its hour."""
        now = self._monotonic()
        with self._lock:
            times = self._calls.setdefault((account, use_case), deque())
            while times and times[0] <= now - USAGE_WINDOW_S:
                times.popleft()
            over = len(times) >= self.limit
            if not over:
                times.append(now)
            pct = min(100, math.floor(100 * len(times) / max(1, self.limit)))
            regain_s = (times[0] + USAGE_WINDOW_S - now) if over and times else 0.0
        headers = self.headers(account, use_case, pct, regain_s)
        if over:
            raise GraphError("There have been too many calls to this ad-account. Wait a bit and try again.",
                             code=THROTTLE_CODES.get(use_case, ACCOUNT_LIMIT), subcode=SUB_ACCOUNT_LIMIT,
                             transient=True, headers=headers)
        return headers

    @staticmethod
    def headers(account: str, use_case: str, pct: int, regain_s: float) -> dict[str, str]:
        minutes = math.ceil(regain_s / 60) if regain_s > 0 else 0
        buc = {account: [{"type": use_case, "call_count": pct, "total_cputime": pct // 2, "total_time": pct,
                          "estimated_time_to_regain_access": minutes}]}
        out = {"x-business-use-case-usage": json.dumps(buc, separators=(",", ":")),
               "x-ad-account-usage": json.dumps({"acc_id_util_pct": float(pct), "reset_time_duration": int(regain_s),
                                                 "ads_api_access_tier": "standard_access"}, separators=(",", ":"))}
        if use_case == "ads_insights":
            out["x-fb-ads-insights-throttle"] = json.dumps(
                {"app_id_util_pct": 0, "acc_id_util_pct": pct, "ads_api_access_tier": "standard_access"},
                separators=(",", ":"))
        return out


def _daily_share(lifetime: int, start_s: float, end_s: float, name: str = "lifetime_budget") -> int:
    """The daily budget a lifetime budget delivers at over [start, end)."""
    if end_s <= start_s:
        raise invalid("end_time must be after start_time (and after now)", field="end_time")
    share = math.ceil(lifetime * 86400.0 / (end_s - start_s))
    if share < MIN_DAILY_BUDGET:
        raise invalid(f"{name} {lifetime} spread over the schedule is below the minimum daily budget of "
                      f"{MIN_DAILY_BUDGET} minor units a day", SUB_MIN_BUDGET, name)
    if share > MAX_DAILY_BUDGET:
        raise invalid(f"{name} {lifetime} spread over the schedule is above the sandbox's maximum daily budget",
                      field=name)
    return share


class AdsObjects:
    """The Graph objects of every sandbox ad account, kept in the sandbox state."""

    def __init__(self, state: SandboxState, clock: SimClock):
        self.state = state
        self.clock = clock
        self.usage = AccountUsage()
        self._write_lock = threading.Lock()  # validate-then-write (e.g. the budget change limit) is atomic

    def objects(self, account: str) -> Objects:
        return Objects(self.state.ads_list("campaign", account), self.state.ads_list("adset", account),
                       self.state.ads_list("ad", account))

    def _now(self) -> tuple[float, str]:
        now = self.clock.now()
        return now.timestamp(), iso(now)

    def _require(self, object_id: str, kind: str | None = None, account: str | None = None,
                 param: str | None = None) -> dict[str, Any]:
        found = self.state.ads_get(object_id)
        label = {"campaign": "Campaign", "adset": "Ad set", "ad": "Ad"}.get(kind or "", "Object")
        if found is None:
            raise unknown_object(object_id, label)
        got_kind, obj = found
        if kind is not None and got_kind != kind:
            raise invalid(f"{param or 'id'} {object_id} is a {got_kind}, not a {kind}", field=param)
        if account is not None and obj["account_id"] != account:
            raise invalid(f"{label} {object_id} does not belong to account act_{account}", SUB_ACCOUNT, param)
        return obj

    @staticmethod
    def account_id(raw: str) -> str:
        """The bare id of an ad account path component act_<id> (400 when malformed)."""
        if not ACCOUNT_RE.match(raw):
            raise invalid(f"invalid ad account id {raw!r}: use act_<[A-Za-z0-9_-]{{1,64}}>")
        return raw[len("act_"):]

    def account_of(self, object_id: str) -> str | None:
        """The bare account id of an object id (act_<id>, campaign, ad set, ad, creative); None when unknown."""
        if object_id.startswith("act_"):
            return object_id[len("act_"):] if ACCOUNT_RE.match(object_id) else None
        found = self.state.ads_get(object_id)
        if found is not None:
            return found[1]["account_id"]
        return self.state.get_meta(CREATIVE_OWNER_KEY.format(id=object_id))

    def _new_ids(self, n: int) -> list[str]:
        return [str(ID_BASE + i) for i in self.state.ads_new_ids(n)]

    @staticmethod
    def _effective(own: str, *parents: tuple[str, str | None]) -> str:
        if own != "ACTIVE":
            return own
        for label, status in parents:
            if status in GONE:
                return status
            if status is not None and status != "ACTIVE":
                return f"{label}_PAUSED"
        return "ACTIVE"

    def _public(self, kind: str, obj: dict[str, Any], campaign_status: str | None = None,
                adset_status: str | None = None, extras: Mapping[str, Any] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": obj["id"], "account_id": obj["account_id"]}
        extra = (extras or {}).get(obj["id"], {})
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
            if "lifetime_budget" in extra:
                out["lifetime_budget"] = str(extra["lifetime_budget"])
            else:
                out["daily_budget"] = str(obj["daily_budget"])
        for key in ("bid_strategy", "bid_amount"):
            if key in extra:
                out[key] = extra[key]
        for key in ("start_time", "end_time", "stop_time"):
            if extra.get(key) is not None:
                out[key] = graph_time(extra[key])
        out["created_time"] = graph_time(obj["created_s"])
        out["updated_time"] = graph_time(obj["updated_s"])
        return out

    def _public_one(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        camp_status = set_status = None
        if kind in ("adset", "ad"):
            found = self.state.ads_get(obj["campaign_id"])
            camp_status = found[1]["status"] if found else None
        if kind == "ad":
            found = self.state.ads_get(obj["adset_id"])
            set_status = found[1]["status"] if found else None
        return self._public(kind, obj, camp_status, set_status, read_extras(self.state, obj["account_id"]))

    @staticmethod
    def render(obj: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        """The fields asked for (every field without `fields`); an ad's `creative` is {"id"} unless its
        subfields are named (creative{object_story_id,url_tags}), as on Meta."""
        fields = param_fields(params)
        out = pick(obj, fields)
        if fields is not None and isinstance(out.get("creative"), dict):
            sub = subfields(params, "creative")
            out["creative"] = {k: v for k, v in out["creative"].items() if k == "id" or (sub and k in sub)}
        return out

    # --------------------------------------------------------------------------------- listing
    def list_objects(self, account: str, edge: str, params: Mapping[str, Any], *,
                     parent: tuple[str, str] | None = None) -> tuple[list[int], Callable[[int], dict[str, Any]]]:
        """The edge's objects after the filters (of one campaign or ad set when `parent` is (field, id)):
        their cursor keys and a function that renders item i. Deleted objects are left out unless a
        status filter is given (as on Meta)."""
        acc = self.account_id(account)
        kind = EDGES[edge]
        if kind == "adcreative":
            creatives = sorted(read_creatives(self.state, acc).values(), key=lambda c: int(c["id"]))
            return [int(c["id"]) for c in creatives], lambda i: pick(creatives[i], param_fields(params))
        objs = self.objects(acc)
        extras = read_extras(self.state, acc)
        camp_status = {c["id"]: c["status"] for c in objs.campaigns.values()}
        set_status = {s["id"]: s["status"] for s in objs.adsets.values()}
        rows = {"campaign": objs.campaigns, "adset": objs.adsets, "ad": objs.ads}[kind]
        items = [(o["seq"], self._public(kind, o, camp_status.get(o.get("campaign_id", "")),
                                         set_status.get(o.get("adset_id", "")), extras)) for o in rows.values()]
        predicates, on_status = self._filters(params)
        if parent is not None:
            predicates.append(predicate(parent[0], "EQUAL", parent[1]))
        if not on_status:
            predicates.append(predicate("status", "NOT_EQUAL", "DELETED"))
        items = [(seq, o) for seq, o in items if all(p(o) for p in predicates)]
        return [seq for seq, _ in items], lambda i: self.render(items[i][1], params)

    def _filters(self, params: Mapping[str, Any]) -> tuple[list[Callable[[dict[str, Any]], bool]], bool]:
        """The predicates of `filtering` and `effective_status`, and whether one of them is on a status."""
        preds, on_status = [], False
        raw = param_json(params, "filtering")
        if raw is not None:
            if not isinstance(raw, list):
                raise invalid("filtering must be a JSON list of {field, operator, value}", SUB_JSON, "filtering")
            for i, f in enumerate(raw):
                if not isinstance(f, dict) or not {"field", "operator", "value"} <= set(f):
                    raise invalid(f"filtering[{i}] must be an object with field, operator and value",
                                   field="filtering")
                field, op, value = f["field"], str(f["operator"]).upper(), f["value"]
                if field not in FILTER_FIELDS:
                    raise invalid(f"filtering field {field!r} is not supported; use one of "
                                   f"{', '.join(FILTER_FIELDS)}", field="filtering")
                if op not in FILTER_OPERATORS:
                    raise invalid(f"filtering operator {op!r} is not supported; use one of "
                                   f"{', '.join(FILTER_OPERATORS)}", field="filtering")
                if op in ("IN", "NOT_IN") and not isinstance(value, list):
                    raise invalid(f"filtering[{i}]: {op} needs a list value", field="filtering")
                on_status |= FILTER_FIELDS[field] in ("status", "effective_status")
                preds.append(predicate(FILTER_FIELDS[field], op, value))
        statuses = param_json(params, "effective_status")  # the older list parameter
        if statuses is not None:
            if not isinstance(statuses, list):
                raise invalid("effective_status must be a JSON list", field="effective_status")
            on_status = True
            preds.append(predicate("effective_status", "IN", statuses))
        return preds, on_status

    # --------------------------------------------------------------------------------- creating
    def create_object(self, account: str, edge: str, params: Mapping[str, Any]) -> dict[str, Any]:
        acc = self.account_id(account)
        kind = EDGES[edge]
        with self._write_lock:
            now_s, now_iso = self._now()
            if kind == "adcreative":
                creative = self._new_creative(acc, params)
                self._store_creatives(acc, [creative])
                return {"id": creative["id"]}
            new = {"campaign": self._new_campaign, "adset": self._new_adset, "ad": self._new_ad}[kind]
            row, extra, creatives = new(acc, params, now_s)
            self._store_creatives(acc, creatives)
            self.state.ads_apply(acc, now_s, now_iso, creates=[(kind, row)], changes=[created_change(row)])
            if extra:
                self._store_extras(acc, {row["id"]: extra})
        return {"id": row["id"]}

    def _store_extras(self, acc: str, updates: Mapping[str, Mapping[str, Any]]) -> None:
        extras = read_extras(self.state, acc)
        for oid, extra in updates.items():
            merged = {**extras.get(oid, {}), **extra}
            extras[oid] = {k: v for k, v in merged.items() if v is not None}
        write_extras(self.state, acc, extras)

    def _store_creatives(self, acc: str, creatives: list[dict[str, Any]]) -> None:
        if not creatives:
            return
        stored = read_creatives(self.state, acc)
        for c in creatives:
            stored[c["id"]] = c
            self.state.set_meta(CREATIVE_OWNER_KEY.format(id=c["id"]), acc)
        write_creatives(self.state, acc, stored)

    def _bid(self, params: Mapping[str, Any]) -> dict[str, Any]:
        strategy = param_enum(params, "bid_strategy", BID_STRATEGIES)
        amount = params.get("bid_amount")
        out: dict[str, Any] = {}
        if strategy is not None:
            out["bid_strategy"] = strategy
        if amount not in (None, ""):
            text = str(amount).strip() if isinstance(amount, (int, str)) and not isinstance(amount, bool) else ""
            if not (0 < len(text) <= 15 and text.isascii() and text.isdigit()) or int(text) < 1:
                raise invalid("bid_amount must be a positive integer of minor units", field="bid_amount")
            out["bid_amount"] = int(text)
        if strategy in BID_AMOUNT_STRATEGIES and "bid_amount" not in out:
            raise invalid(f"bid_strategy {strategy} needs a bid_amount", SUB_MISSING, "bid_amount")
        return out

    def _budget(self, params: Mapping[str, Any], start_s: float, end_s: float | None,
                end_name: str) -> tuple[int | None, dict[str, Any]]:
        """(daily budget the world delivers at, extras) of daily_budget xor lifetime_budget."""
        daily = param_budget(params)
        lifetime = param_budget(params, "lifetime_budget", maximum=MAX_LIFETIME_BUDGET)
        if daily is not None and lifetime is not None:
            raise invalid("give daily_budget or lifetime_budget, not both", field="lifetime_budget")
        if lifetime is None:
            return daily, {}
        if end_s is None:
            raise invalid(f"a lifetime_budget needs an {end_name}", SUB_MISSING, end_name)
        return _daily_share(lifetime, start_s, end_s), {"lifetime_budget": lifetime}

    def _new_campaign(self, acc: str, params: Mapping[str, Any], now_s: float):
        name = param_str(params, "name", required=True)
        objective = param_enum(params, "objective", OBJECTIVES)
        if objective is None:
            raise invalid("the parameter objective is required", SUB_MISSING, "objective")
        status = param_enum(params, "status", STATUSES, "PAUSED")
        stop = param_time(params, "stop_time")
        start = param_time(params, "start_time") or now_s
        budget, extra = self._budget(params, max(start, now_s), stop, "stop_time")
        extra.update(self._bid(params), start_time=param_time(params, "start_time"), stop_time=stop)
        row = {"id": self._new_ids(1)[0], "account_id": acc, "name": name, "objective": objective,
               "status": status, "daily_budget": budget, "created_s": now_s, "updated_s": now_s}
        return row, extra, []

    def _new_adset(self, acc: str, params: Mapping[str, Any], now_s: float):
        name = param_str(params, "name", required=True)
        camp_id = str(param_id(params, "campaign_id", required=True))
        camp = self._require(camp_id, "campaign", acc, "campaign_id")
        if camp["status"] in GONE:
            raise invalid(f"campaign {camp_id} is {camp['status']}", SUB_DELETED, "campaign_id")
        start = param_time(params, "start_time") or now_s
        end = param_time(params, "end_time")
        budget, extra = self._budget(params, max(start, now_s), end, "end_time")
        check_budget_level(camp, budget)
        if camp["daily_budget"] is not None and end is None:
            camp_extra = read_extras(self.state, acc).get(camp_id, {})
            if "lifetime_budget" in camp_extra and camp_extra.get("stop_time") is None:
                raise invalid("an ad set of a lifetime-budget campaign needs an end_time", SUB_MISSING, "end_time")
        targeting = param_json(params, "targeting")
        if targeting is not None and not isinstance(targeting, dict):
            raise invalid("targeting must be a JSON object", field="targeting")
        extra.update(self._bid(params), start_time=param_time(params, "start_time"), end_time=end)
        row = {"id": self._new_ids(1)[0], "account_id": acc, "campaign_id": camp_id, "name": name,
               "status": param_enum(params, "status", STATUSES, "PAUSED"), "daily_budget": budget,
               "targeting": targeting,
               "optimization_goal": (param_str(params, "optimization_goal") or "LINK_CLICKS").upper(),
               "billing_event": (param_str(params, "billing_event") or "IMPRESSIONS").upper(),
               "source_adset_id": None, "created_s": now_s, "updated_s": now_s}
        return row, extra, []

    def _creative_spec(self, acc: str, spec: Mapping[str, Any], field: str, name: str | None) -> dict[str, Any]:
        """A new creative (with its id) from a spec: object_story_id (a published post) and url_tags."""
        story = spec.get("object_story_id")
        if not isinstance(story, str) or not story:
            raise invalid(f"{field} must name an object_story_id (a published post id)", field=field)
        if self.state.get_post(story) is None:
            raise GraphError(f"{field}.object_story_id: post '{story}' does not exist", status=404,
                             subcode=SUB_UNKNOWN_OBJECT, field=field)
        tags = spec.get("url_tags")
        if tags is not None and not isinstance(tags, str):
            raise invalid(f"{field}.url_tags must be a string", field=field)
        creative = {"id": self._new_ids(1)[0], "account_id": acc,
                    "name": (name or spec.get("name") or f"Creative for {story}")[:MAX_NAME],
                    "object_story_id": story, "effective_object_story_id": story, "status": "ACTIVE"}
        if tags:
            creative["url_tags"] = tags
        return creative

    def _new_creative(self, acc: str, params: Mapping[str, Any]) -> dict[str, Any]:
        spec = {"object_story_id": param_str(params, "object_story_id", max_len=200),
                "url_tags": param_str(params, "url_tags", max_len=2000)}
        if spec["object_story_id"] is None:
            raise invalid("the parameter object_story_id is required (the sandbox's creatives promote a "
                          "published post)", SUB_MISSING, "object_story_id")
        return self._creative_spec(acc, spec, "object_story_id", param_str(params, "name"))

    def _new_ad(self, acc: str, params: Mapping[str, Any], now_s: float):
        name = param_str(params, "name", required=True)
        set_id = str(param_id(params, "adset_id", required=True))
        adset = self._require(set_id, "adset", acc, "adset_id")
        if adset["status"] in GONE:
            raise invalid(f"ad set {set_id} is {adset['status']}", SUB_DELETED, "adset_id")
        spec = param_json(params, "creative")
        if spec is None:
            raise invalid("the parameter creative is required", SUB_MISSING, "creative")
        if not isinstance(spec, dict):
            raise invalid('creative must be a JSON object: {"creative_id": ...} or a creative spec '
                          '{"object_story_id", "url_tags"}', field="creative")
        made: list[dict[str, Any]] = []
        if spec.get("creative_id") not in (None, ""):
            creative_id = str(spec["creative_id"])
            creative = read_creatives(self.state, acc).get(creative_id)
            if creative is None:
                owner = self.state.get_meta(CREATIVE_OWNER_KEY.format(id=creative_id))
                if owner is not None:
                    raise invalid(f"creative {creative_id} does not belong to account act_{acc}", SUB_ACCOUNT,
                                  "creative")
                raise GraphError(f"creative.creative_id: creative '{creative_id}' does not exist", status=404,
                                 subcode=SUB_UNKNOWN_OBJECT, field="creative")
        else:  # an inline spec makes a creative too (as on Meta)
            creative = self._creative_spec(acc, spec, "creative", None)
            made.append(creative)
        link = {"id": creative["id"], "object_story_id": creative["object_story_id"]}
        if creative.get("url_tags"):
            link["url_tags"] = creative["url_tags"]
        row = {"id": self._new_ids(1)[0], "account_id": acc, "campaign_id": adset["campaign_id"], "adset_id": set_id,
               "name": name, "status": param_enum(params, "status", STATUSES, "PAUSED"), "creative": link,
               "created_s": now_s, "updated_s": now_s}
        return row, {}, made

    # ------------------------------------------------------------------------- read and update
    def get_object(self, object_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        fields = param_fields(params)
        if object_id.startswith("act_"):
            acc = self.account_id(object_id)
            return pick({"id": object_id, "account_id": acc, "name": f"Sandbox account {acc}",
                         "currency": "USD", "timezone_name": "UTC", "account_status": 1}, fields)
        found = self.state.ads_get(object_id)
        if found is None:
            owner = self.state.get_meta(CREATIVE_OWNER_KEY.format(id=object_id))
            creative = read_creatives(self.state, owner).get(object_id) if owner else None
            if creative is None:
                raise unknown_object(object_id)
            return pick(creative, fields)
        return self.render(self._public_one(*found), params)

    def update_object(self, object_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if object_id.startswith("act_"):
            raise invalid("the sandbox does not update ad accounts")
        with self._write_lock:
            found = self.state.ads_get(object_id)
            if found is None:
                if self.state.get_meta(CREATIVE_OWNER_KEY.format(id=object_id)) is not None:
                    raise invalid("the sandbox's ad creatives cannot be changed; make a new one")
                raise unknown_object(object_id)
            kind, obj = found
            now_s, now_iso = self._now()
            fields: dict[str, Any] = {}
            status = param_enum(params, "status", UPDATE_STATUSES)
            if obj["status"] == "DELETED" or (obj["status"] == "ARCHIVED" and status != "DELETED"):
                raise invalid(f"{kind} {object_id} is {obj['status']}: it can only be read"
                              + (" or deleted" if obj["status"] == "ARCHIVED" else ""), SUB_DELETED, "status")
            name = param_str(params, "name")
            if name is not None and name != obj["name"]:
                fields["name"] = name
            if status is not None and status != obj["status"]:
                fields["status"] = status
            extra_updates: dict[str, Any] = {}
            if kind != "ad":
                budget, extra_updates = self._budget_update(kind, obj, params, now_s)
                if budget is not None and budget != obj["daily_budget"]:
                    self._check_budget_rate(object_id, kind, now_s)
                    fields["daily_budget"] = budget
            if fields:
                changes = [(object_id, f, None if v is None else str(v)) for f, v in fields.items()]
                self.state.ads_apply(obj["account_id"], now_s, now_iso, updates=[(kind, object_id, fields)],
                                     changes=changes)
            if extra_updates:
                self._store_extras(obj["account_id"], {object_id: extra_updates})
        return {"success": True}

    def delete_object(self, object_id: str) -> dict[str, Any]:
        """DELETE /{id}: the object's status becomes DELETED (it stays readable, as on Meta)."""
        found = self.state.ads_get(object_id)
        if found is not None and found[1]["status"] == "DELETED":
            return {"success": True}
        return self.update_object(object_id, {"status": "DELETED"})

    def _budget_update(self, kind: str, obj: dict[str, Any], params: Mapping[str, Any],
                       now_s: float) -> tuple[int | None, dict[str, Any]]:
        """(new daily budget or None, extras to store) of an update's budget, schedule and bid parameters."""
        extra = read_extras(self.state, obj["account_id"]).get(obj["id"], {})
        updates: dict[str, Any] = self._bid(params)
        end_name = "stop_time" if kind == "campaign" else "end_time"
        end = param_time(params, end_name)
        daily = param_budget(params)
        lifetime = param_budget(params, "lifetime_budget", maximum=MAX_LIFETIME_BUDGET)
        if daily is not None and lifetime is not None:
            raise invalid("give daily_budget or lifetime_budget, not both", field="lifetime_budget")
        if (daily is not None or lifetime is not None) and obj["daily_budget"] is None:
            what = "campaign" if kind == "campaign" else "ad set"
            hint = "set the budget on its ad sets" if kind == "campaign" else "its campaign holds the budget"
            raise invalid(f"{what} {obj['id']} has no budget of its own ({hint})", SUB_BUDGET_LEVEL,
                          "daily_budget" if daily is not None else "lifetime_budget")
        if daily is not None and "lifetime_budget" in extra:
            raise invalid(f"{obj['id']} has a lifetime budget: change lifetime_budget, not daily_budget",
                          SUB_BUDGET_LEVEL, "daily_budget")
        if lifetime is not None and "lifetime_budget" not in extra:
            raise invalid(f"{obj['id']} has a daily budget: change daily_budget, not lifetime_budget",
                          SUB_BUDGET_LEVEL, "lifetime_budget")
        if end is not None:
            if end <= now_s:  # completed hours never change (ads_world caches them)
                raise invalid(f"{end_name} must be in the future", field=end_name)
            updates[end_name] = end
        budget = daily
        if "lifetime_budget" in extra and (lifetime is not None or end is not None):
            lifetime = lifetime if lifetime is not None else extra["lifetime_budget"]
            start = max(extra.get("start_time") or obj["created_s"], obj["created_s"])
            budget = _daily_share(lifetime, start, end if end is not None else extra[end_name])
            updates["lifetime_budget"] = lifetime
        if kind == "adset" and budget is not None:
            check_budget_level(self._require(obj["campaign_id"], "campaign"), budget)
        return budget, updates

    def _check_budget_rate(self, object_id: str, kind: str, now_s: float) -> None:
        times = self.state.ads_change_times(object_id, "daily_budget", now_s - BUDGET_CHANGE_WINDOW_S)
        if len(times) >= BUDGET_CHANGE_LIMIT:
            retry_at = graph_time(times[-BUDGET_CHANGE_LIMIT] + BUDGET_CHANGE_WINDOW_S)
            what = {"campaign": "campaign", "adset": "ad set"}[kind]
            raise GraphError(
                f"User request limit reached: the budget of {what} {object_id} was changed {len(times)} times in "
                f"the last 60 minutes; at most {BUDGET_CHANGE_LIMIT} budget changes per object per hour are "
                f"allowed. Try again after {retry_at}.",
                code=RATE_LIMIT, subcode=SUB_BUDGET_CHANGES, transient=True, field="daily_budget")

    # ------------------------------------------------------------------------------------- copies
    def copy_adset(self, object_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        with self._write_lock:
            src = self._require(object_id, "adset")
            if src["status"] == "DELETED":
                raise invalid(f"ad set {object_id} is DELETED: it cannot be copied", SUB_DELETED)
            acc = src["account_id"]
            target_id = param_id(params, "campaign_id") or src["campaign_id"]
            target = self._require(target_id, "campaign", acc, "campaign_id")
            deep = param_bool(params, "deep_copy", False)
            option = param_enum(params, "status_option", STATUS_OPTIONS, "PAUSED")
            rename = param_json(params, "rename_options") or {}
            if not isinstance(rename, dict):
                raise invalid("rename_options must be a JSON object", field="rename_options")
            strategy = str(rename.get("rename_strategy") or "DEEP_RENAME").upper()
            if strategy not in RENAME_STRATEGIES:
                raise invalid(f"rename_options.rename_strategy must be one of {', '.join(RENAME_STRATEGIES)}",
                               field="rename_options")
            prefix = str(rename.get("rename_prefix") or "")
            suffix = str(rename.get("rename_suffix", " - Copy") or "")

            def renamed(name: str, top: bool) -> str:
                keep = strategy == "NO_RENAME" or (strategy == "ONLY_TOP_LEVEL_RENAME" and not top)
                return name if keep else (prefix + name + suffix)[:MAX_NAME]

            budget = param_budget(params)
            if target["daily_budget"] is not None:
                check_budget_level(target, budget)
            else:
                budget = budget if budget is not None else src["daily_budget"]
                check_budget_level(target, budget)
            now_s, now_iso = self._now()
            ads = [a for a in self.state.ads_list("ad", acc) if a["adset_id"] == src["id"]] if deep else []
            ids = self._new_ids(1 + len(ads))
            copy = dict(src, id=ids[0], campaign_id=target_id, daily_budget=budget, source_adset_id=src["id"],
                        name=param_str(params, "name") or renamed(src["name"], True),
                        status=src["status"] if option == "INHERITED_FROM_SOURCE" else option,
                        created_s=now_s, updated_s=now_s)
            creates = [("adset", copy)]
            for ad, ad_id in zip(ads, ids[1:]):
                creates.append(("ad", dict(ad, id=ad_id, adset_id=copy["id"], campaign_id=target_id,
                                           name=renamed(ad["name"], False),
                                           status=ad["status"] if option == "INHERITED_FROM_SOURCE" else option,
                                           created_s=now_s, updated_s=now_s)))
            self.state.ads_apply(acc, now_s, now_iso, creates=creates, changes=[created_change(r) for _, r in creates])
            src_extra = read_extras(self.state, acc).get(src["id"], {})
            keep = {k: v for k, v in src_extra.items() if k in ("bid_strategy", "bid_amount", "start_time", "end_time")}
            if "lifetime_budget" in src_extra and budget == src["daily_budget"]:
                keep["lifetime_budget"] = src_extra["lifetime_budget"]
            if keep:
                self._store_extras(acc, {copy["id"]: keep})
        objects = [{"ad_object_type": "ad_set", "source_id": src["id"], "copied_id": copy["id"]}]
        objects += [{"ad_object_type": "ad", "source_id": ad["id"], "copied_id": new["id"]}
                    for ad, (_, new) in zip(ads, creates[1:])]
        return {"copied_adset_id": copy["id"], "ad_object_ids": objects}

