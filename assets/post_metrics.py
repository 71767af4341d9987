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
from assets.automation import DAILY, OWNERS
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


@dg.asset_check(asset=post_metrics, description="The newest day's counts are non-negative.")
def post_metrics_counts_sane(store: StoreResource) -> dg.AssetCheckResult:
    wh = store.warehouse()
    days = wh.partitions("post_metrics")[-1:]
    snaps = wh.read("post_metrics", partitions=days) if days else pd.DataFrame()
    if snaps.empty:
        return dg.AssetCheckResult(passed=True, metadata={"snapshots": 0})
    counts = [c for c in ("views", "likes", "comments", "shares", "saves") if c in snaps]
    negative = int((snaps[counts] < 0).any(axis=1).sum())
    return dg.AssetCheckResult(passed=negative == 0,
                               metadata={"day": days[0], "snapshots": len(snaps), "negative_counts": negative})
