"""How every stage asset is driven: its days (partitions), its owners and its automation conditions."""


import dagster as dg

from actp_pipeline.settings import Settings

# research and metrics days; the first day is ACTP_RESEARCH_START (settings.RESEARCH_START by default)
DAILY = dg.DailyPartitionsDefinition(start_date=Settings().research_start, end_offset=1)

OWNERS = ["team:growth"]


def checks_passed() -> dg.AutomationCondition:
    """Every blocking check of every dependency passed on its newest materialization (or rides along in this
    tick's request). Within one run a failed blocking check stops the downstream steps itself; this keeps a
    follower in a later run (the automation sensor's) from building on the same bad data."""
    return dg.AutomationCondition.all_deps_blocking_checks_passed()


def follow_upstream() -> dg.AutomationCondition:
    """Eager, except that old days never collected upstream (missing partitions) do not block; and only
    after the dependencies' blocking checks passed."""
    return dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing()) & checks_passed()


def follow_checked() -> dg.AutomationCondition:
    """Eager, once the dependencies' blocking checks passed (for the followers of scores)."""
    return dg.AutomationCondition.eager() & checks_passed()


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
