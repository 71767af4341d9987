"""Step 6b, measure: expected performance by platform x weekday x hour, shrunk where data is thin."""

import dagster as dg

from actp_pipeline.measure.timing_matrix import best_hours, build_timing_matrix
from assets.automation import OWNERS
from assets.metadata import as_json
from assets.scores import scores
from resources import StoreResource


@dg.asset(
    deps=[scores],
    kinds={"python", "parquet"},
    group_name="measure",
    owners=OWNERS,
    automation_condition=dg.AutomationCondition.eager(),
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


@dg.asset_check(asset=timing_matrix, description="Hours within 0-23, weekdays within 0-6, post counts non-negative.")
def timing_matrix_in_range(store: StoreResource) -> dg.AssetCheckResult:
    m = store.warehouse().read("timing_matrix")
    bad = int((~m["hour"].between(0, 23) | ~m["weekday"].between(0, 6) | (m["n_posts"] < 0)).sum()) if len(m) else 0
    return dg.AssetCheckResult(passed=bad == 0, metadata={"cells": len(m), "out_of_range": bad})
