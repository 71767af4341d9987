"""Step 8a, graduate: at most one winner per cell, by evidence, with the reason for every creative that did not win."""

from dataclasses import asdict

import dagster as dg
import pandas as pd

from actp_pipeline.score.cells import CELL
from actp_pipeline.score.winners import decide
from actp_pipeline.store.invariants import duplicates, labels
from assets.automation import OWNERS, follow_checked
from assets.checks import WARN, verdict
from assets.metadata import cell_name, as_json, md_table
from assets.scores import scores
from resources import LoopSettings, StoreResource

CONTENDERS = 3  # leading creatives shown per cell


_SHARED = dict(deps=[scores], kinds={"python", "parquet"}, group_name="graduate", owners=OWNERS,
               automation_condition=follow_checked())


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


# ------------------------------------------------------------------------------------------------ checks
DECISIONS = {"winner", "not_yet", "insufficient_data"}


@dg.asset_check(asset="winners", description=(
    "At most one winning creative per fair cell. Warns only: the ads orchestrator re-tests each candidate "
    "with its own stopping rule and guard before a dollar moves."))
def winners_one_per_cell(store: StoreResource) -> dg.AssetCheckResult:
    won = store.warehouse().read("winners")
    cells = [c for c in CELL if c in won]
    per_creative = won.drop_duplicates([*cells, "variant_id"]) if len(won) else won
    return verdict({"winners": len(won), "cells": int(per_creative.drop_duplicates(cells).shape[0]) if cells else 0},
                   {"cells_with_several": duplicates(per_creative, cells)}, severity=WARN)


@dg.asset_check(asset="decisions", description=(
    "One decision per scored post, each one of winner, not_yet, insufficient_data. Warns only (see "
    "winners_one_per_cell)."))
def decisions_one_per_post(store: StoreResource) -> dg.AssetCheckResult:
    decided = store.warehouse().read("decisions")
    unknown = labels(decided, ~decided["decision"].isin(DECISIONS), ["post_id"]) if len(decided) else []
    return verdict({"posts": len(decided)}, {"duplicate_posts": duplicates(decided, ["post_id"]),
                                             "unknown_decisions": unknown}, severity=WARN)
