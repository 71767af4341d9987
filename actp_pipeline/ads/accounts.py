"""What the ads orchestrator may do, per ad account: goals, budgets, switches and plan approvals.

These live in the operational store because people change them while runs read them (`actp ads ...`).
Spending is opt-in twice over: an account needs goals before anything is planned for it, and a plan is
executed only for accounts that approved it, or that turned `auto_execute` on (off by default).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.ads.goals import AccountSettings, Goal, OrchestratorConfig
from actp_pipeline.ads.meta import check_account_id
from actp_pipeline.store import schema

_UNSET = object()


def _check_amount(name: str, v) -> None:
    if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be an amount >= 0 in dollars, got {v!r}")


def set_account(engine: Engine, account_id: str, *, name=_UNSET, auto_execute=_UNSET, global_daily_budget=_UNSET,
                max_daily_budget=_UNSET, auto_scale_winners=_UNSET, auto_pause_losers=_UNSET) -> dict:
    """Create or update an ad account's settings; arguments left out keep their value (None = default)."""
    check_account_id(account_id)  # refused here, not at the first API call: it becomes a URL path segment
    given = {k: v for k, v in dict(name=name, auto_execute=auto_execute, global_daily_budget=global_daily_budget,
                                    max_daily_budget=max_daily_budget, auto_scale_winners=auto_scale_winners,
                                    auto_pause_losers=auto_pause_losers).items() if v is not _UNSET}
    for k in ("global_daily_budget", "max_daily_budget"):
        if k in given:
            _check_amount(k, given[k])
    if "auto_execute" in given:
        given["auto_execute"] = bool(given["auto_execute"])
    t = schema.ad_accounts
    with engine.begin() as conn:
        _ensure_account(conn, account_id)
        conn.execute(t.update().where(t.c.account_id == account_id).values(**given, updated_at=schema.utcnow()))
        return dict(conn.execute(sa.select(t).where(t.c.account_id == account_id)).mappings().one())


def _ensure_account(conn, account_id: str) -> None:
    """The account's row, with default settings (auto_execute off) when it is new."""
    t = schema.ad_accounts
    if conn.execute(sa.select(t.c.account_id).where(t.c.account_id == account_id)).first() is None:
        conn.execute(t.insert().values(account_id=account_id, auto_execute=False, updated_at=schema.utcnow()))


def set_goal(engine: Engine, account_id: str, goal: str, *, priority: int = 3, core_signal: str | None = None,
             budget_cap: float | None = None, active: bool = True,
             config: OrchestratorConfig = OrchestratorConfig()) -> dict:
    """Create or replace one goal of an account (the account is created with default settings if new)."""
    check_account_id(account_id)
    g = Goal(account_id=account_id, name=goal, priority=priority, core_signal=core_signal, budget_cap=budget_cap,
             active=active)
    problems = g.problems(config)
    if problems:
        raise ValueError(f"goal {goal!r} of account {account_id!r}: " + "; ".join(problems))
    t = schema.ad_goals
    with engine.begin() as conn:
        _ensure_account(conn, account_id)
        conn.execute(t.delete().where((t.c.account_id == account_id) & (t.c.goal == goal)))
        conn.execute(t.insert().values(account_id=account_id, goal=goal, priority=priority, core_signal=core_signal,
                                       budget_cap=budget_cap, active=active, updated_at=schema.utcnow()))
    return {"account_id": account_id, "goal": goal, "priority": priority, "core_signal": g.signal(config),
            "budget_cap": budget_cap, "active": active}


def accounts(engine: Engine) -> pd.DataFrame:
    t = schema.ad_accounts
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.account_id)).mappings().all()
    return pd.DataFrame(rows, columns=[c.name for c in t.columns])


def goals(engine: Engine) -> pd.DataFrame:
    """Every goal (active or not), in the frame shape `ad_plan.plan` reads."""
    t = schema.ad_goals
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.account_id, t.c.goal)).mappings().all()
    df = pd.DataFrame(rows, columns=[c.name for c in t.columns])
    return df.rename(columns={"goal": "name"})


def account_settings(engine: Engine) -> dict[str, AccountSettings]:
    out = {}
    for r in accounts(engine).to_dict("records"):
        def opt(k):
            v = r.get(k)
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

        out[r["account_id"]] = AccountSettings(
            account_id=r["account_id"], global_daily_budget=opt("global_daily_budget"),
            max_daily_budget=opt("max_daily_budget"), auto_scale_winners=opt("auto_scale_winners"),
            auto_pause_losers=opt("auto_pause_losers"))
    return out


def approve(engine: Engine, plan_id: str, account_ids: Iterable[str], by: str) -> list[str]:
    """Approve a plan for some accounts (idempotent); returns the accounts now approved."""
    t = schema.ad_plan_approvals
    done = []
    with engine.begin() as conn:
        for acc in account_ids:
            if conn.execute(sa.select(t.c.plan_id).where((t.c.plan_id == plan_id) & (t.c.account_id == acc))).first():
                done.append(acc)
                continue
            conn.execute(t.insert().values(plan_id=plan_id, account_id=acc, approved_by=by,
                                           approved_at=schema.utcnow()))
            done.append(acc)
    return done


def approvals(engine: Engine, plan_id: str) -> dict[str, str]:
    """Who approved the plan, by account: explicit approvals, plus "auto_execute" for accounts with it on."""
    t = schema.ad_plan_approvals
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.account_id, t.c.approved_by).where(t.c.plan_id == plan_id)).all()
        auto = conn.execute(sa.select(schema.ad_accounts.c.account_id)
                            .where(schema.ad_accounts.c.auto_execute.is_(True))).scalars().all()
    out = {a: "auto_execute" for a in auto}
    out.update({acc: by for acc, by in rows})
    return out
