"""`actp status`: workers, queues, the last run of each stage, open alerts, and ads spend today against
each cap, from the store (and the Dagster instance under the data directory); `--json` for machines."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from actp_pipeline.commands.context import settings


def collect(with_runs: bool = True) -> dict[str, Any]:
    """Everything `actp status` shows, as plain data."""
    from actp_pipeline.alerts import open_alerts
    from actp_pipeline.alerts.health import spend_today, workers_state
    from actp_pipeline.store import connect_store
    from actp_pipeline.store.queues import publish_queue, render_queue

    s = settings()
    engine = connect_store(s.store_url)
    report: dict[str, Any] = {
        "data_dir": str(s.data_dir),
        "workers": workers_state(engine),
        "queues": {"renders": render_queue(engine).counts(), "uploads": publish_queue(engine).counts()},
        "alerts": [{k: a[k] for k in ("id", "key", "kind", "severity", "message", "count", "first_seen", "last_seen",
                                      "notified_at", "last_notify_error")} for a in open_alerts(engine)],
        "spend": spend_today(engine),
    }
    if with_runs:
        from actp_pipeline.commands.context import warnings_to_log

        warnings_to_log(s.data_dir)  # Dagster's beta notices go to the log, not between the tables
        from actp_pipeline.definitions import last_stage_runs

        report["runs"] = last_stage_runs(s.data_dir)
    return report


def _text(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ", timespec="seconds")
    if isinstance(v, float):
        return f"{v:,.2f}"
    return str(v)


def _table(title: str, columns: list[str], rows: list[list[Any]], empty: str):
    from rich.table import Table

    if not rows:
        return f"{title}: {empty}"
    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[_text(v) for v in r])
    return t


def _print(report: dict[str, Any]) -> None:
    from rich.console import Console

    console = Console(highlight=False, emoji=False)
    w = report["workers"]
    console.print(_table("workers", ["worker", "state", "last heartbeat (UTC)", "silent s", "running", "done"],
                         [[x["worker_id"], x["state"], x["last_heartbeat"], x["silent_s"], x["jobs_running"],
                           x["jobs_completed"]] for x in w], "none has ever beaten"), markup=False)
    q = report["queues"]
    console.print(_table("queues", ["queue", "counts by status"],
                         [[name, ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "empty"]
                          for name, c in q.items()], "none"), markup=False)
    runs = report.get("runs")
    if runs is not None:
        console.print(runs["note"] if not runs["found"] else _table(
            f"last run per stage ({runs['instance']})", ["job", "status", "created (UTC)", "ended (UTC)", "run"],
            [[r["job"], r["status"] or "never run", r["created"], r["ended"], (r["run_id"] or "")[:8]]
             for r in runs["runs"]], "none"), markup=False)
    console.print(_table("open alerts", ["severity", "kind", "message", "count", "since (UTC)", "notified"],
                         [[a["severity"], a["kind"], a["message"], a["count"], a["first_seen"], a["notified_at"]]
                          for a in report["alerts"]], "none"), markup=False)
    sp = report["spend"]
    title = f"ads spend on {sp['day']} (read {_text(sp['as_of'])} UTC)" if sp["day"] else "ads caps"
    console.print(_table(title, ["account", "goal", "spend", "day's budgets", "cap", "of cap"],
                         [[r["account_id"], r["goal"], r["spend"], r["planned"], r["cap"],
                           f"{r['spend'] / r['cap']:.0%}" if r["spend"] is not None and r["cap"] else None]
                          for r in sp["rows"]], sp.get("note") or "none"), markup=False)
    if sp.get("note") and sp["rows"]:
        console.print(sp["note"], markup=False)


def make() -> click.Command:
    @click.command("status")
    @click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of tables")
    @click.option("--no-runs", is_flag=True, help="skip the Dagster instance (faster: no Dagster import)")
    def status(as_json: bool, no_runs: bool) -> int:
        """Workers, queues, the last run of each stage, open alerts, and ads spend today against each cap."""
        try:
            report = collect(with_runs=not no_runs)
        except Exception as e:  # noqa: BLE001 - a store that cannot be opened: one line, exit 1
            from actp_pipeline.ads.audit import safe_error

            why = safe_error(" ".join(str(e).split()))[:300]
            raise click.ClickException(f"actp status: {type(e).__name__}: {why}") from None
        if as_json:
            click.echo(json.dumps(report, default=_json_default, sort_keys=True))
        else:
            _print(report)
        return 0

    return status


def _json_default(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return str(v)
