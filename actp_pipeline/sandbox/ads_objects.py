"""The ads objects of the sandbox's Graph-shaped API: ad accounts, campaigns, ad sets and ads, created,
read, listed, updated and copied under Meta's rules (budget levels, the budget change limit).

Framework-free: methods take the request's parameters as a mapping and return the Graph response body;
routes/ads.py serves them. Every write goes through one lock, so validate-then-write (the budget change
limit) is atomic, and is logged with its simulated time for the ads world (ads_world.py).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Mapping

from .ads_world import Objects
from .clock import SimClock, iso
from .graph import (
    ACCOUNT_RE,
    BUDGET_CHANGE_LIMIT,
    BUDGET_CHANGE_WINDOW_S,
    FILTER_FIELDS,
    FILTER_OPERATORS,
    ID_BASE,
    MAX_NAME,
    OBJECTIVES,
    RATE_LIMIT,
    RENAME_STRATEGIES,
    STATUS_OPTIONS,
    STATUSES,
    SUB_ACCOUNT,
    SUB_BUDGET_CHANGES,
    SUB_BUDGET_LEVEL,
    SUB_JSON,
    SUB_MISSING,
    SUB_UNKNOWN_OBJECT,
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
    pick,
    predicate,
    unknown_object,
)
from .state import SandboxState

EDGES = {"campaigns": "campaign", "adsets": "adset", "ads": "ad"}


class AdsObjects:
    """The Graph objects of every sandbox ad account, kept in the sandbox state."""

    def __init__(self, state: SandboxState, clock: SimClock):
        self.state = state
        self.clock = clock
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
        return self._public(kind, obj, camp_status, set_status)

    # --------------------------------------------------------------------------------- listing
    def list_objects(self, account: str, edge: str,
                     params: Mapping[str, Any]) -> tuple[list[int], Callable[[int], dict[str, Any]]]:
        """The edge's objects after the filters: their cursor keys and a function that renders item i."""
        acc = self.account_id(account)
        kind = EDGES[edge]
        objs = self.objects(acc)
        camp_status = {c["id"]: c["status"] for c in objs.campaigns.values()}
        set_status = {s["id"]: s["status"] for s in objs.adsets.values()}
        rows = {"campaign": objs.campaigns, "adset": objs.adsets, "ad": objs.ads}[kind]
        items = [(o["seq"], self._public(kind, o, camp_status.get(o.get("campaign_id", "")),
                                         set_status.get(o.get("adset_id", "")))) for o in rows.values()]
        predicates = self._filters(params)
        items = [(seq, o) for seq, o in items if all(p(o) for p in predicates)]
        fields = param_fields(params)
        return [seq for seq, _ in items], lambda i: pick(items[i][1], fields)

    def _filters(self, params: Mapping[str, Any]) -> list[Callable[[dict[str, Any]], bool]]:
        preds = []
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
                preds.append(predicate(FILTER_FIELDS[field], op, value))
        statuses = param_json(params, "effective_status")  # the older list parameter
        if statuses is not None:
            if not isinstance(statuses, list):
                raise invalid("effective_status must be a JSON list", field="effective_status")
            preds.append(predicate("effective_status", "IN", statuses))
        return preds

    # --------------------------------------------------------------------------------- creating
    def create_object(self, account: str, edge: str, params: Mapping[str, Any]) -> dict[str, Any]:
        acc = self.account_id(account)
        kind = EDGES[edge]
        with self._write_lock:
            now_s, now_iso = self._now()
            new = {"campaign": self._new_campaign, "adset": self._new_adset, "ad": self._new_ad}[kind]
            row = new(acc, params, now_s)
            self.state.ads_apply(acc, now_s, now_iso, creates=[(kind, row)], changes=[created_change(row)])
        return {"id": row["id"]}

    def _new_campaign(self, acc: str, params: Mapping[str, Any], now_s: float) -> dict[str, Any]:
        name = param_str(params, "name", required=True)
        objective = param_enum(params, "objective", OBJECTIVES)
        if objective is None:
            raise invalid("the parameter objective is required", SUB_MISSING, "objective")
        status = param_enum(params, "status", STATUSES, "PAUSED")
        budget = param_budget(params)
        return {"id": self._new_ids(1)[0], "account_id": acc, "name": name, "objective": objective,
                "status": status, "daily_budget": budget, "created_s": now_s, "updated_s": now_s}

    def _new_adset(self, acc: str, params: Mapping[str, Any], now_s: float) -> dict[str, Any]:
        name = param_str(params, "name", required=True)
        camp_id = str(param_id(params, "campaign_id", required=True))
        camp = self._require(camp_id, "campaign", acc, "campaign_id")
        budget = param_budget(params)
        check_budget_level(camp, budget)
        targeting = param_json(params, "targeting")
        if targeting is not None and not isinstance(targeting, dict):
            raise invalid("targeting must be a JSON object", field="targeting")
        return {"id": self._new_ids(1)[0], "account_id": acc, "campaign_id": camp_id, "name": name,
                "status": param_enum(params, "status", STATUSES, "PAUSED"), "daily_budget": budget, "targeting": targeting,
                "optimization_goal": (param_str(params, "optimization_goal") or "LINK_CLICKS").upper(),
                "billing_event": (param_str(params, "billing_event") or "IMPRESSIONS").upper(),
                "source_adset_id": None, "created_s": now_s, "updated_s": now_s}

    def _new_ad(self, acc: str, params: Mapping[str, Any], now_s: float) -> dict[str, Any]:
        name = param_str(params, "name", required=True)
        set_id = str(param_id(params, "adset_id", required=True))
        adset = self._require(set_id, "adset", acc, "adset_id")
        creative = param_json(params, "creative")
        if creative is None:
            raise invalid("the parameter creative is required", SUB_MISSING, "creative")
        if not isinstance(creative, dict) or not isinstance(creative.get("object_story_id"), str):
            raise invalid("creative must be a JSON object with an object_story_id (a post id)", field="creative")
        story = creative["object_story_id"]
        if self.state.get_post(story) is None:
            raise GraphError(f"creative.object_story_id: post '{story}' does not exist", status=404,
                             subcode=SUB_UNKNOWN_OBJECT, field="creative")
        url_tags = creative.get("url_tags")
        if url_tags is not None and not isinstance(url_tags, str):
            raise invalid("creative.url_tags must be a string", field="creative")
        ad_id, creative_id = self._new_ids(2)
        return {"id": ad_id, "account_id": acc, "campaign_id": adset["campaign_id"], "adset_id": set_id, "name": name,
                "status": param_enum(params, "status", STATUSES, "PAUSED"),
                "creative": {"id": creative_id, "object_story_id": story,
                             **({"url_tags": url_tags} if url_tags else {})},
                "created_s": now_s, "updated_s": now_s}

    # ------------------------------------------------------------------------- read and update
    def get_object(self, object_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        fields = param_fields(params)
        if object_id.startswith("act_"):
            acc = self.account_id(object_id)
            return pick({"id": object_id, "account_id": acc, "name": f"Sandbox account {acc}",
                         "currency": "USD", "timezone_name": "UTC", "account_status": 1}, fields)
        found = self.state.ads_get(object_id)
        if found is None:
            raise unknown_object(object_id)
        return pick(self._public_one(*found), fields)

    def update_object(self, object_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if object_id.startswith("act_"):
            raise invalid("the sandbox does not update ad accounts")
        with self._write_lock:
            found = self.state.ads_get(object_id)
            if found is None:
                raise unknown_object(object_id)
            kind, obj = found
            now_s, now_iso = self._now()
            fields: dict[str, Any] = {}
            name = param_str(params, "name")
            if name is not None and name != obj["name"]:
                fields["name"] = name
            status = param_enum(params, "status", STATUSES)
            if status is not None and status != obj["status"]:
                fields["status"] = status
            budget = param_budget(params) if kind != "ad" else None
            if budget is not None:
                if kind == "campaign" and obj["daily_budget"] is None:
                    raise invalid(f"campaign {object_id} uses ad set budgets (ABO); set the budget on its ad sets",
                                   SUB_BUDGET_LEVEL, "daily_budget")
                if kind == "adset":
                    check_budget_level(self._require(obj["campaign_id"], "campaign"), budget)
                if budget != obj["daily_budget"]:
                    self._check_budget_rate(object_id, kind, now_s)
                    fields["daily_budget"] = budget
            if fields:
                changes = [(object_id, f, None if v is None else str(v)) for f, v in fields.items()]
                self.state.ads_apply(obj["account_id"], now_s, now_iso, updates=[(kind, object_id, fields)],
                                     changes=changes)
        return {"success": True}

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
        objects = [{"ad_object_type": "ad_set", "source_id": src["id"], "copied_id": copy["id"]}]
        objects += [{"ad_object_type": "ad", "source_id": ad["id"], "copied_id": new["id"]}
                    for ad, (_, new) in zip(ads, creates[1:])]
        return {"copied_adset_id": copy["id"], "ad_object_ids": objects}

