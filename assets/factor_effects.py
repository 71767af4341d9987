"""Step 7b, score: which creative factors drive engagement, with intervals (what the next round uses)."""

import dagster as dg
import pandas as pd

from actp_pipeline.score.factor_effects import estimate_factor_effects, generation_weights
from assets.common import OWNERS, md_table
from assets.scores import scores
from resources import StoreResource


@dg.asset(
    deps=[scores],
    kinds={"python", "parquet"},
    group_name="score",
    owners=OWNERS,
    automation_condition=dg.AutomationCondition.eager(),
    description="Lift of each factor level on engagement (ridge on the engagement logit within fair cells), "
                "with 90% intervals, and the generation weights it implies.",
)
def factor_effects(context: dg.AssetExecutionContext, store: StoreResource) -> dg.MaterializeResult:
    wh = store.warehouse()
    scored = wh.read("scores")
    effects = estimate_factor_effects(scored) if len(scored) else pd.DataFrame()
    wh.write("factor_effects", effects)
    reason = effects.attrs.get("reason", "no scores yet") if len(scored) else "no scores yet"
    weights = generation_weights(effects) if len(effects) else {}
    meta = {"dagster/row_count": len(effects), "generation_weights": dg.MetadataValue.json(weights)}
    if len(effects):
        best = effects.sort_values("effect", ascending=False)
        meta["findings"] = dg.MetadataValue.md("\n".join(f"- {label}" for label in best["label"].head(10)))
        meta["effects"] = md_table(effects[["factor", "level", "effect", "low", "high", "n_posts"]], limit=40)
    else:
        meta["reason"] = reason
    return dg.MaterializeResult(metadata=meta)
