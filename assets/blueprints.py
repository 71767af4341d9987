"""Step 2, extract: creative blueprints from the recent market."""


import dagster as dg

from actp_pipeline.extract.blueprints import extract_blueprints
from assets.common import OWNERS, follow_upstream, md_table
from assets.research import market_items
from resources import LoopSettings, StoreResource


@dg.asset(
    deps=[market_items],
    kinds={"python", "parquet"},
    group_name="research",
    owners=OWNERS,
    automation_condition=follow_upstream(),
    description="Factor combinations (hook pattern, angle, CTA, format, length) that perform in the market, with shrunk lifts.",
)
def blueprints(context: dg.AssetExecutionContext, store: StoreResource, loop: LoopSettings) -> dg.MaterializeResult:
    wh = store.warehouse()
    days = wh.partitions("market_items")[-loop.research_lookback_days:]
    if not days:
        raise dg.Failure("no market_items collected yet: materialize market_items for at least one day first")
    items = wh.read("market_items", partitions=days)
    bp, lifts = extract_blueprints(items)
    wh.write("blueprints", bp)
    wh.write("factor_lifts", lifts)
    context.log.info(f"{len(bp)} blueprints from {len(items)} market items over {len(days)} days")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(bp),
        "market_days": days,
        "market_items": len(items),
        "blueprints": md_table(bp.drop(columns=["hashtags", "platforms"])),
        "factor_lifts": md_table(lifts, limit=40),
    })
