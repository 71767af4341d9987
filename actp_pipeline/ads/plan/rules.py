"""What a planned action is, the names of actions and rules, and the pure decision rules.

Why apart from the planner: the rules (is a creative a loser, is the cost per core event stable) are
numbers in, verdict out, and `scaling_trends`, the guard and the tests ask them directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from actp_pipeline.ads.goals import OrchestratorConfig, to_cents
from actp_pipeline.ads.plan.figures import money
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
def is_loser(spend: float, events: float, config: OrchestratorConfig = DEFAULT_CONFIG) -> bool:
    """Spent more than `loser_min_spend` (compared in cents) with at most `loser_max_events` core events
    (unknown events are never a loser). Whether it may be paused yet is the guard's call."""
    return (not is_missing(events)) and to_cents(spend) > to_cents(config.loser_min_spend) \
        and events <= config.loser_max_events


def cost_per_event(spend: float, events: float) -> float:
    """Spend per core event: inf when money was spent for no event, NaN when nothing happened."""
    if not is_missing(events) and events > 0:
        return spend / events
    return math.inf if spend > 0 and not is_missing(events) else math.nan


def cpa_verdict(recent_spend: float, recent_events: float, prior_spend: float, prior_events: float,
                config: OrchestratorConfig = DEFAULT_CONFIG, signal: str = "core") -> dict:
    """Is the cost per core event of the recent window stable or improving against the prior one?

    `ok` when recent <= prior * (1 + cpa_stable_tolerance) (cross-multiplied, exact at the boundary),
    with enough evidence: spend in the prior window and core events in the recent one. Events NaN =
    unknown (no data for the signal)."""
    r_cpa, p_cpa = cost_per_event(recent_spend, recent_events), cost_per_event(prior_spend, prior_events)
    w = config.cpa_window_h
    out = {"signal": signal, "window_h": w, "recent_spend": round(recent_spend, 2), "recent_events": recent_events,
           "recent_cpa": r_cpa, "prior_spend": round(prior_spend, 2), "prior_events": prior_events,
           "prior_cpa": p_cpa, "change": math.nan, "verdict": "", "ok": False}
    if is_missing(recent_events) or is_missing(prior_events):
        out["verdict"] = f"no {signal} data in the insights"
    elif prior_spend <= 0:
        out["verdict"] = f"no spend {w:g}-{2 * w:g} h ago: too little history"
    elif prior_spend < config.cpa_min_prior_spend_share * recent_spend:
        out["verdict"] = (f"too little history: {money(prior_spend)} spent {w:g}-{2 * w:g} h ago vs "
                          f"{money(recent_spend)} in the last {w:g} h")
    elif not recent_events > 0:
        out["verdict"] = f"no {signal} events in the last {w:g} h"
    elif math.isinf(p_cpa):
        out.update(verdict="improving (events now, none before)", ok=True)
    else:
        slack = (1 + config.cpa_stable_tolerance) * (1 + 1e-12)
        stable = recent_spend * prior_events <= prior_spend * recent_events * slack
        out["change"] = r_cpa / p_cpa - 1
        out["verdict"] = "improving" if r_cpa < p_cpa else ("stable" if stable else "worsening")
        out["ok"] = bool(stable)
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


def find_losers(perf: pd.DataFrame, config: OrchestratorConfig = DEFAULT_CONFIG) -> pd.DataFrame:
    """Running ad sets (ACTIVE in an ACTIVE campaign) that are losers by `is_loser`."""
    if perf.empty:
        return perf
    mask = [r["status"] == ACTIVE and r["campaign_status"] == ACTIVE and is_loser(r["spend"], r["events"], config)
            for r in perf.to_dict("records")]
    return perf[mask]
