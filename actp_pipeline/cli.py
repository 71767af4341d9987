"""The `actp` command: demo, sandbox, ui, hooks, worker, queue, ads, research, sql, status, studio.

Each subcommand lives in actp_pipeline/commands/ and is loaded on first use, so `actp ads ...` or a
worker does not pay for importing Dagster. Errors are one line on stderr: exit 2 for a bad command line
or value, 1 for a refused or failed operation.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import PackageNotFoundError, version

import click

# name -> (module:factory returning the click command, one-line help for `actp --help`)
COMMANDS = {
    "demo": ("actp_pipeline.commands.demo:make", "run several simulated days of the whole loop against the sandbox"),
    "sandbox": ("actp_pipeline.commands.services:make_sandbox", "serve the sandbox platform on loopback"),
    "ui": ("actp_pipeline.commands.services:make_ui",
           "dagster dev on both code locations (starts the sandbox if none is running)"),
    "hooks": ("actp_pipeline.commands.hooks:make",
              "serve tracked links, conversions and signed webhooks (attribution)"),
    "worker": ("actp_pipeline.commands.services:make_worker",
               "pull renders and uploads from the store (the local machine's worker)"),
    "queue": ("actp_pipeline.commands.queue:make", "queue status; cancel or retry an item"),
    "ads": ("actp_pipeline.commands.ads:make", "ad accounts and goals, plan approvals, the ads audit log"),
    "approve": ("actp_pipeline.commands.approvals:make", "approvals per scope: list what waits, approve, reject, reopen"),
    "accounts": ("actp_pipeline.commands.accounts:make", "connect platform accounts (OAuth); list their token status"),
    "research": ("actp_pipeline.commands.research:make", "research partitions: backfill a date range as one run"),
    "sql": ("actp_pipeline.commands.warehouse:make", "write a DuckDB file of views over the warehouse; run a query"),
    "export": ("actp_pipeline.commands.export:make", "a round's campaign kit (ZIP: videos, captions, schedule.csv)"),
    "lineage": ("actp_pipeline.commands.export:make_lineage", "market item -> blueprint -> variant -> post -> score"),
    "plan-test": ("actp_pipeline.commands.plan_test:make", "plan a test: the days and budget the stopping rule needs"),
    "studio": ("actp_pipeline.commands.studio:make",
               "the web page to watch, approve and steer (`studio serve`); its users (`studio user add`)"),
    "status": ("actp_pipeline.commands.status:make",
               "workers, queues, last run per stage, open alerts, ads spend today against each cap"),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when used (click's documented lazy-loading pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, _, factory = COMMANDS[cmd_name][0].partition(":")
        return getattr(importlib.import_module(module), factory)()

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # the help of the list comes from the table: `actp --help` imports no subcommand
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in sorted(COMMANDS)])


def _version() -> str:
    try:
        return version("actp")
    except PackageNotFoundError:
        return "unknown"


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, show_default="$ACTP_HOME or ./.actp",
              help="data directory: store, warehouse, media, sandbox state and the Dagster instance")
@click.version_option(_version(), "--version", prog_name="actp")
def actp(data_dir: str | None) -> None:
    """Ad Creative Testing Pipeline: research, generate, render, publish, measure, score and graduate
    short-form video creatives on Dagster."""


def _one_line(message: str) -> str:
    return " ".join(message.split())


def main(argv: list[str] | None = None) -> int:
    """Run `actp` and return its exit code (the console script and `python -m actp_pipeline.cli` exit with it)."""
    try:
        rv = actp.main(args=argv, prog_name="actp", standalone_mode=False)
    except click.UsageError as e:
        where = e.ctx.command_path if e.ctx else "actp"
        click.echo(f"{where}: {_one_line(e.format_message())} (see `{where} --help`)", err=True)
        return e.exit_code
    except click.ClickException as e:
        click.echo(_one_line(e.format_message()), err=True)
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.Abort:
        click.echo("actp: aborted", err=True)
        return 130
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
