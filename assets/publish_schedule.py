"""Step 5a, publish: rendered variants get posting slots and publish items in the queue."""


import dagster as dg

from actp_pipeline.publish.publish_schedule import DEFAULT_HOURS, publish_items, schedule_next_round, schedule_rendered
from actp_pipeline.measure.timing_matrix import best_hours
from assets.common import OWNERS, md_table
from resources import LoopSettings, PlatformResource, StoreResource


@dg.asset(
    deps=[dg.AssetKey("renders")],  # materialized by the local_ops code location
    kinds={"python", "parquet"},
    group_name="publish",
    owners=OWNERS,
    # new renders at once; the allocation's next round once a day (it is read, not a dependency: posts feed
    # the scores the allocation is made from, and the asset graph has no cycles)
    automation_condition=dg.AutomationCondition.eager() | dg.AutomationCondition.on_cron("0 7 * * *"),
    description="Posting slots per (variant, platform, account) from the platform's clock; publish items queued once "
                "each; once a day, the allocation's next round (more posts of the leading creatives).",
)
def publish_schedule(context: dg.AssetExecutionContext, store: StoreResource, platform: PlatformResource,
                     loop: LoopSettings) -> dg.MaterializeResult:
    engine = store.engine()
    with platform.client() as client:
        now = client.now()
    wh = store.warehouse()
    hours = {}
    if wh.exists("timing_matrix"):  # post in the hours that have done best, once there is data
        matrix = wh.read("timing_matrix")
        hours = {t.platform: best_hours(matrix, t.platform, n=len(DEFAULT_HOURS)) for t in loop.target_list()}
    new = schedule_rendered(engine, now, loop.target_list(), loop.slot_rules(), hours_by_platform=hours)
    repeats = new.iloc[0:0]
    if loop.next_round_posts and wh.exists("allocation"):
        repeats = schedule_next_round(engine, now, wh.read("allocation"), loop.target_list(), loop.slot_rules(),
                                      hours_by_platform=hours)
    items = publish_items(engine)
    wh.write("publish_schedule", items)
    context.log.info(f"{len(new)} publish items and {len(repeats)} next-round posts scheduled "
                     f"(platform time {now:%Y-%m-%d %H:%M})")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(items),
        "newly_scheduled": len(new),
        "next_round_scheduled": len(repeats),
        "next_round": md_table(repeats.groupby("variant_id").size().rename("posts").reset_index()
                               .sort_values("posts", ascending=False)) if len(repeats) else "none today",
        "platform_now": now.isoformat(),
        "hours": dg.MetadataValue.json({p: list(h) for p, h in hours.items()}) if hours else "preferred defaults",
        "by_status": items.groupby("status").size().to_dict() if len(items) else {},
        "new_slots": md_table(new),
    })
