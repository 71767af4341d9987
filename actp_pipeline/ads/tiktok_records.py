"""TikTok Marketing API objects read into the orchestrator's frames: campaigns(), ad_sets() and the hourly
insights() report, for `tiktok.TikTokAdsClient`. Apart from the client (transport, writes, copies) so the
client stays one readable module; every name here can still be imported from actp_pipeline.ads.tiktok.

A TikTok ad carries its variant in its landing page URL's utm_content (meta_records.url_tags) and, for a
copy promoted to scaling, its source ad group in COPY_MARK; a landing page that is the creative's paid
tracked link (ads/ad_links.py) carries them the same way, after the link.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pandas as pd

from actp_pipeline.ads.meta_records import ACTION_TYPES, INSIGHT_COLUMNS, _frame, parse_campaign_name

SIGNAL_METRICS: Mapping[str, str | None] = {
    "thruplay": "video_views_p100", "link_click": "clicks", "profile_view": "profile_visits", "lead": "conversion",
    "smartlink_click": None, "presave_complete": None,
}
REPORT_METRICS = tuple(dict.fromkeys(["spend", "impressions", "clicks", *filter(None, SIGNAL_METRICS.values())]))
REPORT_METRICS = tuple(dict.fromkeys(["spend", "impressions", "clicks", *filter(None, SIGNAL_METRICS.values())]))
STATUS = {"ENABLE": "ACTIVE", "DISABLE": "PAUSED", "DELETE": "DELETED"}
COPY_MARK = "actp_from"
TIME_FMT = "%Y-%m-%d %H:%M:%S"


def campaign_record(c: Mapping[str, Any]) -> dict[str, Any]:
    """A campaigns() row of a TikTok campaign."""
    goal, kind = parse_campaign_name(c.get("campaign_name"))
    cbo = c.get("budget_mode") == "BUDGET_MODE_DAY"
    return {"id": str(c["campaign_id"]), "account_id": str(c.get("advertiser_id")), "name": c.get("campaign_name"),
            "goal": goal, "kind": kind, "budget_mode": "CBO" if cbo else "ABO",
            "daily_budget": float(c["budget"]) if cbo else math.nan, "status": STATUS.get(c.get("operation_status")),
            "objective": c.get("objective_type"), "created_at": _when(c.get("create_time"))}


def ad_set_record(g: Mapping[str, Any], ads: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """An ad_sets() row of a TikTok ad group, with the variant and post of its oldest ad."""
    mine = sorted(ads.get(str(g["adgroup_id"]), []), key=_age)
    tags = parse_qs(urlsplit(mine[0].get("landing_page_url") or "").query) if mine else {}
    own = g.get("budget_mode") == "BUDGET_MODE_DAY"
    return {"id": str(g["adgroup_id"]), "campaign_id": str(g.get("campaign_id")),
            "account_id": str(g.get("advertiser_id")), "name": g.get("adgroup_name"),
            "variant_id": (tags.get("utm_content") or [None])[0], "post_id": mine[0].get("tiktok_item_id") if mine else None,
            "daily_budget": float(g["budget"]) if own else math.nan, "status": STATUS.get(g.get("operation_status")),
            "created_at": _when(g.get("create_time")), "promoted_from": (tags.get(COPY_MARK) or [None])[0],
            "targeting": {k: g.get(k) for k in ("location_ids", "placement_type", "placements") if k in g}}


def report_frame(rows: Iterable[Mapping[str, Any]], account_id: str, start: dt.datetime, until: dt.datetime,
                 tz: str = "UTC") -> pd.DataFrame:
    """The insights() frame of hourly ad-group report rows; a signal TikTok has no metric for, or a metric a row
    leaves out, is NaN (unknown), never 0."""
    records = []
    for row in rows:
        dims, metrics = row.get("dimensions") or {}, row.get("metrics") or {}
        local = dt.datetime.strptime(dims["stat_time_hour"], TIME_FMT).replace(tzinfo=ZoneInfo(tz))
        at = local.astimezone(dt.UTC).replace(tzinfo=None)
        if not start <= at < until:
            continue
        rec = {"ad_set_id": str(dims["adgroup_id"]), "account_id": account_id, "at": at,
               "spend": _num(metrics.get("spend"), 0.0), "impressions": int(_num(metrics.get("impressions"), 0)),
               "clicks": int(_num(metrics.get("clicks"), 0))}
        rec.update({s: _num(metrics.get(m)) if m else math.nan for s, m in SIGNAL_METRICS.items()})
        records.append(rec)
    counts = {c: "float64" for c in ACTION_TYPES}
    return _frame(records, INSIGHT_COLUMNS,
                  {"at": "datetime64[ns]", "spend": "float64", "impressions": "int64", "clicks": "int64", **counts})


def _num(value: Any, default: float = math.nan) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def _when(value: Any) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.strptime(value, TIME_FMT)) if value else pd.NaT


def _age(obj: Mapping[str, Any]) -> tuple[str, int]:
    oid = str(obj.get("ad_id") or obj.get("adgroup_id") or obj.get("campaign_id") or "")
    return str(obj.get("create_time") or ""), int(oid) if oid.isdigit() else 0
