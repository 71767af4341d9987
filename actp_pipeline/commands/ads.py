"""`actp ads`: ad accounts and goals, plan approvals and the audit log of the ads orchestrator.

A value the core refuses (a priority out of range, a negative budget) is one line on stderr and exit 2,
with nothing written; a plan that does not exist is exit 1.
"""

from __future__ import annotations

import functools
import getpass
import json
from typing import Any, Callable

import click

from actp_pipeline.commands.context import settings

ON_OFF = click.Choice(["on", "off"])


def _engine():
    from actp_pipeline.store import connect_store

    return connect_store(settings().store_url)


def _refusing(fn: Callable[..., int]) -> Callable[..., int]:
    """Turn the core's ValueError on a bad value into a usage error (exit 2, one line)."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            return fn(*args, **kwargs)
        except ValueError as e:
            raise click.UsageError(str(e), click.get_current_context()) from None

    return wrapper


def _on_off(v: str | None) -> bool | None:
    return None if v is None else v == "on"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _account_command() -> click.Command:
    from actp_pipeline.ads.goals import OrchestratorConfig

    c = OrchestratorConfig()

    @click.command("account")
    @click.argument("account_id")
    @click.option("--name", default=None, help="a display name")
    @click.option("--budget", type=float, default=None, show_default=f"${c.default_global_daily_budget:g}",
                  help="the account's global daily budget in dollars")
    @click.option("--max-goal-budget", type=float, default=None, show_default=f"${c.max_daily_budget:g}",
                  help="per-goal daily cap in dollars")
    @click.option("--auto-execute", type=ON_OFF, default=None, show_default="off",
                  help="execute plans without approval")
    @click.option("--auto-scale", type=ON_OFF, default=None, help="the original's auto_scale_winners switch")
    @click.option("--auto-pause", type=ON_OFF, default=None, help="the original's auto_pause_losers switch")
    @_refusing
    def account(account_id: str, name, budget, max_goal_budget, auto_execute, auto_scale, auto_pause) -> int:
        """Create or update an ad account's settings (options left out keep their value)."""
        from actp_pipeline.ads import accounts as ad_accounts

        kw = {k: v for k, v in {"name": name, "global_daily_budget": budget, "max_daily_budget": max_goal_budget,
                                "auto_execute": _on_off(auto_execute), "auto_scale_winners": _on_off(auto_scale),
                                "auto_pause_losers": _on_off(auto_pause)}.items() if v is not None}
        row = ad_accounts.set_account(_engine(), account_id, **kw)
        click.echo(json.dumps({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}))
        return 0

    return account


@click.command("goal")
@click.argument("account_id")
@click.argument("goal")
@click.option("--priority", type=int, default=3, help="goal priority 1-5")
@click.option("--signal", default=None, show_default="the goal's usual one",
              help="the goal's core signal: a platform's (lead, thruplay, ...) or ACTP's own attribution through "
                   "the ads' tracked links (actp_purchase, actp_lead, actp_signup)")
@click.option("--cap", type=float, default=None, help="the goal's own daily cap in dollars")
@click.option("--off", is_flag=True, help="deactivate the goal")
@_refusing
def goal(account_id: str, goal: str, priority: int, signal: str | None, cap: float | None, off: bool) -> int:
    """Create or replace a GOAL (streams, presave, virality, followers, leads, sales, ...) of an account (created if
    new)."""
    from actp_pipeline.ads import accounts as ad_accounts

    click.echo(json.dumps(ad_accounts.set_goal(_engine(), account_id, goal, priority=priority, core_signal=signal,
                                               budget_cap=cap, active=not off)))
    return 0


@click.command("list")
def list_() -> int:
    """Ad accounts and their goals."""
    from actp_pipeline.ads import accounts as ad_accounts

    engine = _engine()
    click.echo(ad_accounts.accounts(engine).to_string(index=False))
    click.echo()
    click.echo(ad_accounts.goals(engine).to_string(index=False))
    return 0


@click.command("plan")
@click.argument("plan_id", required=False)
def plan(plan_id: str | None) -> int:
    """A dry-run plan action by action (default: the newest) and who approved it."""
    from actp_pipeline.ads import accounts as ad_accounts, audit as ads_audit

    engine = _engine()
    run = ads_audit.plan_run(engine, plan_id)
    if run is None:
        click.echo("no plan yet: materialize ad_plan (Dagster UI) first")
        return 1
    click.echo(f"plan {run['plan_id']} as of {run['as_of']:%Y-%m-%d %H:%M} UTC: {json.dumps(run['summary'])}")
    log = ads_audit.log(engine, plan_id=run["plan_id"])
    log = log[log["mode"] == ads_audit.DRY_RUN]
    for r in log.sort_values("seq").itertuples():
        click.echo(f"  [{r.seq}] {r.account_id}/{r.goal} {r.action} ({r.rule}) {r.status}"
                   + (f" by {r.blocked_by}" if r.blocked_by else "") + f": {r.reason}" + (f" [{r.note}]" if r.note else ""))
    click.echo(f"approved by: {ad_accounts.approvals(engine, run['plan_id']) or 'nobody yet'}")
    return 0


@click.command("approve")
@click.argument("plan_id")
@click.option("--account", multiple=True, help="approve only for this account (repeatable)")
@click.option("--by", default=_user, show_default="the current user", help="who approves")
def approve(plan_id: str, account: tuple[str, ...], by: str) -> int:
    """Approve PLAN_ID (see `actp ads plan`) for its accounts; the approvals sensor then executes it."""
    from actp_pipeline.ads import accounts as ad_accounts, audit as ads_audit

    engine = _engine()
    run = ads_audit.plan_run(engine, plan_id)
    if run is None:
        raise click.ClickException(f"actp ads approve: no plan {plan_id!r}")
    accounts = list(account) or run["accounts"]
    unknown = sorted(set(accounts) - set(run["accounts"]))
    if unknown:
        raise click.ClickException(f"actp ads approve: plan {run['plan_id']} has no actions for {', '.join(unknown)}")
    done = ad_accounts.approve(engine, run["plan_id"], accounts, by)
    click.echo(f"plan {run['plan_id']} approved for {', '.join(done)}; materialize ad_actions to execute it "
               "(the approvals sensor does it in `actp ui`)")
    return 0


@click.command("log")
@click.argument("plan_id", required=False)
@click.option("--account", default=None, help="only this account's entries")
@click.option("--limit", type=click.IntRange(1), default=100, help="newest entries shown")
def log(plan_id: str | None, account: str | None, limit: int) -> int:
    """The audit log: every planned and executed action, newest first (optionally of one PLAN_ID)."""
    from actp_pipeline.ads import audit as ads_audit

    entries = ads_audit.log(_engine(), plan_id=plan_id, account_id=account, limit=limit)
    cols = ["at", "mode", "run_id", "account_id", "goal", "action", "rule", "status", "target_id", "result_id",
            "error", "reason"]
    click.echo(entries[cols].to_string(index=False, max_colwidth=80) if len(entries) else "the audit log is empty")
    return 0


def make() -> click.Group:
    @click.group("ads")
    def ads() -> None:
        """Ad accounts and goals, plan approvals, the ads audit log."""

    for cmd in (_account_command(), goal, list_, plan, approve, log):
        ads.add_command(cmd)
    return ads
