"""Step 6, measure: a snapshot of every post's metrics; each run appends one immutable file to its day."""


import dagster as dg

from actp_pipeline.post_metrics import collect_snapshots, posts_ledger
from assets.common import DAILY, OWNERS, md_table
from resources import PlatformResource, StoreResource


@dg.asset(
    deps=[dg.AssetKey("posts")],  # the posts ledger is written by the local_ops code location
    partitions_def=DAILY,
    kinds={"python", "parquet"},
    group_name="measure",
    owners=OWNERS,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5),
    description="Time series of views, likes, comments, shares, saves and watch time per post (one snapshot per run).",
)
def post_metrics(context: dg.AssetExecutionContext, store: StoreResource, platform: PlatformResource) -> dg.MaterializeResult:
    ledger = posts_ledger(store.engine())
    with platform.client() as client:
        snaps, unknown = collect_snapshots(ledger, client)
    if unknown:
        context.log.warning(f"{len(unknown)} posts unknown to the platform (deleted?): {unknown[:5]}")
    meta = {"dagster/row_count": len(snaps), "posts_in_ledger": len(ledger), "unknown_posts": len(unknown)}
    if len(snaps):
        as_of = snaps["snapshot_at"].iloc[0]
        path = store.warehouse().write("post_metrics", snaps, partition=context.partition_key,
                                       part=as_of.strftime("%Y%m%dT%H%M%S"), replace_partition=False)
        meta.update(snapshot_at=as_of.isoformat(), total_views=int(snaps["views"].sum()),
                    path=dg.MetadataValue.path(str(path)),
                    preview=md_table(snaps.sort_values("views", ascending=False)))
    return dg.MaterializeResult(metadata=meta)
