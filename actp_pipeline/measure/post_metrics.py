"""Measure: time-series snapshots of the posts' metrics, pulled from the platform in batches.

Each collection is an immutable table of snapshots (one row per collected post) stamped with the
platform's clock; the time series is the union of all collections.

Not every post is collected every run. `collection_plan` picks the posts due, with priorities, within a
per-run budget (`CollectionRules`):
- new: posts with no snapshot yet (whatever their age): always due, collected first;
- recent: posts live for less than `recent_window_h` (48 h): due every `recent_every_h` (1 h);
- older: posts live for up to `stop_after_days` (30 days): due every `older_every_h` (12 h);
- retired: older posts that have snapshots are no longer collected; not_live: scheduled, not live yet.
A post is due when its last snapshot is at least its tier's interval old (less `due_slack`, a fraction of
the interval, so that a schedule's own jitter does not push every collection one run later). The due
posts are ordered new first, then by how long they have been overdue (recent before older at equal
lateness), and the first `max_posts_per_run` are collected: ordering by lateness rather than strictly by
tier means older posts are never starved when the recent ones alone would fill the budget.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.publish.dialects import counts_unknown
from actp_pipeline.publish.platforms import parse_time
from actp_pipeline.store import schema

if TYPE_CHECKING:
    from actp_pipeline.store.warehouse import Warehouse

METRIC_COLUMNS = ["views", "likes", "comments", "shares", "saves", "watch_time_s", "followers_gained"]
SNAPSHOT_COLUMNS = ["post_id", "idempotency_key", "variant_id", "platform", "account", "live_at", "snapshot_at",
                    "age_h", *METRIC_COLUMNS]


def posts_ledger(engine: Engine) -> pd.DataFrame:
    t = schema.posts
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.external_id.label("post_id"), t.c.idempotency_key, t.c.variant_id,
                                      t.c.platform, t.c.account, t.c.live_at, t.c.url)).mappings().all()
    return pd.DataFrame(rows, columns=LEDGER_COLUMNS)


LEDGER_COLUMNS = ["post_id", "idempotency_key", "variant_id", "platform", "account", "live_at", "url"]
TIERS = ("new", "recent", "older")  # collected, in this order of priority
PLAN_COLUMNS = [*LEDGER_COLUMNS, "last_snapshot_at", "age_h", "since_last_h", "tier", "interval_h", "due",
                "overdue_h"]


@dataclass(frozen=True)
class CollectionRules:
    recent_window_h: float = 48.0  # a post is "recent" for its first 48 h live
    recent_every_h: float = 1.0  # ... and collected every hour meanwhile
    older_every_h: float = 12.0  # then every 12 h
    stop_after_days: float = 30.0  # and no longer after 30 days (a post never collected still gets one snapshot)
    max_posts_per_run: int = 5000  # the run's budget of posts
    due_slack: float = 0.05  # a post this fraction of its interval early is due already

    def __post_init__(self) -> None:
        for name in ("recent_window_h", "recent_every_h", "older_every_h", "stop_after_days"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise ValueError(f"CollectionRules.{name} must be a positive number of hours/days, got {value!r}")
        if self.recent_window_h >= self.stop_after_days * 24:
            raise ValueError(f"recent_window_h ({self.recent_window_h:g} h) must end before stop_after_days "
                             f"({self.stop_after_days:g} days = {self.stop_after_days * 24:g} h)")
        if self.recent_every_h > self.older_every_h:
            raise ValueError(f"recent posts must be collected at least as often as older ones: recent_every_h "
                             f"{self.recent_every_h:g} h > older_every_h {self.older_every_h:g} h")
        if not (isinstance(self.max_posts_per_run, (int, np.integer)) and self.max_posts_per_run >= 1):
            raise ValueError(f"max_posts_per_run must be an integer >= 1, got {self.max_posts_per_run!r}")
        if not 0.0 <= self.due_slack < 1.0:
            raise ValueError(f"due_slack must be within [0, 1), got {self.due_slack!r}")

    def as_dict(self) -> dict:
        return asdict(self)


def last_snapshots(warehouse: Warehouse) -> pd.DataFrame:
    """post_id, last_snapshot_at: one DuckDB group-by over every collection (the snapshots stay on disk)."""
    if not warehouse.exists("post_metrics"):
        return pd.DataFrame({"post_id": pd.Series(dtype=object), "last_snapshot_at": pd.Series(dtype="datetime64[ns]")})
    return warehouse.query("SELECT post_id, max(snapshot_at) AS last_snapshot_at FROM post_metrics GROUP BY post_id",
                           tables={"post_metrics": None})


def _naive_utc(values) -> pd.Series:
    """Datetimes as naive UTC (the store's convention); aware ones are converted, naive ones kept."""
    t = pd.to_datetime(values)
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    return t


def classify_posts(ledger: pd.DataFrame, last_snapshot_at: pd.DataFrame, now,
                   rules: CollectionRules = CollectionRules()) -> pd.DataFrame:
    """Every ledger post with its tier (new | recent | older | retired | not_live), whether it is due this run
    and by how many hours (`overdue_h`: hours past its due time; for a new post, hours since it went live).

    `last_snapshot_at` has post_id and last_snapshot_at (`last_snapshots`); `now` is the platform's clock.
    """
    now = pd.Timestamp(now)
    if now.tzinfo is not None:
        now = now.tz_convert("UTC").tz_localize(None)
    df = ledger.reset_index(drop=True).copy()
    if df.empty:
        return pd.DataFrame(columns=PLAN_COLUMNS)
    last = (last_snapshot_at[["post_id", "last_snapshot_at"]]
            .assign(last_snapshot_at=_naive_utc(last_snapshot_at["last_snapshot_at"]).astype("datetime64[ns]"))
            .groupby("post_id", as_index=False)["last_snapshot_at"].max())
    df = df.drop(columns=["last_snapshot_at"], errors="ignore").merge(last, on="post_id", how="left")
    df["live_at"] = _naive_utc(df["live_at"])
    age = ((now - df["live_at"]).dt.total_seconds() / 3600.0).to_numpy()
    since = ((now - df["last_snapshot_at"]).dt.total_seconds() / 3600.0).to_numpy()
    never = df["last_snapshot_at"].isna().to_numpy()
    known_age = np.nan_to_num(age, nan=0.0)  # an unknown live time counts as just live
    tier = np.select([known_age < 0, never, known_age < rules.recent_window_h, known_age < rules.stop_after_days * 24],
                     ["not_live", "new", "recent", "older"], "retired")
    interval = np.select([tier == "recent", tier == "older"], [rules.recent_every_h, rules.older_every_h], np.nan)
    df["age_h"] = age
    df["since_last_h"] = since
    df["tier"] = tier
    df["interval_h"] = interval
    with np.errstate(invalid="ignore"):
        df["due"] = (tier == "new") | (since >= interval * (1.0 - rules.due_slack))
    df["overdue_h"] = np.where(tier == "new", known_age, since - interval)
    return df[PLAN_COLUMNS]


def prioritise(classified: pd.DataFrame, rules: CollectionRules = CollectionRules()) -> pd.DataFrame:
    """The due posts in collection order (new first, then most overdue; recent before older at equal
    lateness), cut at the run's budget."""
    due = classified[classified["due"].astype(bool)]
    rank = due["tier"].map({t: i for i, t in enumerate(TIERS)})
    ordered = (due.assign(_not_new=rank > 0, _rank=rank)
               .sort_values(["_not_new", "overdue_h", "_rank", "post_id"], ascending=[True, False, True, True],
                            kind="stable"))
    return ordered.head(rules.max_posts_per_run)[PLAN_COLUMNS].reset_index(drop=True)


def collection_plan(ledger: pd.DataFrame, last_snapshot_at: pd.DataFrame, now,
                    rules: CollectionRules = CollectionRules()) -> pd.DataFrame:
    """The posts to collect this run, in order, with their `tier` and `overdue_h` (see the module doc)."""
    return prioritise(classify_posts(ledger, last_snapshot_at, now, rules), rules)


def plan_summary(classified: pd.DataFrame, plan: pd.DataFrame) -> dict:
    """Counts for a run's metadata: due and planned per tier, deferred by the budget, not due, not collected."""
    def per_tier(frame: pd.DataFrame) -> dict[str, int]:
        counts = frame["tier"].value_counts() if len(frame) else pd.Series(dtype="int64")
        return {t: int(counts.get(t, 0)) for t in TIERS}

    due = classified[classified["due"].astype(bool)] if len(classified) else classified
    collected_tiers = classified["tier"].isin(TIERS) if len(classified) else pd.Series(dtype=bool)
    return {
        "due": per_tier(due),
        "planned": per_tier(plan),
        "deferred_by_budget": int(len(due) - len(plan)),
        "not_due": int((collected_tiers & ~classified["due"].astype(bool)).sum()) if len(classified) else 0,
        "retired": int((classified["tier"] == "retired").sum()) if len(classified) else 0,
        "not_live": int((classified["tier"] == "not_live").sum()) if len(classified) else 0,
    }


def read_metrics(ledger: pd.DataFrame, reader: Any) -> list[dict[str, Any]]:
    """The readers' answers for the ledger's posts: per (platform, account) for a reader that routes to each
    platform's own API (`metrics_for(platform, account, ids)`, which batches by the platform's limit); one
    call for a reader of a single platform (`metrics(ids)`, which batches itself)."""
    metrics_for = getattr(reader, "metrics_for", None)
    if metrics_for is None:
        return [reader.metrics(ledger["post_id"].tolist())]
    return [metrics_for(platform, account, group["post_id"].tolist())
            for (platform, account), group in ledger.groupby(["platform", "account"], sort=True)]


def collect_snapshots(ledger: pd.DataFrame, platform: Any, engine: Engine | None = None) -> tuple[pd.DataFrame, list[str]]:
    """One snapshot per live post whose counts are known; returns (snapshots, ids the platform does not know).

    A post whose counts are not known yet (processing, in moderation, failed, a count None, or deferred by the
    platform's limit) gets no snapshot, never zeros: its ids are in the frame's attrs["pending"]. A metric a
    platform does not report at all (TikTok's saves, YouTube's shares) is 0 in every one of its snapshots.
    With `engine`, public ids the platform revealed since the post (TikTok's video id after moderation) are
    recorded in the store (`record_public_ids`)."""
    if ledger.empty:
        return pd.DataFrame(columns=SNAPSHOT_COLUMNS), []
    frames, unknown, pending, public = [], [], [], []
    for answer in read_metrics(ledger, platform):
        unknown.extend(answer.get("unknown") or [])
        items = list(answer.get("items") or [])
        waiting = [i for i in items if counts_unknown(i)] + list(answer.get("pending") or [])
        pending.extend(i["post_id"] if isinstance(i, dict) else i for i in waiting)
        public.extend(i for i in items + waiting if isinstance(i, dict) and i.get("video_id")
                      and str(i["video_id"]) != str(i["post_id"]))
        got = pd.DataFrame([i for i in items if not counts_unknown(i)])
        if got.empty:
            continue
        if "status" in got:
            got = got[got["status"] != "scheduled"]
        frames.append(got.assign(snapshot_at=parse_time(answer["as_of"])))
    if engine is not None and public:
        record_public_ids(engine, public)
    if not frames:
        empty = pd.DataFrame(columns=SNAPSHOT_COLUMNS)
        empty.attrs["pending"] = pending
        return empty, unknown
    got = pd.concat(frames, ignore_index=True).drop_duplicates("post_id", keep="last")
    # the ledger says which post is whose; an adapter's own copy of a ledger column (url, platform, account) is
    # dropped, never merged into platform_x / platform_y
    got = got.drop(columns=[c for c in got.columns if c in ledger.columns and c != "post_id"])
    snap = ledger.drop(columns=["url"]).merge(got, on="post_id", how="inner")
    snap["snapshot_at"] = pd.to_datetime(snap["snapshot_at"])
    snap["live_at"] = pd.to_datetime(snap["live_at"])
    snap["age_h"] = (snap["snapshot_at"] - snap["live_at"]).dt.total_seconds() / 3600.0
    for c in METRIC_COLUMNS:
        # a metric the platform does not report (TikTok's saves, YouTube's shares) is unknown: null, never 0;
        # nullable columns, so Parquet keeps the null (scores count the interactions a platform reports)
        values = pd.to_numeric(snap[c], errors="coerce") if c in snap else pd.Series(np.nan, index=snap.index)
        snap[c] = pd.Series(values, index=snap.index).astype("Int64" if c != "watch_time_s" else "float64")
    out = snap[SNAPSHOT_COLUMNS].reset_index(drop=True)
    out.attrs["pending"] = pending
    return out, unknown


def record_public_ids(engine: Engine, found: list[dict[str, Any]]) -> int:
    """Record the public id and URL a platform revealed after the post (TikTok: the video id once moderation
    ends; the ledger's external id stays the publish id): the URL on the ledger row and on its publish item,
    the public id in the publish item's payload (`public_id`; the posts ledger has no column for it).
    Returns how many posts changed."""
    t, q = schema.posts, schema.publish_queue
    changed = 0
    with engine.begin() as conn:
        for item in found:
            pid, vid, url = str(item["post_id"]), str(item["video_id"]), item.get("url")
            rows = conn.execute(sa.select(q.c.id, q.c.payload).where(q.c.external_id == pid)).all()
            for row_id, payload in rows:
                payload = dict(payload or {})
                if payload.get("public_id") == vid and (url is None or payload.get("public_url") == url):
                    continue
                payload.update(public_id=vid, **({"public_url": url} if url else {}))
                conn.execute(q.update().where(q.c.id == row_id).values(
                    payload=payload, **({"post_url": url} if url else {})))
                changed += 1
            if url:
                conn.execute(t.update().where(t.c.external_id == pid, t.c.url.is_(None)).values(url=url))
    return changed
