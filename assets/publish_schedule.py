"""Step 5a, publish: rendered variants get posting slots and publish items in the queue."""


import dagster as dg

from actp_pipeline.publish_schedule import DEFAULT_HOURS, publish_items, schedule_rendered
from actp_pipeline.timing_matrix import best_hours
from assets.common import OWNERS, md_table
from resources import LoopSettings, PlatformResource, StoreResource


@dg.asset(
    deps=[dg.AssetKey("renders")],  # materialized by the local_ops code location
    kinds={"python", "parquet"},
    group_name="publish",
    owners=OWNERS,
    automation_condition=dg.AutomationCondition.eager(),
    description="Posting slots per (variant, platform, account) from the platform's clock; publish items queued once each.",
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
    items = publish_items(engine)
    wh.write("publish_schedule", items)
    context.log.info(f"{len(new)} publish items scheduled (platform time {now:%Y-%m-%d %H:%M})")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(items),
        "newly_scheduled": len(new),
        "platform_now": now.isoformat(),
        "hours": dg.MetadataValue.json({p: list(h) for p, h in hours.items()}) if hours else "preferred defaults",
        "by_status": items.groupby("status").size().to_dict() if len(items) else {},
        "new_slots": md_table(new),
    })
