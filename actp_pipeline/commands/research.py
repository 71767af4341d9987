"""`actp research backfill`: collect a range of research partitions as ONE Dagster run.

The research asset has a single-run backfill policy, so the named research job runs once over the whole
partition range, in this process, against the instance under the data directory (the UI lists the run
afterwards). A progress bar counts the partitions materialized.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid

import click

from actp_pipeline.commands.context import platform_up, settings, warnings_to_log
from actp_pipeline.commands.progress import Bars

def make() -> click.Group:
    @click.group("research")
    def research() -> None:
        """Research: the market_items partitions (one per day)."""

    @research.command("backfill")
    @click.option("--start", type=click.DateTime(["%Y-%m-%d"]), required=True, help="first day (YYYY-MM-DD)")
    @click.option("--end", type=click.DateTime(["%Y-%m-%d"]), required=True, help="last day, included (YYYY-MM-DD)")
    def backfill(start: dt.datetime, end: dt.datetime) -> int:
        """Collect the market items of every day from --start to --end in one run."""
        if end < start:
            raise click.BadParameter(f"{end:%Y-%m-%d} is before --start {start:%Y-%m-%d}", param_hint="--end")
        return _backfill(start.date().isoformat(), end.date().isoformat())

    return research


def _partition_keys(keys: list[str], first: str, last: str) -> list[str]:
    for flag, key in (("--start", first), ("--end", last)):
        if key not in keys:
            raise click.BadParameter(f"{key} is not a research partition (they run from {keys[0]} to {keys[-1]}; "
                                     "ACTP_RESEARCH_START moves the first)", param_hint=flag)
    return keys[keys.index(first): keys.index(last) + 1]


def _backfill(first: str, last: str) -> int:
    s = settings()
    if not platform_up(s.platform_url):
        raise click.ClickException(f"actp research backfill: platform at {s.platform_url} unreachable: "
                                   "start `actp sandbox` or set ACTP_PLATFORM_URL")
    os.environ["ACTP_HOME"] = str(s.data_dir)  # the definitions' resources read the data directory from it
    warnings_to_log(s.data_dir)
    from actp_pipeline.definitions import RunFailed, research_backfill, research_partition_keys

    keys = _partition_keys(research_partition_keys(), first, last)
    run_id = str(uuid.uuid4())  # a Dagster run id is a uuid4
    with Bars() as bars:
        bars.line(f"research backfill {first} .. {last}: {len(keys)} partitions in one run ({run_id})")
        task, done = bars.bar("market_items", len(keys)), [0]

        def progress(n: int) -> None:
            done[0] = n
            bars.progress.update(task, completed=n)

        try:
            items = research_backfill(s.data_dir, keys, run_id, progress)
        except RunFailed as e:
            raise click.ClickException(f"actp research backfill: {e}") from None
    click.echo(f"research backfill {first} .. {last}: run {run_id} materialized {done[0]} partitions, "
               f"{items} market items")
    return 0
