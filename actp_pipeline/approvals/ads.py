"""The ads scope, bridged to the ad plan approvals the ads orchestrator already honours.

`actp ads approve PLAN` (or an ad account's auto_execute switch) stays the way ads get approved: a row of
`ad_plan_approvals` is what the executor reads. The ads scope adds the rest of the state machine on top, per
(plan, ad account), subject "PLAN_ID:ACCOUNT_ID": a rejection or a strategy change (needs_review) withdraws the
plan's approval row for that account, so the executor no longer runs it; approving again (here or with
`actp ads approve`) writes the row back. Every decision goes to the approvals audit log; the ads audit log
keeps recording what the executor did. auto_execute accounts are the ads' own auto rule and are not affected.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from actp_pipeline.approvals import decisions
from actp_pipeline.approvals.states import APPROVED, PENDING, ApprovalError
from actp_pipeline.store import schema


def subject(plan_id: str, account_id: str) -> str:
    return f"{plan_id}:{account_id}"


def parse_subject(subject_id: str) -> tuple[str, str]:
    plan_id, sep, account_id = subject_id.partition(":")
    if not sep or not plan_id or not account_id:
        raise ApprovalError(f"ads approval {subject_id!r} must look like PLAN_ID:ACCOUNT_ID (see `actp ads list`)")
    return plan_id, account_id


def _plan_accounts(conn: Connection, plan_id: str) -> list[str] | None:
    runs = schema.ads_automation_runs
    row = conn.execute(sa.select(runs.c.accounts).where(runs.c.plan_id == plan_id, runs.c.mode == "dry_run")
                       .order_by(runs.c.started_at.desc())).first()
    return list(row[0] or []) if row else None


def _approved_by(conn: Connection, plan_id: str, account_id: str) -> str | None:
    t = schema.ad_plan_approvals
    return conn.execute(sa.select(t.c.approved_by).where(t.c.plan_id == plan_id, t.c.account_id == account_id)
                        ).scalar_one_or_none()


def _ensure_row(conn: Connection, plan_id: str, account_id: str, account: str | None = None) -> dict[str, Any]:
    """The ads-scope row of (plan, account), made from the plan approval as it stands when there is none."""
    sid = subject(plan_id, account_id)
    row = decisions.get(conn, "ads", sid)
    if row is None:
        by = _approved_by(conn, plan_id, account_id)
        decisions.create(conn, [{"scope": "ads", "subject_id": sid, "account": account,
                                 "status": APPROVED if by else PENDING, "decided_by": by or "loop",
                                 "details": {"plan_id": plan_id, "ad_account": account_id}}],
                         by=by or "loop", reason="approved with `actp ads approve`" if by else "plan awaits approval")
        row = decisions.get(conn, "ads", sid)
    return row


def status(engine: Engine, plan_id: str, account_id: str) -> str:
    """The ads scope of (plan, account): its row's state, else approved when the plan approval exists."""
    with engine.connect() as conn:
        row = decisions.get(conn, "ads", subject(plan_id, account_id))
        if row is not None:
            return row["status"]
        return APPROVED if _approved_by(conn, plan_id, account_id) else PENDING


def decide_ads(engine: Engine, subject_id: str, to_status: str, *, by: str, reason: str) -> dict[str, Any]:
    """A person's decision on an ad plan for one ad account, kept in step with ad_plan_approvals."""
    plan_id, account_id = parse_subject(subject_id)
    with engine.begin() as conn:
        accounts = _plan_accounts(conn, plan_id)
        if accounts is None:
            raise ApprovalError(f"no ads plan {plan_id!r} (see `actp ads list`)")
        if account_id not in accounts:
            raise ApprovalError(f"ads plan {plan_id} has no actions for account {account_id!r}")
        row = _ensure_row(conn, plan_id, account_id)
        decisions.move(conn, [row], to_status, by=by, reason=reason)
        if to_status == APPROVED:
            if _approved_by(conn, plan_id, account_id) is None:
                conn.execute(schema.ad_plan_approvals.insert().values(
                    plan_id=plan_id, account_id=account_id, approved_by=by, approved_at=schema.utcnow()))
        else:
            withdraw(conn, [subject_id])
        return decisions.get(conn, "ads", subject_id)


def withdraw(conn: Connection, subjects: list[str]) -> None:
    """Remove the plan approvals of these (plan, account) subjects: the executor no longer runs them."""
    t = schema.ad_plan_approvals
    for sid in subjects:
        plan_id, account_id = parse_subject(sid)
        conn.execute(t.delete().where(t.c.plan_id == plan_id, t.c.account_id == account_id))


def mirror_for_cascade(conn: Connection, key: str) -> int:
    """Give every approved ad plan that promotes variants of strategy `key` its ads-scope row (approved, as the
    plan approval says), so the cascade can send it to needs_review. Returns how many rows were made."""
    acts, appr, t = schema.ads_automation_actions, schema.ad_plan_approvals, schema.approvals
    content = sa.select(t.c.subject_id).where(t.c.scope == "content")
    content = content.where((t.c.account == key) | t.c.account.is_(None)) if key == "*" else \
        content.where(t.c.account == key)
    pairs = conn.execute(sa.select(appr.c.plan_id, appr.c.account_id).distinct().join(
        acts, (acts.c.plan_id == appr.c.plan_id) & (acts.c.account_id == appr.c.account_id))
        .where(acts.c.variant_id.in_(content))).all()
    made = 0
    for plan_id, account_id in pairs:
        if decisions.get(conn, "ads", subject(plan_id, account_id)) is None:
            _ensure_row(conn, plan_id, account_id, account=key)
            made += 1
    return made
