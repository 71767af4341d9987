"""Step 5a, publish: rendered variants get posting slots and publish items in the queue."""


import dagster as dg

from actp_pipeline.publish_schedule import publish_items, schedule_rendered
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
    new = schedule_rendered(engine, now, loop.target_list(), loop.slot_rules())
    items = publish_items(engine)
    store.warehouse().write("publish_schedule", items)
    context.log.info(f"{len(new)} publish items scheduled (platform time {now:%Y-%m-%d %H:%M})")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(items),
        "newly_scheduled": len(new),
        "platform_now": now.isoformat(),
        "by_status": items.groupby("status").size().to_dict() if len(items) else {},
        "new_slots": md_table(new),
    })
