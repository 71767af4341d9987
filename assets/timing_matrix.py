"""Step 6b, measure: expected performance by platform x weekday x hour, shrunk where data is thin."""

import dagster as dg

from actp_pipeline.measure.timing_matrix import best_hours, build_timing_matrix
from assets.common import OWNERS
from assets.scores import scores
from resources import StoreResource


@dg.asset(
    deps=[scores],
    kinds={"python", "parquet"},
    group_name="measure",
    owners=OWNERS,
    automation_condition=dg.AutomationCondition.eager(),
    description="Reach by platform x weekday x hour relative to the platform mean (shrinkage toward it where "
                "data is thin); publish_schedule posts in its best hours.",
)
def timing_matrix(context: dg.AssetExecutionContext, store: StoreResource) -> dg.MaterializeResult:
    wh = store.warehouse()
    matrix = build_timing_matrix(wh.read("scores"))
    wh.write("timing_matrix", matrix)
    hours = {p: list(best_hours(matrix, p)) for p in sorted(matrix["platform"].unique())} if len(matrix) else {}
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(matrix),
        "posts": int(matrix.groupby("platform")["n_posts"].sum().sum()) if len(matrix) else 0,
        "best_hours": dg.MetadataValue.json(hours),
    })
