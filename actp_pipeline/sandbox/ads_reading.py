"""How the sandbox's ads objects are read: the Graph view of a stored row (effective status, budgets,
schedule and bid, times), the fields asked for, one object by id and the lists of an account's edges with
their `filtering`. Apart from the writes (ads_objects.py) because every read goes through one rendering.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .ads_creatives import public_ad_creative, public_creative
from .ads_tables import EDGES, GONE, AdsTables
from .ads_world import CREATIVE_OWNER_KEY, read_creatives, read_extras
from .graph_errors import SUB_JSON, invalid, unknown_object
from .graph_listing import (
    FILTER_FIELDS,
    FILTER_OPERATORS,
    param_fields,
    pick,
    predicate,
    subfields,
)
from .graph_params import param_json
from .graph_times import graph_time


class AdsReading(AdsTables):
    """The reads of AdsObjects: rendering, listing and filtering, and GET /{id}."""

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
                adset_status: str | None = None, extras: Mapping[str, Any] | None = None,
                creatives: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The Graph view of a stored row; `creatives` (the account's, read when not given) shows an ad's
        Instagram creative as Graph does (ads_creatives.public_ad_creative)."""
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
                       creative=public_ad_creative(obj["creative"], creatives if creatives is not None
                                                   else read_creatives(self.state, obj["account_id"])))
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
            return [int(c["id"]) for c in creatives], lambda i: pick(public_creative(creatives[i]),
                                                                     param_fields(params))
        objs = self.objects(acc)
        extras = read_extras(self.state, acc)
        stored = read_creatives(self.state, acc) if kind == "ad" else {}
        camp_status = {c["id"]: c["status"] for c in objs.campaigns.values()}
        set_status = {s["id"]: s["status"] for s in objs.adsets.values()}
        rows = {"campaign": objs.campaigns, "adset": objs.adsets, "ad": objs.ads}[kind]
        items = [(o["seq"], self._public(kind, o, camp_status.get(o.get("campaign_id", "")),
                                         set_status.get(o.get("adset_id", "")), extras, stored))
                 for o in rows.values()]
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
            return pick(public_creative(creative), fields)
        return self.render(self._public_one(*found), params)
