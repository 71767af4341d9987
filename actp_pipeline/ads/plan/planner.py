"""The planner: per goal of each account, the actions the orchestrator would take now, with reasons.

Why in steps: one goal's plan is a sequence (learning campaign, losers, scaling campaign, promotions,
scale or fit, learning budgets), each step reading what the earlier ones decided. Every action then
passes through the guard (`enforce`); the planner only predicts with the ledger's predicates.
"""

from __future__ import annotations

import hashlib
import math
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from actp_pipeline.ads.goals import (
    AccountBudget,
    AccountSettings,
    Goal,
    OrchestratorConfig,
    goals_from,
    is_attributed,
    settings_from,
    split_budget,
    to_cents,
    to_dollars,
)
from actp_pipeline.ads.plan.figures import count, money, money_cents, percent
from actp_pipeline.ads.plan.guard import enforce
from actp_pipeline.ads.plan.inputs import (
    ABO,
    ACTIVE,
    CBO,
    GONE,
    LEARNING,
    SCALING,
    AccountView,
    account_views,
    batch_boundary,
    is_missing,
    utc,
)
from actp_pipeline.ads.plan.ledger import Ledger, OverallBudget, cents_or_none
from actp_pipeline.ads.plan.rules import (
    ALERT,
    BLOCKED,
    CREATE_AD_SET,
    CREATE_CAMPAIGN,
    DEFAULT_CONFIG,
    DUPLICATE_AD_SET,
    ENSURE_LEARNING,
    ENSURE_SCALING,
    ERROR,
    FAIL_CLOSED,
    FIT_BUDGET,
    PAUSE_AD_SET,
    PAUSE_LOSER,
    PROMOTE,
    REBALANCE,
    REFRESH_CREATIVE,
    SCALE,
    SET_BUDGET,
    TEST_CREATIVE,
    PlannedAction,
    cost_per_event,
    goal_floor,
    loser_evidence,
    performance,
    trend_of,
)
from actp_pipeline.ads.plan.refresh import fatigue_by_account, refresh_specs
from actp_pipeline.stats.arms import ArmStats
from actp_pipeline.stats.bandits import Thompson, TopTwoThompson


# -- the whole dry run ----------------------------------------------------------------------------------
def plan(goals: Iterable[Goal] | pd.DataFrame, campaigns: pd.DataFrame | None = None,
         ad_sets: pd.DataFrame | None = None, insights: pd.DataFrame | None = None,
         winners: pd.DataFrame | None = None, history: pd.DataFrame | None = None, *,
         accounts: Iterable[AccountSettings] | pd.DataFrame | Mapping | None = None,
         candidates: pd.DataFrame | None = None, now=None,
         config: OrchestratorConfig = DEFAULT_CONFIG) -> list[PlannedAction]:
    """The dry run: every action the orchestrator would take at `now`, guarded, with reasons and numbers.

    goals: `Goal`s or a frame (account_id, name, priority[, core_signal, budget_cap, active]).
    campaigns: id, account_id, goal, kind (learning|scaling), daily_budget, status[, budget_mode, objective,
      created_at]. ad_sets: id, campaign_id, account_id, variant_id (or creative_id), daily_budget, status,
      created_at[, promoted_from]. insights: ad_set_id, at (bucket start; or hour/date_start/date), spend
      [, account_id, impressions, clicks] and one column per core signal (or long form: signal, events).
    winners: variant_id, account_id, goal[, evidence, decision]. history (the audit log): account_id,
      action, target_id, at[, rule, goal, variant_id, status]. candidates (creatives to test): variant_id,
      account_id, goal. accounts: `AccountSettings` (budgets and automation switches) per account.

    Inputs are never modified. Accounts are planned independently; an error becomes an `error` entry.
    """
    now = utc(now if now is not None else pd.Timestamp.now(tz="UTC"))
    goal_list = goals_from(goals)
    settings = settings_from(accounts)
    account_ids = sorted({str(g.account_id) for g in goal_list})
    signals = {g.signal(config) for g in goal_list if isinstance(g.name, str)} - {None}
    try:
        views, bad = account_views(account_ids, campaigns, ad_sets, insights, winners, history, candidates,
                                   signals=signals, now=now, window_h=config.cpa_window_h,
                                   batch_h=config.learning_batch_h)
    except Exception as e:  # noqa: BLE001 - an unusable input: every account gets the error
        return [_error(acc, None, "inputs", e) for acc in account_ids]
    proposals: list[PlannedAction] = []
    try:
        fatigue = fatigue_by_account(insights, {a: v for a, v in views.items() if a not in bad}, goal_list, config, now)
    except Exception as e:  # noqa: BLE001 - no fatigue verdicts: said once per account, the rest is planned
        fatigue = {}
        proposals += [_error(acc, None, "fatigue", e) for acc in account_ids if acc not in bad]
    ledgers: dict[str, Ledger] = {}
    for acc in account_ids:
        if acc in bad:
            proposals.append(_error(acc, None, "account", bad[acc]))
            continue
        try:
            budget = settings.get(acc, AccountSettings(acc)).resolve(config)
            mine = [g for g in goal_list if str(g.account_id) == acc]
            actions, ledger = _plan_account(views[acc], mine, budget, config, now, fatigue.get(acc, {}))
        except Exception as e:  # noqa: BLE001 - one account's failure is recorded, the others go on
            proposals.append(_error(acc, None, "account", e))
            continue
        ledgers[acc] = ledger
        proposals += actions
    overall = OverallBudget(None if config.overall_daily_budget is None else to_cents(config.overall_daily_budget),
                            sum(led.account_spend() for led in ledgers.values()))
    return [_alert(led) for led in ledgers.values() if led.alerts] + enforce(proposals, ledgers, overall)


def _alert(led: Ledger) -> PlannedAction:
    """The plan's entry saying why an account failed closed (no creation, no raise until it is resolved)."""
    return PlannedAction(account_id=led.account_id, goal=None, action=ALERT, rule=FAIL_CLOSED, status=BLOCKED,
                         blocked_by=FAIL_CLOSED, note="; ".join(led.alerts),
                         reason=f"account {led.account_id} fails closed: no campaign or ad set is created and no "
                                f"budget raised until this is resolved: " + "; ".join(led.alerts),
                         metrics={"alerts": list(led.alerts), "reported_unseen": to_dollars(led.unseen)})


def _error(account_id: str, goal: str | None, scope: str, e: BaseException | str) -> PlannedAction:
    where = f"goal {goal} of account {account_id}" if goal else f"account {account_id}"
    if isinstance(e, BaseException):
        tb = traceback.extract_tb(e.__traceback__)
        what, kind, at = f"{type(e).__name__}: {e}", type(e).__name__, (f"{tb[-1].name}:{tb[-1].lineno}" if tb else "")
    else:
        what, kind, at = str(e), "BadInput", ""
    return PlannedAction(account_id=account_id, goal=goal, action=ERROR, rule=ERROR, status=ERROR,
                         reason=f"{where} could not be planned: {what}",
                         metrics={"scope": scope, "exception": kind, "where": at})


def _pick(camps: list[dict], kind: str) -> dict | None:
    """The goal's campaign of a kind: an ACTIVE one first, then the oldest, then the smallest id."""
    mine = [c for c in camps if c["kind"] == kind]
    if not mine:
        return None
    return min(mine, key=lambda c: (c["status"] != ACTIVE, pd.Timestamp.max if is_missing(c["created_at"])
                                    else c["created_at"], c["id"]))


def _plan_account(view: AccountView, goals: Sequence[Goal], budget: AccountBudget,
                  config: OrchestratorConfig, now, fatigue: Mapping[str, dict] | None = None
                  ) -> tuple[list[PlannedAction], Ledger]:
    now = utc(now if now is not None else pd.Timestamp.now(tz="UTC"))
    acc = view.account_id
    actions: list[PlannedAction] = []
    valid: list[Goal] = []
    for g in goals:
        problems = g.problems(config)
        if str(g.account_id) != acc:
            problems.append(f"goal belongs to account {g.account_id}, not {acc}")
        if any(v.name == g.name for v in valid):
            problems.append(f"goal {g.name!r} is listed twice")
        if problems:
            actions.append(_error(acc, str(g.name), "goal", ValueError("; ".join(problems))))
        else:
            valid.append(g)
    ledger = Ledger(view, budget, valid, config, now)
    if not valid:
        return actions, ledger
    live = [c for c in view.campaigns if c["status"] not in GONE]
    with_scaling = {}
    for g in valid:
        scaling = _pick([c for c in live if c["goal"] == g.name], SCALING)
        with_scaling[g.name] = (scaling is not None and scaling["status"] == ACTIVE) or (
            scaling is None and any(w["goal"] == g.name for w in view.winners))
    split = {r["goal"]: r for r in split_budget(valid, budget, with_scaling, config).to_dict("records")}
    for g in sorted(valid, key=lambda g: (-g.priority, g.name)):
        try:
            actions += _plan_goal(view, ledger, g, split[g.name], config, now, fatigue or {})
        except Exception as e:  # noqa: BLE001 - one goal's failure is recorded, the others go on
            actions.append(_error(acc, g.name, "goal", e))
    return actions, ledger


# -- one goal, step by step -----------------------------------------------------------------------------
@dataclass
class _GoalPlan:
    """What every step of one goal's plan reads, and the actions the steps have proposed so far."""

    view: AccountView
    ledger: Ledger
    goal: Goal
    split: dict  # the goal's row of `split_budget`
    config: OrchestratorConfig
    now: pd.Timestamp
    signal: str | None
    goal_cents: int
    base: dict  # the goal's budget numbers, in every action's metrics
    perf: list[dict]  # the goal's ad sets with their lifetime numbers
    out: list[PlannedAction] = field(default_factory=list)
    fatigue: Mapping[str, dict] = field(default_factory=dict)  # `stats.fatigue` rows by ad set id

    @property
    def name(self) -> str:
        return self.goal.name

    def add(self, action: str, rule: str, **kw) -> None:
        self.out.append(PlannedAction(self.view.account_id, self.goal.name, action, rule, **kw))

    def new_id(self, *what: str) -> str:
        """The placeholder id of an object this plan would create."""
        return ":".join(("new", self.view.account_id, self.goal.name, *what))


def _plan_goal(view: AccountView, ledger: Ledger, goal: Goal, split: dict, config: OrchestratorConfig,
               now: pd.Timestamp, fatigue: Mapping[str, dict] | None = None) -> list[PlannedAction]:
    signal = goal.signal(config)
    perf = [performance(view, s, signal, now) for s in view.ad_sets if s["goal"] == goal.name]
    # an ACTP-attributed signal is unknown per ad set (no paid link): not judged on it, the rest planned
    if not is_attributed(signal) and any(is_missing(p["events"]) for p in perf):
        raise ValueError(f"insights have rows for goal {goal.name}'s ad sets but no column for its core signal "
                         f"{signal!r}")
    base = {"priority": goal.priority, "weight": round(float(split["weight"]), 4), "goal_budget": split["goal_budget"],
            "goal_cap": split["goal_cap"], "global_daily_budget": ledger.budget.global_daily_budget}
    g = _GoalPlan(view, ledger, goal, split, config, now, signal, to_cents(split["goal_budget"]), base, perf,
                  fatigue=fatigue or {})
    camps = [c for c in view.campaigns if c["goal"] == goal.name and c["status"] not in GONE]
    learning_id, learning_running = _ensure_learning(g, _pick(camps, LEARNING))
    expected_paused = _pause_losers(g)
    expected_paused |= _refresh_fatigued(g, expected_paused)
    winners = [w for w in view.winners if w["goal"] == goal.name]
    scaling_id, scaling_new, scaling_after = _ensure_scaling(g, _pick(camps, SCALING), winners)
    if scaling_id is not None:
        _promote(g, scaling_id, winners)
    if scaling_id is not None and not scaling_new:
        scaling_after = _scale_or_fit(g, scaling_id, scaling_after)
    if learning_running:
        _learning_budgets(g, learning_id, scaling_after, expected_paused)
    return g.out


def _ensure_learning(g: _GoalPlan, learning: dict | None) -> tuple[str, bool]:
    """Step 1, a learning campaign (ABO): (its id, whether it runs), created if the goal has none."""
    if learning is not None:
        return learning["id"], learning["status"] == ACTIVE
    learning_id, objective = g.new_id(LEARNING), g.config.objective(g.name)
    g.add(CREATE_CAMPAIGN, ENSURE_LEARNING, target_id=learning_id,
          params={"kind": LEARNING, "budget_mode": ABO, "objective": objective, "name": f"Learning - {g.name}",
                  "daily_budget": None, "status": ACTIVE, "core_signal": g.signal},
          reason=f"goal {g.name} (priority {g.goal.priority}) has no learning campaign: create one (ABO, "
                 f"{objective}, optimising for {g.signal})",
          metrics=dict(g.base))
    return learning_id, True


def _pause_losers(g: _GoalPlan) -> set[str]:
    """Step 2, pause the running ad sets that are losers on the evidence (`loser_evidence` against the goal's
    floor, past the spend gate); returns those the guard is expected to let through."""
    expected_paused = set()
    for r in g.perf:
        if not (r["status"] == ACTIVE and r["campaign_status"] == ACTIVE):
            continue
        others = [(o["spend"], o["events"]) for o in g.perf if o["id"] != r["id"]]
        floor, source = goal_floor(others, g.goal.max_cost_per_event, g.config)
        ev = loser_evidence(r["spend"], r["events"], floor, g.config, source)
        if not ev["loser"]:
            continue
        if not g.ledger.pause_blockers(r["id"]):
            expected_paused.add(r["id"])
        g.add(PAUSE_AD_SET, PAUSE_LOSER, target_id=r["id"], variant_id=r["variant_id"],
              params={"campaign_id": r["campaign_id"]},
              reason=f"ad set {r['id']} is below the floor of goal {g.name} on the evidence: {ev['evidence']} (floor "
                     f"{source}; spent more than the {money(g.config.loser_min_spend)} gate, {r['age_h']:.1f} h "
                     f"live): pause it",
              metrics={"spend": r["spend"], "events": r["events"], "signal": g.signal, "age_h": round(r["age_h"], 2),
                       "daily_budget": to_dollars(g.ledger.effective_budget(r["id"])),
                       "impressions": r["impressions"], "clicks": r["clicks"],
                       **{k: ev[k] for k in ("floor", "floor_cost", "floor_source", "p_below_floor", "rate_mean",
                                             "rate_lo", "rate_hi", "pause_probability")}})
    return expected_paused


def _fresh_candidates(g: _GoalPlan) -> list[str]:
    """The goal's candidate creatives with no learning ad set yet, in the candidates' order."""
    tested = {s["variant_id"] for s in g.view.ad_sets if s["goal"] == g.name and s["kind"] == LEARNING}
    return [c["variant_id"] for c in g.view.candidates if c["goal"] == g.name and c["variant_id"] not in tested]


def _refresh_fatigued(g: _GoalPlan, pausing: set[str]) -> set[str]:
    """Step 2b, fatigued running ad sets: a refresh (pause, an untested candidate swaps in) or a
    refresh-needed alert (`refresh.refresh_specs`); returns the pauses the guard is expected to pass."""
    expected = set()
    pausing = pausing | {a.target_id for a in g.out if a.action == PAUSE_AD_SET}
    for spec in refresh_specs(g.perf, g.fatigue, _fresh_candidates(g), pausing, g.name, g.signal, g.config):
        if spec["action"] == PAUSE_AD_SET and not g.ledger.pause_blockers(spec["target_id"]):
            expected.add(spec["target_id"])
        g.add(**spec)
    return expected


def _ensure_scaling(g: _GoalPlan, scaling: dict | None, winners: list[dict]) -> tuple[str | None, bool, int]:
    """Step 3, a scaling campaign (CBO) once winners exist: (its id, whether this plan creates it, the cents
    it will run at after this plan as far as can be told)."""
    if scaling is not None:
        if scaling["status"] != ACTIVE:
            return None, False, 0
        return scaling["id"], False, g.ledger.budget_of(scaling["id"]) or 0
    if not winners:
        return None, False, 0
    scaling_cents = to_cents(g.split["scaling_budget"])
    scaling_id = g.new_id(SCALING)
    g.add(CREATE_CAMPAIGN, ENSURE_SCALING, target_id=scaling_id,
          params={"kind": SCALING, "budget_mode": CBO, "objective": g.config.objective(g.name),
                  "name": f"Scaling - {g.name}", "daily_budget": to_dollars(scaling_cents), "status": ACTIVE,
                  "core_signal": g.signal},
          reason=f"goal {g.name} has {len(winners)} winner(s) and no scaling campaign: create one (CBO) at "
                 f"{percent(g.config.scaling_share)} of the goal budget {money_cents(g.goal_cents)} = "
                 f"{money_cents(scaling_cents)}/day",
          metrics={**g.base, "winners": len(winners), "scaling_budget": to_dollars(scaling_cents)})
    return scaling_id, True, scaling_cents if scaling_cents >= g.ledger.min_cents else 0


def _promote(g: _GoalPlan, scaling_id: str, winners: list[dict]) -> None:
    """Step 3b, duplicate each winner's learning ad set into the scaling campaign (unless it runs there)."""
    view = g.view
    in_scaling = {s["variant_id"] for s in view.ad_sets if s["campaign_id"] == scaling_id and s["status"] == ACTIVE}
    sources = [p for p in g.perf if p["kind"] == LEARNING and p["status"] not in GONE
               and p["campaign_status"] not in GONE]
    for w in winners:
        v = w["variant_id"]
        mine = [p for p in sources if p["variant_id"] == v]
        if v in in_scaling or not mine:
            continue
        # the running one first, then the newest
        src = min(mine, key=lambda p: (p["status"] != ACTIVE,
                                       -(0 if is_missing(p["created_at"]) else p["created_at"].value), p["id"]))
        cpa = cost_per_event(src["spend"], src["events"])
        ev = w.get("evidence")
        g.add(DUPLICATE_AD_SET, PROMOTE, target_id=src["id"], variant_id=v,
              params={"source_ad_set_id": src["id"], "campaign_id": scaling_id, "promoted_from": src["id"],
                      "new_ad_set_id": g.new_id("promote", v), "keep_targeting": True,
                      "keep_creative": True, "daily_budget": None},
              reason=f"creative {v} is a winner for {g.name}: duplicate its learning ad set {src['id']} into the "
                     f"scaling campaign, same targeting and creative ({money(src['spend'])} spent, "
                     f"{count(src['events'])} {g.signal} events, {money(cpa)} per event)"
                     + (f"; evidence: {ev}" if ev is not None else ""),
              metrics={"spend": src["spend"], "events": src["events"], "cost_per_event": cpa, "signal": g.signal,
                       "evidence": ev})


def _scale_or_fit(g: _GoalPlan, scaling_id: str, cur: int) -> int:
    """Step 4, a running scaling campaign: cut back to its room, or +scale_step when the cost per core event
    holds; returns the cents it will run at after this plan as far as can be told."""
    room = g.goal_cents - math.ceil(g.goal_cents * g.config.min_learning_share - 1e-9)
    if cur > room:
        fit = max(room, g.ledger.min_cents)
        if fit >= cur:
            return cur
        g.add(SET_BUDGET, FIT_BUDGET, target_id=scaling_id,
              params={"old_budget": to_dollars(cur), "new_budget": to_dollars(fit)},
              reason=f"scaling campaign of {g.name} runs at {money_cents(cur)}/day but the goal budget "
                     f"{money_cents(g.goal_cents)} leaves it at most {money_cents(room)} (learning keeps "
                     f"{percent(g.config.min_learning_share)}): cut it to {money_cents(fit)}/day",
              metrics={**g.base, "old_budget": to_dollars(cur), "new_budget": to_dollars(fit),
                       "scaling_room": to_dollars(room)})
        return fit
    if 0 < cur < room:
        return _scale(g, scaling_id, cur, room)
    return cur


def _scale(g: _GoalPlan, scaling_id: str, cur: int, room: int) -> int:
    view, config = g.view, g.config
    members = [view.stats[s["id"]] for s in view.ad_sets if s["campaign_id"] == scaling_id and s["id"] in view.stats]
    trend = trend_of(members, g.signal, g.signal in view.signal_columns, config)
    if not trend["ok"]:
        return cur
    want = max(int(round(cur * (1 + config.scale_step))), cur + 1)
    new = min(want, room)
    capped = f" (capped at {money_cents(room)}: the goal budget minus learning's share)" if new < want else ""
    g.add(SET_BUDGET, SCALE, target_id=scaling_id,
          params={"old_budget": to_dollars(cur), "new_budget": to_dollars(new)},
          reason=f"cost per {g.signal} {money(trend['recent_cpa'])} in the last {config.cpa_window_h:g} h vs "
                 f"{money(trend['prior_cpa'])} before ({count(trend['recent_events'])} vs "
                 f"{count(trend['prior_events'])} events), {trend['verdict']}; scale {g.name}'s scaling "
                 f"campaign +{percent(config.scale_step)}: {money_cents(cur)} -> {money_cents(new)}/day{capped}",
          metrics={**g.base, **{k: trend[k] for k in ("recent_spend", "recent_events", "recent_cpa", "prior_spend",
                                                      "prior_events", "prior_cpa", "change", "p_stable",
                                                      "scale_probability", "tolerance", "verdict")},
                   "old_budget": to_dollars(cur), "new_budget": to_dollars(new), "scaling_room": to_dollars(room)})
    if not g.ledger.alerts and not g.ledger.scale_blockers(g.name) and not g.ledger.rate_blockers(scaling_id):
        return new
    return cur


def _learning_budgets(g: _GoalPlan, learning_id: str, scaling_after: int, expected_paused: set[str]) -> None:
    """Step 5, the rest of the goal budget over the learning ad sets, and new creatives while there is room."""
    view, ledger, name = g.view, g.ledger, g.name
    learning_cents = max(g.goal_cents - scaling_after, 0)
    running = sorted((s for s in view.ad_sets if s["campaign_id"] == learning_id and s["status"] == ACTIVE
                      and s["id"] not in expected_paused),
                     key=lambda s: (pd.Timestamp.max if is_missing(s["created_at"]) else s["created_at"], s["id"]))
    fresh = _fresh_candidates(g)
    slots = learning_cents // ledger.min_cents if ledger.min_cents > 0 else len(running) + len(fresh)
    fresh = fresh[:max(0, slots - len(running))]
    n = len(running) + len(fresh)
    if not n:
        return
    target = max(learning_cents // n, ledger.min_cents)
    why = (f"learning budget {money_cents(learning_cents)}/day of goal {name} ({money_cents(g.goal_cents)} - "
           f"scaling {money_cents(scaling_after)}) over {n} ad set(s)")
    split = _learning_split(view, running, len(fresh), learning_cents, target, g.signal, g.config,
                            ledger.min_cents, learning_id, g.now)
    numbers = {**g.base, "learning_budget": to_dollars(learning_cents), "ad_sets": n}
    for r in running:
        _rebalance(g, r, *split.get(r["id"], (target, None)), why=why, numbers=numbers)
    swaps = {a.params.get("replacement"): a.target_id for a in g.out if a.rule == REFRESH_CREATIVE}
    for v in fresh:
        instead = f"; it replaces fatigued ad set {swaps[v]}" if v in swaps else ""
        g.add(CREATE_AD_SET, TEST_CREATIVE, target_id=g.new_id("adset", v), variant_id=v,
              params={"campaign_id": learning_id, "variant_id": v, "daily_budget": to_dollars(target),
                      "status": ACTIVE},
              reason=f"test creative {v} for {name}: a new ad set at {money_cents(target)}/day ({why}){instead}",
              metrics={**numbers, "new_budget": to_dollars(target)})


def _rebalance(g: _GoalPlan, r: dict, want: int, share: float | None, *, why: str, numbers: dict) -> None:
    """A running learning ad set to its part of the learning budget, unless it is there already."""
    cur = cents_or_none(r["daily_budget"]) or 0
    if cur == want:
        return
    how = "" if share is None else (f" ({percent(share)} of the tested ad sets' budget by "
                                    f"{g.config.learning_split} on {g.signal} per impression up to "
                                    f"{batch_boundary(g.now, g.config.learning_batch_h):%Y-%m-%d %H:%M})")
    g.add(SET_BUDGET, REBALANCE, target_id=r["id"], variant_id=r["variant_id"],
          params={"old_budget": to_dollars(cur), "new_budget": to_dollars(want)},
          reason=f"{why}: set ad set {r['id']} from {money_cents(cur)} to {money_cents(want)}/day{how}",
          metrics={**numbers, "old_budget": to_dollars(cur), "new_budget": to_dollars(want),
                   "share": share, "split": g.config.learning_split})


def _learning_split(view: AccountView, running: list[dict], n_fresh: int, learning_cents: int, even: int,
                    signal: str | None, config: OrchestratorConfig, min_cents: int, campaign_id: str,
                    now: pd.Timestamp) -> dict[str, tuple[int, float | None]]:
    """Budgets of the running learning ad sets under the bandit split: {ad set id: (cents, share)}.

    New ad sets (planned now, or with no impressions before the batch boundary) get the even share; the
    rest of the learning budget is split by the policy's shares over the tested ones (core events per
    impression before the boundary, so the split moves at most once a batch), each at least the platform
    minimum. Empty (= the even split) when the split is "even", fewer than two are tested, or the
    minimums do not fit."""
    if config.learning_split == "even" or signal is None or signal not in view.signal_columns:
        return {}
    tested = [r for r in running if view.stats.get(r["id"], {}).get("batch", {}).get("impressions", 0) > 0]
    if len(tested) < 2:
        return {}
    budget = learning_cents - even * (n_fresh + len(running) - len(tested))
    if budget < min_cents * len(tested):
        return {}
    batch = [view.stats[r["id"]]["batch"] for r in tested]
    events = np.array([[b.get(signal, 0.0) for b in batch]])
    if np.isnan(events).any():  # an ad set whose core events are unknown: no evidence to split on
        return {}
    impressions = np.array([[b["impressions"] for b in batch]])
    spend = np.array([[b["spend"] for b in batch]])
    stats = ArmStats.from_arrays(successes=np.minimum(events, impressions), trials=impressions,
                                 impressions=impressions, events=events, hours_live=np.zeros_like(events), spend=spend)
    policy = (TopTwoThompson if config.learning_split == "top_two_thompson" else Thompson)(floor=config.learning_floor)
    boundary = batch_boundary(now, config.learning_batch_h)
    seed = int(hashlib.sha256(f"{campaign_id}|{boundary.isoformat()}".encode()).hexdigest()[:12], 16)
    shares = policy.shares(stats, np.random.default_rng(seed))[0]
    cents = np.maximum(np.floor(budget * shares).astype(int), min_cents)
    while cents.sum() > budget:  # the minimums pushed it over: take the excess from the largest
        cents[int(np.argmax(cents))] -= int(cents.sum() - budget)
        if cents.min() < min_cents:
            return {}
    return {r["id"]: (int(c), float(sh)) for r, c, sh in zip(tested, cents, shares)}

