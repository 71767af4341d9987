"""Step 8a, graduate: winners by evidence, with the reason for every creative that did not win."""


import dagster as dg

from actp_pipeline.winners import decide
from assets.common import OWNERS, md_table
from assets.scores import scores
from resources import LoopSettings, StoreResource


@dg.asset(
    deps=[scores],
    kinds={"python", "parquet"},
    group_name="graduate",
    owners=OWNERS,
    automation_condition=dg.AutomationCondition.eager(),
    description="Creatives that beat their cell median by the margin with the configured confidence, after the exposure gates.",
)
def winners(context: dg.AssetExecutionContext, store: StoreResource, loop: LoopSettings) -> dg.MaterializeResult:
    wh = store.warehouse()
    rule = loop.winner_rule()
    decided = decide(wh.read("scores"), rule)
    won = decided[decided["decision"] == "winner"] if len(decided) else decided
    wh.write("winners", won)
    wh.write("decisions", decided)
    cols = [c for c in ("variant_id", "hook", "views", "er_mean", "p_beats_median", "decision", "reason") if c in decided]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(won),
        "rule": dg.MetadataValue.json(rule.__dict__),
        "decisions": decided.groupby("decision").size().to_dict() if len(decided) else {},
        "winners": md_table(won[cols] if len(won) else won),
        "not_winning": md_table(decided[decided["decision"] != "winner"][cols] if len(decided) else decided),
    })
