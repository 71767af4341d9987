"""Step 2, extract: creative blueprints from the recent market, and the factor lifts behind them."""


import dagster as dg

from actp_pipeline.extract.blueprints import extract_blueprints
from assets.automation import OWNERS, follow_upstream
from assets.metadata import md_table
from assets.research import market_items
from resources import LoopSettings, StoreResource

_SHARED = dict(deps=[market_items], kinds={"python", "parquet"}, group_name="extract", owners=OWNERS,
               automation_condition=follow_upstream())


@dg.multi_asset(
    name="blueprints",
    specs=[
        dg.AssetSpec("factor_lifts", **_SHARED, description="Step 2, extract. Shrunk lift of each factor level "
                     "(hook pattern, angle, CTA, format, length) in the recent market; blueprints are built from it."),
        dg.AssetSpec("blueprints", **_SHARED, description="Step 2, extract. Factor combinations (hook pattern, angle, "
                     "CTA, format, length) that perform in the market, with shrunk lifts; variants are made from them."),
    ],
)
def blueprints(context: dg.AssetExecutionContext, store: StoreResource, loop: LoopSettings):
    wh = store.warehouse()
    days = wh.partitions("market_items")[-loop.research_lookback_days:]
    if not days:
        raise dg.Failure("no market_items collected yet: materialize market_items for at least one day first")
    items = wh.read("market_items", partitions=days)
    bp, lifts = extract_blueprints(items)
    wh.write("blueprints", bp)
    wh.write("factor_lifts", lifts)
    context.log.info(f"{len(bp)} blueprints from {len(items)} market items over {len(days)} days")
    yield dg.MaterializeResult(asset_key="factor_lifts", metadata={
        "dagster/row_count": len(lifts), "factor_lifts": md_table(lifts, limit=40)})
    yield dg.MaterializeResult(asset_key="blueprints", metadata={
        "dagster/row_count": len(bp),
        "market_days": f"{days[0]} .. {days[-1]} ({len(days)} days)" if len(days) > 1 else days[0],
        "market_items": len(items),
        "blueprints": md_table(bp.drop(columns=["hashtags", "platforms"])),
    })


@dg.asset_check(asset="blueprints", description="Blueprint lifts are finite and every blueprint names its factors.")
def blueprints_well_formed(store: StoreResource) -> dg.AssetCheckResult:
    bp = store.warehouse().read("blueprints")
    factors = [c for c in ("hook_pattern", "angle", "cta_style", "format") if c in bp]
    missing = int(bp[factors].isna().any(axis=1).sum()) if len(bp) else 0
    return dg.AssetCheckResult(passed=missing == 0, metadata={"blueprints": len(bp), "missing_factors": missing})
