"""TikTok's Marketing API routes (/open_api/v1.3/...: API for Business v1.3, the sandbox's stand-in for
https://business-api.tiktok.com) and its synchronous BASIC report. The objects and the differences from
TikTok: sandbox/tiktok_ads.py.

Every answer, errors included (auth, rate limit, routing, body limits), is TikTok's envelope
{"code": 0 | <code>, "message": "OK" | ..., "request_id", "data": {...}}, rendered by `TikTokAdsDialect`.
The token is the `Access-Token` header (an API key of the sandbox, or a TikTok OAuth token it minted).

The report (GET report/integrated/get) reads the SAME ads world as the Graph dialect's insights: one row
per unit of the data_level (AUCTION_ADVERTISER / AUCTION_CAMPAIGN / AUCTION_ADGROUP / AUCTION_AD) and, with
stat_time_day / stat_time_hour, per day or hour ("YYYY-MM-DD HH:MM:SS", UTC); {"dimensions": {...},
"metrics": {...}} with metric values as strings. What the report calls each count of the world (COUNTS):
clicks = the world's link clicks (TikTok's destination clicks), video_views_p100 = its ThruPlay-like count
(plays to 100%), profile_visits = profile views, conversion = leads; spend, impressions, ctr (percent),
cpc, cpm, cost_per_conversion and the names are derived. Differences from TikTok's report: BASIC only;
at most 30 days per request (or query_lifetime); only completed hours; rows without delivery are left out;
filtering only by adgroup_ids (IN); metrics the world does not simulate (reach, video_watched_2s/6s,
video_play_actions, follows, likes, ...) are refused with 40002 instead of being invented; no
total_metrics, async report tasks, audience reports or service_type other than AUCTION; objects of the
Graph dialect in the same account are never reported. adgroup/budget/update is not served (adgroup/update
takes the budget).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..ads_objects import AdsObjects
from ..ads_world import AdsWorld
from ..errors import ApiError
from ..graph import HOURLY
from ..publishing import Publishing
from ..tiktok_ads import (
    TikTokAds,
    TikTokAdsError,
    TikTokAdsPolicy,
    invalid,
    json_param,
    paged,
    tiktok_ads_code,
)
from ..transport import (
    JSON_BODY_LIMIT,
    Auth,
    Dialect,
    json_response,
    media_type,
    read_body,
    route,
    shielded,
)
from ..validation import decode_json

PREFIX = "/open_api"
VERSION = PREFIX + "/v1.3"
MAX_REPORT_DAYS = 30
LEVELS = {"AUCTION_ADVERTISER": ("account", "advertiser_id", "account_id"),
          "AUCTION_CAMPAIGN": ("campaign", "campaign_id", "campaign_id"),
          "AUCTION_ADGROUP": ("adset", "adgroup_id", "adset_id"), "AUCTION_AD": ("ad", "ad_id", "ad_id")}
# TikTok's report metric for each count of the ads world (the world's action types)
COUNTS = {"video_views_p100": "thruplay", "profile_visits": "profile_view", "conversion": "lead"}
METRICS = ("spend", "impressions", "clicks", "ctr", "cpc", "cpm", *COUNTS, "cost_per_conversion",
           "campaign_name", "adgroup_name", "ad_name")


class TikTokReport:
    """report/integrated/get over the ads world, for the advertiser's TikTok ad groups only."""

    def __init__(self, ads: TikTokAds, world: AdsWorld):
        self.ads, self.world = ads, world

    def run(self, params: Mapping[str, Any]) -> dict[str, Any]:
        acc = self.ads.advertiser(params)
        if params.get("report_type") != "BASIC":
            raise invalid("report_type must be BASIC (the only report the sandbox serves)")
        level, id_dim, source = LEVELS.get(str(params.get("data_level", "AUCTION_ADVERTISER")), (None, "", ""))
        if level is None:
            raise invalid(f"data_level must be one of {', '.join(LEVELS)}")
        dims = json_param(params, "dimensions", list) or []
        time_dims = [d for d in dims if d in ("stat_time_day", "stat_time_hour")]
        if id_dim not in dims or len(time_dims) > 1 or set(dims) - {id_dim, *time_dims}:
            raise invalid(f"dimensions must be [{id_dim!r}] plus at most one of stat_time_day, stat_time_hour")
        metrics = json_param(params, "metrics", list) or ["spend", "impressions"]
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise invalid(f"metrics not served by the sandbox: {', '.join(map(str, unknown))}; use "
                          f"{', '.join(METRICS)}")
        since, until = self._dates(params)
        tagged, _ = self.ads._mine(acc, "adset")
        wanted = self._filter(params, {s["id"] for s in tagged})
        n, row = self.world.insights(acc, since, until, hourly=time_dims == ["stat_time_hour"], daily=bool(time_dims),
                                     level=level, adsets=lambda s: s["id"] in wanted)
        page = paged(list(range(n)), params)
        page["list"] = [tiktok_row(row(i), id_dim, source, time_dims, metrics) for i in page["list"]]
        return page

    def _dates(self, params: Mapping[str, Any]) -> tuple[date, date]:
        if str(params.get("query_lifetime", "")).lower() == "true":
            return date(2000, 1, 1), self.ads.clock.now().date()
        try:
            since = date.fromisoformat(str(params.get("start_date")))
            until = date.fromisoformat(str(params.get("end_date")))
        except ValueError:
            raise invalid("start_date and end_date are required (YYYY-MM-DD) unless query_lifetime is true") from None
        if until < since or (until - since) >= timedelta(days=MAX_REPORT_DAYS):
            raise invalid(f"end_date must be on or after start_date, at most {MAX_REPORT_DAYS} days in all")
        return since, until

    @staticmethod
    def _filter(params: Mapping[str, Any], tagged: set[str]) -> set[str]:
        for f in json_param(params, "filtering", list) or []:
            if not isinstance(f, dict) or f.get("field_name") != "adgroup_ids" or f.get("filter_type") != "IN":
                raise invalid('filtering: the sandbox supports [{"field_name": "adgroup_ids", "filter_type": "IN", '
                              '"filter_value": "[\\"<id>\\", ...]"}] only')
            try:
                values = json.loads(f.get("filter_value") or "[]")
            except (TypeError, ValueError):
                raise invalid("filtering.filter_value must be a JSON list in a string") from None
            tagged = tagged & {str(v) for v in values}
        return tagged


def tiktok_row(world_row: Mapping[str, Any], id_dim: str, source: str, time_dims: list[str],
               metrics: list[str]) -> dict[str, Any]:
    """A TikTok report row from an ads world row (Graph-shaped): dimensions and metrics as strings."""
    dims = {id_dim: str(world_row[source])}
    if time_dims:
        hour = str(world_row.get(HOURLY, "00"))[:2] if time_dims[0] == "stat_time_hour" else "00"
        dims[time_dims[0]] = f"{world_row['date_start']} {hour}:00:00"
    counts = {a["action_type"]: int(a["value"]) for a in world_row.get("actions") or []}
    counts["thruplay"] = sum(int(a["value"]) for a in world_row.get("video_thruplay_watched_actions") or [])
    spend, impressions, clicks = float(world_row["spend"]), int(world_row["impressions"]), int(world_row["clicks"])
    conversions = counts.get("lead", 0)
    every = {"spend": f"{spend:.2f}", "impressions": str(impressions), "clicks": str(clicks),
             "ctr": f"{clicks / impressions * 100:.2f}" if impressions else "0.00",
             "cpc": f"{spend / clicks:.2f}" if clicks else "0.00",
             "cpm": f"{spend / impressions * 1000:.2f}" if impressions else "0.00",
             **{m: str(counts.get(a, 0)) for m, a in COUNTS.items()},
             "cost_per_conversion": f"{spend / conversions:.2f}" if conversions else "0.00",
             "campaign_name": world_row.get("campaign_name", "-"), "adgroup_name": world_row.get("adset_name", "-"),
             "ad_name": world_row.get("ad_name", "-")}
    return {"dimensions": dims, "metrics": {m: every[m] for m in metrics}}


@dataclass(frozen=True)
class TikTokAdsDialect(Dialect):
    """The dialect of /open_api; `service` is its domain (tests reach its policy through it)."""

    service: Any = None


class _Endpoints:
    """The envelope, errors and request handling shared by every Marketing API route."""

    def __init__(self, ads: TikTokAds):
        self.ads = ads

    def render_error(self, request: Request, exc: ApiError) -> Response:
        body = {"code": tiktok_ads_code(exc), "message": exc.message, "request_id": self.ads.request_id(), "data": {}}
        return json_response(exc.status, body, exc.headers)

    def endpoint(self, name: str, method: str, handler: Callable[[Mapping[str, Any]], dict[str, Any]]):
        """The token, the endpoint's rate limit, the parameters (query for GET, JSON body for POST), then
        `handler(params)` in a worker thread, answered in the envelope."""

        async def run(request: Request) -> Response:
            key = self.ads.authorize(request.headers.get("Access-Token"))
            raw = await read_body(request, JSON_BODY_LIMIT) if method == "POST" else b""
            await run_in_threadpool(self.ads.limit, key, name)
            params = dict(request.query_params) if method == "GET" else self.body(request, raw)
            data = await run_in_threadpool(handler, params)
            return json_response(200, {"code": 0, "message": "OK", "request_id": self.ads.request_id(), "data": data})

        return shielded(run)

    @staticmethod
    def body(request: Request, raw: bytes) -> dict[str, Any]:
        ctype = media_type(request.headers.get("Content-Type"))
        if ctype and ctype != "application/json":
            raise invalid(f"Content-Type must be application/json, got {ctype!r}")
        try:
            parsed = decode_json(raw.decode("utf-8")) if raw.strip() else None
        except (UnicodeDecodeError, ValueError) as exc:
            raise invalid(f"malformed JSON body: {exc}") from None
        if not isinstance(parsed, dict):
            raise invalid("the request body must be a JSON object")
        return parsed


def tiktok_ads_dialect(objects: AdsObjects, ads_world: AdsWorld, auth: Auth, publishing: Publishing,
                       policy: TikTokAdsPolicy | None = None) -> TikTokAdsDialect:
    ads = TikTokAds(objects, publishing, auth, policy)
    report = TikTokReport(ads, ads_world)
    ep = _Endpoints(ads)
    table: dict[str, tuple[str, Callable[[Mapping[str, Any]], dict[str, Any]]]] = {
        "campaign/create": ("POST", ads.create_campaign),
        "campaign/get": ("GET", lambda p: ads.listing("campaign", p)),
        "campaign/update": ("POST", lambda p: ads.update("campaign", p)),
        "campaign/status/update": ("POST", lambda p: ads.set_status("campaign", p)),
        "adgroup/create": ("POST", ads.create_adgroup),
        "adgroup/get": ("GET", lambda p: ads.listing("adset", p)),
        "adgroup/update": ("POST", lambda p: ads.update("adset", p)),
        "adgroup/status/update": ("POST", lambda p: ads.set_status("adset", p)),
        "ad/create": ("POST", ads.create_ads),
        "ad/get": ("GET", lambda p: ads.listing("ad", p)),
        "ad/status/update": ("POST", lambda p: ads.set_status("ad", p)),
        "identity/get": ("GET", ads.identities),
        "report/integrated/get": ("GET", report.run),
    }
    routes = [route(f"{VERSION}/{path}", {method: ep.endpoint(path, method, fn)})
              for path, (method, fn) in table.items()]
    return TikTokAdsDialect(PREFIX, routes, render_error=ep.render_error, service=ads)


__all__ = ["TikTokAdsDialect", "TikTokAdsError", "TikTokReport", "tiktok_ads_dialect", "tiktok_row"]
