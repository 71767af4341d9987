"""Step 2, extract: creative blueprints from the recent market, and the factor lifts behind them."""


import dagster as dg
import numpy as np
import pandas as pd

from actp_pipeline.extract.blueprints import extract_blueprints, item_lift, market, tag_factors
from actp_pipeline.extract.clusters import review_clusters
from actp_pipeline.extract.learned import LEARNED_FACTORS, UNKNOWN, factor_models
from actp_pipeline.store.invariants import duplicates, engagements_over_views, labels, missing, negative
from assets.automation import OWNERS, follow_upstream
from assets.checks import WARN, verdict
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
    items = market(wh, days)
    models = factor_models()
    tagged = tag_factors(items, models)
    bp, lifts = extract_blueprints(items, tagged=tagged)
    wh.write("blueprints", bp)
    wh.write("factor_lifts", lifts)
    context.log.info(f"{len(bp)} blueprints from {len(items)} market items over {len(days)} days")
    yield dg.MaterializeResult(asset_key="factor_lifts", metadata={
        "dagster/row_count": len(lifts), "factor_lifts": md_table(lifts, limit=40)})
    yield dg.MaterializeResult(asset_key="blueprints", metadata={
        "dagster/row_count": len(bp),
        "market_days": f"{days[0]} .. {days[-1]} ({len(days)} days)" if len(days) > 1 else days[0],
        "market_items": len(items),
        "blueprints": md_table(bp.drop(columns=["hashtags", "platforms", "evidence_item_ids", "evidence_urls"])),
        **_extraction_metadata(models.report, tagged),
    })


def _extraction_metadata(report, tagged: pd.DataFrame) -> dict:
    """How far to trust the factors: held-out macro-F1 per factor, the training set behind the models,
    how many market items came back unknown, and the hook clusters outside the taxonomy."""
    f1 = pd.DataFrame({"factor": list(report.macro_f1), "macro_f1": list(report.macro_f1.values())})
    unknown = {f: round(float((tagged[f] == UNKNOWN).mean()), 4) if len(tagged) else 0.0
               for f in (*LEARNED_FACTORS, "length_bucket")}
    clusters = review_clusters(tagged, item_lift(tagged)) if len(tagged) else pd.DataFrame()
    return {
        "extraction_macro_f1": dg.MetadataValue.json(report.macro_f1),
        "extraction_accuracy": md_table(f1),
        "extraction_training_set": dg.MetadataValue.json({"train": report.train_size, "test": report.test_size,
                                                          "data_hash": report.data_hash}),
        "extraction_confidence_threshold": report.threshold,
        "extraction_unknown_share": dg.MetadataValue.json(unknown),
        "hook_clusters": md_table(clusters.assign(example_hooks=clusters["example_hooks"].str[0])
                                  if len(clusters) else clusters),
    }


# ------------------------------------------------------------------------------------------------ checks
FACTORS = ["hook_pattern", "angle", "cta_style", "format"]


def _finite(df: pd.DataFrame, columns: list[str], key: list[str]) -> list[str]:
    cols = [c for c in columns if c in df]
    if df.empty or not cols:
        return []
    values = df[cols].apply(pd.to_numeric, errors="coerce")
    return labels(df, ~np.isfinite(values).all(axis=1), key)


@dg.asset_check(asset="blueprints", description=(
    "Every blueprint names its factors; its lift, engagement rate and weight are finite; no count (items, "
    "views, length) is negative. Warns only: variants take the levels of the best blueprints, and variants' "
    "own blocking checks gate what gets rendered."))
def blueprints_well_formed(store: StoreResource) -> dg.AssetCheckResult:
    bp = store.warehouse().read("blueprints")
    key = ["blueprint_id"]
    return verdict({"blueprints": len(bp)}, {"missing_factors": missing(bp, FACTORS, key),
                                             "non_finite": _finite(bp, ["lift", "engagement_rate", "weight"], key),
                                             "negative_counts": negative(bp, ["items", "views", "length_s"], key)},
                   severity=WARN)


@dg.asset_check(asset="blueprints", description="Blueprint ids are unique. Warns only (see blueprints_well_formed).")
def blueprints_ids_unique(store: StoreResource) -> dg.AssetCheckResult:
    bp = store.warehouse().read("blueprints")
    return verdict({"blueprints": len(bp)}, {"duplicates": duplicates(bp, ["blueprint_id"])}, severity=WARN)


@dg.asset_check(asset="factor_lifts", description=(
    "One row per factor level; no count negative; engagements never above views. Warns only: the lifts rank "
    "blueprints, they are not data of our own posts."))
def factor_lifts_sane(store: StoreResource) -> dg.AssetCheckResult:
    lifts = store.warehouse().read("factor_lifts")
    key = ["factor", "level"]
    return verdict({"levels": len(lifts)}, {
        "duplicates": duplicates(lifts, key),
        "negative_counts": negative(lifts, ["items", "views", "engagements"], key),
        "engagements_over_views": engagements_over_views(lifts, key, parts=["engagements"]),
        "non_finite_lifts": _finite(lifts, ["lift"], key)}, severity=WARN)
