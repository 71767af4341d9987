"""Step 8a, graduate: at most one winner per cell, by evidence, with the reason for every creative that did not win."""

from dataclasses import asdict

import dagster as dg
import pandas as pd

from actp_pipeline.score.cells import CELL
from actp_pipeline.score.winners import decide
from assets.automation import OWNERS
from assets.metadata import cell_name, as_json, md_table
from assets.scores import scores
from resources import LoopSettings, StoreResource

CONTENDERS = 3  # leading creatives shown per cell


_SHARED = dict(deps=[scores], kinds={"python", "parquet"}, group_name="graduate", owners=OWNERS,
               automation_condition=dg.AutomationCondition.eager())


@dg.multi_asset(
    name="winners",
    specs=[
        dg.AssetSpec("decisions", **_SHARED, description="Step 8a, graduate. Every scored post with its creative's "
                     "decision in its cell (winner, not_yet, insufficient_data) and the reason; ad_plan picks its "
                     "candidates from it."),
        dg.AssetSpec("winners", **_SHARED, description="Step 8a, graduate. The creative of each cell that is the best "
                     "that beats the best of the others by the margin with the configured confidence (P(rate > "
                     "1.05 x the best other rate) >= 0.99 by default) and passed the exposure gates; no winner on "
                     "ties or thin data, with the reason. The same rule decides paid ad sets."),
    ],
)
def winners(context: dg.AssetExecutionContext, store: StoreResource, loop: LoopSettings):
    wh = store.warehouse()
    rule = loop.winner_rule()
    decided = decide(wh.read("scores"), rule)
    won = decided[decided["decision"] == "winner"]
    wh.write("winners", won)
    wh.write("decisions", decided)
    cell = CELL
    cols = [c for c in (*cell, "variant_id", "hook", "variant_views", "variant_er_mean", "p_best", "p_beats_others",
                        "decision", "reason") if c in decided]
    per_variant = decided.drop_duplicates([*cell, "variant_id"]) if len(decided) else decided
    contenders = (per_variant.sort_values([*cell, "p_best"], ascending=[True] * len(cell) + [False])
                  .groupby(cell, sort=True, dropna=False).head(CONTENDERS) if len(per_variant) else per_variant)
    cells = per_variant.drop_duplicates(cell)
    verdicts = {cell_name(tuple(r[c] for c in cell)): r["cell_reason"] for _, r in cells.iterrows()}
    no_winner = {name: why for name, why in verdicts.items() if not why.startswith("winner")}
    yield dg.MaterializeResult(asset_key="decisions", metadata={
        "dagster/row_count": len(decided), "creatives": len(per_variant), "cells": len(verdicts)})
    yield dg.MaterializeResult(asset_key="winners", metadata={
        "dagster/row_count": len(won),
        "rule": as_json(asdict(rule)),
        "decisions": {str(k): int(v) for k, v in per_variant.groupby("decision").size().items()} if len(per_variant) else {},
        "cells": len(verdicts),
        "winners": md_table(won.drop_duplicates([*cell, "variant_id"])[cols] if len(won) else pd.DataFrame(),
                            key=["variant_id"]),
        "contenders": md_table(contenders[cols] if len(contenders) else pd.DataFrame(), limit=CONTENDERS * 10,
                               key=["variant_id"]),
        "why_no_winner": dg.MetadataValue.md(
            "\n".join(f"- **{name}**: {why}" for name, why in no_winner.items()) if no_winner else
            "_every cell has a winner_" if verdicts else "_no scored posts yet_"),
    })


@dg.asset_check(asset="winners", description="At most one winner per fair cell.")
def winners_one_per_cell(store: StoreResource) -> dg.AssetCheckResult:
    won = store.warehouse().read("winners")
    if won.empty:
        return dg.AssetCheckResult(passed=True, metadata={"winners": 0})
    cells = [c for c in CELL if c in won]
    extra = int(won.drop_duplicates([*cells, "variant_id"]).duplicated(cells).sum())
    return dg.AssetCheckResult(passed=extra == 0, metadata={"winners": len(won), "cells_with_several": extra})
