"""Step 6, measure: snapshots of the posts due (new, recent, older) within a per-run budget; each run
appends one immutable file to its day."""


import datetime as dt

import dagster as dg
import pandas as pd

from actp_pipeline.measure.post_metrics import (
    LEDGER_COLUMNS,
    TIERS,
    CollectionRules,
    classify_posts,
    collect_snapshots,
    last_snapshots,
    plan_summary,
    posts_ledger,
    prioritise,
)
from actp_pipeline.publish.platforms import make_metrics_reader
from actp_pipeline.store.invariants import duplicates, engagements_over_views, labels, later_than, negative, newest
from assets.automation import DAILY, OWNERS
from assets.checks import ERROR, FUTURE_SKEW, WARN, platform_clock, run_days, verdict
from assets.metadata import as_json, md_table, stamp
from resources import PlatformResource, StoreResource


@dg.asset(
    deps=[dg.AssetKey("posts")],  # the posts ledger is written by the local_ops code location
    partitions_def=DAILY,
    kinds={"python", "parquet"},
    group_name="measure",
    owners=OWNERS,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=1),
                                                    warn_window=dt.timedelta(minutes=20)),
    description="Step 6, measure. Time series of views, likes, comments, shares, saves and watch time per post: each run "
                "collects the posts due (never collected first, then the most overdue; hourly for 48 h, "
                "then every 12 h, until 30 days) within a budget of posts per run.",
)
def post_metrics(context: dg.AssetExecutionContext, store: StoreResource, platform: PlatformResource) -> dg.MaterializeResult:
    rules = CollectionRules()
    wh = store.warehouse()
    ledger = posts_ledger(store.engine())
    with platform.client() as client:
        now = client.now()  # the platform's clock (the sandbox's is simulated and jumps ahead)
        classified = classify_posts(ledger, last_snapshots(wh), now, rules)
        plan = prioritise(classified, rules)
        # each post through its own platform's API, whoever uploaded it
        reader = make_metrics_reader(platform.publisher, client, data_dir=store.root, engine=store.engine())
        try:
            snaps, unknown = collect_snapshots(plan[LEDGER_COLUMNS], reader, engine=store.engine())
        finally:
            reader.close()
    if unknown:
        context.log.warning(f"{len(unknown)} posts unknown to the platform (deleted?): {unknown[:5]}")
    summary = plan_summary(classified, plan)
    tier_of = plan.drop_duplicates("post_id").set_index("post_id")["tier"]
    got = snaps["post_id"].map(tier_of).value_counts() if len(snaps) else {}
    collected = {t: int(got.get(t, 0)) for t in TIERS}
    meta = {
        "dagster/row_count": len(snaps),
        "posts_in_ledger": len(ledger),
        "unknown_posts": len(unknown),
        "pending_posts": len(snaps.attrs.get("pending", [])),  # counts not known yet: no snapshot, never zeros
        "platform_now": stamp(now),
        "due": dg.MetadataValue.json(summary["due"]),
        "collected": dg.MetadataValue.json(collected),
        "deferred_by_budget": summary["deferred_by_budget"],
        "not_due": summary["not_due"],
        "retired": summary["retired"],
        "not_live_yet": summary["not_live"],
        "collection_rules": as_json(rules.as_dict()),
    }
    if summary["deferred_by_budget"]:
        context.log.info(f"{summary['deferred_by_budget']} due posts deferred to the next run "
                         f"(budget {rules.max_posts_per_run} posts per run)")
    if len(snaps):
        as_of = snaps["snapshot_at"].iloc[0]
        # the run id in the part name: two runs at the same platform time (a paused sandbox clock) may collect
        # different posts, and neither file may replace the other
        path = wh.write("post_metrics", snaps, partition=context.partition_key,
                        part=f"{as_of.strftime('%Y%m%dT%H%M%S')}-{context.run.run_id[:8]}", replace_partition=False)
        meta.update(snapshot_at=stamp(as_of), total_views=int(snaps["views"].sum()),
                    path=dg.MetadataValue.path(str(path)),
                    preview=md_table(snaps.sort_values("views", ascending=False)))
    return dg.MaterializeResult(metadata=meta)


# ------------------------------------------------------------------------------------------------ checks
SNAPSHOT = ["post_id", "snapshot_at"]  # one snapshot of a post per instant
COUNTS = ["views", "likes", "comments", "shares", "saves", "watch_time_s"]
COUNT_COLUMNS = ["views", "likes", "comments", "shares", "saves"]  # what two snapshots of one instant must agree on


def _day(context: dg.AssetCheckExecutionContext, store: StoreResource) -> tuple[pd.DataFrame, dict]:
    """The snapshots of the days this check looks at (the run's, else the newest), and what it says about them."""
    wh = store.warehouse()
    days, which = run_days(context, wh.partitions("post_metrics"))
    snaps = wh.read("post_metrics", partitions=days) if days else pd.DataFrame(columns=[*SNAPSHOT, "live_at"])
    return snaps, {"days": ", ".join(days) or "none stored", "looked_at": which, "snapshots": len(snaps)}


@dg.asset_check(asset=post_metrics, blocking=True, description=(
    "No count is negative and likes + comments + shares + saves never exceed views, per snapshot of the run's "
    "day (else the newest). Blocking: scores read these counts as binomial trials."))
def post_metrics_counts_sane(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    snaps, compared = _day(context, store)
    return verdict(compared, {"negative_counts": negative(snaps, COUNTS, SNAPSHOT),
                              "engagements_over_views": engagements_over_views(snaps, SNAPSHOT)})


@dg.asset_check(asset=post_metrics, blocking=True, description=(
    "One snapshot per post and instant within the run's day (else the newest). Two snapshots of one instant "
    "that disagree on a count block (scores would take either); identical ones, two runs at one paused "
    "platform time, only warn."))
def post_metrics_ids_unique(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    snaps, compared = _day(context, store)
    repeated = duplicates(snaps, SNAPSHOT)
    counts = [c for c in COUNT_COLUMNS if c in snaps]
    distinct = snaps.drop_duplicates([*SNAPSHOT, *counts]) if len(snaps) else snaps
    conflicting = duplicates(distinct, SNAPSHOT)
    return verdict(compared, {"conflicting_snapshots": conflicting, "repeated_snapshots": repeated},
                   severity=ERROR if conflicting else WARN)


@dg.asset_check(asset=post_metrics, blocking=True, description=(
    f"No snapshot is taken, and no post went live, after the platform's clock (+{FUTURE_SKEW}), and no post "
    "was snapshotted before it went live, in the run's day (else the newest). Blocking: scores compute ages "
    "and velocities from these times."))
def post_metrics_no_future_snapshots(context: dg.AssetCheckExecutionContext, store: StoreResource,
                                     platform: PlatformResource) -> dg.AssetCheckResult:
    snaps, compared = _day(context, store)
    clock = platform_clock(platform)
    future = later_than(snaps, ["snapshot_at", "live_at"], clock.bound, SNAPSHOT) if clock.bound is not None else []
    early = labels(snaps, pd.to_datetime(snaps["snapshot_at"]) < pd.to_datetime(snaps["live_at"]), SNAPSHOT) \
        if len(snaps) else []
    return verdict({**compared, **clock.metadata(), "newest_snapshot": stamp(newest(snaps, ["snapshot_at"]))},
                   {"future_timestamps": future, "snapshots_before_live": early})
