"""Step 1, research: hashtag lifts, saturation and ladders over the research window.

One table over the last `research_lookback_days` market days (not a daily partition): a tag's lift needs
the evidence of several days to be more than noise, and saturation compares the newest day with the days
before it. It is the same window blueprints read, so the tags on a variant and the blueprint it came from
rest on the same market.
"""

import dagster as dg
import numpy as np
import pandas as pd

from actp_pipeline.research import hashtag_stats as core
from actp_pipeline.research.hashtag_stats import (BROAD_QUANTILE, ITEM_LIFT_CAP, MIN_LADDER_ITEMS, NICHE_QUANTILE,
                                                  PRIOR_SD, TABLE, TOPIC_MIN_SHARE, ladder_tags)
from actp_pipeline.store.invariants import duplicates, labels, negative
from assets.automation import OWNERS, follow_upstream
from assets.checks import WARN, verdict
from assets.metadata import md_table
from assets.research import market_items
from resources import LoopSettings, StoreResource

SHOWN = ["rank", "tag", "ladder", "tier", "items", "authors", "engagement_rate", "lift", "lift_low", "lift_high",
         "saturation", "share_growth"]


@dg.asset(
    deps=[market_items],
    kinds={"python", "parquet"},
    group_name="research",
    owners=OWNERS,
    automation_condition=follow_upstream(),
    description=(
        "Step 1, research. Per hashtag over the research window: items using it, distinct authors, views, "
        "engagement rate and engagement lift (vs. the author's own baseline, else the platform mean), shrunk "
        f"toward 1 (prior: log lift ~ N(0, {PRIOR_SD}^2); each item capped at {ITEM_LIFT_CAP:g}x) with a 95% "
        "interval. Saturation = the share of the newest day's items carrying the tag; share_growth = that share "
        "over the earlier days' share (> 1: crowding). Ladders per topic (tags co-occurring with the topic tag in "
        f"{TOPIC_MIN_SHARE:.0%}+ of their items; else per platform): broad = usage at or above the ladder's "
        f"{BROAD_QUANTILE:.0%} quantile, niche = below its {NICHE_QUANTILE:.0%} quantile, mid between; tags with "
        f"fewer than {MIN_LADDER_ITEMS} items are 'rare'."),
)
def hashtag_stats(context: dg.AssetExecutionContext, store: StoreResource, loop: LoopSettings) -> dg.MaterializeResult:
    wh = store.warehouse()
    days = wh.partitions("market_items")[-loop.research_lookback_days:]
    if not days:
        raise dg.Failure("no market_items collected yet: materialize market_items for at least one day first")
    items = wh.read("market_items", partitions=days)
    stats = core.hashtag_stats(items, topic=loop.topic)
    skipped = stats.attrs.get("skipped", [])
    if skipped:
        context.log.warning(f"{len(skipped)} market items skipped (malformed hashtags): {'; '.join(skipped[:5])}")
    path = wh.write(TABLE, stats)
    tiers = stats.groupby(["ladder", "tier"]).agg(tags=("tag", "size"), min_items=("items", "min"),
                                                  max_items=("items", "max")).reset_index() if len(stats) else stats
    context.log.info(f"{len(stats)} hashtags from {len(items)} market items over {len(days)} days")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(stats),
        "market_days": f"{days[0]} .. {days[-1]} ({len(days)} days)" if len(days) > 1 else days[0],
        "market_items": len(items),
        "skipped_items": len(skipped),
        **({"skipped": "\n".join(skipped[:20])} if skipped else {}),
        "lift_basis": str(stats["lift_basis"].iloc[0]) if len(stats) else "no hashtags",
        "top_tags": md_table(stats[SHOWN] if len(stats) else stats, limit=25),
        "ladders": md_table(tiers, limit=40),
        "ladder_for_variants": ", ".join(ladder_tags(stats)) or "none",
        "most_crowded": md_table(stats.sort_values("saturation", ascending=False)[SHOWN] if len(stats) else stats,
                                 limit=10),
        "path": dg.MetadataValue.path(str(path)),
    })


# ------------------------------------------------------------------------------------------------ checks
KEY = ["tag"]


@dg.asset_check(asset=hashtag_stats, description=(
    "Every lift and its interval is finite and positive and the interval holds the lift. Warns only: the "
    "ladder picks tags by lift; a broken one is a bug, not a bad market."))
def hashtag_stats_lifts_finite(store: StoreResource) -> dg.AssetCheckResult:
    stats = store.warehouse().read(TABLE)
    if stats.empty:
        return verdict({"tags": 0}, {"non_finite_lifts": [], "interval_misses_lift": []}, severity=WARN)
    values = stats[["lift", "lift_low", "lift_high"]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    bad = ~(np.isfinite(values).all(axis=1) & (values > 0).all(axis=1))
    outside = ~((stats["lift_low"] <= stats["lift"] + 1e-12) & (stats["lift"] <= stats["lift_high"] + 1e-12))
    return verdict({"tags": len(stats)}, {"non_finite_lifts": labels(stats, pd.Series(bad, index=stats.index), KEY),
                                          "interval_misses_lift": labels(stats, outside & ~bad, KEY)}, severity=WARN)


@dg.asset_check(asset=hashtag_stats, description=(
    "One row per tag; usage counts (items, authors, views, engagements) are never negative, authors never "
    "exceed items, and saturation is a share (0..1). Warns only."))
def hashtag_stats_counts_sane(store: StoreResource) -> dg.AssetCheckResult:
    stats = store.warehouse().read(TABLE)
    if stats.empty:
        return verdict({"tags": 0}, {"duplicates": [], "negative_counts": [], "authors_over_items": [],
                                     "saturation_out_of_range": []}, severity=WARN)
    return verdict({"tags": len(stats)}, {
        "duplicates": duplicates(stats, KEY),
        "negative_counts": negative(stats, ["items", "authors", "views", "engagements", "newest_day_items"], KEY),
        "authors_over_items": labels(stats, stats["authors"] > stats["items"], KEY),
        "saturation_out_of_range": labels(stats, ~stats["saturation"].between(0, 1), KEY)}, severity=WARN)
