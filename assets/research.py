"""Step 1, research: competitor posts and ads of a day from each account's sources, validated, deduped
across sources, as a partition (a range in one run)."""


import datetime as dt

import dagster as dg
import pandas as pd
from pydantic import Field

from actp_pipeline.iterate.research_queries import TABLE as NEXT_ROUND, queries_from
from actp_pipeline.research.market_items import SHRINK_LIMIT, DayResult, store_days
from actp_pipeline.research.sources.base import SourceError
from actp_pipeline.research.sources.config import ConfigError, distinct
from actp_pipeline.store.invariants import (duplicates, engagements_over_views, labels, missing, negative,
                                            newest)
from assets.automation import DAILY, OWNERS, when_missing
from assets.checks import FUTURE_SKEW, WARN, platform_clock, run_days, verdict
from assets.metadata import md_table, stamp
from resources import PlatformResource, StoreResource
from resources.research import ResearchSourcesResource


class MarketItemsConfig(dg.Config):
    replace_smaller: bool = Field(False, description=(
        f"Replace a stored day even when the new answer is empty or has fewer than {SHRINK_LIMIT:.0%} of its "
        "rows (off: such a day keeps its previous version and the run warns)."))


def _day_frames(day: DayResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per source of one day: valid rows fetched (before dedupe), and the failures."""
    counts = pd.DataFrame([{"day": day.day, "source": name, "items": n} for name, n in day.counts.items()])
    errors = pd.DataFrame([{"day": day.day, "source": name, "retryable": e.retryable, "error": str(e)[:300]}
                           for name, e in day.errors.items()])
    return counts, errors


def _metadata(results: list[DayResult], days: list[str], wh, accounts: dict) -> dict:
    rejected_all = [r for day in results for r in day.rejected]
    warnings = [w for day in results for w in (day.failed_sources(), day.warning()) if w]
    by_source = [day.items.groupby(["source", "platform"]).size().rename("items").reset_index().assign(day=day.day)
                 for day in results if len(day.items) and not day.kept_previous]
    sources = pd.concat(by_source, ignore_index=True) if by_source else pd.DataFrame()
    frames = [_day_frames(day) for day in results]
    counts = pd.concat([c for c, _ in frames], ignore_index=True)
    errors = pd.concat([e for _, e in frames], ignore_index=True)
    path = results[-1].path or wh.root / "market_items" / days[-1]
    return {
        "dagster/row_count": sum(day.stored_rows for day in results),
        "days": days[0] if len(days) == 1 else f"{days[0]} .. {days[-1]} ({len(days)} days)",
        "new_rows": sum(len(day.items) for day in results),
        "previous_rows": sum(day.previous_rows for day in results),
        "kept_previous": any(day.kept_previous for day in results),
        **({"warning": "\n".join(warnings)} if warnings else {}),
        "rejected": len(rejected_all),
        "rejected_items": md_table(pd.DataFrame([r.as_dict() for r in rejected_all])),
        "accounts": dg.MetadataValue.json({a: [s.name for s in srcs] for a, srcs in accounts.items()}),
        "fetched_per_source": md_table(counts),
        "merged_duplicates": sum(day.merged for day in results),
        "failed_sources": sorted({name for day in results for name in day.errors}),
        "source_errors": md_table(errors),
        "by_source": md_table(sources[["day", "source", "platform", "items"]] if len(sources) else sources),
        "path": dg.MetadataValue.path(str(path if len(days) == 1 else wh.root / "market_items")),
    }


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
    metadata={"queries_from": dg.MetadataValue.asset(dg.AssetKey(NEXT_ROUND))},
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=3), warn_window=dt.timedelta(hours=2)),
    description="Step 1, research. Competitor posts and ads of one day from every account's research sources "
                "(ACTP_RESEARCH_SOURCES; by default the platform host's trending feed and ad library), validated "
                "(bad items reported and skipped) and deduped across sources by id and content hash. A source "
                "that fails while others answer leaves a partial day (its stored rows kept) and a loud warning. "
                "A day whose new answer is empty or much smaller than the stored one keeps the stored one (and "
                "warns) unless run with replace_smaller. A partition range (backfill) is collected in one run.",
)
def market_items(context: dg.AssetExecutionContext, config: MarketItemsConfig, store: StoreResource,
                 platform: PlatformResource, research: ResearchSourcesResource) -> dg.MaterializeResult:
    wh = store.warehouse()
    days, results = context.partition_keys, []
    with platform.client() as client:
        try:
            accounts = research.sources(client)
        except ConfigError as e:  # a wrong config stays wrong: no retry
            raise dg.Failure(description=f"research sources: {e}", allow_retries=False) from None
        sources = distinct(accounts)
        # the loop's edge back to its start: the previous round's winners as search queries (research_queries
        # is read, not depended on: the asset graph has no cycles)
        queries = queries_from(wh.read(NEXT_ROUND)) if wh.exists(NEXT_ROUND) else []
        try:  # the days in turn, each day's checking and writing overlapping the next day's fetching
            for day in store_days(wh, sources, days, replace_smaller=config.replace_smaller, queries=queries):
                results.append(day)
                if day.rejected:
                    context.log.warning(f"{len(day.rejected)} malformed market items skipped for {day.day}")
                for line in (day.failed_sources(), day.warning()):
                    if line:
                        context.log.warning(line)
        except SourceError as e:  # every source failed for the first day not in results (the ones before it are stored)
            if e.retryable:
                raise  # the retry policy tries again (a source that is down or busy)
            # a definitive refusal (a wrong key, a bad request, a disallowed page): trying again changes nothing
            raise dg.Failure(description=f"{days[len(results)]}: research source {e.source} failed: {e}",
                             allow_retries=False) from None
    return dg.MaterializeResult(metadata={**_metadata(results, days, wh, accounts),
                                          "research_queries": dg.MetadataValue.json(queries)})


# ------------------------------------------------------------------------------------------------ checks
KEY = ["platform", "item_id"]  # an item is its platform's id (validation keeps the first of a repeated one)
COUNTS = ["views", "likes", "comments", "shares", "saves", "impressions", "engagements", "spend_usd"]
# A day's research holds at least this share of the previous stored day's items on each platform. Markets move
# by tens of percent from day to day (weekends, holidays), but a platform whose items halve overnight is a
# collapsed feed (an empty or truncated page, a changed schema, a lost permission), not a quiet market: the
# same bar market_items uses before it lets a new answer replace a stored day (SHRINK_LIMIT).
MIN_DAY_OVER_DAY = SHRINK_LIMIT
VOLUME_MIN_BASE = 20  # a platform with fewer items the day before is too thin to call a collapse


def _days(context: dg.AssetCheckExecutionContext, store: StoreResource) -> tuple[pd.DataFrame, list[str], dict]:
    """The rows of the days this check looks at (the run's, else the newest), and what it says about them."""
    wh = store.warehouse()
    days, which = run_days(context, wh.partitions("market_items"))
    items = wh.read("market_items", partitions=days) if days else pd.DataFrame(columns=[*KEY, "posted_at"])
    return items, days, {"days": ", ".join(days) or "none stored", "looked_at": which, "items": len(items)}


@dg.asset_check(asset=market_items, blocking=True, description=(
    "Every item has an id, unique per platform within its day (the run's days, else the newest). Blocking: "
    "blueprints count items, and a repeated item is counted twice."))
def market_items_ids_unique(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    items, days, compared = _days(context, store)
    by_day = items.assign(day=items["collected_for"]) if "collected_for" in items else items
    return verdict(compared, {"duplicates": duplicates(by_day, ["day", *KEY]),
                              "missing_ids": missing(items, KEY, ["platform", "url"])})


@dg.asset_check(asset=market_items, blocking=True, description=(
    "No count is negative and likes + comments + shares + saves never exceed views, per item of the run's days "
    "(else the newest). Blocking: blueprints are ranked on these engagement rates."))
def market_items_counts_sane(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    items, days, compared = _days(context, store)
    return verdict(compared, {"negative_counts": negative(items, COUNTS, KEY),
                              "engagements_over_views": engagements_over_views(items, KEY)})


@dg.asset_check(asset=market_items, description=(
    f"No item was posted after the platform's clock (+{FUTURE_SKEW}) or, whichever is later, after the end of "
    "the day it was collected for (a day's feed may list that whole day). Warns only: blueprints do not read "
    "posting times, but a future one means a feed in the wrong time zone."))
def market_items_no_future_posts(context: dg.AssetCheckExecutionContext, store: StoreResource,
                                 platform: PlatformResource) -> dg.AssetCheckResult:
    items, days, compared = _days(context, store)
    clock = platform_clock(platform)
    if clock.bound is None or items.empty:
        return verdict({**compared, **clock.metadata()}, {"future_posts": []}, severity=WARN)
    # per item: the later of the platform's clock and the end of the day it was collected for
    day_end = pd.to_datetime(items["collected_for"]) + pd.Timedelta(days=1) + FUTURE_SKEW
    future = labels(items, pd.to_datetime(items["posted_at"]) > day_end.clip(lower=clock.bound), KEY)
    return verdict({**compared, **clock.metadata(), "newest_post": stamp(newest(items, ["posted_at"]))},
                   {"future_posts": future}, severity=WARN)


def volume_changes(wh, days: list[str]) -> pd.DataFrame:
    """Per day and platform: the items of that day and of the previous stored day, and their ratio."""
    stored, rows = wh.partitions("market_items"), []
    for day in days:
        earlier = [d for d in stored if d < day]
        if not earlier:
            continue
        now = wh.read("market_items", partitions=[day], columns=["platform"])["platform"].value_counts()
        before = wh.read("market_items", partitions=[earlier[-1]], columns=["platform"])["platform"].value_counts()
        for plat in sorted(set(before.index) | set(now.index)):
            prev, cur = int(before.get(plat, 0)), int(now.get(plat, 0))
            rows.append({"day": day, "previous_day": earlier[-1], "platform": plat, "previous_items": prev,
                         "items": cur, "share": round(cur / prev, 3) if prev else None})
    return pd.DataFrame(rows, columns=["day", "previous_day", "platform", "previous_items", "items", "share"])


@dg.asset_check(asset=market_items, blocking=True, description=(
    f"Each platform's items on the run's days (else the newest) are at least {MIN_DAY_OVER_DAY:.0%} of the "
    f"previous stored day's (platforms with {VOLUME_MIN_BASE}+ items then). A collapsed feed is a bad input, "
    "not a quiet market: blocking, so blueprints are not rebuilt from a fraction of the market."))
def market_items_volume_steady(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    wh = store.warehouse()
    days, which = run_days(context, wh.partitions("market_items"))
    changes = volume_changes(wh, days)
    judged = changes[changes["previous_items"] >= VOLUME_MIN_BASE]
    low = judged[judged["items"] < judged["previous_items"] * MIN_DAY_OVER_DAY]
    compared = {"days": ", ".join(days) or "none stored", "looked_at": which, "min_share": MIN_DAY_OVER_DAY,
                "platforms_compared": len(judged),
                "volumes": md_table(changes) if len(changes) else "no earlier day to compare with"}
    return verdict(compared, {"collapsed_platforms": [f"{r.day}/{r.platform}" for r in low.itertuples()]})
