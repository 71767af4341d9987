"""TikTok Ads (Marketing API, API for Business v1.3) for the ads orchestrator: `TikTokAdsClient` implements
`client.AdsClient` over httpx.

Why httpx, not TikTok's official Business API SDK: the SDK (github.com/tiktok/tiktok-business-api-sdk,
package `business_api_client`) is not published to PyPI (`pip download tiktok-business-api-sdk` /
`business-api-client` find nothing), so a pip install of ACTP cannot get it, and its swagger-generated code
is not ours to vendor. This client follows the SDK's shapes: paths /open_api/v1.3/<object>/<verb>/, the
`Access-Token` header, JSON bodies for POST, JSON-encoded lists/objects in GET queries (fields, filtering,
dimensions, metrics), the envelope {"code": 0, "message", "request_id", "data"}, and paging by page /
page_size with data.page_info {page, page_size, total_number, total_page}. Real TikTok: base_url
"https://business-api.tiktok.com" and an advertiser access token; the sandbox serves the same API at its
root (actp_pipeline/sandbox/tiktok_ads.py), so only the base URL differs.

ACTP -> TikTok
- account_id = advertiser_id; campaign = campaign; ad set = ad group (one Spark Ad each). CBO = a campaign
  with budget_mode BUDGET_MODE_DAY and budget_optimize_on; ABO = BUDGET_MODE_INFINITE with ad-group budgets.
  Budgets are account-currency amounts on the wire (dollars here); TikTok's minimum daily budgets (about 50
  per campaign, 20 per ad group in USD) are below ACTP's micro-budgets: TikTok refuses those (40002).
- objective: Meta's ODAX names map through OBJECTIVES (a TikTok objective_type passes unchanged); the ad
  group's optimization goal and billing event follow the objective (OPTIMIZATION).
- The ad is a Spark Ad: identity_type + identity_id (TT_USER: the TikTok account linked to the advertiser;
  found with identity/get unless given) and tiktok_item_id = the organic post's public video id (the Content
  Posting API's publicaly_available_post_id; a ledger post id that is a publish id is mapped through the
  `item_id_for` callable). The variant travels in the landing page URL's utm_content (as meta.url_tags).
  The landing page is the creative's paid tracked link when the executor gives one (ads/ad_links.py: TikTok
  appends ttclid to it on a click), else the configured landing_page_url; call_to_action as configured.
  Reading objects into frames is tiktok_records.
- duplicate_ad_set: TikTok has no "copies" edge; the copy is built from the source's ad group and ads (get)
  and created anew (create), paused until its ads exist, under its final name, so a lost answer is found by
  that name in the target campaign and never made twice. The copy's ads carry `actp_from=<source id>` in
  their landing page URL: that is how ad_sets() knows `promoted_from` (TikTok keeps no source id).
- get() answers in the orchestrator's (Meta-like) terms: status ACTIVE/PAUSED/DELETED, daily_budget in minor
  units (a string), name, account_id, campaign_id, plus TikTok's raw fields under their own names.
- Errors: AdsError with TikTok's code (40100 too many requests and 5xxxx are retryable; the token and
  parameter errors are not); `fbtrace_id` holds TikTok's request_id. GETs are retried twice; writes are
  retried only after 40100 (refused before acting); a timeout on a write is ambiguous and left to the
  caller, which reconciles by name (find_campaign / find_ad_set / ensure_ad).

ACTP core signal -> TikTok report metric (SIGNAL_METRICS, the one place): thruplay -> video_views_p100
(plays to 100%; Meta's ThruPlay also counts 15-second plays of longer videos, so this is a lower bound for
those), link_click -> clicks (TikTok's destination clicks), profile_view -> profile_visits, lead ->
conversion (the ad group's optimization event); smartlink_click and presave_complete have no TikTok metric
and are NaN (unknown), as is any metric a report row leaves out: never 0.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import httpx
import pandas as pd

from actp_pipeline.ads.errors import AdsError
from actp_pipeline.ads.meta import (
    AD_SET_COLUMNS,
    CAMPAIGN_COLUMNS,
    _first,
    _frame,
    _utc_naive,
    check_account_id,
    check_object_id,
    url_tags,
)
from actp_pipeline.ads.tiktok_records import (  # re-exported: callers import them from here
    COPY_MARK as COPY_MARK,
    REPORT_METRICS as REPORT_METRICS,
    SIGNAL_METRICS as SIGNAL_METRICS,
    STATUS as STATUS,
    TIME_FMT as TIME_FMT,
    _age as _age,
    _num as _num,
    ad_set_record as ad_set_record,
    campaign_record as campaign_record,
    report_frame as report_frame,
)

API = "/open_api/v1.3"
OBJECTIVES = {"OUTCOME_TRAFFIC": "TRAFFIC", "OUTCOME_LEADS": "LEAD_GENERATION", "OUTCOME_ENGAGEMENT": "VIDEO_VIEWS",
              "OUTCOME_AWARENESS": "REACH", "OUTCOME_SALES": "WEB_CONVERSIONS"}
OPTIMIZATION = {"TRAFFIC": ("CLICK", "CPC"), "VIDEO_VIEWS": ("ENGAGED_VIEW", "CPV"), "REACH": ("REACH", "CPM"),
                "LEAD_GENERATION": ("LEAD_GENERATION", "OCPM"), "ENGAGEMENT": ("FOLLOWERS", "OCPM"),
                "WEB_CONVERSIONS": ("CONVERT", "OCPM")}
OPERATION = {v: k for k, v in STATUS.items()}
RATE_LIMIT, INVALID_TOKEN = 40100, 40105
US = "6252001"  # TikTok's location ids are GeoNames ids: the United States
REPORT_SPAN_DAYS = 1  # hourly reports are asked one day at a time
KINDS = ("campaign", "adgroup", "ad")


def _with_params(url: str, **params: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode({**{k: v[0] for k, v in parse_qs(parts.query).items()},
                                                      **params}, safe="")))


class TikTokAdsClient:
    """The TikTok Marketing API for the ads orchestrator (or the sandbox's copy of it)."""

    promotes = "tiktok"  # Spark Ads run the account's organic TikTok videos (evidence.post_lookup)
    GET_RETRIES, RETRY_BACKOFF_S = 2, 0.5  # reads only; see "Errors" above
    PAGE_SIZE = 1000

    def __init__(self, base_url: str, access_token: str, *, identity_id: str | None = None,
                 identity_type: str = "TT_USER", tiktok_account: str | None = None,
                 landing_page_url: str = "https://example.com/", call_to_action: str = "LEARN_MORE",
                 location_ids: tuple[str, ...] = (US,), item_id_for: Callable[[str], str | None] | None = None,
                 advertiser_ids: Iterable[str] = (), account_tz: str = "UTC", timeout_s: float = 30.0,
                 transport: httpx.BaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self.identity_type, self.tiktok_account = identity_type, tiktok_account
        self.landing_page_url, self.call_to_action, self.location_ids = landing_page_url, call_to_action, location_ids
        self.item_id_for, self.account_tz = item_id_for, account_tz
        self._identities: dict[str, str] = {}
        self._identity_id = identity_id
        self._advertisers = dict.fromkeys(check_account_id(a) for a in advertiser_ids)
        self._where: dict[str, tuple[str, str]] = {}  # object id -> (kind, advertiser id)
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s, transport=transport,
                                  headers={"Access-Token": access_token, "User-Agent": "actp/0.1"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TikTokAdsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------- transport
    def _call(self, method: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """data of one call (GET: payload as query, lists/objects JSON-encoded; POST: JSON body)."""
        for attempt in range(1 + self.GET_RETRIES):
            try:
                return self._once(method, path, payload)
            except AdsError as e:
                again = e.retryable and (method == "GET" or e.code == RATE_LIMIT)
                if not again or attempt == self.GET_RETRIES:
                    raise
                time.sleep(self.RETRY_BACKOFF_S * (2**attempt))
        raise AssertionError("unreachable")

    def _once(self, method: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        where = f"{method} {API}/{path}/"
        query = {k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for k, v in payload.items()} if method == "GET" else None
        try:
            resp = self._http.request(method, f"{API}/{path}/", params=query,
                                      json=payload if method == "POST" else None)
        except httpx.TimeoutException as e:
            raise AdsError(f"timed out ({type(e).__name__}); the call may or may not have happened",
                           retryable=True, where=where) from e
        except httpx.TransportError as e:
            raise AdsError(f"{type(e).__name__} ({e})", retryable=True, where=where) from e
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("code"), int):
            raise AdsError(f"not a TikTok API answer: {resp.text[:200]!r}", status=resp.status_code,
                           retryable=resp.status_code >= 500 or resp.status_code == 429, where=where)
        code = body["code"]
        if code != 0 or resp.status_code >= 400:
            raise AdsError(str(body.get("message") or ""), status=resp.status_code, code=code,
                           retryable=code == RATE_LIMIT or code >= 50000 or resp.status_code >= 500,
                           fbtrace_id=body.get("request_id"), where=where)
        data = body.get("data")
        return data if isinstance(data, dict) else {}

    def _pages(self, path: str, payload: dict[str, Any], key: str = "list") -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            data = self._call("GET", path, {**payload, "page": page, "page_size": self.PAGE_SIZE})
            yield from data.get(key) or []
            if page >= int((data.get("page_info") or {}).get("total_page") or 0):
                return
            page += 1

    def _list(self, kind: str, account_id: str, filtering: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        adv = self._advertiser(account_id)
        payload: dict[str, Any] = {"advertiser_id": adv, **({"filtering": filtering} if filtering else {})}
        items = list(self._pages(f"{kind}/get", payload))
        for item in items:
            self._where[str(item[f"{kind}_id"])] = (kind, adv)
        return items

    def _advertiser(self, account_id: str) -> str:
        self._advertisers.setdefault(check_account_id(account_id))
        return account_id

    def _locate(self, object_id: str) -> tuple[str, str, dict[str, Any]]:
        """(kind, advertiser id, TikTok object) of a campaign, ad group or ad id (looked up in every known
        advertiser when this client has not seen it)."""
        check_object_id(object_id)
        kind, adv = self._where.get(object_id, (None, None))
        for k, a in [(kind, adv)] if kind else [(k, a) for a in self._advertisers for k in KINDS]:
            found = self._list(k, a, {f"{k}_ids": [object_id]})
            if found:
                return k, a, found[0]
        raise AdsError(f"no campaign, ad group or ad {object_id} in advertisers {list(self._advertisers)}",
                       code=40002, where=f"GET {object_id}")

    # ------------------------------------------------------------------------------------- reading
    def get(self, object_id: str, fields: list[str]) -> dict[str, Any]:
        """The object in the orchestrator's terms (status ACTIVE/PAUSED, daily_budget in minor units, name,
        account_id, campaign_id) and TikTok's own fields by their names."""
        kind, adv, raw = self._locate(object_id)
        daily = raw.get("budget") if raw.get("budget_mode") == "BUDGET_MODE_DAY" else None
        norm = {**raw, "id": object_id, "name": raw.get(f"{kind}_name"), "account_id": adv,
                "status": STATUS.get(raw.get("operation_status")),
                "daily_budget": None if daily is None else str(round(float(daily) * 100))}
        return {"id": object_id, **{f: norm.get(f) for f in fields}}

    def campaigns(self, account_id: str) -> pd.DataFrame:
        return _frame([campaign_record(c) for c in self._list("campaign", account_id)], CAMPAIGN_COLUMNS,
                      {"daily_budget": "float64", "created_at": "datetime64[ns]"})

    def _ad_set_records(self, account_id: str, filtering: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        groups = self._list("adgroup", account_id, filtering)
        if not groups:
            return []
        ad_filter = {"adgroup_ids": [str(g["adgroup_id"]) for g in groups]} if filtering else None
        by_group: dict[str, list[dict[str, Any]]] = {}
        for ad in self._list("ad", account_id, ad_filter):
            by_group.setdefault(str(ad["adgroup_id"]), []).append(ad)
        return [ad_set_record(g, by_group) for g in groups]

    def ad_sets(self, account_id: str) -> pd.DataFrame:
        return _frame(self._ad_set_records(account_id), AD_SET_COLUMNS,
                      {"daily_budget": "float64", "created_at": "datetime64[ns]"})

    def insights(self, account_id: str, since: dt.datetime, until: dt.datetime) -> pd.DataFrame:
        """Hourly delivery per ad group in [since's hour, until), UTC, from report/integrated/get (BASIC,
        AUCTION_ADGROUP, dimensions adgroup_id + stat_time_hour); core signals through SIGNAL_METRICS."""
        start = _utc_naive(since).replace(minute=0, second=0, microsecond=0)
        until = _utc_naive(until)
        tz = ZoneInfo(self.account_tz)
        first = start.replace(tzinfo=dt.UTC).astimezone(tz).date()
        last = until.replace(tzinfo=dt.UTC).astimezone(tz).date()
        rows: list[dict[str, Any]] = []
        day = first
        while day <= last:
            end = min(day + dt.timedelta(days=REPORT_SPAN_DAYS - 1), last)
            rows += self._pages("report/integrated/get", {
                "advertiser_id": self._advertiser(account_id), "report_type": "BASIC", "data_level": "AUCTION_ADGROUP",
                "dimensions": ["adgroup_id", "stat_time_hour"], "metrics": list(REPORT_METRICS),
                "start_date": day.isoformat(), "end_date": end.isoformat()})
            day = end + dt.timedelta(days=1)
        return report_frame(rows, account_id, start, until, self.account_tz)

    def find_campaign(self, account_id: str, name: str) -> dict[str, Any] | None:
        """The campaign with exactly this name (an ACTIVE one first, then the oldest), as a campaigns() row."""
        found = [campaign_record(c) for c in self._list("campaign", account_id, {"campaign_name": name})]
        return _first([c for c in found if c["name"] == name])

    def find_ad_set(self, account_id: str, name: str) -> dict[str, Any] | None:
        """The ad group with exactly this name (an ACTIVE one first, then the oldest), as an ad_sets() row."""
        found = self._ad_set_records(account_id, {"adgroup_name": name})
        return _first([s for s in found if s["name"] == name])

    # ------------------------------------------------------------------------------------- writing
    def create_campaign(self, account_id: str, *, name: str, objective: str, budget_mode: str,
                        daily_budget: float | None, status: str = "ACTIVE") -> str:
        """A campaign: CBO = a daily campaign budget with budget optimization; ABO = no campaign budget."""
        mode = budget_mode.upper()
        if mode not in ("CBO", "ABO") or (mode == "CBO") != (daily_budget is not None):
            raise ValueError("budget_mode CBO needs a daily_budget; ABO takes none (its ad groups do)")
        body: dict[str, Any] = {"advertiser_id": self._advertiser(account_id), "campaign_name": name,
                                "objective_type": OBJECTIVES.get(objective, objective),
                                "budget_mode": "BUDGET_MODE_DAY" if mode == "CBO" else "BUDGET_MODE_INFINITE",
                                "budget_optimize_on": mode == "CBO", "operation_status": OPERATION[status.upper()]}
        if daily_budget is not None:
            body["budget"] = _dollars(daily_budget)
        made = str(self._call("POST", "campaign/create", body)["campaign_id"])
        self._where[made] = ("campaign", account_id)
        return made

    def _create_group(self, account_id: str, campaign: Mapping[str, Any], name: str, budget: float | None,
                      status: str, template: Mapping[str, Any] | None = None) -> str:
        goal, billing = OPTIMIZATION.get(str(campaign.get("objective_type")), ("CLICK", "CPC"))
        t = template or {}
        body: dict[str, Any] = {
            "advertiser_id": account_id, "campaign_id": str(campaign["campaign_id"]), "adgroup_name": name,
            "placement_type": t.get("placement_type", "PLACEMENT_TYPE_NORMAL"),
            "placements": t.get("placements", ["PLACEMENT_TIKTOK"]),
            "location_ids": t.get("location_ids", list(self.location_ids)),
            "optimization_goal": t.get("optimization_goal", goal), "billing_event": t.get("billing_event", billing),
            "bid_type": "BID_TYPE_NO_BID", "schedule_type": "SCHEDULE_FROM_NOW",
            "schedule_start_time": dt.datetime.now(dt.UTC).strftime(TIME_FMT),
            "budget_mode": "BUDGET_MODE_DAY" if budget is not None else "BUDGET_MODE_INFINITE",
            "operation_status": OPERATION[status]}
        if budget is not None:
            body["budget"] = _dollars(budget)
        made = str(self._call("POST", "adgroup/create", body)["adgroup_id"])
        self._where[made] = ("adgroup", account_id)
        return made

    def create_ad_set(self, account_id: str, *, campaign_id: str, name: str, variant_id: str, post_id: str,
                      daily_budget: float | None, status: str = "ACTIVE", link: str | None = None) -> str:
        """An ad group and its one Spark Ad (the post, tagged with the variant, landing on `link` when given);
        returns the ad group id. If the ad cannot be made the ad group exists without it (the error says so;
        ensure_ad completes it)."""
        adv = self._advertiser(account_id)
        _, _, campaign = self._locate(check_object_id(campaign_id, "campaign_id"))
        group_id = self._create_group(adv, campaign, name, daily_budget, status.upper())
        try:
            self._create_ad(account_id, group_id, name=name, variant_id=variant_id, post_id=post_id, status=status,
                            landing=None if link is None else self.landing_for(variant_id, link))
        except AdsError as e:
            e.add_note(f"ad group {group_id} was created without its ad; complete it with ensure_ad")
            raise
        return group_id

    def _identity(self, account_id: str) -> str:
        if self._identity_id:
            return self._identity_id
        if account_id not in self._identities:
            found = list(self._pages("identity/get", {"advertiser_id": account_id, "identity_type": self.identity_type},
                                     key="identity_list"))
            found = [i for i in found if self.tiktok_account in (None, i.get("display_name"))]
            if not found:
                raise AdsError(f"advertiser {account_id} has no {self.identity_type} identity"
                               + (f" named {self.tiktok_account!r}" if self.tiktok_account else ""), code=40002)
            self._identities[account_id] = str(found[0]["identity_id"])
        return self._identities[account_id]

    def _item_id(self, post_id: str) -> str:
        item = post_id if post_id.isdigit() else (self.item_id_for(post_id) if self.item_id_for else None)
        if not item:
            raise AdsError(f"post {post_id!r} has no public TikTok video id (yet): a Spark Ad needs the "
                           "publicaly_available_post_id TikTok gives after moderation", code=40002)
        return str(item)

    def landing_for(self, variant_id: str, link: str | None = None) -> str:
        """An ad's landing_page_url: the creative's paid tracked link (ads/ad_links.py), else the configured
        landing page, with the variant's URL tags (how ad_sets() reads the variant back)."""
        base = link or self.landing_page_url
        if not base.startswith(("https://", "http://")):
            raise ValueError(f"a landing page must be an http(s) URL, got {base!r}")
        return f"{base}{'&' if '?' in base else '?'}{url_tags(variant_id or '')}"

    def _create_ad(self, account_id: str, group_id: str, *, name: str, variant_id: str | None, post_id: str,
                   status: str, landing: str | None = None, identity: tuple[str, str] | None = None) -> str:
        kind, ident = identity or (self.identity_type, self._identity(account_id))
        url = landing or self.landing_for(variant_id or "")
        creative = {"ad_name": name, "ad_format": "SINGLE_VIDEO", "identity_type": kind, "identity_id": ident,
                    "tiktok_item_id": self._item_id(post_id), "landing_page_url": url,
                    "call_to_action": self.call_to_action, "operation_status": OPERATION[status.upper()]}
        data = self._call("POST", "ad/create", {"advertiser_id": account_id, "adgroup_id": group_id,
                                                "creatives": [creative]})
        made = str(data["ad_ids"][0])
        self._where[made] = ("ad", account_id)
        return made

    def _ads_of(self, account_id: str, group_id: str) -> list[dict[str, Any]]:
        return sorted(self._list("ad", account_id, {"adgroup_ids": [group_id]}), key=_age)

    def ensure_ad(self, account_id: str, ad_set_id: str, *, variant_id: str, post_id: str,
                  link: str | None = None) -> str:
        """The ad group's ad, created (with the ad group's name and status, landing on `link`) if it has none."""
        ads = self._ads_of(self._advertiser(account_id), check_object_id(ad_set_id, "ad_set_id"))
        if ads:
            return str(ads[0]["ad_id"])
        group = self.get(ad_set_id, ["name", "status"])
        return self._create_ad(account_id, ad_set_id, name=str(group["name"]), variant_id=variant_id, post_id=post_id,
                               status=str(group.get("status") or "ACTIVE"),
                               landing=None if link is None else self.landing_for(variant_id, link))

    def duplicate_ad_set(self, ad_set_id: str, *, campaign_id: str, name: str, daily_budget: float | None = None,
                         status: str = "ACTIVE", resume: bool = False) -> str:
        """A copy of the ad group (same targeting, same Spark Ads) in `campaign_id`, named `name`, built from
        get + create (TikTok has no copy call): made paused under its final name, its ads added, then set to
        `status`. A lost create answer is looked up by that name, never made twice; `resume` completes an
        earlier copy of this name and creates only when there is none."""
        kind, adv, src = self._locate(check_object_id(ad_set_id, "ad_set_id"))
        _, _, target = self._locate(check_object_id(campaign_id, "campaign_id"))
        if kind != "adgroup":
            raise ValueError(f"{ad_set_id} is a {kind}, not an ad group")
        if target.get("budget_mode") == "BUDGET_MODE_DAY":
            budget = None
        else:
            budget = daily_budget if daily_budget is not None else _num(src.get("budget"))
            if not budget or math.isnan(budget):
                raise ValueError("an ABO target campaign needs a daily_budget for the copy")
        copy_id = self._named_group(adv, campaign_id, name) if resume else None
        if copy_id is None:
            try:
                copy_id = self._create_group(adv, target, name, budget, "PAUSED", template=src)
            except AdsError as e:
                copy_id = self._named_group(adv, campaign_id, name) if e.retryable else None
                if copy_id is None:
                    e.add_note(f"no ad group {name!r} in campaign {campaign_id}: the copy was not made")
                    raise
        self._complete_copy(adv, ad_set_id, copy_id, budget, status.upper())
        return copy_id

    def _named_group(self, adv: str, campaign_id: str, name: str) -> str | None:
        found = [g for g in self._list("adgroup", adv, {"adgroup_name": name, "campaign_ids": [campaign_id]})
                 if g.get("adgroup_name") == name and str(g.get("campaign_id")) == campaign_id]
        return str(min(found, key=lambda g: (g.get("operation_status") != "ENABLE", _age(g)))["adgroup_id"]) \
            if found else None

    def _complete_copy(self, adv: str, source_id: str, copy_id: str, budget: float | None, status: str) -> None:
        """Budget, the source's ads (each once, matched by video), their status, the copy's status; then read
        it all back: an incomplete copy raises AdsError, never a success with a paused or missing ad."""
        if budget is not None and _num(self.get(copy_id, ["budget"])["budget"]) != round(budget, 2):
            self.set_budget(copy_id, budget)
        have = {str(a.get("tiktok_item_id")): a for a in self._ads_of(adv, copy_id)}
        for ad in self._ads_of(adv, source_id):
            item = str(ad.get("tiktok_item_id"))
            if item not in have:
                landing = _with_params(str(ad.get("landing_page_url") or self.landing_page_url), **{COPY_MARK: source_id})
                self._create_ad(adv, copy_id, name=str(ad.get("ad_name")), variant_id=None, post_id=item,
                                status=status, landing=landing,
                                identity=(str(ad.get("identity_type")), str(ad.get("identity_id"))))
        ads = self._ads_of(adv, copy_id)
        if status == "ACTIVE" and any(a.get("operation_status") != "ENABLE" for a in ads):
            self._status("ad", adv, [str(a["ad_id"]) for a in ads if a.get("operation_status") != "ENABLE"], "ACTIVE")
        self.set_status(copy_id, status)
        cur, ads = self.get(copy_id, ["status"]), self._ads_of(adv, copy_id)
        wrong = [f"it is {cur['status']}, not {status}"] if cur["status"] != status else []
        wrong += ["it has no ads"] if not ads else []
        wrong += [f"its ad {a['ad_id']} is {a.get('operation_status')}" for a in ads
                  if status == "ACTIVE" and a.get("operation_status") != "ENABLE"]
        if wrong:
            raise AdsError(f"copy {copy_id} is incomplete: " + "; ".join(wrong), where=f"copy of {source_id}")

    def set_budget(self, object_id: str, daily_budget: float) -> None:
        """The daily budget (dollars) of a CBO campaign or an ABO ad group."""
        kind, adv, _ = self._locate(object_id)
        if kind == "ad":
            raise ValueError(f"{object_id} is an ad: budgets live on campaigns and ad groups")
        self._call("POST", f"{kind}/update", {"advertiser_id": adv, f"{kind}_id": object_id,
                                              "budget": _dollars(daily_budget)})

    def set_status(self, object_id: str, status: str) -> None:
        """ACTIVE or PAUSED, for a campaign, ad group or ad."""
        kind, adv, _ = self._locate(object_id)
        self._status(kind, adv, [object_id], status.upper())

    def _status(self, kind: str, adv: str, ids: list[str], status: str) -> None:
        self._call("POST", f"{kind}/status/update", {"advertiser_id": adv, f"{kind}_ids": ids,
                                                     "operation_status": OPERATION[status]})


def _dollars(amount: float) -> float:
    x = float(amount)
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"a daily budget must be a positive amount, got {amount!r}")
    return round(x, 2)
