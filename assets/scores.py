"""Step 7, score: engagement posterior, P(best in cell), velocity and reach per post."""


import dagster as dg

from actp_pipeline.scores import ScoringRules, latest_per_post, score_posts
from assets.common import OWNERS, follow_upstream, md_table
from assets.post_metrics import post_metrics
from resources import StoreResource


@dg.asset(
    deps=[post_metrics],
    kinds={"python", "duckdb", "parquet"},
    group_name="score",
    owners=OWNERS,
    automation_condition=follow_upstream(),
    description="Beta-Binomial engagement posterior with credible interval, P(best in cell), velocity and reach percentiles.",
)
def scores(context: dg.AssetExecutionContext, store: StoreResource) -> dg.MaterializeResult:
    wh = store.warehouse()
    rules = ScoringRules()
    scored = score_posts(latest_per_post(wh, rules.velocity_window_h), rules)
    if wh.exists("variants") and len(scored):
        factors = wh.read("variants", columns=["variant_id", "hook_pattern", "angle", "cta_style", "format", "length_s", "hook"])
        scored = scored.merge(factors, on="variant_id", how="left")
    wh.write("scores", scored)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(scored),
        "insufficient_data": int((scored["status"] == "insufficient_data").sum()) if len(scored) else 0,
        "fair_comparisons": "within (platform, account) cells only: organic reach is not randomised",
        "cells": dg.MetadataValue.json({f"{p}/{a}": int(n) for (p, a), n in
                                        scored.groupby(["platform", "account"]).size().items()}) if len(scored) else "none",
        "top": md_table(scored[[c for c in ("variant_id", "hook", "views", "engagement_rate", "er_low", "er_high",
                                            "p_best", "score", "status") if c in scored]] if len(scored) else scored),
    })
