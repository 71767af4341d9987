"""Step 7, score: engagement posterior, P(best in cell), velocity and reach per post, within fair cells."""


import dagster as dg
import pandas as pd

from actp_pipeline.measure.latest import latest_per_post
from actp_pipeline.score.cells import CELL, fair_cells
from actp_pipeline.score.scores import ScoringRules, score_posts
from actp_pipeline.store.invariants import duplicates, engagements_over_views, labels, later_than, negative, newest
from assets.automation import OWNERS, follow_upstream
from assets.checks import FUTURE_SKEW, platform_clock, verdict
from assets.metadata import md_table, stamp
from assets.post_metrics import post_metrics
from assets.variants import variants
from resources import LoopSettings, PlatformResource, StoreResource


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


# ------------------------------------------------------------------------------------------------ checks
COUNTS = ["views", "likes", "comments", "shares", "saves", "engagements", "snapshots", "watch_time_s"]
KEY = ["post_id"]


@dg.asset_check(asset=scores, blocking=True, description=(
    "One row per post; no count negative; likes + comments + shares + saves, and the engagements scored, never "
    "above views. Blocking: winners, the allocation and the ads are decided on these rows."))
def scores_sane(store: StoreResource) -> dg.AssetCheckResult:
    scored = store.warehouse().read("scores")
    over = engagements_over_views(scored, KEY) + engagements_over_views(scored, KEY, parts=["engagements"])
    return verdict({"posts": len(scored)}, {"duplicate_posts": duplicates(scored, KEY),
                                            "negative_counts": negative(scored, COUNTS, KEY),
                                            "engagements_over_views": list(dict.fromkeys(over))})


@dg.asset_check(asset=scores, blocking=True, description=(
    "Every probability (P(best), the engagement rate and its interval) is within [0, 1] and each interval holds "
    "its mean. Blocking: winners are promoted on P(best) and the interval."))
def scores_probabilities_valid(store: StoreResource) -> dg.AssetCheckResult:
    scored = store.warehouse().read("scores")
    probs = [c for c in ("p_best", "er_mean", "er_low", "er_high", "engagement_rate") if c in scored]
    if scored.empty or not probs:
        return verdict({"posts": len(scored)}, {"out_of_range": [], "interval_misses_mean": []})
    values = scored[probs].apply(pd.to_numeric, errors="coerce")
    outside = labels(scored, ((values < 0) | (values > 1)).any(axis=1), KEY)
    eps = 1e-9
    misses = (scored["er_low"] > scored["er_mean"] + eps) | (scored["er_mean"] > scored["er_high"] + eps) \
        if {"er_low", "er_mean", "er_high"} <= set(scored) else pd.Series(False, index=scored.index)
    return verdict({"posts": len(scored), "compared": ", ".join(probs)},
                   {"out_of_range": outside, "interval_misses_mean": labels(scored, misses.fillna(False), KEY)})


@dg.asset_check(asset=scores, blocking=True, description=(
    f"No post's last snapshot or go-live time is after the platform's clock (+{FUTURE_SKEW}). Blocking: "
    "velocities and fair cells are built from these times."))
def scores_no_future_snapshots(store: StoreResource, platform: PlatformResource) -> dg.AssetCheckResult:
    scored = store.warehouse().read("scores")
    clock = platform_clock(platform)
    cols = ["last_snapshot_at", "live_at"]
    future = later_than(scored, cols, clock.bound, KEY) if clock.bound is not None else []
    return verdict({"posts": len(scored), **clock.metadata(), "newest_snapshot": stamp(newest(scored, cols))},
                   {"future_timestamps": future})
