"""Ads: per ad account its goals, budget and switches, the newest plan action by action, "Approve plan", and the
recent runs and actions of the ads audit log, each only for the ad accounts the user sees.

Writes go through the same core functions as `actp ads`: settings through `ads.accounts.set_account` (plus a row
in the studio's audit log with the old and new values), a plan approval through `approvals.decide` on the ads
scope, which writes the `ad_plan_approvals` row the approvals sensor and the executor read. Nothing is executed
from a web request: the sensor runs `ad_actions` once it sees the approval.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import sqlalchemy as sa
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.routing import Route

from actp_pipeline import approvals
from actp_pipeline.ads import accounts as ad_accounts, audit as ads_audit
from actp_pipeline.ads.goals import DEFAULT_CORE_SIGNALS, AccountSettings, OrchestratorConfig
from actp_pipeline.ads.plan.rules import PlannedAction
from actp_pipeline.approvals import ads as ads_scope
from actp_pipeline.approvals.states import APPROVED
from actp_pipeline.store import schema
from actp_pipeline.studio import users
from actp_pipeline.studio.access import Access
from actp_pipeline.studio.web import Studio, action, page

CONFIG = OrchestratorConfig()  # the orchestrator's defaults: what an unset budget or switch means
SWITCHES = ("auto_execute", "auto_scale_winners", "auto_pause_losers")
BUDGETS = ("global_daily_budget", "max_daily_budget")
DEFAULTED = ("auto_scale_winners", "auto_pause_losers")  # None = the config's value: an unchanged box keeps None
PLAN_SCAN = 200  # newest dry-run plans read to find each account's newest one
RUNS_LIMIT = 30
ACTIONS_LIMIT = 100


def _clean(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def accounts_of(studio: Studio, access: Access) -> list[dict[str, Any]]:
    """The visible ad accounts with their settings as stored and as the orchestrator resolves them."""
    out = []
    goals = ad_accounts.goals(studio.engine)
    for r in ad_accounts.accounts(studio.engine).to_dict("records"):
        if not access.sees(r["account_id"]):
            continue
        r = {k: _clean(v) for k, v in r.items()}
        r["effective"] = AccountSettings(account_id=r["account_id"], **{k: r.get(k) for k in (
            *BUDGETS, "auto_scale_winners", "auto_pause_losers")}).resolve(CONFIG)
        mine = goals[goals["account_id"] == r["account_id"]].to_dict("records")
        r["goals"] = [{**{k: _clean(v) for k, v in g.items()},
                       "signal": _clean(g.get("core_signal")) or CONFIG.core_signals.get(g["name"])
                       or DEFAULT_CORE_SIGNALS.get(g["name"])} for g in mine]
        r["can_admin"] = access.can(r["account_id"], "admin")
        r["can_approve"] = access.can(r["account_id"], "approver")
        out.append(r)
    return out


def newest_plans(studio: Studio, account_ids: list[str]) -> dict[str, dict[str, Any]]:
    """account -> the newest dry-run plan that has actions for it (its run row)."""
    t = schema.ads_automation_runs
    with studio.engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.mode == ads_audit.DRY_RUN)
                            .order_by(t.c.as_of.desc(), t.c.started_at.desc()).limit(PLAN_SCAN)).mappings().all()
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        for acct in r["accounts"] or []:
            if acct in account_ids and acct not in out:
                out[acct] = dict(r)
    return out


def plan_of(studio: Studio, run: dict[str, Any], account_id: str,
            actions: list[tuple[int, PlannedAction]]) -> dict[str, Any]:
    """One account's part of a plan: its actions (of the plan's, as the executor reads them:
    `ads_audit.plan_actions`), its approval state and who approved it."""
    mine = [{"seq": seq, **dataclasses.asdict(a)} for seq, a in actions if a.account_id == account_id]
    approved_by = ad_accounts.approvals(studio.engine, run["plan_id"]).get(account_id)
    return {"plan_id": run["plan_id"], "as_of": run["as_of"], "started_at": run["started_at"], "actions": mine,
            "state": ads_scope.status(studio.engine, run["plan_id"], account_id), "approved_by": approved_by,
            "auto": approved_by == "auto_execute",
            "blocked": sum(a["status"] == "blocked" for a in mine),
            "executable": sum(a["status"] in ("planned", "clipped") for a in mine)}


def recent_runs(studio: Studio, access: Access) -> list[dict[str, Any]]:
    """Runs touching the user's ad accounts, newest first, with their action counts on those accounts only (a
    run's own summary is shown only to someone who sees every account it covers: it adds them up)."""
    t, a = schema.ads_automation_runs, schema.ads_automation_actions
    with studio.engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.started_at.desc()).limit(PLAN_SCAN)).mappings().all()
        runs = []
        for r in rows:
            mine = [x for x in r["accounts"] or [] if access.sees(x)]
            if mine:
                runs.append({**dict(r), "mine": mine, "whole": len(mine) == len(r["accounts"])})
            if len(runs) >= RUNS_LIMIT:
                break
        ids = [r["run_id"] for r in runs]
        counts = conn.execute(sa.select(a.c.run_id, a.c.account_id, a.c.status, sa.func.count()).where(
            a.c.run_id.in_(ids)).group_by(a.c.run_id, a.c.account_id, a.c.status)).all() if ids else []
    by_run: dict[str, dict[str, int]] = {}
    for run_id, acct, status, n in counts:
        if access.sees(acct):
            cell = by_run.setdefault(run_id, {})
            cell[status] = cell.get(status, 0) + int(n)
    for r in runs:
        r["statuses"] = by_run.get(r["run_id"], {})
    return runs


def recent_actions(studio: Studio, access: Access, account_ids: list[str]) -> list[dict[str, Any]]:
    """The audit log's newest action rows of the user's ad accounts."""
    if access.sees_all:
        frame = ads_audit.log(studio.engine, limit=ACTIONS_LIMIT)
        rows = frame.to_dict("records")
    else:
        rows = [r for acct in account_ids
                for r in ads_audit.log(studio.engine, account_id=acct, limit=ACTIONS_LIMIT).to_dict("records")]
        rows.sort(key=lambda r: (r["at"], r["id"]), reverse=True)
    return [{k: _clean(v) for k, v in r.items()} for r in rows[:ACTIONS_LIMIT] if access.sees(r["account_id"])]


def build(studio: Studio, access: Access, request: Request) -> dict[str, Any]:
    accts = accounts_of(studio, access)
    ids = [a["account_id"] for a in accts]
    plans = newest_plans(studio, ids)
    # a plan covers several accounts: its actions are read once, not once per account
    actions = {pid: ads_audit.plan_actions(studio.engine, pid) for pid in {r["plan_id"] for r in plans.values()}}
    for a in accts:
        run = plans.get(a["account_id"])
        a["plan"] = plan_of(studio, run, a["account_id"], actions[run["plan_id"]]) if run else None
    return {"accounts": accts, "config": CONFIG, "runs": recent_runs(studio, access),
            "actions": recent_actions(studio, access, sorted(access.roles))}


def _amount(form: FormData, name: str) -> float | None:
    """A budget field: blank = the orchestrator's default; else dollars >= 0 (a clear 400 otherwise)."""
    raw = str(form.get(name) or "").strip().replace("$", "")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} {raw!r} is not an amount in dollars (leave it blank for the default)") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be an amount >= 0 in dollars, got {raw!r}")
    return value


def _stored(studio: Studio, account_id: str) -> dict[str, Any]:
    t = schema.ad_accounts
    with studio.engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.account_id == account_id)).mappings().first()
    if row is None:
        raise ValueError(f"no ad account {account_id!r}: create it with `actp ads account` first")
    return {k: row[k] for k in (*BUDGETS, *SWITCHES)}


def save_settings(studio: Studio, access: Access, form: FormData) -> tuple[str, str]:
    """Budgets and switches of one ad account (admin of it only), audited with the old and new values. An
    unticked switch is off: the form always carries every switch."""
    account_id = str(form.get("account_id") or "").strip()
    access.require(account_id, "admin")
    old = _stored(studio, account_id)
    new = {**{k: _amount(form, k) for k in BUDGETS}, **{k: form.get(k) == "on" for k in SWITCHES}}
    changed = {k: v for k, v in new.items() if old.get(k) != v
               and not (old.get(k) is None and k in DEFAULTED and v == getattr(CONFIG, k))}
    if not changed:
        return "/ads", f"{account_id}: nothing changed"
    ad_accounts.set_account(studio.engine, account_id, **changed)
    users.audit(studio.engine, access.username, "settings", account=account_id, subject=f"ad_account:{account_id}",
                reason="ads settings changed in the studio",
                details={"old": {k: old.get(k) for k in changed}, "new": changed})
    return "/ads", f"{account_id}: saved " + ", ".join(f"{k} {old.get(k)} -> {v}" for k, v in changed.items())


def approve_plan(studio: Studio, access: Access, form: FormData) -> tuple[str, str]:
    """Approve a plan for one ad account (approver of it), as `actp ads approve` would, through the ads scope."""
    plan_id = str(form.get("plan_id") or "").strip()
    account_id = str(form.get("account_id") or "").strip()
    access.require(account_id, "approver")
    if not plan_id:
        raise ValueError("the form names no plan_id to approve")
    run = ads_audit.plan_run(studio.engine, plan_id)
    if run is None:
        raise ValueError(f"no ads plan {plan_id!r}")
    if account_id not in (run["accounts"] or []):
        raise ValueError(f"ads plan {plan_id} has no actions for ad account {account_id!r}")
    if ads_scope.status(studio.engine, plan_id, account_id) == APPROVED:
        return "/ads", f"plan {plan_id} is already approved for {account_id}"
    reason = " ".join(str(form.get("reason") or "").split()) or "plan approved in the studio"
    approvals.decide(studio.engine, "ads", ads_scope.subject(plan_id, account_id), APPROVED,
                     by=f"studio:{access.username}", reason=reason[:2000])
    return "/ads", (f"plan {plan_id} approved for {account_id}: the approvals sensor executes it at its next tick "
                    "(about 30 s)")


ROUTES = [Route("/ads", page("ads.html", build), methods=["GET"]),
          Route("/ads/settings", action(save_settings), methods=["POST"]),
          Route("/ads/approve", action(approve_plan), methods=["POST"])]
