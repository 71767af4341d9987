"""Step 8b, graduate: how the next round's posts and ad dollars are spread over the live creatives of each cell."""


import dagster as dg
import pandas as pd

from actp_pipeline.score.allocation import allocate_next_round, explain_policy
from actp_pipeline.score.scores import CELL
from assets.common import OWNERS, cell_name, md_table
from assets.scores import scores
from resources import LoopSettings, StoreResource


@dg.asset(
    deps=[scores],
    kinds={"python", "parquet"},
    group_name="graduate",
    owners=OWNERS,
    automation_condition=dg.AutomationCondition.eager(),
    description="Next round per cell: each creative's share of the posting slots and of the daily ad budget, from a "
                "bandit policy (top-two Thompson by default) with an exploration floor, fed back once a day.",
)
def allocation(context: dg.AssetExecutionContext, store: StoreResource, loop: LoopSettings) -> dg.MaterializeResult:
    wh = store.warehouse()
    # seed 0: the shares are expectations over posterior draws, so the seed only fixes their Monte Carlo noise
    plan = allocate_next_round(wh.read("scores"), loop.allocation_policy, posts_budget=loop.max_posts_per_day,
                               ad_budget=loop.daily_ad_budget, floor=loop.exploration_floor, seed=0)
    wh.write("allocation", plan)
    cols = [c for c in (*CELL, "variant_id", "views", "er_mean", "p_best", "sufficient", "share", "next_round_posts",
                        "next_round_ad_budget") if c in plan]
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
        "explanation": explain_policy(loop.allocation_policy, loop.exploration_floor),
        "budgets_per_cell": dg.MetadataValue.json({"posts": loop.max_posts_per_day, "ad_dollars": loop.daily_ad_budget,
                                                   "exploration_floor": loop.exploration_floor}),
        "most_next_round": dg.MetadataValue.md("\n".join(f"- **{k}**: {v}" for k, v in most.items())
                                               or "_no creatives yet_"),
        "shares": md_table(plan[cols] if len(plan) else pd.DataFrame(), limit=60),
    })
