"""What a planned action is, the names of actions and rules, and the pure decision rules.

Why apart from the planner: the rules (is a creative a loser, is the cost per core event stable) are
numbers in, verdict out, and `scaling_trends`, the guard and the tests ask them directly. Both decide on
evidence, not raw thresholds: Gamma-Poisson posteriors of core events per dollar give P(an ad set's rate
is below its goal's floor) and P(the recent cost per event holds against the prior window's).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from actp_pipeline.ads.goals import OrchestratorConfig, to_cents
from actp_pipeline.ads.plan.figures import count, money, number, percent
from actp_pipeline.ads.plan.inputs import (
    ACTIVE,
    AccountView,
    BadRows,
    aggregate_insights,
    hours,
    insight_frame,
    is_missing,
    utc,
)

DEFAULT_CONFIG = OrchestratorConfig()

# actions (what the ads client is asked to do)
CREATE_CAMPAIGN = "create_campaign"
CREATE_AD_SET = "create_ad_set"
DUPLICATE_AD_SET = "duplicate_ad_set"
SET_BUDGET = "set_budget"
PAUSE_AD_SET = "pause_ad_set"
ERROR = "error"
ALERT = "alert"  # not an action: why an account failed closed, shown in the plan, never executed
ACTIONS = (CREATE_CAMPAIGN, CREATE_AD_SET, DUPLICATE_AD_SET, SET_BUDGET, PAUSE_AD_SET, ERROR, ALERT)
REF_ACTIONS = (SET_BUDGET, PAUSE_AD_SET, DUPLICATE_AD_SET)  # actions whose target is an existing object
REF_KEYS = ("campaign_id", "source_ad_set_id", "promoted_from")  # params that name other objects

# rules (why)
ENSURE_LEARNING = "ensure_learning"
ENSURE_SCALING = "ensure_scaling"
TEST_CREATIVE = "test_creative"
REBALANCE = "rebalance"
PROMOTE = "promote"
SCALE = "scale"
FIT_BUDGET = "fit_budget"
PAUSE_LOSER = "pause_loser"
REFRESH_CREATIVE = "refresh_creative"  # pause a fatigued ad set: an untested candidate takes its place
REFRESH_NEEDED = "refresh_needed"  # an alert: a fatigued ad set and nothing to swap in (never executed)

# guard rules (what blocked or clipped an action)
ACCOUNT_ISOLATION = "account_isolation"
DEPENDS_ON_BLOCKED = "depends_on_blocked"
AUTO_SCALE_OFF = "auto_scale_winners_off"
AUTO_PAUSE_OFF = "auto_pause_losers_off"
PROMOTE_COOLDOWN = "promote_cooldown"
SCALE_COOLDOWN = "scale_cooldown"
PAUSE_MIN_AGE = "pause_min_age"
PAUSE_MIN_BUDGET = "pause_min_budget"
BUDGET_CHANGE_LIMIT = "budget_change_limit"
PLATFORM_MIN_BUDGET = "platform_min_daily_budget"
GOAL_CAP = "goal_daily_cap"
ACCOUNT_CAP = "global_daily_budget"
OVERALL_CAP = "overall_daily_budget"
NOT_ACTIVE = "not_active"
NO_CHANGE = "no_change"
GUARD_ERROR = "guard_error"
FAIL_CLOSED = "fail_closed"  # the listing is ambiguous or already over a cap: no creation, no raise

# statuses of a planned action
PLANNED, CLIPPED, BLOCKED = "planned", "clipped", "blocked"
EXECUTABLE = frozenset({PLANNED, CLIPPED})

# audit-log statuses that mean "this never reached the platform"
NOT_SENT = frozenset({"blocked", "skipped", "dry_run", "planned", "error"})
# ... and those that start no cooldown (a failed call changed nothing, but may count toward rate limits)
NO_COOLDOWN = NOT_SENT | {"failed"}


@dataclass(frozen=True)
class PlannedAction:
    """One thing the orchestrator would do, why, and whether the guard lets it.

    `target_id` is the object acted on (for a duplication: the source ad set); objects this plan would
    create get placeholder ids "new:<account>:<goal>:..." that later actions of the plan refer to.
    """

    account_id: str
    goal: str | None
    action: str
    rule: str
    target_id: str | None = None
    variant_id: str | None = None
    params: dict = field(default_factory=dict)
    reason: str = ""
    metrics: dict = field(default_factory=dict)
    status: str = PLANNED  # planned | clipped | blocked | error
    blocked_by: str | None = None  # the guard rule that blocked or clipped it
    note: str = ""  # the guard's numbers, e.g. "next promotion at ..."

    @property
    def executable(self) -> bool:
        return self.status in EXECUTABLE

    @property
    def creates(self) -> str | None:
        """The placeholder id of the object this action would create, if any."""
        if self.action in (CREATE_CAMPAIGN, CREATE_AD_SET):
            return self.target_id
        if self.action == DUPLICATE_AD_SET:
            return self.params.get("new_ad_set_id")
        return None

    def refs(self) -> list[str]:
        """Existing (or earlier-planned) objects this action touches or depends on."""
        out = []
        if self.action in REF_ACTIONS and self.target_id is not None:
            out.append(str(self.target_id))
        for key in REF_KEYS:
            v = self.params.get(key)
            if v is not None and str(v) not in out:
                out.append(str(v))
        return out


# -- pure rules -----------------------------------------------------------------------------------------
# Core events per dollar are Poisson given the spend, their rate gets a Gamma(a0 + events, spend)
# posterior (a0 = `evidence_prior_events`, prior rate 0): the evidence behind pausing and scaling.
def rate_posterior(spend: float, events: float, config: OrchestratorConfig = DEFAULT_CONFIG) -> tuple[float, float]:
    """(shape, rate) of the Gamma posterior of core events per dollar."""
    return config.evidence_prior_events + float(events), float(spend)


def p_rate_below(spend: float, events: float, floor: float, config: OrchestratorConfig = DEFAULT_CONFIG) -> float:
    """P(core events per dollar < floor | spend, events); NaN when nothing was spent or there is no floor."""
    from scipy.special import gammainc  # imported here: scipy is slow to import

    if not spend > 0 or is_missing(floor) or not floor > 0 or is_missing(events):
        return math.nan
    shape, rate = rate_posterior(spend, events, config)
    return float(gammainc(shape, rate * floor))


def rate_interval(spend: float, events: float, mass: float = 0.9,
                  config: OrchestratorConfig = DEFAULT_CONFIG) -> tuple[float, float]:
    """Equal-tailed credible interval of core events per dollar (NaN when nothing was spent)."""
    from scipy.special import gammaincinv

    if not spend > 0 or is_missing(events):
        return math.nan, math.nan
    shape, rate = rate_posterior(spend, events, config)
    tail = (1 - mass) / 2
    return float(gammaincinv(shape, tail) / rate), float(gammaincinv(shape, 1 - tail) / rate)


def p_cost_stable(recent_spend: float, recent_events: float, prior_spend: float, prior_events: float,
                  config: OrchestratorConfig = DEFAULT_CONFIG) -> float:
    """P(recent cost per core event <= prior's x (1 + cpa_stable_tolerance)) under independent Gamma
    posteriors of each window's events per dollar (exact: with U, V the standardised Gammas,
    U / (U + V) ~ Beta, so the probability is a regularised incomplete beta function)."""
    from scipy.special import betainc

    if not (recent_spend > 0 and prior_spend > 0) or is_missing(recent_events) or is_missing(prior_events):
        return math.nan
    a_r, _ = rate_posterior(recent_spend, recent_events, config)
    a_p, _ = rate_posterior(prior_spend, prior_events, config)
    # recent rate >= prior rate / (1 + tol)  <=>  U >= k V,  k = recent_spend / (prior_spend (1 + tol))
    k = recent_spend / (prior_spend * (1 + config.cpa_stable_tolerance))
    return float(betainc(a_p, a_r, 1 / (1 + k)))


def fallback_floor(config: OrchestratorConfig = DEFAULT_CONFIG) -> float:
    """1 core event per `loser_min_spend` dollars (what the original rule demanded); NaN at a $0 gate."""
    return 1 / config.loser_min_spend if config.loser_min_spend > 0 else math.nan


def goal_floor(others: Iterable[tuple[float, float]], max_cost_per_event: float | None = None,
               config: OrchestratorConfig = DEFAULT_CONFIG) -> tuple[float, str]:
    """(floor in core events per dollar, where it comes from) for one ad set of a goal.

    The goal's own `max_cost_per_event` when set; else `pause_floor_share` of the pooled posterior mean
    rate of the goal's OTHER ad sets (`others`: their (spend, events); leaving the judged one out so it
    never sets its own bar) once they have `pause_pool_min_events` events; else `fallback_floor`."""
    if max_cost_per_event is not None:
        return 1 / max_cost_per_event, f"the goal's floor of {money(max_cost_per_event)} per event"
    spend = events = 0.0
    for s, e in others:
        if not is_missing(e):  # an ad set whose core events are unknown says nothing about the goal's rate
            spend, events = spend + s, events + e
    share = config.pause_floor_share
    if spend > 0 and events >= config.pause_pool_min_events:
        pooled = (events + config.evidence_prior_events) / spend
        return share * pooled, (f"derived: {percent(share)} of the goal's other ad sets' pooled "
                                f"{number(pooled)} events/$ ({count(events)} events for {money(spend)})")
    floor = fallback_floor(config)
    return floor, (f"derived: 1 event per {money(config.loser_min_spend)} (the original loser threshold), as the "
                   f"goal's other ad sets have {count(events)} < {count(config.pause_pool_min_events)} events "
                   f"to pool")


def loser_evidence(spend: float, events: float, floor: float, config: OrchestratorConfig = DEFAULT_CONFIG,
                   floor_source: str = "") -> dict:
    """Is an ad set a loser: spent more than `loser_min_spend` (the gate, compared in cents) AND
    P(core events per dollar < floor) >= `pause_probability`. Unknown events are never a loser.
    Whether it may be paused yet (age, budget, switch) is the guard's call."""
    p = p_rate_below(spend, events, floor, config)
    lo, hi = rate_interval(spend, events, 0.9, config)
    mean = (config.evidence_prior_events + events) / spend if spend > 0 and not is_missing(events) else math.nan
    gate = to_cents(spend) > to_cents(config.loser_min_spend)
    loser = bool(gate and not is_missing(p) and p >= config.pause_probability)
    out = {"spend": round(float(spend), 2), "events": events, "floor": floor,
           "floor_cost": 1 / floor if not is_missing(floor) and floor > 0 else math.nan,
           "floor_source": floor_source, "p_below_floor": p, "rate_mean": mean, "rate_lo": lo, "rate_hi": hi,
           "spend_gate": bool(gate), "pause_probability": config.pause_probability, "loser": loser}
    out["evidence"] = (f"{count(events)} events for {money(spend)}: posterior {number(mean)} events/$ (90% "
                       f"{number(lo)}-{number(hi)}), P(below the floor {number(floor)} events/$ = "
                       f"{money(out['floor_cost'])} per event) = {number(p)}"
                       + (f" >= {config.pause_probability:g}" if loser else f", needs {config.pause_probability:g}")
                       + ("" if gate else f"; spend gate {money(config.loser_min_spend)} not passed"))
    return out


def is_loser(spend: float, events: float, config: OrchestratorConfig = DEFAULT_CONFIG,
             floor: float | None = None) -> bool:
    """`loser_evidence(...)["loser"]`; `floor` None = `fallback_floor` (no goal floor, nothing to pool)."""
    return loser_evidence(spend, events, fallback_floor(config) if floor is None else floor, config)["loser"]


def cost_per_event(spend: float, events: float) -> float:
    """Spend per core event: inf when money was spent for no event, NaN when nothing happened."""
    if not is_missing(events) and events > 0:
        return spend / events
    return math.inf if spend > 0 and not is_missing(events) else math.nan


def cpa_verdict(recent_spend: float, recent_events: float, prior_spend: float, prior_events: float,
                config: OrchestratorConfig = DEFAULT_CONFIG, signal: str = "core") -> dict:
    """Is the cost per core event of the recent window stable or improving against the prior one?

    `ok` when P(recent cost per event <= prior x (1 + cpa_stable_tolerance)) >= `scale_probability`
    (`p_cost_stable`), given a prior window that really ran: spend in it, at least
    `cpa_min_prior_spend_share` of the recent window's. Events NaN = unknown (no data for the signal)."""
    r_cpa, p_cpa = cost_per_event(recent_spend, recent_events), cost_per_event(prior_spend, prior_events)
    w = config.cpa_window_h
    out = {"signal": signal, "window_h": w, "recent_spend": round(recent_spend, 2), "recent_events": recent_events,
           "recent_cpa": r_cpa, "prior_spend": round(prior_spend, 2), "prior_events": prior_events,
           "prior_cpa": p_cpa, "change": math.nan, "p_stable": math.nan, "scale_probability": config.scale_probability,
           "tolerance": config.cpa_stable_tolerance, "verdict": "", "ok": False}
    if is_missing(recent_events) or is_missing(prior_events):
        out["verdict"] = f"no {signal} data in the insights"
    elif prior_spend <= 0:
        out["verdict"] = f"no spend {w:g}-{2 * w:g} h ago: too little history"
    elif prior_spend < config.cpa_min_prior_spend_share * recent_spend:
        out["verdict"] = (f"too little history: {money(prior_spend)} spent {w:g}-{2 * w:g} h ago vs "
                          f"{money(recent_spend)} in the last {w:g} h")
    elif not recent_spend > 0:
        out["verdict"] = f"no spend in the last {w:g} h"
    else:
        p = p_cost_stable(recent_spend, recent_events, prior_spend, prior_events, config)
        ok = p >= config.scale_probability
        if math.isfinite(r_cpa) and math.isfinite(p_cpa) and p_cpa > 0:
            out["change"] = r_cpa / p_cpa - 1
        out.update(p_stable=p, ok=bool(ok), verdict=(
            f"{'stable or improving' if ok else 'not shown stable'}: P(cost per {signal} <= "
            f"{1 + config.cpa_stable_tolerance:g} x the prior window's) = {number(p)} "
            f"{'>=' if ok else '<'} {config.scale_probability:g}"))
    return out


def cpa_trend(insights: pd.DataFrame, signal: str, now, config: OrchestratorConfig = DEFAULT_CONFIG) -> dict:
    """`cpa_verdict` over a frame of insights (ad_set_id, at, spend, <signal>) taken together."""
    ins = insight_frame(insights, [signal], None, BadRows())
    stats = aggregate_insights(ins, now, config.cpa_window_h)
    return trend_of(stats.values(), signal, signal in ins.columns, config)


def trend_of(stats: Iterable[dict], signal: str, known: bool, config: OrchestratorConfig) -> dict:
    """`cpa_verdict` over ad sets' aggregated insights (`aggregate_insights` values) taken together;
    `known` = the insights carry a column for the signal."""
    r_spend = r_ev = p_spend = p_ev = 0.0
    any_rows = False
    for st in stats:
        any_rows = True
        r_spend += st["recent"]["spend"]
        p_spend += st["prior"]["spend"]
        r_ev += st["recent"].get(signal, 0.0)
        p_ev += st["prior"].get(signal, 0.0)
    if any_rows and not known:
        r_ev = p_ev = math.nan
    return cpa_verdict(r_spend, r_ev, p_spend, p_ev, config, signal)


def performance(view: AccountView, ad_set: dict, signal: str | None, now: pd.Timestamp) -> dict:
    """An ad set's lifetime numbers: spend, impressions, clicks, core events (NaN = its insights carry no
    column for the signal), hours live."""
    st = view.stats.get(ad_set["id"])
    if st is None:
        nums = {"spend": 0.0, "impressions": 0.0, "clicks": 0.0, "events": 0.0}
    else:
        known = signal is not None and signal in view.signal_columns
        nums = {"spend": round(st["spend"], 2), "impressions": st["impressions"], "clicks": st["clicks"],
                "events": st.get(signal, 0.0) if known else math.nan}
    created = ad_set["created_at"]
    age = math.nan if is_missing(created) else hours(now - created)
    return {**ad_set, **nums, "signal": signal, "age_h": age}


def ad_set_performance(view: AccountView, signals: Mapping[str, str], now) -> pd.DataFrame:
    """Each ad set of a view with its lifetime numbers (for display and for `find_losers`)."""
    now = utc(now)
    rows = [performance(view, s, signals.get(s["goal"]), now) for s in view.ad_sets]
    return pd.DataFrame(rows)


def find_losers(perf: pd.DataFrame, config: OrchestratorConfig = DEFAULT_CONFIG,
                max_costs: Mapping[str, float | None] | None = None) -> pd.DataFrame:
    """Running ad sets (ACTIVE in an ACTIVE campaign) that are losers by `loser_evidence` against their
    goal's floor (`goal_floor`: `max_costs` per goal name, else derived from the goal's other rows)."""
    if perf.empty:
        return perf
    recs = perf.to_dict("records")
    mask = []
    for r in recs:
        others = [(o["spend"], o["events"]) for o in recs if o["goal"] == r["goal"] and o["id"] != r["id"]]
        floor, _ = goal_floor(others, (max_costs or {}).get(r["goal"]), config)
        mask.append(r["status"] == ACTIVE and r["campaign_status"] == ACTIVE
                    and loser_evidence(r["spend"], r["events"], floor, config)["loser"])
    return perf[mask]
