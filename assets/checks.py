"""How the stage checks read: what each compared, the offending rows (the first MAX_SHOWN), the clock a "no
timestamp in the future" rule is held against, and which days of a partitioned asset a check looks at.

Severity follows what a failure does downstream. A check whose failure would spread bad data is
`blocking=True` with ERROR severity: in the same run the downstream assets do not start, and the automation
conditions of the followers (assets.automation) wait until it passes. A check whose failure is informative
only reports with WARN severity and blocks nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd

from actp_pipeline.publish.publisher import PlatformError
from resources import PlatformResource

MAX_SHOWN = 10  # offending rows named in a check's metadata; the count says how many there are
# Two clocks never agree exactly: the platform client re-reads the platform's clock at most once a second and
# a machine's clock drifts by seconds. A timestamp is "in the future" only beyond this.
FUTURE_SKEW = dt.timedelta(minutes=5)
WARN = dg.AssetCheckSeverity.WARN
ERROR = dg.AssetCheckSeverity.ERROR


@dataclass(frozen=True)
class Clock:
    """The instant a check holds timestamps against (None when it could not be read) and what it is."""

    now: pd.Timestamp | None
    source: str

    @property
    def bound(self) -> pd.Timestamp | None:
        return None if self.now is None else self.now + FUTURE_SKEW

    def metadata(self) -> dict[str, str]:
        return {"clock": self.source, "clock_now": _stamp(self.now), "future_after": _stamp(self.bound)}


def _stamp(t: Any) -> str:
    return "not read" if t is None or pd.isna(t) else pd.Timestamp(t).floor("s").isoformat()


def _naive_utc(t: dt.datetime) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_convert("UTC").tz_localize(None) if t.tzinfo else t


def platform_clock(platform: PlatformResource) -> Clock:
    """The platform's clock (the sandbox's simulated time, wall time for a platform without a clock); a
    platform that cannot be reached leaves the timestamps uncompared (said in the metadata), never a failure."""
    try:
        with platform.client() as client:
            return Clock(_naive_utc(client.now()), "the platform's clock")
    except PlatformError as e:
        return Clock(None, f"the platform's clock, unreadable ({str(e)[:120]}): timestamps not compared")


def wall_clock() -> Clock:
    """This machine's clock, UTC: for timestamps the store writes with its own clock."""
    return Clock(_naive_utc(dt.datetime.now(dt.UTC)), "this check's clock (UTC)")


def run_days(context: dg.AssetCheckExecutionContext, stored: list[str]) -> tuple[list[str], str]:
    """The days a check of a partitioned asset looks at: the run's partition (or range) when it has one, the
    newest stored day when the check runs on its own; with the phrase that says which."""
    try:
        keys = list(context.partition_keys) if context.has_partition_key or context.has_partition_key_range else []
    except dg.DagsterError:  # invoked directly, outside a run
        keys = []
    if keys:
        span = keys[0] + (f" .. {keys[-1]}" if len(keys) > 1 else "")
        return [k for k in keys if k in stored], f"this run's days ({span})"
    return stored[-1:], "the newest stored day"


def verdict(compared: Mapping[str, Any], problems: Mapping[str, list[str]], *,
            severity: dg.AssetCheckSeverity = ERROR, extra: Mapping[str, Any] | None = None) -> dg.AssetCheckResult:
    """Passed when no problem has an offending row. The metadata holds what was compared, each problem's
    count and, when there are any, its first MAX_SHOWN offending rows as `<problem>_ids`."""
    meta: dict[str, Any] = dict(compared)
    for name, ids in problems.items():
        meta[name] = len(ids)
        if ids:
            meta[f"{name}_ids"] = dg.MetadataValue.json([str(i) for i in ids[:MAX_SHOWN]])
    meta.update(extra or {})
    return dg.AssetCheckResult(passed=not any(problems.values()), severity=severity, metadata=meta)
