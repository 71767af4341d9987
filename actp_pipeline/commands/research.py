"""`actp research backfill`: collect a range of research partitions as ONE Dagster run.
`actp research import FILE`: validate a CSV or JSONL file of market items and merge it into a day.

The research asset has a single-run backfill policy, so the named research job runs once over the whole
partition range, in this process, against the instance under the data directory (the UI lists the run
afterwards). A progress bar counts the partitions materialized.

An import writes the day's market_items partition directly (no Dagster run): the file's valid rows are
merged with what is stored for the day and deduped like a run's (same id or same content hash), so
importing the same file twice changes nothing. The schema: actp_pipeline/research/sources/file_import.py.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

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

    @research.command("import")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--day", type=click.DateTime(["%Y-%m-%d"]), default=None,
                  help="the market_items partition to write (YYYY-MM-DD; default: today, UTC)")
    @click.option("--source", "source_name", default=None, help="the source name recorded (default: file:<name>)")
    @click.option("--replace-smaller", is_flag=True, help="replace this source's stored rows of the day even "
                  "when the file now has fewer than half of them")
    def import_(file: Path, day: dt.datetime | None, source_name: str | None, replace_smaller: bool) -> int:
        """Import market items from a CSV or JSONL FILE into one day's partition."""
        return _import(file, (day.date() if day else dt.datetime.now(dt.UTC).date()).isoformat(), source_name,
                       replace_smaller)

    return research


def _import(file: Path, day: str, source_name: str | None, replace_smaller: bool) -> int:
    from rich.console import Console
    from rich.table import Table

    from actp_pipeline.research.market_items import store_day
    from actp_pipeline.research.sources.base import SourceError
    from actp_pipeline.research.sources.file_import import FileSource
    from actp_pipeline.store.warehouse import Warehouse

    source = FileSource(file, source_name)
    wh = Warehouse(settings().warehouse_dir)
    try:
        result = store_day(wh, [source], day, replace_smaller=replace_smaller)
    except SourceError as e:
        raise click.ClickException(f"actp research import: {e}") from None
    console = Console(highlight=False, emoji=False)
    console.print(f"{source.name} -> market_items {day}: {result.counts.get(source.name, 0)} rows imported, "
                  f"{len(result.rejected)} rejected, {result.merged} merged as duplicates", markup=False, soft_wrap=True)
    if result.kept_previous:
        console.print(f"warning: {result.warning()}", markup=False, soft_wrap=True)
    else:
        console.print(f"the day now holds {result.stored_rows} market items ({result.path})", markup=False, soft_wrap=True)
    if result.rejected:
        table = Table("line", "item", "field", "problem", title=f"rejected rows (first {min(20, len(result.rejected))}"
                      f" of {len(result.rejected)})")
        for r in result.rejected[:20]:
            table.add_row(r.where or f"item {r.index}", r.item_id or "", r.field, r.problem)
        console.print(table, markup=False)
    return 0


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
