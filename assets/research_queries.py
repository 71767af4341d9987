"""Step 10, iterate: what this round learned, written as the next round's inputs.

The loop closes here. Winners, factor effects, the timing matrix and the allocation are declared
dependencies of `research_queries`; the next round reads them only through this one table: `variants`
its generation weights, `publish_schedule` its posting hours and repeat posts. Those reads cannot be
asset dependencies (the asset graph has no cycles), so each consumer names this asset in its metadata
(`next_round_from`) and reads the newest round written before it ran.
"""

import dagster as dg
import pandas as pd

from actp_pipeline.iterate.research_queries import (HOUR, QUERY, REPEAT, TABLE, WEIGHT, hours_from, next_round,
                                                    repeats_from, weights_from)
from assets.automation import OWNERS
from assets.metadata import md_table
from resources import LoopSettings, StoreResource

NEXT_ROUND_FROM = {"next_round_from": dg.MetadataValue.asset(dg.AssetKey(TABLE))}  # for the consumers' definitions


@dg.asset(
    # by key: the consumers import NEXT_ROUND_FROM from here, and those assets sit upstream of them
    deps=[dg.AssetKey(k) for k in ("winners", "factor_effects", "timing_matrix", "allocation")],
    kinds={"python", "parquet"},
    group_name="iterate",
    owners=OWNERS,
    automation_condition=dg.AutomationCondition.eager(),
    description="Step 10, iterate. The next round's inputs: research queries from the winners, generation weights "
                "from the factor effects (read by variants), posting hours from the timing matrix and repeat posts "
                "from the allocation (read by publish_schedule). The edge back to the start of the loop.",
)
def research_queries(context: dg.AssetExecutionContext, store: StoreResource, loop: LoopSettings) -> dg.MaterializeResult:
    wh = store.warehouse()
    rows = next_round(wh.read("winners"), wh.read("factor_effects"),
                      wh.read("timing_matrix") if wh.exists("timing_matrix") else None,
                      wh.read("allocation") if wh.exists("allocation") else None,
                      loop.topic, [t.platform for t in loop.target_list()])
    wh.write(TABLE, rows)
    counts = rows.groupby("kind").size() if len(rows) else pd.Series(dtype=int)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(rows),
        **{kind: int(counts.get(kind, 0)) for kind in (QUERY, WEIGHT, HOUR, REPEAT)},
        "queries": md_table(rows.loc[rows["kind"] == QUERY, ["platform", "account", "text"]]),
        "posting_hours": ", ".join(f"{p}: {list(h)}" for p, h in hours_from(rows).items()) or "preferred defaults",
        "feeds": "variants (generation weights), publish_schedule (hours, repeat posts); the research queries "
                 "are recorded for the next research round",
    })


@dg.asset_check(asset=research_queries, description="Generation weights sum to 1 per factor; repeat posts are >= 0.")
def research_queries_consistent(store: StoreResource) -> dg.AssetCheckResult:
    rows = store.warehouse().read(TABLE)
    sums = {f: round(sum(levels.values()), 6) for f, levels in weights_from(rows).items()}
    negative = int((repeats_from(rows)["next_round_posts"] < 0).sum()) if len(rows) else 0
    bad = {f: s for f, s in sums.items() if abs(s - 1.0) > 1e-6}
    return dg.AssetCheckResult(passed=not bad and negative == 0,
                               metadata={"factors": len(sums), "weights_not_summing_to_1": len(bad),
                                         "negative_repeat_posts": negative})
