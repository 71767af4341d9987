"""The ads objects of the sandbox's Graph API: ad accounts, campaigns, ad sets, ad creatives and ads,
created, read, listed, updated, archived, deleted and copied under Meta's rules (budget levels, lifetime
budgets with an end, bid strategies, the budget change limit), and the per-account call budget.

Framework-free: methods take the request's parameters as a mapping and return the Graph response body;
routes/ads.py serves them. Every write goes through one lock, so validate-then-write (the budget change
limit) is atomic, and is logged with its simulated time for the ads world (ads_world.py).

AdsObjects is assembled from one part per job: lookups in the ads tables (ads_tables.py), reads and lists
(ads_reading.py), creatives (ads_creatives.py), budget, schedule and bid validation (ads_budgets.py) and
the per-account call budget (ads_usage.py); this module holds the writes: create, update, delete, copy.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from .ads_budgets import (  # noqa: F401 - names of this module before the split
    MAX_LIFETIME_BUDGET,
    AdBudgets,
    _daily_share,
)
from .ads_creatives import AdCreatives
from .ads_reading import AdsReading
from .ads_tables import EDGES, GONE
from .ads_usage import (  # noqa: F401 - names of this module before the split
    DEFAULT_CALL_LIMIT,
    THROTTLE_CODES,
    USAGE_WINDOW_S,
    AccountUsage,
)
from .ads_world import CREATIVE_OWNER_KEY, read_creatives, read_extras, write_extras
from .clock import SimClock
from .graph import (
    OBJECTIVES,
    RENAME_STRATEGIES,
    STATUS_OPTIONS,
    STATUSES,
    UPDATE_STATUSES,
    check_budget_level,
    created_change,
)
from .graph_errors import (
    SUB_ACCOUNT,
    SUB_DELETED,
    SUB_MISSING,
    SUB_UNKNOWN_OBJECT,
    GraphError,
    invalid,
    unknown_object,
)
from .graph_params import (
    MAX_NAME,
    param_bool,
    param_budget,
    param_enum,
    param_id,
    param_json,
    param_str,
)
from .graph_times import param_time
from .state import SandboxState


class AdsObjects(AdsReading, AdCreatives, AdBudgets):
    """The Graph objects of every sandbox ad account, kept in the sandbox state."""

    def __init__(self, state: SandboxState, clock: SimClock):
        self.state = state
        self.clock = clock
        self.usage = AccountUsage()
        self._write_lock = threading.Lock()  # validate-then-write (e.g. the budget change limit) is atomic

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

    # ---------------------------------------------------------------------------------- updating
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
