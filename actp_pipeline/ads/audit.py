"""The ads audit log: every plan (dry run) and every execution, each action with its status and reason.

Two tables, as the original orchestrator had them: `ads_automation_runs` (one row per plan or execution,
with its summary) and `ads_automation_actions` (one row per action, linked by run id). A plan is stored
as a dry-run run whose action rows keep everything needed to execute it later (params, reasons, numbers),
so `ad_actions` executes exactly what a person saw and approved. Executed rows are also the `history`
the next plan reads for cooldowns and the per-hour budget-change limit.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.ads.plan.inputs import utc
from actp_pipeline.ads.plan.report import json_safe, plan_summary
from actp_pipeline.ads.plan.rules import ERROR, PlannedAction
from actp_pipeline.store import schema

DRY_RUN, EXECUTE = "dry_run", "execute"
PENDING, SUCCESS, FAILED, SKIPPED, BLOCKED = "pending", "success", "failed", "skipped", "blocked"
REFUSED = "refused"  # an execution that sent nothing: another one held the plan


# What an error text may carry that the audit log must not: a database driver's statement and parameters
# (SQLAlchemy appends them), and credentials an HTTP library may echo (a bearer token, an access_token).
_SCRUB = [
    (re.compile(r"\[SQL: .*?\](?=\s*(\[parameters:|\(Background|$))", re.S), "[SQL withheld]"),
    (re.compile(r"\[parameters: .*?\](?=\s*(\(Background|$))", re.S), "[parameters withheld]"),
    (re.compile(r"\s*\(Background on this error at: [^)]*\)"), ""),
    (re.compile(r"(?i)(bearer\s+)[^\s'\",]+"), r"\1[redacted]"),
    (re.compile(r"(?i)((?:access_token|api_key|token|password)[=:]\s*)[^\s&'\",]+"), r"\1[redacted]"),
]
MAX_ERROR = 2000


def safe_error(text: str | None) -> str | None:
    """An error as the audit log keeps it: the reason, never SQL, its parameters or a credential."""
    if text is None:
        return None
    for pattern, repl in _SCRUB:
        text = pattern.sub(repl, text)
    return text[:MAX_ERROR]


def _scrubbed(value):
    """`safe_error` over every string of a summary (its errors and failures quote exceptions)."""
    if isinstance(value, str):
        return safe_error(value)
    if isinstance(value, Mapping):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrubbed(v) for v in value]
    return value


def _naive(t) -> dt.datetime:
    return utc(t).to_pydatetime()


def new_id(prefix: str, at) -> str:
    return f"{prefix}-{_naive(at):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def record_plan(engine: Engine, actions: Sequence[PlannedAction], *, as_of, trigger: str = "dagster",
                dagster_run_id: str | None = None, config: Mapping | None = None) -> str:
    """Store a plan as a dry-run run; returns its plan id (also its run id)."""
    plan_id = new_id("plan", as_of)
    summary = plan_summary(actions)
    now = schema.utcnow()
    rows = []
    for seq, a in enumerate(actions):
        status = DRY_RUN if a.executable else (ERROR if a.action == ERROR else BLOCKED)
        rows.append({"run_id": plan_id, "plan_id": plan_id, "seq": seq, "action_key": None,
                     "account_id": a.account_id, "goal": a.goal, "action": a.action, "rule": a.rule,
                     "target_id": a.target_id, "variant_id": a.variant_id, "status": status,
                     "blocked_by": a.blocked_by, "reason": a.reason, "note": a.note, "params": json_safe(a.params),
                     "metrics": json_safe(a.metrics), "at": _naive(as_of), "created_at": now})
    with engine.begin() as conn:
        conn.execute(schema.ads_automation_runs.insert().values(
            run_id=plan_id, plan_id=plan_id, mode=DRY_RUN, trigger=trigger, dagster_run_id=dagster_run_id,
            as_of=_naive(as_of), started_at=now, finished_at=now, status=SUCCESS,
            accounts=sorted({a.account_id for a in actions}), summary=json_safe(summary),
            errors_count=len(summary["errors"]), config=json_safe(config or {})))
        if rows:
            conn.execute(schema.ads_automation_actions.insert(), rows)
    return plan_id


def plan_run(engine: Engine, plan_id: str | None = None) -> dict | None:
    """The dry-run row of a plan (the newest when plan_id is None)."""
    t = schema.ads_automation_runs
    q = sa.select(t).where(t.c.mode == DRY_RUN)
    q = q.where(t.c.plan_id == plan_id) if plan_id else q.order_by(t.c.as_of.desc(), t.c.started_at.desc()).limit(1)
    with engine.connect() as conn:
        row = conn.execute(q).mappings().first()
    return dict(row) if row else None


def plan_actions(engine: Engine, plan_id: str) -> list[tuple[int, PlannedAction]]:
    """A stored plan's actions, rebuilt, with their sequence numbers."""
    t = schema.ads_automation_actions
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).where((t.c.run_id == plan_id)).order_by(t.c.seq)).mappings().all()
    out = []
    for r in rows:
        status = {DRY_RUN: "planned", BLOCKED: "blocked", ERROR: ERROR}.get(r["status"], r["status"])
        out.append((r["seq"], PlannedAction(
            account_id=r["account_id"], goal=r["goal"], action=r["action"], rule=r["rule"], target_id=r["target_id"],
            variant_id=r["variant_id"], params=dict(r["params"] or {}), reason=r["reason"] or "",
            metrics=dict(r["metrics"] or {}), status=status, blocked_by=r["blocked_by"], note=r["note"] or "")))
    return out


def start_run(engine: Engine, plan_id: str, accounts: Iterable[str], *, as_of, trigger: str,
              dagster_run_id: str | None = None, run_id: str | None = None) -> str:
    run_id = run_id or new_id("exec", as_of)
    with engine.begin() as conn:
        conn.execute(schema.ads_automation_runs.insert().values(
            run_id=run_id, plan_id=plan_id, mode=EXECUTE, trigger=trigger, dagster_run_id=dagster_run_id,
            as_of=_naive(as_of), started_at=schema.utcnow(), status="running", accounts=sorted(accounts)))
    return run_id


def refused_run(engine: Engine, run_id: str, plan_id: str, accounts: Iterable[str], reason: str, *, as_of,
                trigger: str, dagster_run_id: str | None = None) -> None:
    """An execution that sent nothing because another one holds the plan: its run row says why."""
    now = schema.utcnow()
    with engine.begin() as conn:
        conn.execute(schema.ads_automation_runs.insert().values(
            run_id=run_id, plan_id=plan_id, mode=EXECUTE, trigger=trigger, dagster_run_id=dagster_run_id,
            as_of=_naive(as_of), started_at=now, finished_at=now, status=REFUSED, accounts=sorted(accounts),
            summary={"refused": {a: safe_error(reason) for a in sorted(accounts)}, "reason": safe_error(reason)},
            errors_count=0))


def finish_run(engine: Engine, run_id: str, status: str, summary: Mapping, errors_count: int) -> None:
    t = schema.ads_automation_runs
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.run_id == run_id).values(
            status=status, summary=_scrubbed(json_safe(summary)), errors_count=errors_count,
            finished_at=schema.utcnow()))


def executed(engine: Engine, plan_id: str) -> dict[str, dict]:
    """The executed (or attempted) actions of a plan by action key: one query for the whole execution."""
    t = schema.ads_automation_actions
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).where((t.c.plan_id == plan_id) & t.c.action_key.is_not(None))).mappings().all()
    return {r["action_key"]: dict(r) for r in rows}


def begin_action(engine: Engine, run_id: str, plan_id: str, seq: int, a: PlannedAction, target_id: str | None,
                 params: Mapping, at, *, status: str = PENDING, error: str | None = None) -> None:
    """The action's row under its key. A pending row is committed BEFORE the call: after a crash it says
    the call may have happened. Any other status (skipped) is final at once."""
    now = schema.utcnow()
    with engine.begin() as conn:
        conn.execute(schema.ads_automation_actions.insert().values(
            run_id=run_id, plan_id=plan_id, seq=seq, action_key=f"{plan_id}:{seq}", account_id=a.account_id,
            goal=a.goal, action=a.action, rule=a.rule, target_id=target_id, variant_id=a.variant_id, status=status,
            blocked_by=a.blocked_by, reason=a.reason, note=a.note, params=json_safe(params), metrics=json_safe(a.metrics),
            error=safe_error(error), at=_naive(at), created_at=now, finished_at=None if status == PENDING else now))


def begin_action_once(*args, **kwargs) -> bool:
    """begin_action, False (nothing written, nothing raised) when the key already has a row: another
    execution recorded the action, so this one must not send it. The unique violation never surfaces
    (its text quotes the SQL and its parameters)."""
    try:
        begin_action(*args, **kwargs)
    except sa.exc.IntegrityError:
        return False
    return True


def end_action(engine: Engine, action_key: str, status: str, *, result_id: str | None = None,
               error: str | None = None, run_id: str | None = None) -> None:
    t = schema.ads_automation_actions
    values = {"status": status, "result_id": result_id, "error": safe_error(error), "finished_at": schema.utcnow()}
    if run_id is not None:
        values["run_id"] = run_id  # a recovered action is finished by the run that recovered it
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.action_key == action_key).values(**values))


HISTORY_COLUMNS = ["account_id", "goal", "action", "rule", "target_id", "variant_id", "at", "status", "result_id"]


def history(engine: Engine, account_ids: Iterable[str] | None = None, since=None) -> pd.DataFrame:
    """Executed actions (the `history` input of `ad_plan.plan`): the object a create made is its target."""
    t = schema.ads_automation_actions
    q = sa.select(*[t.c[c] for c in HISTORY_COLUMNS]).where(t.c.action_key.is_not(None))
    if account_ids is not None:
        q = q.where(t.c.account_id.in_(list(account_ids)))
    if since is not None:
        q = q.where(t.c.at >= _naive(since))
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(q.order_by(t.c.at, t.c.id)).mappings().all(), columns=HISTORY_COLUMNS)
    made = df["result_id"].notna() & df["action"].isin(["create_campaign", "create_ad_set"])
    df.loc[made, "target_id"] = df.loc[made, "result_id"]
    return df.drop(columns=["result_id"])


def reached_since(engine: Engine, account_id: str, recorded_after, other_than_plan: str | None = None
                  ) -> dt.datetime | None:
    """When (platform clock) an action of another plan last reached, or may have reached, the account,
    among the actions recorded after `recorded_after` (the store's wall clock, which orders runs exactly
    even when the platform clock stood still)."""
    t = schema.ads_automation_actions
    q = sa.select(sa.func.max(t.c.at)).where(
        (t.c.account_id == account_id) & t.c.action_key.is_not(None) & (t.c.created_at > _naive(recorded_after))
        & t.c.status.in_([PENDING, SUCCESS, FAILED]))
    if other_than_plan is not None:
        q = q.where(t.c.plan_id != other_than_plan)
    with engine.connect() as conn:
        return conn.execute(q).scalar()


def log(engine: Engine, *, plan_id: str | None = None, account_id: str | None = None, limit: int = 200) -> pd.DataFrame:
    """The audit log, newest first: action rows joined with their run's mode and Dagster run id."""
    a, r = schema.ads_automation_actions, schema.ads_automation_runs
    q = (sa.select(a.c.id, a.c.run_id, r.c.mode, r.c.dagster_run_id, a.c.plan_id, a.c.seq, a.c.account_id, a.c.goal,
                   a.c.action, a.c.rule, a.c.target_id, a.c.variant_id, a.c.status, a.c.blocked_by, a.c.result_id,
                   a.c.error, a.c.reason, a.c.note, a.c.at)
         .select_from(a.join(r, a.c.run_id == r.c.run_id)))
    if plan_id:
        q = q.where(a.c.plan_id == plan_id)
    if account_id:
        q = q.where(a.c.account_id == account_id)
    with engine.connect() as conn:
        result = conn.execute(q.order_by(a.c.at.desc(), a.c.id.desc()).limit(limit))
        return pd.DataFrame(result.mappings().all(), columns=list(result.keys()))


def runs(engine: Engine, limit: int = 50) -> pd.DataFrame:
    t = schema.ads_automation_runs
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.started_at.desc()).limit(limit)).mappings().all()
    return pd.DataFrame(rows, columns=[c.name for c in t.columns])
