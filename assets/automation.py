"""How every stage asset is driven: its days (partitions), its owners and its automation conditions."""


import dagster as dg

from actp_pipeline.settings import Settings

# research and metrics days; the first day is ACTP_RESEARCH_START (settings.RESEARCH_START by default)
DAILY = dg.DailyPartitionsDefinition(start_date=Settings().research_start, end_offset=1)

OWNERS = ["team:growth"]


def follow_upstream() -> dg.AutomationCondition:
    """Eager, except that old days never collected upstream (missing partitions) do not block."""
    return dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())


def when_missing() -> dg.AutomationCondition:
    """Run while missing and runnable. Unlike `on_missing()`, this also fires for an asset that was
    already missing when the condition was first evaluated (a fresh deployment); a failed attempt
    waits for the next schedule or cron tick instead of retrying every tick."""
    return (dg.AutomationCondition.missing() & ~dg.AutomationCondition.any_deps_missing()
            & ~dg.AutomationCondition.in_progress() & ~dg.AutomationCondition.execution_failed())


def every_tick(cron: str) -> dg.AutomationCondition:
    """Run at every tick of `cron` even when no dependency changed, once the dependencies exist. For an asset
    whose real inputs are rows of the operational store rather than assets (attribution reads the hooks
    service's clicks and conversions): `on_cron` would wait for every dependency to update after the tick."""
    return (dg.AutomationCondition.cron_tick_passed(cron) & ~dg.AutomationCondition.any_deps_missing()
            & ~dg.AutomationCondition.in_progress())
