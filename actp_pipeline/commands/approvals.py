"""`actp approve`: list what waits for approval, approve or reject a strategy, content, schedule or ads plan.

Every decision goes to the approvals audit log with --by (default: the current user) and --reason. A move the
state machine forbids (e.g. approving a rejection without reopening it) is refused with the allowed moves.
"""

from __future__ import annotations

import getpass

import click

from actp_pipeline.commands.context import settings

SCOPE = click.Choice(["strategy", "content", "schedule", "ads"])


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _decide(scope: str, subject_id: str, to_status: str, by: str, reason: str) -> int:
    """One decision, printed; an approval error becomes a one-line refusal (exit 1)."""
    from actp_pipeline import approvals
    from actp_pipeline.store import connect_store

    try:
        row = approvals.decide(connect_store(settings().store_url), scope, subject_id, to_status, by=by, reason=reason)
    except approvals.ApprovalError as e:
        raise click.ClickException(f"actp approve: {e}") from None
    click.echo(f"{scope} {subject_id}: {row['status']} (by {by}: {reason})")
    return 0


def _options(fn):
    fn = click.option("--reason", required=True, help="why (goes to the audit log)")(fn)
    return click.option("--by", default=_user, show_default="$USER", help="who decides")(fn)


@click.command("list")
@click.option("--scope", type=SCOPE, default=None, help="only this scope")
@click.option("--status", type=click.Choice(["pending", "needs_review", "approved", "rejected"]), default=None,
              show_default="pending and needs_review", help="only this state")
def list_(scope: str | None, status: str | None) -> int:
    """What waits for a decision (pending and needs_review), oldest first."""
    from rich.console import Console
    from rich.table import Table

    from actp_pipeline import approvals
    from actp_pipeline.store import connect_store

    rows = approvals.pending(connect_store(settings().store_url), scope=scope, status=status)
    if rows.empty:
        click.echo("nothing waits for approval" if status is None else f"no approvals in state {status}")
        return 0
    table = Table("scope", "id", "status", "account", "round", "decided by", "at", "reason")
    for r in rows.itertuples():
        table.add_row(r.scope, r.subject_id, r.status, str(r.account or ""), str(r.round_id or ""), r.decided_by,
                      f"{r.decided_at:%Y-%m-%d %H:%M}", str(r.reason)[:80])
    Console().print(table)
    return 0


def _approve(scope: str, argument: str, metavar: str | None, doc: str) -> click.Command:
    """`actp approve SCOPE ID`: the same decision for every scope, with the scope's own help."""
    def approve(subject_id: str, by: str, reason: str) -> int:
        return _decide(scope, subject_id, "approved", by, reason)

    approve.__doc__ = doc
    return click.command(scope)(click.argument("subject_id", metavar=metavar or argument.upper())(_options(approve)))


content = _approve("content", "variant_id", None,
                   "Approve the content of VARIANT_ID (its render is queued by the approvals sensor).")
strategy = _approve("strategy", "account", None,
                    "Approve the current strategy of ACCOUNT ('*' = every target of this loop).")
schedule = _approve("schedule", "item_id", None, "Approve the publish slot of publish item ITEM_ID (see `actp queue`).")
ads = _approve("ads", "subject_id", "PLAN_ID:ACCOUNT_ID",
               "Approve an ads plan for one ad account (the same as `actp ads approve`, audited here too).")


@click.command("reject")
@click.argument("scope", type=SCOPE)
@click.argument("subject_id", metavar="ID")
@_options
def reject(scope: str, subject_id: str, by: str, reason: str) -> int:
    """Reject SCOPE ID (pending or needs_review): nothing of it is rendered, posted or executed."""
    return _decide(scope, subject_id, "rejected", by, reason)


@click.command("reopen")
@click.argument("scope", type=SCOPE)
@click.argument("subject_id", metavar="ID")
@_options
def reopen(scope: str, subject_id: str, by: str, reason: str) -> int:
    """Send SCOPE ID back to needs_review (a rejection whose feedback was addressed, or an approval revoked)."""
    return _decide(scope, subject_id, "needs_review", by, reason)


def make() -> click.Group:
    @click.group("approve")
    def approve() -> None:
        """Approvals per scope (strategy, content, schedule, ads): list, approve, reject, reopen."""

    for cmd in (list_, content, strategy, schedule, ads, reject, reopen):
        approve.add_command(cmd)
    return approve
