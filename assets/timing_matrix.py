"""Step 6b, measure: expected performance by platform x weekday x hour, shrunk where data is thin."""

import dagster as dg
import pandas as pd

from actp_pipeline.measure.timing_matrix import best_hours, build_timing_matrix
from actp_pipeline.store.invariants import duplicates, labels, negative
from assets.automation import OWNERS, follow_checked
from assets.checks import WARN, verdict
from assets.metadata import as_json
from assets.scores import scores
from resources import StoreResource


@dg.asset(
    deps=[scores],
    kinds={"python", "parquet"},
    group_name="measure",
    owners=OWNERS,
    automation_condition=follow_checked(),
    description="Step 6b, measure. Reach by platform x weekday x hour relative to the platform mean (shrinkage toward it where "
                "data is thin); its best hours reach publish_schedule through research_queries.",
)
def timing_matrix(context: dg.AssetExecutionContext, store: StoreResource) -> dg.MaterializeResult:
    wh = store.warehouse()
    matrix = build_timing_matrix(wh.read("scores"))
    wh.write("timing_matrix", matrix)
    hours = {p: list(best_hours(matrix, p)) for p in sorted(matrix["platform"].unique())} if len(matrix) else {}
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(matrix),
        "posts": int(matrix.groupby("platform")["n_posts"].sum().sum()) if len(matrix) else 0,
        "best_hours": as_json(hours),
    })


# ------------------------------------------------------------------------------------------------ checks
CELL = ["platform", "metric", "weekday", "hour"]


@dg.asset_check(asset=timing_matrix, description=(
    "Hours within 0-23, weekdays within 0-6, post counts non-negative. Warns only: publish_schedule falls "
    "back to its preferred hours when the best hours are unusable."))
def timing_matrix_in_range(store: StoreResource) -> dg.AssetCheckResult:
    m = store.warehouse().read("timing_matrix")
    bad = (~m["hour"].between(0, 23) | ~m["weekday"].between(0, 6)) if len(m) else pd.Series(dtype=bool)
    return verdict({"cells": len(m)}, {"out_of_range": labels(m, bad, CELL) if len(m) else [],
                                       "negative_counts": negative(m, ["n_posts"], CELL)}, severity=WARN)


@dg.asset_check(asset=timing_matrix, description="One cell per platform, metric, weekday and hour. Warns only.")
def timing_matrix_cells_unique(store: StoreResource) -> dg.AssetCheckResult:
    m = store.warehouse().read("timing_matrix")
    return verdict({"cells": len(m)}, {"duplicate_cells": duplicates(m, CELL)}, severity=WARN)
