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
from actp_pipeline.iterate.round_changes import WEIGHT_MOVE, changes_summary, round_changes
from actp_pipeline.store.invariants import duplicates, labels, negative
from assets.automation import OWNERS
from assets.checks import WARN, verdict
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
                "from the allocation (read by publish_schedule). The edge back to the start of the loop. The metadata "
                "says what changed since the last round and why: new and dropped queries, and generation weights that "
                f"moved by more than {WEIGHT_MOVE:.0%} (a level's share of its factor's draws) with the factor effect "
                "behind each move.",
)
def research_queries(context: dg.AssetExecutionContext, store: StoreResource, loop: LoopSettings) -> dg.MaterializeResult:
    wh = store.warehouse()
    previous = wh.read(TABLE) if wh.exists(TABLE) else None  # the last round's, before this one replaces it
    effects = wh.read("factor_effects")
    rows = next_round(wh.read("winners"), effects,
                      wh.read("timing_matrix") if wh.exists("timing_matrix") else None,
                      wh.read("allocation") if wh.exists("allocation") else None,
                      loop.topic, [t.platform for t in loop.target_list()])
    changes = round_changes(previous, rows, effects)
    wh.write(TABLE, rows)
    counts = rows.groupby("kind").size() if len(rows) else pd.Series(dtype=int)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(rows),
        **{kind: int(counts.get(kind, 0)) for kind in (QUERY, WEIGHT, HOUR, REPEAT)},
        "queries": md_table(rows.loc[rows["kind"] == QUERY, ["platform", "account", "text"]]),
        "posting_hours": ", ".join(f"{p}: {list(h)}" for p, h in hours_from(rows).items()) or "preferred defaults",
        "what_changed": changes_summary(changes, first_round=previous is None),
        "changes_since_last_round": md_table(changes, limit=40),
        "feeds": "variants (generation weights), publish_schedule (hours, repeat posts); the research queries "
                 "are recorded for the next research round",
    })


# ------------------------------------------------------------------------------------------------ checks
ROW = ["kind", "platform", "account", "cell_window", "factor", "level", "variant_id", "text"]  # a row's identity


@dg.asset_check(asset=research_queries, description=(
    "Generation weights sum to 1 per factor; posting hours are within 0-23; repeat posts are >= 0. Warns only: "
    "variants and publish_schedule fall back to their defaults for inputs they cannot use."))
def research_queries_consistent(store: StoreResource) -> dg.AssetCheckResult:
    rows = store.warehouse().read(TABLE)
    sums = {f: round(sum(levels.values()), 6) for f, levels in weights_from(rows).items()}
    hours = rows[rows["kind"] == HOUR] if len(rows) else rows
    late = labels(hours, ~hours["value"].between(0, 23), ["platform", "level"]) if len(hours) else []
    repeats = negative(repeats_from(rows), ["next_round_posts"], ["variant_id"]) if len(rows) else []
    return verdict({"factors": len(sums), "rows": len(rows)}, {
        "weights_not_summing_to_1": [f"{f}: {s:g}" for f, s in sums.items() if abs(s - 1.0) > 1e-6],
        "hours_out_of_range": late, "negative_repeat_posts": repeats}, severity=WARN)


@dg.asset_check(asset=research_queries, description="Each input of the next round appears once. Warns only.")
def research_queries_ids_unique(store: StoreResource) -> dg.AssetCheckResult:
    rows = store.warehouse().read(TABLE)
    return verdict({"rows": len(rows)}, {"duplicates": duplicates(rows, ROW)}, severity=WARN)
