"""Step 7b, score: which creative factors drive engagement, with intervals (what the next round uses)."""

import dagster as dg
import pandas as pd

from actp_pipeline.score.factor_effects import (
    EFFECT_COLUMNS,
    UNMEASURED_HALF_WIDTH,
    estimate_factor_effects,
    generation_weights,
)
from assets.automation import OWNERS
from assets.metadata import as_json, md_table
from assets.scores import scores
from resources import StoreResource


@dg.asset(
    deps=[scores],
    kinds={"python", "parquet"},
    group_name="score",
    owners=OWNERS,
    automation_condition=dg.AutomationCondition.eager(),
    description="Step 7b, score. Lift of each factor level on engagement (a mixed model on the engagement logit: fair cells "
                "as fixed effects, a random effect per creative), with 95% intervals (the level is in every label), and the "
                "generation weights it implies (the next round reads them through research_queries).",
)
def factor_effects(context: dg.AssetExecutionContext, store: StoreResource) -> dg.MaterializeResult:
    wh = store.warehouse()
    scored = wh.read("scores")
    # no scores yet (a day whose uploads all failed): an empty table WITH its columns, which readers can open
    effects = estimate_factor_effects(scored) if len(scored) else pd.DataFrame(columns=EFFECT_COLUMNS)
    wh.write("factor_effects", effects)
    reason = effects.attrs.get("reason", "no scores yet") if len(scored) else "no scores yet"
    weights = generation_weights(effects) if len(effects) else {}
    meta = {"dagster/row_count": len(effects), "generation_weights": as_json(weights)}
    if len(effects):
        unmeasured = (effects["high"] - effects["low"]) / 2 > UNMEASURED_HALF_WIDTH
        best = effects.assign(_unmeasured=unmeasured).sort_values(["_unmeasured", "effect"], ascending=[True, False])
        meta["findings"] = dg.MetadataValue.md("\n".join(f"- {label}" for label in best["label"].head(10)))
        meta["effects"] = md_table(effects[["factor", "level", "effect", "low", "high", "interval_level", "n_posts"]],
                                   limit=40)
    else:
        meta["reason"] = reason
    return dg.MaterializeResult(metadata=meta)


@dg.asset_check(asset=factor_effects, description="Each effect lies within its interval; one row per factor level.")
def factor_effects_consistent(store: StoreResource) -> dg.AssetCheckResult:
    e = store.warehouse().read("factor_effects")
    if e.empty:
        return dg.AssetCheckResult(passed=True, metadata={"effects": 0})
    outside = int(((e["effect"] < e["low"] - 1e-9) | (e["effect"] > e["high"] + 1e-9)).sum())
    dupes = int(e.duplicated(["factor", "level"]).sum())
    return dg.AssetCheckResult(passed=outside == 0 and dupes == 0,
                               metadata={"effects": len(e), "outside_interval": outside, "duplicate_levels": dupes})
