"""Step 7, score: engagement posterior, P(best in cell), velocity and reach per post, within fair cells."""


import dagster as dg

from actp_pipeline.measure.latest import latest_per_post
from actp_pipeline.score.cells import CELL, fair_cells
from actp_pipeline.score.scores import ScoringRules, score_posts
from assets.automation import OWNERS, follow_upstream
from assets.metadata import md_table, stamp
from assets.post_metrics import post_metrics
from assets.variants import variants
from resources import LoopSettings, StoreResource


CELLS_SHOWN = 200  # the most recent windows, in the metadata table


def cells_table(cells) -> dg.MetadataValue:
    """The fair cells as a Dagster table: platform, account, window start and end, posts, scored posts."""
    shown = cells.sort_values("window_start", ascending=False, na_position="last").head(CELLS_SHOWN)
    shown = shown.sort_values(["platform", "account", "window_start"])
    schema = dg.TableSchema(columns=[
        dg.TableColumn("platform"), dg.TableColumn("account"),
        dg.TableColumn("cell_window", description="the window's name: its first post's live time (UTC)"),
        dg.TableColumn("window_start", description="first post live (UTC)"),
        dg.TableColumn("window_end", description="last post live (UTC)"),
        dg.TableColumn("posts", "int"), dg.TableColumn("scored_posts", "int", description="past the learning gates"),
    ])
    records = [dg.TableRecord({"platform": str(r.platform), "account": str(r.account), "cell_window": str(r.cell_window),
                               "window_start": stamp(r.window_start), "window_end": stamp(r.window_end),
                               "posts": int(r.posts), "scored_posts": int(r.scored_posts)})
               for r in shown.itertuples(index=False)]
    return dg.MetadataValue.table(records, schema=schema)


def fairness_rule(rules: ScoringRules) -> str:
    w = f"{rules.comparison_window_h:g}"
    return (f"Organic reach is not randomised, so posts are compared only within fair cells: the same platform, "
            f"the same account and an overlapping time window. Per platform and account, posts are taken in "
            f"order of going live; the first opens a window and every post that went live within {w} h of that "
            f"first post joins it; the next post opens a new window. So the posts of a cell went live at most "
            f"{w} h apart. P(best) and the percentiles are computed per cell; the prior of each creative comes from the other creatives of its cell and the other cells of its platform.")


@dg.asset(
    deps=[post_metrics, variants],  # variants: the creative factors of each scored post
    kinds={"python", "duckdb", "parquet"},
    group_name="score",
    owners=OWNERS,
    automation_condition=follow_upstream(),
    description="Step 7, score. Each creative's robust hierarchical Beta-Binomial engagement posterior (spreads "
                "estimated per platform, its own data counted once) with a 95% interval, P(best in cell) over every "
                "creative, velocity and reach percentiles; posts are compared only within fair cells (platform, "
                "account, time window).",
)
def scores(context: dg.AssetExecutionContext, store: StoreResource, loop: LoopSettings) -> dg.MaterializeResult:
    wh = store.warehouse()
    rules = loop.scoring_rules()
    scored = score_posts(latest_per_post(wh, rules.velocity_window_h), rules)
    if wh.exists("variants") and len(scored):
        factors = wh.read("variants", columns=["variant_id", "hook_pattern", "angle", "cta_style", "format", "length_s", "hook"])
        scored = scored.merge(factors, on="variant_id", how="left")
    wh.write("scores", scored)
    cells = fair_cells(scored)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(scored),
        "insufficient_data": int((scored["status"] == "insufficient_data").sum()) if len(scored) else 0,
        "fair_comparisons": fairness_rule(rules),
        "interval": f"er_low..er_high hold the creative's engagement rate with {rules.credible_mass:.0%} "
                    "probability (the hull of its pooled posterior's interval and its own data's)",
        "spread_by_platform": dg.MetadataValue.json(scored.attrs.get("spread", {})),
        "cell_columns": dg.MetadataValue.json(CELL),
        "comparison_window_h": rules.comparison_window_h,
        "fair_cells": len(cells),
        "cells": cells_table(cells) if len(cells) else "none",
        "cells_shown": f"the {min(len(cells), CELLS_SHOWN)} most recent of {len(cells)} cells",
        "top": md_table(scored[[c for c in ("variant_id", "hook", "cell_window", "views", "engagement_rate", "er_low",
                                            "er_high", "p_best", "score", "status") if c in scored]]
                        if len(scored) else scored),
    })


@dg.asset_check(asset=scores, description="One row per post, engagements never above views, counts non-negative.")
def scores_sane(store: StoreResource) -> dg.AssetCheckResult:
    scored = store.warehouse().read("scores")
    if scored.empty:
        return dg.AssetCheckResult(passed=True, metadata={"posts": 0})
    dupes = int(scored["post_id"].duplicated().sum())
    over = int((scored["engagements"] > scored["views"]).sum()) if "engagements" in scored else 0
    negative = int((scored["views"] < 0).sum())
    return dg.AssetCheckResult(passed=dupes == 0 and over == 0 and negative == 0,
                               metadata={"posts": len(scored), "duplicate_posts": dupes, "engagements_over_views": over,
                                         "negative_views": negative})
