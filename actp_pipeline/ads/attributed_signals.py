"""ACTP-attributed core signals: the purchases, leads and signups ACTP itself recorded through each ad's paid
tracked link, per ad set and hour, as columns of the insights frame the planner already reads.

Why: a platform's conversion counts come from its pixel (or nothing, without one), and its attribution
window and modelling are its own. Every ad ACTP makes sends its clicks through its creative's paid link
(ads/ad_links.py), and the hooks service records each click and each conversion behind it, so ACTP can
judge an ad set by the sales it really made: a "sales" goal pauses ad sets that spend without selling and
scales the ones that sell, with no pixel at all. The signals are named "actp_<event>" (goals.
ATTRIBUTED_SIGNALS) so they never collide with a platform's ("lead" is Meta's; "actp_lead" is ours).

What counts (the attribution core's rules, attribution/funnel.py): a conversion is one dedupe key (one sale
reported by the page, the server and Stripe under one key counts once), of a click on the ad's link whose
user agent is a person's (BOT_AGENTS excluded), the click in [since, until) and the conversion before
`until`. A conversion is booked in the hour of its CLICK: the hour whose spend bought it, so spend and what
it earned share a bucket and the cost per purchase of a window is that window's spend over what its clicks
went on to buy (a late purchase updates its click's hour; recent windows are, if anything, undercounted,
which makes a raise less likely, never more).

Ad set -> link: the ad set's account and variant (the ads client's ad_sets() frame) name the link key
"ad:<platform>:<account>:<variant_id>" (hooks.links.ad_link_key), channel 'paid'. An ad set whose key has
no link (ads made before links existed, or no landing_url configured) is UNKNOWN for these signals: NaN in
every row, never 0, so the planner neither pauses nor scales it on them. An ad set with a link and no
conversions in the window has 0. One link serves every ad set of its creative in its account (a learning ad
set and its promoted copy in scaling share the copied creative, hence the link), and a click does not say
which ad set delivered it; an hour's conversions are therefore split over those ad sets in proportion to the
clicks the platform reports for them in that hour (else their spend; else evenly over those live then). An
ad set made before the link existed but running the same creative would be given a share too: ACTP's
executor makes the link before every new ad, so this only happens for ads made before links were enabled.

Why wide columns, not the long form (`inputs.insight_frame` also reads rows of signal/events): the platform
clients already return one column per signal, and the long form turns the whole frame long (a mixed frame
is not read); adding columns keeps every other reader of the insights (paid_winners, fatigue, scaling
trends) working unchanged, and NaN per row carries "unknown" the way the platform columns already do. An
hour with conversions but no delivery row (the click's hour was not reported) gets a row of its own with
spend, impressions and clicks 0 and the platform's signals 0 (nothing more happened on the platform).

Plain Python over SQLAlchemy Core and pandas; nothing here imports dagster.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.ads.goals import ATTRIBUTED_SIGNALS, Goal, OrchestratorConfig, is_attributed
from actp_pipeline.ads.plan.inputs import is_missing, utc
from actp_pipeline.attribution.funnel import is_bot
from actp_pipeline.hooks.links import PAID, ad_link_key
from actp_pipeline.store import schema

ATTRIBUTION, PLATFORM = "ACTP attribution", "platform"  # where a core signal comes from
TIME_COLUMNS = ("at", "hour", "date_start", "date")  # the insights' bucket column, as the planner reads it
COUNTERS = ("spend", "impressions", "clicks")
CONVERSION_COLUMNS = ["link_key", "dedupe_key", "event", "at", "click_at", "user_agent"]
SOURCE_COLUMNS = ["account_id", "goal", "ad_set_id", "variant_id", "signal", "source", "link_key", "events",
                  "note"]
_KEY_CHUNK = 500  # link keys per IN (...) list


@dataclass(frozen=True)
class PaidConversions:
    """What the store says about the ads' links: the links that exist (key -> slug) and the human, deduplicated
    conversions through them in the window (link_key, dedupe_key, event, at, click_at)."""

    links: Mapping[str, str]
    conversions: pd.DataFrame


def link_keys(ad_sets: pd.DataFrame | None, platform: str) -> pd.Series:
    """Per ad set row, its creative's paid link key on this ads platform (None without a variant or account)."""
    if ad_sets is None or not len(ad_sets):
        return pd.Series(dtype=object)
    variant = ad_sets["variant_id"] if "variant_id" in ad_sets else ad_sets.get("creative_id")
    if variant is None:
        return pd.Series(None, index=ad_sets.index, dtype=object)
    return pd.Series([ad_link_key(platform, str(a), str(v)) if _present(a) and _present(v) else None
                      for a, v in zip(ad_sets["account_id"], variant)], index=ad_sets.index, dtype=object)


def _present(v) -> bool:
    return not is_missing(v) and str(v) != ""


def human_conversions(rows: pd.DataFrame, events: Iterable[str], since, until) -> pd.DataFrame:
    """The conversions that count (module doc): of the wanted events, each dedupe key once, of a person's
    click in [since, until), converted before `until`."""
    since, until = utc(since), utc(until)
    df = rows if len(rows) else pd.DataFrame({c: pd.Series(dtype=object) for c in CONVERSION_COLUMNS})
    df = df.assign(at=pd.to_datetime(df["at"]), click_at=pd.to_datetime(df["click_at"]))
    keep = (df["event"].isin(list(events)) & ~is_bot(df["user_agent"]) & (df["click_at"] >= since)
            & (df["click_at"] < until) & (df["at"] < until))
    out = df[keep].sort_values(["at", "dedupe_key"], kind="stable").drop_duplicates("dedupe_key")
    return out[["link_key", "dedupe_key", "event", "at", "click_at"]].reset_index(drop=True)


def read_paid_conversions(engine: Engine, keys: Iterable[str], since: dt.datetime, until: dt.datetime,
                          events: Sequence[str] = tuple(ATTRIBUTED_SIGNALS.values())) -> PaidConversions:
    """The paid links of these keys and the conversions through them that count (`human_conversions`), read
    in one connection: links first, then conversions joined to their clicks and links."""
    wanted = sorted({k for k in keys if k})
    since, until = utc(since).to_pydatetime(), utc(until).to_pydatetime()
    lk, cl, cv = schema.links, schema.clicks, schema.conversions
    found: dict[str, str] = {}
    rows = []
    with engine.connect() as conn:
        for i in range(0, len(wanted), _KEY_CHUNK):
            chunk = wanted[i:i + _KEY_CHUNK]
            found.update(conn.execute(sa.select(lk.c.idempotency_key, lk.c.slug).where(
                lk.c.idempotency_key.in_(chunk), lk.c.channel == PAID)).all())
            q = (sa.select(lk.c.idempotency_key, cv.c.dedupe_key, cv.c.event, cv.c.at, cl.c.at, cl.c.user_agent)
                 .select_from(cv.join(cl, cl.c.click_id == cv.c.click_id).join(lk, lk.c.slug == cl.c.slug))
                 .where(lk.c.idempotency_key.in_(chunk), lk.c.channel == PAID, cv.c.event.in_(list(events)),
                        cl.c.at >= since, cl.c.at < until, cv.c.at < until))
            rows += [tuple(r) for r in conn.execute(q).all()]
    frame = pd.DataFrame(rows, columns=CONVERSION_COLUMNS) if rows else pd.DataFrame(columns=CONVERSION_COLUMNS)
    return PaidConversions(found, human_conversions(frame, events, since, until))


def _time_column(insights: pd.DataFrame) -> str:
    return next((c for c in TIME_COLUMNS if c in insights.columns), "at")


def _weights(rows: pd.DataFrame) -> np.ndarray | None:
    """Each delivery row's share of its hour's conversions: by clicks, else spend; None when neither says."""
    for col in ("clicks", "spend"):
        if col in rows:
            w = pd.to_numeric(rows[col], errors="coerce").fillna(0.0).clip(lower=0.0).to_numpy(dtype=float)
            if w.sum() > 0:
                return w / w.sum()
    return None


def _live_members(members: pd.DataFrame, bucket: pd.Timestamp) -> list[str]:
    """The ad sets of a link that existed by the end of the hour (all of them when none says it did)."""
    if "created_at" in members:
        created = pd.to_datetime(members["created_at"], utc=True, errors="coerce").dt.tz_convert(None)
        live = members.loc[created.isna() | (created < bucket + pd.Timedelta(hours=1)), "ad_set_id"]
        if len(live):
            return [str(s) for s in live]
    return [str(s) for s in members["ad_set_id"]]


def _linked_sets(ad_sets: pd.DataFrame | None, found: PaidConversions, platform: str) -> pd.DataFrame:
    """The ad sets whose creative's paid link exists: ad_set_id, account_id, key, created_at."""
    if ad_sets is None or not len(ad_sets):
        return pd.DataFrame(columns=["ad_set_id", "account_id", "key", "created_at"])
    sets = pd.DataFrame({"ad_set_id": ad_sets["id"].astype(str).to_numpy(),
                         "account_id": ad_sets["account_id"].to_numpy(),
                         "key": link_keys(ad_sets, platform).to_numpy(dtype=object),
                         "created_at": ad_sets["created_at"].to_numpy() if "created_at" in ad_sets else pd.NaT})
    return sets[sets["key"].isin(list(found.links))]


def with_attributed(insights: pd.DataFrame | None, ad_sets: pd.DataFrame | None, found: PaidConversions,
                    platform: str, signals: Iterable[str] = tuple(ATTRIBUTED_SIGNALS)) -> pd.DataFrame:
    """The insights (never modified) with one column per attributed signal (module doc): NaN in every row of
    an ad set without a link, else its share of each hour's conversions (0 without any)."""
    signals = [s for s in dict.fromkeys(signals) if s in ATTRIBUTED_SIGNALS]
    ins = (insights if insights is not None else pd.DataFrame()).copy().reset_index(drop=True)
    tcol = _time_column(ins)
    for col in ("ad_set_id", tcol):
        if col not in ins:
            ins[col] = pd.Series(dtype=object)
    ins[tcol] = pd.to_datetime(ins[tcol], utc=True, errors="coerce").dt.tz_convert(None)
    sets = _linked_sets(ad_sets, found, platform)
    linked = ins["ad_set_id"].astype(str).isin(set(sets["ad_set_id"]))
    for s in signals:
        ins[s] = np.where(linked, 0.0, np.nan)
    conv = found.conversions
    conv = conv.assign(signal=conv["event"].map({e: s for s, e in ATTRIBUTED_SIGNALS.items() if s in signals}),
                       bucket=pd.to_datetime(conv["click_at"]).dt.floor("h"))
    extra: list[dict] = []
    for (key, bucket), group in conv[conv["signal"].notna()].groupby(["link_key", "bucket"], sort=True):
        members = sets[sets["key"] == key]
        if members.empty:
            continue
        counts = group["signal"].value_counts()
        here = ins.index[ins["ad_set_id"].astype(str).isin(set(members["ad_set_id"])) & (ins[tcol] == bucket)]
        w = _weights(ins.loc[here]) if len(here) else None
        if w is not None:
            for s, n in counts.items():
                ins.loc[here, s] += float(n) * w
            continue
        live = _live_members(members, bucket)
        owner = dict(zip(members["ad_set_id"], members["account_id"]))
        for sid in live:  # no delivery row in the click's hour: a row of its own
            extra.append({"ad_set_id": sid, "account_id": owner.get(sid), tcol: bucket,
                          **{s: float(counts.get(s, 0.0)) / len(live) for s in signals}})
    if extra:
        ins = _append(ins, extra, signals)
    return ins


def _append(ins: pd.DataFrame, extra: list[dict], signals: Sequence[str]) -> pd.DataFrame:
    """Rows for hours with conversions but no delivery: counters 0, the platform's signal columns 0."""
    add = pd.DataFrame(extra)
    ins = ins.assign(**{c: 0.0 for c in COUNTERS if c not in ins})  # a delivery frame always has its counters
    for col in ins.columns:
        if col not in add:
            known = col in COUNTERS or (col not in signals and pd.api.types.is_numeric_dtype(ins[col]))
            add[col] = 0.0 if known else None
    if "account_id" not in ins:
        add = add.drop(columns=["account_id"])
    return pd.concat([ins, add[list(ins.columns)]], ignore_index=True)


def link_summary(ad_sets: pd.DataFrame | None, found: PaidConversions, platform: str) -> pd.DataFrame:
    """Per ad set: its creative's paid link key and whether that link exists."""
    if ad_sets is None or not len(ad_sets):
        return pd.DataFrame(columns=["ad_set_id", "link_key", "linked"])
    keys = link_keys(ad_sets, platform)
    return pd.DataFrame({"ad_set_id": ad_sets["id"].astype(str).to_numpy(), "link_key": keys.to_numpy(dtype=object),
                         "linked": [k in found.links for k in keys]})


def _totals(insights: pd.DataFrame | None, signal: str) -> dict[str, float]:
    """Per ad set, the signal summed over its rows; NaN when any row does not report it (unknown)."""
    if insights is None or not len(insights) or signal not in insights or "ad_set_id" not in insights:
        return {}
    values = pd.to_numeric(insights[signal], errors="coerce")
    g = values.groupby(insights["ad_set_id"].astype(str))
    return g.sum().mask(g.count() < g.size()).to_dict()


def signal_sources(goals: Iterable[Goal], campaigns: pd.DataFrame | None, ad_sets: pd.DataFrame | None,
                   insights: pd.DataFrame | None, config: OrchestratorConfig,
                   links: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per goal and ad set: where its core signal comes from ("platform" or "ACTP attribution"), its events in
    the insights read (NaN = unknown) and, for an attributed signal, the paid link it is read through."""
    rows = []
    if campaigns is None or ad_sets is None or not len(campaigns) or not len(ad_sets):
        return pd.DataFrame(columns=SOURCE_COLUMNS)
    goal_of = dict(zip(campaigns["id"].astype(str), campaigns["goal"]))
    link = ({} if links is None or not len(links) else
            {r["ad_set_id"]: (r["link_key"], bool(r["linked"])) for r in links.to_dict("records")})
    totals: dict[str, dict[str, float]] = {}
    for g in goals:
        signal = g.signal(config)
        if signal is None:
            continue
        if signal not in totals:
            totals[signal] = _totals(insights, signal)
        mine = ad_sets[(ad_sets["account_id"].astype(str) == str(g.account_id))
                       & (ad_sets["campaign_id"].astype(str).map(goal_of) == g.name)]
        for sid, variant in zip(mine["id"].astype(str), mine["variant_id"]):
            events = totals[signal].get(sid, math.nan)
            if is_attributed(signal):
                key, has = link.get(sid, (None, False))
                note = "" if has else "no paid link for this ad set's creative: unknown, never 0"
                source = ATTRIBUTION
            else:
                key, source = None, PLATFORM
                note = "not reported by the platform: unknown" if sid in totals[signal] and math.isnan(events) else ""
            rows.append({"account_id": g.account_id, "goal": g.name, "ad_set_id": sid, "variant_id": variant,
                         "signal": signal, "source": source, "link_key": key, "events": events, "note": note})
    return pd.DataFrame(rows, columns=SOURCE_COLUMNS)
