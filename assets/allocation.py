"""Step 8b, graduate: how the next round's posts and ad dollars are spread over the live creatives of each cell."""


import dagster as dg
import pandas as pd

from actp_pipeline.score.allocation import allocate_next_round
from actp_pipeline.score.cells import CELL
from actp_pipeline.stats.bandits import explain_policy
from actp_pipeline.store.invariants import duplicates, engagements_over_views, labels, negative
from assets.automation import OWNERS, follow_checked
from assets.checks import WARN, verdict
from assets.metadata import cell_name, as_json, md_table
from assets.scores import scores
from resources import LoopSettings, StoreResource


@dg.asset(
    deps=[scores],
    kinds={"python", "parquet"},
    group_name="graduate",
    owners=OWNERS,
    automation_condition=follow_checked(),
    description="Step 8b, graduate. Next round per cell: each creative's share of the posting slots and of the daily ad budget, from a "
                "bandit policy (top-two Thompson by default) with an exploration floor, fed back once a day.",
)
def allocation(context: dg.AssetExecutionContext, store: StoreResource, loop: LoopSettings) -> dg.MaterializeResult:
    wh = store.warehouse()
    # seed 0: the shares are expectations over posterior draws, so the seed only fixes their Monte Carlo noise
    plan = allocate_next_round(wh.read("scores"), loop.allocation_policy, posts_budget=loop.max_posts_per_day,
                               ad_budget=loop.allocation_daily_ad_budget, floor=loop.allocation_exploration_floor,
                               seed=0, rule=loop.winner_rule().stopping_rule())  # "auto": earn where it finds a winner
    wh.write("allocation", plan)
    cols = [c for c in (*CELL, "variant_id", "views", "er_mean", "p_best", "sufficient", "share", "next_round_posts",
                        "next_round_ad_budget", "mode") if c in plan]
    most = {}
    if len(plan):
        for key, g in plan.groupby(CELL, sort=True, dropna=False):
            name = cell_name(key)
            top = g[g["share"] >= g["share"].max() - 1e-12]
            most[name] = (f"{', '.join(top['variant_id'].astype(str))}: {g['share'].max():.0%} of the round "
                          f"({int(top['next_round_posts'].iloc[0])} posts, ${top['next_round_ad_budget'].iloc[0]:.2f})")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(plan),
        "policy": loop.allocation_policy,
        "explanation": explain_policy(loop.allocation_policy, loop.allocation_exploration_floor),
        "modes": as_json(plan.drop_duplicates(CELL)["mode"].value_counts().to_dict() if "mode" in plan else {}),
        "budgets_per_cell": as_json({"posts": loop.max_posts_per_day, "ad_dollars": loop.allocation_daily_ad_budget,
                                  "exploration_floor": loop.allocation_exploration_floor}),
        "most_next_round": dg.MetadataValue.md("\n".join(f"- **{k}**: {v}" for k, v in most.items())
                                               or "_no creatives yet_"),
        "shares": md_table(plan[cols] if len(plan) else pd.DataFrame(), limit=60, key=["variant_id"]),
    })


# ------------------------------------------------------------------------------------------------ checks
KEY = [*CELL, "variant_id"]


@dg.asset_check(asset=allocation, description=(
    "Shares are within [0, 1] and sum to 1 per cell. Warns only: the ads orchestrator's guard caps every budget "
    "whatever the shares say."))
def allocation_shares_valid(store: StoreResource) -> dg.AssetCheckResult:
    plan = store.warehouse().read("allocation")
    if plan.empty:
        return verdict({"creatives": 0}, {"cells_not_summing_to_1": [], "shares_out_of_range": []}, severity=WARN)
    cells = [c for c in CELL if c in plan]
    sums = plan.groupby(cells, dropna=False)["share"].sum().reset_index() if cells else \
        pd.DataFrame({"cell": ["all"], "share": [plan["share"].sum()]})
    off = labels(sums, (sums["share"] - 1.0).abs() > 1e-6, cells or ["cell"])
    return verdict({"creatives": len(plan), "cells": len(sums)}, {
        "cells_not_summing_to_1": off,
        "shares_out_of_range": labels(plan, ~plan["share"].between(0, 1), KEY)}, severity=WARN)


@dg.asset_check(asset=allocation, description=(
    "One row per creative and cell; no count or budget negative; engagements never above views. Warns only "
    "(see allocation_shares_valid)."))
def allocation_counts_sane(store: StoreResource) -> dg.AssetCheckResult:
    plan = store.warehouse().read("allocation")
    counts = ["posts", "views", "engagements", "next_round_posts", "next_round_ad_budget"]
    return verdict({"creatives": len(plan)}, {
        "duplicates": duplicates(plan, KEY), "negative_counts": negative(plan, counts, KEY),
        "engagements_over_views": engagements_over_views(plan, KEY, parts=["engagements"])}, severity=WARN)
