"""Goals of an ad account and how its daily budget is split across them (step 8, graduate).

A goal is what an account's paid ads are for (streams, presave, virality, followers, leads, ...). Each
goal has a priority 1-5 and a core signal: the one event that says the goal is being met (streams ->
a smart-link click, virality -> a ThruPlay, followers -> a profile view). The account's daily budget is
split across its goals in proportion to their priorities; inside a goal, the learning campaign (ABO)
gets 70 % and the scaling campaign (CBO) 30 % once a scaling campaign exists or winners call for one,
otherwise learning gets it all.

Money is in the account currency's major unit (dollars) at the edges and in whole cents inside the
arithmetic, so that caps compare exactly. The ads client converts Meta's minor-unit strings.

Core signals come from two places: the ads platform's insights (Meta's actions, TikTok's metrics) and ACTP's
own attribution (ATTRIBUTED_SIGNALS, named "actp_<event>" so they never collide with a platform's): the
human conversions recorded through each ad's paid tracked link (ads/attributed_signals.py). The "sales"
goal steers on ACTP's purchases, so it works without any pixel; any goal can point its core signal at an
actp_* signal (`Goal.core_signal`, `actp ads goal ... --signal actp_lead`).

Every number here is an `OrchestratorConfig` field with the original orchestrator's default; per-account
settings (`AccountSettings`) override the account-level ones. Nothing here imports dagster.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import pandas as pd

GOAL_NAMES = ("streams", "presave", "virality", "followers", "leads", "build_audience", "fan_segmentation", "sales")

# ACTP-attributed core signals -> the conversion event (conversions.event) each one counts
ATTRIBUTED_SIGNALS: Mapping[str, str] = MappingProxyType({
    "actp_purchase": "purchase",
    "actp_lead": "lead",
    "actp_signup": "signup",
})
ATTRIBUTED_PREFIX = "actp_"

# The event that says a goal is being met (the original's core-signal map, names as our insights carry them).
DEFAULT_CORE_SIGNALS: Mapping[str, str] = MappingProxyType({
    "streams": "smartlink_click",
    "presave": "presave_complete",
    "virality": "thruplay",
    "followers": "profile_view",
    "leads": "lead",
    "build_audience": "lead",
    "fan_segmentation": "link_click",
    "sales": "actp_purchase",  # ACTP's own attribution: purchases through the ad's paid tracked link
})

# Meta Marketing API (ODAX) campaign objective per goal; unknown goals get OUTCOME_ENGAGEMENT.
DEFAULT_OBJECTIVES: Mapping[str, str] = MappingProxyType({
    "streams": "OUTCOME_TRAFFIC",
    "presave": "OUTCOME_LEADS",
    "virality": "OUTCOME_ENGAGEMENT",
    "followers": "OUTCOME_TRAFFIC",
    "leads": "OUTCOME_LEADS",
    "build_audience": "OUTCOME_LEADS",
    "fan_segmentation": "OUTCOME_ENGAGEMENT",
    "sales": "OUTCOME_SALES",  # TikTok: see orchestrator.PLATFORM_OBJECTIVES
})
FALLBACK_OBJECTIVE = "OUTCOME_ENGAGEMENT"


def is_attributed(signal: str | None) -> bool:
    """True for a core signal ACTP attributes itself (read from the store, not from the ads platform)."""
    return signal in ATTRIBUTED_SIGNALS


@dataclass(frozen=True)
class OrchestratorConfig:
    """Every rule's number, with the original orchestrator's defaults (hours, dollars, fractions)."""

    # budgets
    default_global_daily_budget: float = 10.0  # per account, when its settings name none
    max_daily_budget: float = 50.0  # per goal: learning + scaling daily budgets together
    overall_daily_budget: float | None = None  # across every planned account; None = no overall cap
    learning_share: float = 0.70  # of the goal budget, once the goal has (or gets) a scaling campaign
    scaling_share: float = 0.30  # the scaling campaign's starting budget; learning runs on what it leaves
    # Scaling grows by taking budget from its goal's learning campaign (a goal never spends more than its
    # share of the account's budget), but never leaves learning less than this share of the goal budget.
    min_learning_share: float = 0.30
    platform_min_daily_budget: float = 1.00  # the ad platform's minimum daily budget of an ad set/campaign
    # how the learning budget is split over the learning ad sets: "even" (the original ABO split) or a
    # bandit ("top_two_thompson", "thompson") on each ad set's core events per impression, with `learning_floor`
    # of the budget spread evenly, fed back once a batch (insights before the last UTC-day boundary)
    learning_split: str = "top_two_thompson"
    learning_floor: float = 0.3
    learning_batch_h: float = 24.0
    # promotion (learning -> scaling)
    promote_cooldown_h: float = 72.0  # per creative
    # scaling
    scale_step: float = 0.20  # +20 % of the scaling campaign's budget
    scale_cooldown_h: float = 24.0  # per goal
    cpa_window_h: float = 24.0  # last window vs the one before it (24-48 h ago)
    cpa_stable_tolerance: float = 0.20  # "stable": recent CPA at most 20 % above the prior window's
    # ... with this posterior probability: P(recent cost per core event <= prior x (1 + tolerance)) under
    # Gamma-Poisson posteriors of each window's core events per dollar (`rules.p_cost_stable`). A +20% step
    # is small and reversible, so the bar is "80% sure the cost did not rise by more than a fifth": at 10% and
    # 90% a scaling campaign needed ~330 core events a day to ever pass with a truly flat cost, which a
    # micro budget ($6 a day buys ~90 ThruPlays in the sandbox) never has.
    scale_probability: float = 0.80
    # the prior window must have run for real: at least this share of the recent window's spend (a campaign
    # created 25 h ago has one hour in its prior window, which says nothing about stability)
    cpa_min_prior_spend_share: float = 0.5
    # losers: paused on evidence, P(core events per dollar < the goal's floor) >= pause_probability, and
    # only past the original thresholds, which are gates now (nothing is paused before them, none pauses alone)
    loser_min_spend: float = 10.0  # gate: strictly more than this spent
    # The original's "at most this many core events"; the evidence rule replaces it. Kept (unused by the
    # rules) so that settings naming it still load.
    loser_max_events: int = 0
    pause_min_age_h: float = 48.0  # gate: never pause an ad set live less than this
    pause_min_budget: float = 5.0  # gate: never pause an ad set whose daily budget is below this
    pause_probability: float = 0.95  # P(rate below the floor) that makes an ad set a loser
    # A goal without `Goal.max_cost_per_event` gets a derived floor: this share of the pooled core events
    # per dollar of the goal's other ad sets in the account, once they have `pause_pool_min_events` events;
    # before that, 1 event per `loser_min_spend` dollars (what the original rule demanded).
    pause_floor_share: float = 0.5
    pause_pool_min_events: float = 10.0
    # the Gamma(shape, rate 0) prior of every core-events-per-dollar posterior (0.5 = Jeffreys' for Poisson)
    evidence_prior_events: float = 0.5
    # creative fatigue (`stats.fatigue`): a running ad set whose core events per impression decay with
    # exposure, or whose CPM rises, over buckets of `fatigue_bucket_h` hours gets a refresh
    fatigue_bucket_h: float = 24.0
    fatigue_min_buckets: int = 4
    fatigue_min_events: float = 20.0
    fatigue_probability: float = 0.975  # per test (rate, CPM): about 5 % false alarms for the two together
    fatigue_min_drop: float = 0.20
    fatigue_min_cpm_rise: float = 0.25
    # the platform's own limits
    max_budget_changes_per_hour: int = 4  # per ad set (and per campaign)
    budget_change_window_h: float = 1.0
    # automation switches (the original's per-user toggles; off = the action is planned but blocked)
    auto_scale_winners: bool = False
    auto_pause_losers: bool = False
    core_signals: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CORE_SIGNALS))
    objectives: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_OBJECTIVES))

    def __post_init__(self) -> None:
        money = ("default_global_daily_budget", "max_daily_budget", "platform_min_daily_budget",
                 "loser_min_spend", "pause_min_budget")
        for name in money:
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite amount >= 0, got {v!r}")
        if self.overall_daily_budget is not None and not (self.overall_daily_budget >= 0):
            raise ValueError("overall_daily_budget must be >= 0 or None")
        for name in ("learning_share", "scaling_share", "min_learning_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be within [0, 1]")
        if self.learning_share + self.scaling_share > 1 + 1e-9:
            raise ValueError("learning_share + scaling_share must not exceed 1")
        for name in ("promote_cooldown_h", "scale_cooldown_h", "cpa_window_h", "pause_min_age_h",
                     "budget_change_window_h"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0 hours")
        if self.learning_split not in ("even", "top_two_thompson", "thompson"):
            raise ValueError(f"learning_split must be even, top_two_thompson or thompson, got {self.learning_split!r}")
        if not 0 <= self.learning_floor <= 1:
            raise ValueError("learning_floor must be within [0, 1]")
        if not self.learning_batch_h > 0:
            raise ValueError("learning_batch_h must be > 0 hours")
        if not self.scale_step > 0:
            raise ValueError("scale_step must be > 0")
        if self.cpa_stable_tolerance < 0:
            raise ValueError("cpa_stable_tolerance must be >= 0")
        if not 0 <= self.cpa_min_prior_spend_share <= 1:
            raise ValueError("cpa_min_prior_spend_share must be within [0, 1]")
        if not (isinstance(self.max_budget_changes_per_hour, int) and self.max_budget_changes_per_hour >= 0):
            raise ValueError("max_budget_changes_per_hour must be an int >= 0")
        self._check_evidence()

    def _check_evidence(self) -> None:
        """The evidence rules' knobs: probabilities strictly between 0.5 and 1, shares and counts sane."""
        for name in ("scale_probability", "pause_probability", "fatigue_probability"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0.5 <= v < 1):
                raise ValueError(f"{name} must be within [0.5, 1), got {v!r}")
        if not 0 < self.pause_floor_share <= 1:
            raise ValueError("pause_floor_share must be within (0, 1]")
        for name in ("pause_pool_min_events", "fatigue_min_events"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be a finite count >= 0")
        if not (math.isfinite(self.evidence_prior_events) and self.evidence_prior_events > 0):
            raise ValueError("evidence_prior_events must be > 0 (a proper posterior needs a positive shape)")
        if not (math.isfinite(self.fatigue_bucket_h) and self.fatigue_bucket_h > 0):
            raise ValueError("fatigue_bucket_h must be > 0 hours")
        if isinstance(self.fatigue_min_buckets, bool) or not (isinstance(self.fatigue_min_buckets, int)
                                                             and self.fatigue_min_buckets >= 3):
            raise ValueError("fatigue_min_buckets must be an int >= 3")
        if not 0 <= self.fatigue_min_drop < 1:
            raise ValueError("fatigue_min_drop must be within [0, 1)")
        if not (math.isfinite(self.fatigue_min_cpm_rise) and self.fatigue_min_cpm_rise >= 0):
            raise ValueError("fatigue_min_cpm_rise must be a finite share >= 0")

    def core_signal(self, goal_name: str) -> str | None:
        return self.core_signals.get(goal_name)

    def objective(self, goal_name: str) -> str:
        return self.objectives.get(goal_name, FALLBACK_OBJECTIVE)


@dataclass(frozen=True)
class Goal:
    """One goal of one ad account. `core_signal` None = the config's signal for the goal's name."""

    account_id: str
    name: str
    priority: int = 3
    core_signal: str | None = None
    budget_cap: float | None = None  # optional per-goal daily cap below max_daily_budget (the original's hint)
    active: bool = True
    # The goal's floor: the most it pays per core event. An ad set whose core events per dollar are likely
    # below 1 / max_cost_per_event is paused (None = a floor derived from the account's own ad sets).
    max_cost_per_event: float | None = None

    def problems(self, config: OrchestratorConfig) -> list[str]:
        """Why this goal cannot be planned (empty when it can). Checked at plan time, per goal, so one
        bad goal becomes an error entry instead of stopping its account."""
        out = []
        if not isinstance(self.account_id, str) or not self.account_id:
            out.append("account_id must be a non-empty string")
        if not isinstance(self.name, str) or not self.name:
            out.append("name must be a non-empty string")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int) or not 1 <= self.priority <= 5:
            out.append(f"priority must be an integer 1-5, got {self.priority!r}")
        signal = self.signal(config)
        if signal is None:
            out.append(f"no core signal for goal {self.name!r} (set Goal.core_signal)")
        elif isinstance(signal, str) and signal.startswith(ATTRIBUTED_PREFIX) and signal not in ATTRIBUTED_SIGNALS:
            out.append(f"core signal {signal!r} is not an ACTP-attributed signal; use one of "
                       f"{sorted(ATTRIBUTED_SIGNALS)}")
        if self.budget_cap is not None and not (isinstance(self.budget_cap, (int, float))
                                                and math.isfinite(self.budget_cap) and self.budget_cap >= 0):
            out.append(f"budget_cap must be an amount >= 0, got {self.budget_cap!r}")
        m = self.max_cost_per_event
        if m is not None and (isinstance(m, bool) or not isinstance(m, (int, float)) or not math.isfinite(m)
                              or m <= 0):
            out.append(f"max_cost_per_event must be an amount > 0, got {m!r}")
        return out

    def signal(self, config: OrchestratorConfig) -> str | None:
        return self.core_signal or config.core_signal(self.name)


@dataclass(frozen=True)
class AccountSettings:
    """Per-account overrides of the config (None = the config's value)."""

    account_id: str
    global_daily_budget: float | None = None
    max_daily_budget: float | None = None
    auto_scale_winners: bool | None = None
    auto_pause_losers: bool | None = None

    def resolve(self, config: OrchestratorConfig) -> "AccountBudget":
        def pick(v, default):
            return default if v is None or (isinstance(v, float) and math.isnan(v)) else v

        return AccountBudget(
            account_id=self.account_id,
            global_daily_budget=float(pick(self.global_daily_budget, config.default_global_daily_budget)),
            max_daily_budget=float(pick(self.max_daily_budget, config.max_daily_budget)),
            auto_scale_winners=bool(pick(self.auto_scale_winners, config.auto_scale_winners)),
            auto_pause_losers=bool(pick(self.auto_pause_losers, config.auto_pause_losers)),
        )


@dataclass(frozen=True)
class AccountBudget:
    """An account's settings with every default filled in."""

    account_id: str
    global_daily_budget: float
    max_daily_budget: float
    auto_scale_winners: bool
    auto_pause_losers: bool

    def goal_cap(self, goal: Goal | None) -> float:
        """The most a goal may spend per day: max_daily_budget, or the goal's own lower cap."""
        cap = self.max_daily_budget
        if goal is not None and goal.budget_cap is not None:
            cap = min(cap, float(goal.budget_cap))
        return cap


def to_cents(amount) -> int:
    """Dollars -> whole cents (NaN/None -> 0)."""
    if amount is None:
        return 0
    x = float(amount)
    if math.isnan(x):
        return 0
    return int(round(x * 100))


def to_dollars(cents: int) -> float:
    return round(cents / 100.0, 2)


def goals_from(goals: Iterable[Goal] | pd.DataFrame | None) -> list[Goal]:
    """Goals from a list or from a frame with columns account_id, name (or goal), priority and optional
    core_signal, budget_cap, max_cost_per_event, active. Inactive goals are dropped."""
    if goals is None:
        return []
    if isinstance(goals, pd.DataFrame):
        name_col = "name" if "name" in goals.columns else "goal"
        out = []
        for r in goals.to_dict("records"):
            def opt(key):
                v = r.get(key)
                return None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v

            pr = r.get("priority", 3)
            out.append(Goal(
                account_id=str(r["account_id"]), name=str(r[name_col]),
                priority=int(pr) if isinstance(pr, (int, float)) and float(pr).is_integer() else pr,
                core_signal=opt("core_signal"),
                budget_cap=None if opt("budget_cap") is None else float(opt("budget_cap")),
                max_cost_per_event=None if opt("max_cost_per_event") is None else float(opt("max_cost_per_event")),
                active=bool(opt("active")) if opt("active") is not None else True))
        goals = out
    return [g for g in goals if g.active]


def settings_from(accounts: Iterable[AccountSettings] | pd.DataFrame | Mapping | None) -> dict[str, AccountSettings]:
    """Account settings by account id, from a list, a mapping or a frame with an account_id column."""
    if accounts is None:
        return {}
    if isinstance(accounts, Mapping):
        return {str(k): v for k, v in accounts.items()}
    if isinstance(accounts, pd.DataFrame):
        fields = ("global_daily_budget", "max_daily_budget", "auto_scale_winners", "auto_pause_losers")
        rows = accounts.to_dict("records")
        accounts = [AccountSettings(account_id=str(r["account_id"]),
                                    **{f: (None if pd.isna(r.get(f)) else r.get(f)) for f in fields if f in r})
                    for r in rows]
    return {a.account_id: a for a in accounts}


def split_budget(goals: Iterable[Goal], account: AccountBudget, with_scaling: Mapping[str, bool] | None = None,
                 config: OrchestratorConfig = OrchestratorConfig()) -> pd.DataFrame:
    """The account's daily budget split across its goals by priority weight, then learning vs scaling.

    goal_budget = global_daily_budget * priority / sum(priorities), never above the goal's cap; a goal
    listed True in `with_scaling` gives `learning_share` to learning and `scaling_share` to scaling,
    any other goal gives everything to learning. Amounts are floored to the cent, so the parts never add
    up to more than the whole. One row per goal, in the order given.
    """
    goals = list(goals)
    with_scaling = with_scaling or {}
    cols = ["account_id", "goal", "priority", "weight", "goal_cap", "goal_budget", "learning_budget",
            "scaling_budget", "with_scaling"]
    if not goals:
        return pd.DataFrame(columns=cols)
    total_cents = to_cents(account.global_daily_budget)
    total_priority = sum(g.priority for g in goals)
    rows = []
    for g in goals:
        cap_cents = to_cents(account.goal_cap(g))
        goal_cents = min(total_cents * g.priority // total_priority, cap_cents)
        scaling = bool(with_scaling.get(g.name, False))
        if scaling:
            learning_cents = math.floor(goal_cents * config.learning_share + 1e-9)
            scaling_cents = math.floor(goal_cents * config.scaling_share + 1e-9)
            scaling_cents = min(scaling_cents, goal_cents - learning_cents)
        else:
            learning_cents, scaling_cents = goal_cents, 0
        rows.append({"account_id": g.account_id, "goal": g.name, "priority": g.priority,
                     "weight": g.priority / total_priority, "goal_cap": to_dollars(cap_cents),
                     "goal_budget": to_dollars(goal_cents), "learning_budget": to_dollars(learning_cents),
                     "scaling_budget": to_dollars(scaling_cents), "with_scaling": scaling})
    return pd.DataFrame(rows, columns=cols)
