"""Meta's Graph objects as ACTP's records and frames: campaigns, ad sets (with the variant and post of their
ad), hourly ad-set insights; the names and URL tags that carry ACTP's goal, kind and variant through Meta.

Why one module: both Meta clients (meta.MetaAdsClient on httpx, meta_sdk.MetaSdkAdsClient on the SDK) read
the same Graph objects and must answer with the same frames; what they share lives here, apart from how
each talks to Meta. Conventions: dollars (float) out, Meta's minor-unit strings in; times naive UTC;
account ids without "act_". Which insight column is read from which Meta metric is meta_signals' table.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qs, quote

import pandas as pd

from actp_pipeline.ads.meta_signals import ACTION_TYPES, THRUPLAY_FIELD, fill_thruplay, read_signals, signal_table

NAME_PREFIX = "ACTP"
HOURLY = "hourly_stats_aggregated_by_advertiser_time_zone"
UTM = "utm_source=actp&utm_medium=paid&utm_content={variant_id}"
# post_lookup's "instagram:<IG media id>": the ad promotes that Instagram post (source_instagram_media_id)
INSTAGRAM_PREFIX = "instagram:"

CAMPAIGN_FIELDS = ("id", "account_id", "name", "objective", "status", "effective_status", "daily_budget",
                   "created_time")
AD_SET_FIELDS = ("id", "account_id", "campaign_id", "name", "status", "effective_status", "daily_budget", "targeting",
                 "optimization_goal", "created_time", "source_adset_id")
AD_FIELDS = ("id", "adset_id", "campaign_id", "status", "created_time",
             "creative{object_story_id,source_instagram_media_id,url_tags}")
INSIGHT_FIELDS = ("adset_id", "adset_name", "campaign_id", "account_id", "spend", "impressions", "clicks", "actions",
                  THRUPLAY_FIELD)

CAMPAIGN_COLUMNS = ("id", "account_id", "name", "goal", "kind", "budget_mode", "daily_budget", "status", "objective",
                    "created_at")
AD_SET_COLUMNS = ("id", "campaign_id", "account_id", "name", "variant_id", "post_id", "daily_budget", "status",
                  "created_at", "promoted_from", "targeting")
INSIGHT_COLUMNS = ("ad_set_id", "account_id", "at", "spend", "impressions", "clicks", *ACTION_TYPES)


# ------------------------------------------------------------------------------------------ names
def campaign_name(goal: str, kind: str) -> str:
    """The name that carries goal and kind through Meta: "ACTP | {goal} | {kind}"."""
    for label, value in (("goal", goal), ("kind", kind)):
        if not value or "|" in value or value != value.strip():
            raise ValueError(f"{label} {value!r} must be non-empty, without '|' or surrounding spaces")
    return f"{NAME_PREFIX} | {goal} | {kind}"


def parse_campaign_name(name: str | None) -> tuple[str | None, str | None]:
    """(goal, kind) of a name that starts like campaign_name's ("ACTP | goal | kind", optionally followed by
    " | <suffix>" such as a unique tag); (None, None) for anyone else's campaign."""
    parts = [p.strip() for p in (name or "").split("|")]
    if len(parts) >= 3 and parts[0] == NAME_PREFIX and parts[1] and parts[2]:
        return parts[1], parts[2]
    return None, None


def url_tags(variant_id: str) -> str:
    return UTM.format(variant_id=quote(variant_id, safe=""))


# ------------------------------------------------------------------------------------ conversions
def _dollars(minor: Any) -> float:
    return math.nan if minor is None or minor == "" else round(int(minor) / 100.0, 2)


def _bare(account_id: Any) -> str | None:
    return None if account_id is None else str(account_id).removeprefix("act_")


def _time(value: str | None) -> pd.Timestamp:
    """Graph time ("2026-11-21T10:00:00+0000") -> naive UTC Timestamp."""
    if not value:
        return pd.NaT
    return pd.Timestamp(dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").astimezone(dt.UTC).replace(tzinfo=None))


def _utc_naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


def _frame(records: list[dict[str, Any]], columns: tuple[str, ...], dtypes: dict[str, str]) -> pd.DataFrame:
    """A frame with exactly these columns; every column not in `dtypes` is text (object, None when missing)."""
    return pd.DataFrame({c: pd.Series([r.get(c) for r in records], dtype=dtypes.get(c, object)) for c in columns},
                        columns=list(columns))


def _age_rank(ad: dict[str, Any]) -> int:
    """Sort key putting the oldest ad first (Graph ids grow with creation; a non-numeric id counts as oldest)."""
    return int(ad["id"]) if str(ad["id"]).isdigit() else 0


# ------------------------------------------------------------------------- Graph objects -> records
def campaign_record(c: Mapping[str, Any], account_id: str) -> dict[str, Any]:
    """A campaigns() row of a Graph campaign (goal/kind None for campaigns not named by ACTP)."""
    goal, kind = parse_campaign_name(c.get("name"))
    return {"id": str(c["id"]), "account_id": _bare(c.get("account_id")) or account_id, "name": c.get("name"),
            "goal": goal, "kind": kind, "budget_mode": "CBO" if c.get("daily_budget") else "ABO",
            "daily_budget": _dollars(c.get("daily_budget")), "status": c.get("status"),
            "objective": c.get("objective"), "created_at": _time(c.get("created_time"))}


def ad_set_record(s: Mapping[str, Any], account_id: str,
                  creatives: Mapping[str, tuple[str | None, str | None]]) -> dict[str, Any]:
    """An ad_sets() row of a Graph ad set, with the (variant, post) of its ad from `creatives`."""
    variant_id, post_id = creatives.get(str(s["id"]), (None, None))
    source = s.get("source_adset_id")
    return {"id": str(s["id"]), "campaign_id": str(s.get("campaign_id")),
            "account_id": _bare(s.get("account_id")) or account_id, "name": s.get("name"),
            "variant_id": variant_id, "post_id": post_id, "daily_budget": _dollars(s.get("daily_budget")),
            "status": s.get("status"), "created_at": _time(s.get("created_time")),
            "promoted_from": str(source) if source and str(source) != "0" else None, "targeting": s.get("targeting")}


def creative_post_id(creative: Mapping[str, Any]) -> str | None:
    """The post a creative promotes, named as post_lookup names it ("instagram:<media id>" for an IG post)."""
    media = creative.get("source_instagram_media_id")
    return f"{INSTAGRAM_PREFIX}{media}" if media else creative.get("object_story_id")


def creatives_by_ad_set(ads: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str | None, str | None]]:
    """adset_id -> (variant_id, post_id) of its oldest ad that names a variant (else its oldest ad), from
    ads read with creative{object_story_id,source_instagram_media_id,url_tags}."""
    best: dict[str, tuple[tuple[int, int], str | None, str | None]] = {}
    for ad in ads:
        creative = ad.get("creative") or {}
        tags = parse_qs(creative.get("url_tags") or "")
        variant = (tags.get("utm_content") or [None])[0]
        rank = (0 if variant else 1, _age_rank(ad))
        key = str(ad.get("adset_id"))
        if key not in best or rank < best[key][0]:
            best[key] = (rank, variant, creative_post_id(creative))
    return {k: (v, p) for k, (_, v, p) in best.items()}


# -------------------------------------------------------------------------------------- insights
def insights_query(since: dt.datetime, until: dt.datetime) -> tuple[dt.datetime, dt.datetime, dict[str, Any]]:
    """(first hour, end, Graph parameters) of an hourly ad-set insights read of [since, until)."""
    since, until = _utc_naive(since), _utc_naive(until)
    start = since.replace(minute=0, second=0, microsecond=0)
    params = {"level": "adset", "fields": ",".join(INSIGHT_FIELDS), "breakdowns": HOURLY, "time_increment": 1,
              "time_range": {"since": start.date().isoformat(), "until": until.date().isoformat()}}
    return start, until, params


def insight_frame(rows: Iterable[Mapping[str, Any]], account_id: str, start: dt.datetime, until: dt.datetime,
                  signal_actions: Mapping[str, str | None] | None = None) -> pd.DataFrame:
    """The insights() frame of Graph insight rows (hourly, per ad set), rows outside [start, until) dropped.

    One float column per ACTP signal, read as meta_signals.SIGNALS says under `signal_actions` (a client's
    signal table, or {signal: action_type}; None: Meta's defaults, every custom signal unmapped). A mapped
    action is 0 in a row that does not list it (Meta lists only what happened); a signal the account does
    not report (an unmapped custom conversion) is NaN (unknown, never 0) in every row; ThruPlays are NaN
    only for an ad set none of whose rows carries the field. Action types no signal reads follow as extra
    columns (0 where a row does not list them), in the order they appear."""
    table = signal_table(signal_actions)
    records, extra = [], []  # extra: action types no signal reads, in the order they appear
    for row in rows:
        hour = int(str(row[HOURLY])[:2])
        at = dt.datetime.fromisoformat(row["date_start"]) + dt.timedelta(hours=hour)
        if not start <= at < until:
            continue
        counts, other = read_signals(row, table)
        extra += [name for name in other if name not in extra]
        records.append({"ad_set_id": str(row["adset_id"]), "account_id": _bare(row.get("account_id")) or account_id,
                        "at": at, "spend": float(row.get("spend") or 0), "impressions": int(row.get("impressions") or 0),
                        "clicks": int(row.get("clicks") or 0), **counts, **other})
    fill_thruplay(records)
    for rec in records:
        for name in extra:
            rec.setdefault(name, 0.0)
    counts_dtype = {c: "float64" for c in (*ACTION_TYPES, *extra)}
    return _frame(records, INSIGHT_COLUMNS + tuple(extra),
                  {"at": "datetime64[ns]", "spend": "float64", "impressions": "int64", "clicks": "int64", **counts_dtype})
