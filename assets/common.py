"""What the stage modules share: partitions, automation conditions and metadata helpers."""


import dagster as dg
import pandas as pd

DAILY = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_offset=1)

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


def md_table(df: pd.DataFrame, limit: int = 20) -> dg.MetadataValue:
    """A markdown preview of the first rows, for the asset's page in the UI."""
    if df.empty:
        return dg.MetadataValue.md("_no rows_")
    return dg.MetadataValue.md(df.head(limit).to_markdown(index=False, floatfmt=".4g"))


def cell_name(key) -> str:
    """A fair cell's groupby key (platform, account, window) as "platform/account/window"."""
    return "/".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
