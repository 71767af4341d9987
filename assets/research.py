"""Step 1, research: one day of competitor posts and ads, validated, as a partition."""


import dagster as dg
import pandas as pd

from actp_pipeline.research.market_items import collect
from assets.common import DAILY, OWNERS, md_table, when_missing
from resources import PlatformResource, StoreResource


@dg.asset(
    partitions_def=DAILY,
    kinds={"python", "parquet"},
    group_name="research",
    owners=OWNERS,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    # hourly via research_schedule; a missing current day is also collected at once, so a fresh
    # deployment starts moving without waiting for the hour (a failed attempt waits for the schedule)
    automation_condition=dg.AutomationCondition.in_latest_time_window() & when_missing(),
    description="Competitor posts (trending) and ads (ad library) of one day, validated; bad items are reported and skipped.",
)
def market_items(context: dg.AssetExecutionContext, store: StoreResource, platform: PlatformResource) -> dg.MaterializeResult:
    date = context.partition_key
    with platform.client() as client:
        items, rejected = collect(client, date)
    path = store.warehouse().write("market_items", items, partition=date)
    if rejected:
        context.log.warning(f"{len(rejected)} malformed market items skipped for {date}")
    by_source = items.groupby(["source", "platform"]).size().rename("items").reset_index() if len(items) else pd.DataFrame()
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(items),
        "rejected": len(rejected),
        "rejected_items": md_table(pd.DataFrame([r.as_dict() for r in rejected])),
        "by_source": md_table(by_source),
        "path": dg.MetadataValue.path(str(path)),
    })
