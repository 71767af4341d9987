"""Step 1, research: competitor posts and ads of a day, validated, as a partition (a range in one run)."""


import datetime as dt

import dagster as dg
import pandas as pd
from pydantic import Field

from actp_pipeline.publish.publisher import PlatformError
from actp_pipeline.research.market_items import SHRINK_LIMIT, store_day
from assets.automation import DAILY, OWNERS, when_missing
from assets.metadata import md_table
from resources import PlatformResource, StoreResource


class MarketItemsConfig(dg.Config):
    replace_smaller: bool = Field(False, description=(
        f"Replace a stored day even when the new answer is empty or has fewer than {SHRINK_LIMIT:.0%} of its "
        "rows (off: such a day keeps its previous version and the run warns)."))


@dg.asset(
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),  # a partition range is one run, the days collected in turn
    kinds={"python", "parquet"},
    group_name="research",
    owners=OWNERS,
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    pool="research",  # one research run at a time (the run queue's pools): a backfill never crowds out renders
    # hourly via research_schedule; a missing current day is also collected at once, so a fresh
    # deployment starts moving without waiting for the hour (a failed attempt waits for the schedule)
    automation_condition=dg.AutomationCondition.in_latest_time_window() & when_missing(),
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=3), warn_window=dt.timedelta(hours=2)),
    description="Step 1, research. Competitor posts (trending) and ads (ad library) of one day, validated; bad items "
                "are reported and skipped. A day whose new answer is empty or much smaller than the stored one keeps "
                "the stored one (and warns) unless run with replace_smaller. A partition range (backfill) is "
                "collected in one run.",
)
def market_items(context: dg.AssetExecutionContext, config: MarketItemsConfig, store: StoreResource,
                 platform: PlatformResource) -> dg.MaterializeResult:
    wh = store.warehouse()
    days, results, by_source = context.partition_keys, [], []
    with platform.client() as client:
        for date in days:
            try:
                day = store_day(wh, client, date, replace_smaller=config.replace_smaller)
            except PlatformError as e:
                if e.retryable:
                    raise  # the retry policy tries again (a platform that is down or busy)
                # a definitive refusal (a wrong key, a bad request): trying again changes nothing
                raise dg.Failure(description=f"{date}: {e}", allow_retries=False) from None
            results.append(day)
            if day.rejected:
                context.log.warning(f"{len(day.rejected)} malformed market items skipped for {date}")
            if day.warning():
                context.log.warning(day.warning())
            if len(day.items) and not day.kept_previous:
                by_source.append(day.items.groupby(["source", "platform"]).size().rename("items").reset_index()
                                 .assign(day=date))
    rejected_all = [r for day in results for r in day.rejected]
    kept = [day for day in results if day.kept_previous]
    sources = pd.concat(by_source, ignore_index=True) if by_source else pd.DataFrame()
    path = results[-1].path or wh.root / "market_items" / days[-1]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": sum(day.stored_rows for day in results),
        "days": days[0] if len(days) == 1 else f"{days[0]} .. {days[-1]} ({len(days)} days)",
        "new_rows": sum(len(day.items) for day in results),
        "previous_rows": sum(day.previous_rows for day in results),
        "kept_previous": bool(kept),
        **({"warning": "\n".join(day.warning() for day in kept)} if kept else {}),
        "rejected": len(rejected_all),
        "rejected_items": md_table(pd.DataFrame([r.as_dict() for r in rejected_all])),
        "by_source": md_table(sources[["day", "source", "platform", "items"]] if len(sources) else sources),
        "path": dg.MetadataValue.path(str(path if len(days) == 1 else wh.root / "market_items")),
    })


@dg.asset_check(asset=market_items, description="Every collected item has an id, unique within its day.")
def market_items_ids_unique(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    wh = store.warehouse()
    days = wh.partitions("market_items")[-1:]
    items = wh.read("market_items", partitions=days) if days else pd.DataFrame(columns=["item_id"])
    dupes = int(items["item_id"].duplicated().sum()) if len(items) else 0
    return dg.AssetCheckResult(passed=dupes == 0 and not items["item_id"].isna().any(),
                               metadata={"day": days[0] if days else "none", "items": len(items), "duplicates": dupes})
