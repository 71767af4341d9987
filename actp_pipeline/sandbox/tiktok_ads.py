"""TikTok's Marketing API (API for Business v1.3) as the sandbox speaks it: campaigns, ad groups, Spark Ads
and identities (the report: routes/tiktok_ads.py). Framework-free; routes/tiktok_ads.py serves it at
TikTok's own paths (/open_api/v1.3/...; TikTok's host is https://business-api.tiktok.com).

Why: ACTP's TikTok ads adapter (actp_pipeline/ads/tiktok.py) speaks the documented HTTP API; pointed at the
sandbox (only the base URL differs) it buys delivery in the SAME ads world as the Graph dialect. A TikTok
campaign, ad group and ad are rows of the shared ads store (the state's ads tables, as ads_objects.py
writes them), tagged `platform: tiktok` in the account's extras: an ad group is an ad set there, so
AdsWorld delivers it from the promoted post's true appeal and /sandbox/truth/ads lists it unchanged.

Differences from TikTok's Marketing API (known ones; the report's are in routes/tiktok_ads.py)
- Campaign budgets: BUDGET_MODE_INFINITE (ad-group budgets, ABO) or BUDGET_MODE_DAY with
  budget_optimize_on=true (CBO); a campaign cap without CBO, BUDGET_MODE_TOTAL and bids other than
  BID_TYPE_NO_BID are refused (40002). Minimum daily budgets (TikTokAdsPolicy): 50 per campaign, 20 per
  ad group, USD (TikTok's figures as recalled, not re-checked); no budget-change rate limit.
- Identities: one TT_USER identity per tiktok account of the world, for every advertiser; BC_AUTH_TT is
  taken as the same identity; AUTH_CODE / CUSTOMIZED_USER are refused (no Spark Ads codes, no uploaded
  videos: every ad is a SINGLE_VIDEO Spark Ad). tiktok_item_id must be a public video (moderation over) of
  the identity's account; ad/create takes an ad's operation_status, as the SDK's creative model has it.
- An ad's landing_page_url must be an absolute http(s) URL and its call_to_action one of TikTok's web CTA
  values (tiktok_ads_params.py; 40002 otherwise). The landing page is where the sandbox's paid visitors go,
  with a ttclid appended (paid_traffic.py), in proportion to the ad group's delivered clicks.
- Targeting (location_ids, placements, age_groups, gender, languages) is checked and stored but the world
  delivers to everyone alike; optimization_goal and billing_event are stored, not simulated.
- Name filters match by substring; deleted objects are never listed; filtering keys outside FILTERS and
  unknown `fields` are refused with 40002 (TikTok may ignore some). Updates take name and budget only.
- request_id on creates is accepted and ignored (no idempotent create): a retried create makes a second
  object, so clients reconcile by name. Names need not be unique.
- Rate limit: TikTokAdsPolicy.requests_per_minute (600, an ASSUMPTION: TikTok sets Marketing API limits
  per app tier and the pages consulted gave no number) per token and endpoint, in a one-minute window of
  simulated time (as the Content Posting dialect); code 40100, HTTP 200, no Retry-After.
- Errors are HTTP 200 with TikTok's code (40001 no permission, 40002 bad parameter, 40100 too many
  requests, 40104 empty token, 40105 bad token, 50000 system error); the shared layers' errors (unknown
  path, body over 1 MB) keep their HTTP status as 40002 / 50000. Messages and request ids are the sandbox's.
- Advertiser ids are numeric strings; any is accepted (unless TikTokAdsPolicy.advertisers lists them) and
  provisioned on first write. It is an account of the shared ads store: the Graph dialect would show the
  same objects under act_<advertiser_id> (use distinct ids). Times are UTC (every advertiser's time zone).
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .ads_objects import AdsObjects
from .ads_world import read_extras, write_extras
from .graph import created_change
from .publishing import Publishing
from .seeding import derive_hex
from .tiktok import SlidingWindows, TikTokDirectPost
from .transport import Auth
from .tiktok_ads_params import (  # re-exported: routes/tiktok_ads.py imports them from here
    NO_PERMISSION,
    RATE_LIMIT,
    TOKEN_EMPTY,
    TOKEN_INVALID,
    TikTokAdsError as TikTokAdsError,
    _enum,
    _money,
    _parse_time,
    _t,
    _text,
    call_to_action,
    invalid as invalid,
    json_param as json_param,
    landing_page,
    paged as paged,
    tiktok_ads_code as tiktok_ads_code,
)

PLATFORM = "tiktok"
ID_BASE = 1_800_000_000_000_000_000  # 19-digit ids, as TikTok's
OBJECTIVES = ("REACH", "TRAFFIC", "VIDEO_VIEWS", "LEAD_GENERATION", "ENGAGEMENT", "APP_PROMOTION",
              "WEB_CONVERSIONS", "PRODUCT_SALES")
TO_STORE = {"ENABLE": "ACTIVE", "DISABLE": "PAUSED", "DELETE": "DELETED"}
TO_TIKTOK = {v: k for k, v in TO_STORE.items()}
IDENTITY_TYPES = ("TT_USER", "BC_AUTH_TT")
FILTERS = {"campaign": ("campaign_ids", "campaign_name", "objective_type"),
           "adgroup": ("campaign_ids", "adgroup_ids", "adgroup_name"),
           "ad": ("campaign_ids", "adgroup_ids", "ad_ids", "ad_name")}
_DIGITS = re.compile(r"^[0-9]{1,20}$")


@dataclass(frozen=True)
class TikTokAdsPolicy:
    requests_per_minute: int = 600
    min_campaign_budget: float = 50.0
    min_adgroup_budget: float = 20.0
    advertisers: tuple[str, ...] | None = None  # None: any numeric advertiser id


class TikTokAds:
    """The Marketing API's objects in the sandbox's shared ads store."""

    def __init__(self, objects: AdsObjects, publishing: Publishing, auth: Auth, policy: TikTokAdsPolicy | None = None):
        self.objects, self.publishing, self.auth = objects, publishing, auth
        self.state, self.clock = objects.state, objects.clock
        self.policy = policy or TikTokAdsPolicy()
        self._videos = TikTokDirectPost(publishing, publishing.config.api_keys)  # public video ids of posts
        self._windows = SlidingWindows()
        self._lock = threading.Lock()  # validate-then-write, and the extras' read-modify-write

    # ------------------------------------------------------------------------------ auth, limits
    def authorize(self, token: str | None) -> str:
        """The API key a request's Access-Token stands for (an API key, or a minted TikTok OAuth token)."""
        token = (token or "").strip()
        if not token:
            raise TikTokAdsError(TOKEN_EMPTY, "Access-Token is empty: send it in the Access-Token header.")
        if not self.auth.valid_key(token, PLATFORM):
            raise TikTokAdsError(TOKEN_INVALID, "Access token is incorrect or has been revoked.")
        return self.auth.minted(token, PLATFORM) or token

    def limit(self, key: str, endpoint: str) -> None:
        per_minute = self.policy.requests_per_minute
        if not self._windows.take(("rate", key, endpoint), per_minute, 60.0, self.clock.now().timestamp()):
            raise TikTokAdsError(RATE_LIMIT, f"Too many requests: at most {per_minute} requests a minute per "
                                             "access token on this endpoint. Please retry later.")

    def request_id(self) -> str:  # like TikTok's: a time, then 20 hex digits
        return self.clock.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()

    def advertiser(self, params: Mapping[str, Any]) -> str:
        adv = params.get("advertiser_id")
        if not isinstance(adv, str) or not _DIGITS.match(adv):
            raise invalid("advertiser_id is required and must be a numeric string")
        if self.policy.advertisers is not None and adv not in self.policy.advertisers:
            raise TikTokAdsError(NO_PERMISSION, f"No permission to operate advertiser {adv}.")
        return adv

    # ------------------------------------------------------------------------------- the store
    def _now(self) -> tuple[float, str]:
        now = self.clock.now()
        return now.timestamp(), now.isoformat()

    def _mine(self, acc: str, kind: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """The account's TikTok objects of a kind (not deleted) and the account's extras."""
        extras = read_extras(self.state, acc)
        rows = [o for o in self.state.ads_list(kind, acc)
                if extras.get(o["id"], {}).get("platform") == PLATFORM and o["status"] != "DELETED"]
        return rows, extras

    def _one(self, acc: str, kind: str, object_id: Any, name: str) -> dict[str, Any]:
        if not isinstance(object_id, str) or not _DIGITS.match(object_id):
            raise invalid(f"{name} is required and must be a numeric string")
        found = self.state.ads_get(object_id)
        extra = read_extras(self.state, acc).get(object_id, {}) if found else {}
        if (found is None or found[0] != kind or found[1]["account_id"] != acc or extra.get("platform") != PLATFORM
                or found[1]["status"] == "DELETED"):
            raise invalid(f"{name} {object_id} does not exist in advertiser {acc}")
        return found[1]

    def _write(self, acc: str, creates=(), updates=(), extras: Mapping[str, dict[str, Any]] | None = None) -> None:
        now_s, now_iso = self._now()
        changes = [created_change(row) for _, row in creates]
        changes += [(oid, f, None if v is None else str(v)) for _, oid, fields in updates for f, v in fields.items()]
        self.state.ads_apply(acc, now_s, now_iso, creates=list(creates), updates=list(updates), changes=changes)
        if extras:
            stored = read_extras(self.state, acc)
            for oid, extra in extras.items():
                stored[oid] = {k: v for k, v in {**stored.get(oid, {}), **extra}.items() if v is not None}
            write_extras(self.state, acc, stored)

    def _new_id(self) -> str:
        return str(ID_BASE + self.state.ads_new_ids(1)[0])

    @staticmethod
    def _secondary(kind: str, own: str, *parents: tuple[str, str | None]) -> str:
        if own == "DELETED":
            return f"{kind}_STATUS_DELETE"
        if own != "ACTIVE":
            return f"{kind}_STATUS_DISABLE"
        for label, status in parents:
            if status is not None and status != "ACTIVE":
                return f"{kind}_STATUS_{label}_DISABLE"
        return f"{kind}_STATUS_DELIVERY_OK" if kind != "CAMPAIGN" else "CAMPAIGN_STATUS_ENABLE"

    def campaign_view(self, c: Mapping[str, Any]) -> dict[str, Any]:
        cbo = c["daily_budget"] is not None
        return {"advertiser_id": c["account_id"], "campaign_id": c["id"], "campaign_name": c["name"],
                "objective_type": c["objective"], "campaign_type": "REGULAR_CAMPAIGN",
                "budget_mode": "BUDGET_MODE_DAY" if cbo else "BUDGET_MODE_INFINITE",
                "budget": c["daily_budget"] / 100 if cbo else 0.0, "budget_optimize_on": cbo,
                "operation_status": TO_TIKTOK[c["status"]], "secondary_status": self._secondary("CAMPAIGN", c["status"]),
                "create_time": _t(c["created_s"]), "modify_time": _t(c["updated_s"])}

    def adgroup_view(self, s: Mapping[str, Any], extra: Mapping[str, Any], camp_status: str | None) -> dict[str, Any]:
        own = s["daily_budget"] is not None
        target = s["targeting"] or {}
        return {"advertiser_id": s["account_id"], "campaign_id": s["campaign_id"], "adgroup_id": s["id"],
                "adgroup_name": s["name"], "budget_mode": "BUDGET_MODE_DAY" if own else "BUDGET_MODE_INFINITE",
                "budget": s["daily_budget"] / 100 if own else 0.0, "operation_status": TO_TIKTOK[s["status"]],
                "secondary_status": self._secondary("ADGROUP", s["status"], ("CAMPAIGN", camp_status)),
                "optimization_goal": s["optimization_goal"], "billing_event": s["billing_event"],
                "bid_type": "BID_TYPE_NO_BID", "pacing": "PACING_MODE_SMOOTH",
                "placement_type": target.get("placement_type", "PLACEMENT_TYPE_AUTOMATIC"),
                "placements": target.get("placements", []), "location_ids": target.get("location_ids", []),
                "age_groups": target.get("age_groups", []), "gender": target.get("gender", "GENDER_UNLIMITED"),
                "languages": target.get("languages", []),
                "schedule_type": "SCHEDULE_START_END" if extra.get("end_time") else "SCHEDULE_FROM_NOW",
                "schedule_start_time": _t(extra.get("start_time") or s["created_s"]),
                "schedule_end_time": _t(extra.get("end_time")),
                "create_time": _t(s["created_s"]), "modify_time": _t(s["updated_s"])}

    def ad_view(self, a: Mapping[str, Any], camp_status: str | None, set_status: str | None) -> dict[str, Any]:
        cr = a["creative"] or {}
        return {"advertiser_id": a["account_id"], "campaign_id": a["campaign_id"], "adgroup_id": a["adset_id"],
                "ad_id": a["id"], "ad_name": a["name"], "ad_format": "SINGLE_VIDEO",
                "identity_type": cr.get("identity_type"), "identity_id": cr.get("identity_id"),
                "tiktok_item_id": cr.get("tiktok_item_id"), "landing_page_url": cr.get("landing_page_url"),
                "call_to_action": cr.get("call_to_action"), "operation_status": TO_TIKTOK[a["status"]],
                "secondary_status": self._secondary("AD", a["status"], ("ADGROUP", set_status),
                                                    ("CAMPAIGN", camp_status)),
                "create_time": _t(a["created_s"]), "modify_time": _t(a["updated_s"])}

    # ---------------------------------------------------------------------------------- reads
    def listing(self, kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """campaign/get, adgroup/get, ad/get: the filtered objects, their fields, a page."""
        acc = self.advertiser(params)
        rows, extras = self._mine(acc, kind)
        status = {o["id"]: o["status"] for k in ("campaign", "adset") for o in self.state.ads_list(k, acc)}
        view: Callable[[dict[str, Any]], dict[str, Any]] = {
            "campaign": self.campaign_view,
            "adset": lambda o: self.adgroup_view(o, extras.get(o["id"], {}), status.get(o["campaign_id"])),
            "ad": lambda o: self.ad_view(o, status.get(o["campaign_id"]), status.get(o["adset_id"])),
        }[kind]
        filtering = self._filtering(kind, params)
        items = [i for i in (view(o) for o in rows) if self._kept(i, filtering)]
        fields = json_param(params, "fields", list)
        if fields and items and set(fields) - set(items[0]):
            raise invalid(f"unknown fields: {', '.join(map(str, sorted(set(fields) - set(items[0]))))}")
        items = [{f: i[f] for f in fields} for i in items] if fields else items
        return paged(items, params)

    @staticmethod
    def _filtering(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
        label = {"adset": "adgroup"}.get(kind, kind)
        f = json_param(params, "filtering", dict) or {}
        unknown = set(f) - set(FILTERS[label])
        if unknown:
            raise invalid(f"filtering keys not supported by the sandbox: {', '.join(sorted(unknown))}; use "
                          f"{', '.join(FILTERS[label])}")
        return f

    @staticmethod
    def _kept(item: Mapping[str, Any], f: Mapping[str, Any]) -> bool:
        """Whether an object passes the filters (ids: one of them; names: contains; others: equal)."""
        return all((isinstance(w, list) and item[k[:-1]] in [str(x) for x in w]) if k.endswith("_ids") else
                   (isinstance(w, str) and w in item[k]) if k.endswith("_name") else item[k] == w
                   for k, w in f.items())

    def identities(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self.advertiser(params)
        kind = _enum(params, "identity_type", ("CUSTOMIZED_USER", "AUTH_CODE", "TT_USER", "BC_AUTH_TT"))
        items = [] if kind not in (None, "TT_USER") else [
            {"identity_id": self.identity_id(a), "identity_type": "TT_USER", "display_name": a,
             "profile_image": f"https://sandbox.actp.local/tiktok/avatar/{a}.jpeg", "can_pull_video": True,
             "can_push_video": True, "can_use_live_ads": False, "can_manage_message": False}
            for a in self.publishing.config.accounts.get(PLATFORM) or ["main"]]
        return paged(items, params, "identity_list")

    def identity_id(self, account: str) -> str:
        return derive_hex(self.publishing.config.seed, "tiktok_identity", account, length=32)

    # --------------------------------------------------------------------------------- writes
    def create_campaign(self, body: Mapping[str, Any]) -> dict[str, Any]:
        acc = self.advertiser(body)
        name = _text(body, "campaign_name", required=True)
        objective = _enum(body, "objective_type", OBJECTIVES)
        if objective is None:
            raise invalid("objective_type is required")
        mode = _enum(body, "budget_mode", ("BUDGET_MODE_INFINITE", "BUDGET_MODE_DAY", "BUDGET_MODE_TOTAL"),
                     "BUDGET_MODE_INFINITE")
        cbo = body.get("budget_optimize_on", False)
        if mode == "BUDGET_MODE_TOTAL" or (mode == "BUDGET_MODE_DAY") != (cbo is True):
            raise invalid("the sandbox serves campaigns with BUDGET_MODE_INFINITE (ad group budgets) or "
                          "BUDGET_MODE_DAY with budget_optimize_on=true (campaign budget optimization)")
        budget = _money(body, "budget", self.policy.min_campaign_budget) if cbo else None
        status = TO_STORE[_enum(body, "operation_status", ("ENABLE", "DISABLE"), "ENABLE")]
        with self._lock:
            now_s, _ = self._now()
            row = {"id": self._new_id(), "account_id": acc, "name": name, "objective": objective, "status": status,
                   "daily_budget": budget, "created_s": now_s, "updated_s": now_s}
            self._write(acc, creates=[("campaign", row)], extras={row["id"]: {"platform": PLATFORM}})
        return self.campaign_view(row)

    def create_adgroup(self, body: Mapping[str, Any]) -> dict[str, Any]:
        acc = self.advertiser(body)
        name = _text(body, "adgroup_name", required=True)
        goal = _text(body, "optimization_goal", required=True, max_len=64)
        billing = _text(body, "billing_event", max_len=64) or ("CPC" if goal == "CLICK" else "CPM")
        if body.get("bid_type", "BID_TYPE_NO_BID") != "BID_TYPE_NO_BID":
            raise invalid("the sandbox serves bid_type BID_TYPE_NO_BID only")
        target = self._targeting(body)
        extra: dict[str, Any] = {"platform": PLATFORM, **self._schedule(body)}
        with self._lock:
            camp = self._one(acc, "campaign", body.get("campaign_id"), "campaign_id")
            budget = self._adgroup_budget(camp, body)
            now_s, _ = self._now()
            row = {"id": self._new_id(), "account_id": acc, "campaign_id": camp["id"], "name": name,
                   "status": TO_STORE[_enum(body, "operation_status", ("ENABLE", "DISABLE"), "ENABLE")],
                   "daily_budget": budget, "targeting": target, "optimization_goal": goal, "billing_event": billing,
                   "source_adset_id": None, "created_s": now_s, "updated_s": now_s}
            self._write(acc, creates=[("adset", row)], extras={row["id"]: extra})
        return self.adgroup_view(row, extra, camp["status"])

    def _adgroup_budget(self, camp: Mapping[str, Any], body: Mapping[str, Any]) -> int | None:
        mode = body.get("budget_mode")
        if camp["daily_budget"] is not None:
            if body.get("budget") not in (None, 0, "") or mode not in (None, "BUDGET_MODE_INFINITE"):
                raise invalid(f"campaign {camp['id']} uses campaign budget optimization: its ad groups take no budget")
            return None
        if mode != "BUDGET_MODE_DAY":
            raise invalid("an ad group of a campaign without budget optimization needs budget_mode BUDGET_MODE_DAY "
                          "and a budget (lifetime budgets are not served by the sandbox)")
        return _money(body, "budget", self.policy.min_adgroup_budget)

    @staticmethod
    def _targeting(body: Mapping[str, Any]) -> dict[str, Any]:
        locations = json_param(body, "location_ids", list)
        if not locations or not all(isinstance(x, str) for x in locations):
            raise invalid("location_ids is required: a list of location id strings")
        placement = _enum(body, "placement_type", ("PLACEMENT_TYPE_AUTOMATIC", "PLACEMENT_TYPE_NORMAL"),
                          "PLACEMENT_TYPE_AUTOMATIC")
        placements = json_param(body, "placements", list) or []
        if placement == "PLACEMENT_TYPE_NORMAL" and not placements:
            raise invalid("placements is required with PLACEMENT_TYPE_NORMAL")
        gender = _enum(body, "gender", ("GENDER_UNLIMITED", "GENDER_MALE", "GENDER_FEMALE"), "GENDER_UNLIMITED")
        return {"location_ids": locations, "placement_type": placement, "placements": placements, "gender": gender,
                **{k: json_param(body, k, list) or [] for k in ("age_groups", "languages")}}

    def _schedule(self, body: Mapping[str, Any]) -> dict[str, Any]:
        kind = _enum(body, "schedule_type", ("SCHEDULE_FROM_NOW", "SCHEDULE_START_END"), "SCHEDULE_FROM_NOW")
        if kind == "SCHEDULE_FROM_NOW":
            return {}
        start = _parse_time(body.get("schedule_start_time"), "schedule_start_time")
        end = _parse_time(body.get("schedule_end_time"), "schedule_end_time")
        if end <= max(start, self.clock.now().timestamp()):
            raise invalid("schedule_end_time must be after schedule_start_time and in the future")
        return {"start_time": start, "end_time": end}

    def create_ads(self, body: Mapping[str, Any]) -> dict[str, Any]:
        acc = self.advertiser(body)
        creatives = json_param(body, "creatives", list)
        if not creatives or len(creatives) > 20 or not all(isinstance(c, dict) for c in creatives):
            raise invalid("creatives is required: a list of 1-20 ad objects")
        with self._lock:
            adgroup = self._one(acc, "adset", body.get("adgroup_id"), "adgroup_id")
            rows = [self._new_ad(acc, adgroup, c, i) for i, c in enumerate(creatives)]
            self._write(acc, creates=[("ad", r) for r in rows], extras={r["id"]: {"platform": PLATFORM} for r in rows})
        camp = self.state.ads_get(adgroup["campaign_id"])
        views = [self.ad_view(r, camp[1]["status"] if camp else None, adgroup["status"]) for r in rows]
        return {"ad_ids": [r["id"] for r in rows], "creatives": views}

    def _new_ad(self, acc: str, adgroup: Mapping[str, Any], c: Mapping[str, Any], i: int) -> dict[str, Any]:
        where = f"creatives[{i}]"
        name = _text(c, "ad_name", required=True)
        if c.get("ad_format", "SINGLE_VIDEO") != "SINGLE_VIDEO":
            raise invalid(f"{where}.ad_format: the sandbox serves SINGLE_VIDEO Spark Ads only")
        kind = c.get("identity_type")
        if kind not in IDENTITY_TYPES:
            raise invalid(f"{where}.identity_type must be TT_USER or BC_AUTH_TT (the sandbox has no Spark Ads "
                          "authorization codes or custom identities)")
        accounts = {self.identity_id(a): a for a in self.publishing.config.accounts.get(PLATFORM) or ["main"]}
        account = accounts.get(str(c.get("identity_id")))
        if account is None:
            raise invalid(f"{where}.identity_id {c.get('identity_id')!r} is not an identity of this advertiser")
        post = self._post_of_item(c.get("tiktok_item_id"), account, where)
        url = landing_page(c.get("landing_page_url"), where)
        now_s, _ = self._now()
        ad_id = self._new_id()
        creative = {"id": ad_id, "object_story_id": post["post_id"], "tiktok_item_id": str(c["tiktok_item_id"]),
                    "identity_type": kind, "identity_id": str(c["identity_id"]), "landing_page_url": url,
                    "url_tags": urlsplit(url).query if url else None,
                    "call_to_action": call_to_action(c.get("call_to_action"), where)}
        status = TO_STORE[_enum(c, "operation_status", ("ENABLE", "DISABLE"), "ENABLE")]
        return {"id": ad_id, "account_id": acc, "campaign_id": adgroup["campaign_id"], "adset_id": adgroup["id"],
                "name": name, "status": status, "creative": {k: v for k, v in creative.items() if v is not None},
                "created_s": now_s, "updated_s": now_s}

    def _post_of_item(self, item_id: Any, account: str, where: str) -> dict[str, Any]:
        """The sandbox post behind a public TikTok video id of `account` (refused unless live)."""
        item = str(item_id or "")
        now = self.clock.now()
        for post in self.state.list_posts():
            if post["platform"] == PLATFORM and self._videos.video_id(post["post_id"]) == item:
                if post["account"] != account:
                    raise invalid(f"{where}.tiktok_item_id {item} is not a post of the identity's TikTok account")
                if self.publishing.public_post(post, now)["status"] != "live":
                    raise invalid(f"{where}.tiktok_item_id {item} is not public yet (moderation has not ended)")
                return post
        raise invalid(f"{where}.tiktok_item_id {item!r} is not a public TikTok video")

    def update(self, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """campaign/update, adgroup/update: name and daily budget."""
        acc = self.advertiser(body)
        label = {"adset": "adgroup"}.get(kind, kind)
        with self._lock:
            obj = self._one(acc, kind, body.get(f"{label}_id"), f"{label}_id")
            fields: dict[str, Any] = {}
            name = _text(body, f"{label}_name")
            if name is not None and name != obj["name"]:
                fields["name"] = name
            if body.get("budget") is not None:
                if obj["daily_budget"] is None:
                    raise invalid(f"{label} {obj['id']} has no budget of its own")
                minimum = self.policy.min_campaign_budget if kind == "campaign" else self.policy.min_adgroup_budget
                budget = _money(body, "budget", minimum)
                if budget != obj["daily_budget"]:
                    fields["daily_budget"] = budget
            if fields:
                self._write(acc, updates=[(kind, obj["id"], fields)])
        return {f"{label}_id": obj["id"]}

    def set_status(self, kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        acc = self.advertiser(body)
        label = {"adset": "adgroup"}.get(kind, kind)
        ids = json_param(body, f"{label}_ids", list)
        if not ids or len(ids) > 100 or not all(isinstance(i, str) and _DIGITS.match(i) for i in ids):
            raise invalid(f"{label}_ids must be a list of 1-100 id strings")
        status = TO_STORE[_enum(body, "operation_status", tuple(TO_STORE)) or "DISABLE"]
        if body.get("operation_status") is None:
            raise invalid("operation_status is required: ENABLE, DISABLE or DELETE")
        with self._lock:
            objs = [self._one(acc, kind, i, f"{label}_ids") for i in ids]
            updates = [(kind, o["id"], {"status": status}) for o in objs if o["status"] != status]
            if updates:
                self._write(acc, updates=updates)
        return {f"{label}_ids": ids, "status": TO_TIKTOK[status]}
