"""Test planner: how long the pipeline's own stopping rule takes to find a better creative, by simulation.

A textbook sample-size formula answers a different question (a fixed-horizon z-test looked at once) from
the one a person planning a test asks ("when will the pipeline name a winner, and what will it cost?").
The pipeline looks at its cells every day with `StoppingRule`, splits each day's impressions with the
best-arm identification policy, and its rule has exposure gates and a practical margin that no formula
knows about. So the planner runs that very code on simulated worlds with a known truth:

- lifted worlds: one of the k creatives (at a random position) has rate baseline x (1 + lift), the others
  the baseline; the share of them where the rule names it within `max_days` is the chance to find it, and
  the day of the rule's first winner gives the days, impressions and budget to a decision;
- dead-heat worlds: every creative has the baseline rate, so every winner the rule names is a false one.

Each day the identify-mode policy (`make_policy("identify")`) splits `daily_impressions` over the arms;
each arm's impressions go out as posts of at most `post_impressions` views whose rate varies around the arm's rate with coefficient of variation
`post_noise` (0: plain binomial). The planner is not told the noise either: each day's evidence of each arm
is one unit, and the state is built from those units the way a paid test builds it (`arms.from_days`:
the spread of the days estimated and discounted, priors from the other arms), then the rule is looked at
once a day. All worlds step together as (worlds, k) arrays, so a
plan costs seconds. Everything is seeded: the same inputs give the same plan. Every creative is live from
day 1 (24 h per day) and its spend is its impressions at `cpm`, so the rule's exposure gates see what a
real test would show them.

A decision is the rule's first winner, right or wrong (a wrong one is counted in `p_wrong`). Percentiles
are taken over ALL lifted worlds with an undecided world counted as beyond the horizon, so a percentile
that lands there is reported as None ("> max_days"), never as the mean of the lucky ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from actp_pipeline.stats.arms import ArmStats, from_days
from actp_pipeline.stats.bandits import make_policy
from actp_pipeline.stats.power import fixed_horizon_ab_sample_size
from actp_pipeline.stats.stopping import StoppingRule

QUANTILES = (0.5, 0.8, 0.95)
POLICY = "identify"  # the allocation mode of a learning test (stats.bandits.MODES)
POLICY_WORDS = {POLICY: "identify-mode allocation (best-arm identification)"}
AB_POWER = 0.8  # power of the textbook fixed-horizon test shown beside the simulation
DEFAULT_CPM = 1000.0 / 300.0  # the original system's price: $5 = 1,500 impressions


@dataclass(frozen=True)
class PlanInputs:
    """What a person planning a test knows: the cell, the effect worth finding, the daily volume."""

    arms: int = 4
    baseline: float = 0.03  # engagement rate of an ordinary creative
    lift: float = 0.2  # smallest relative lift worth finding
    confidence: float = StoppingRule.confidence  # the stopping rule's (and 1 - alpha of the textbook test)
    daily_impressions: int = 15_000  # all arms together
    cpm: float = DEFAULT_CPM  # dollars per 1,000 impressions
    max_days: int = 21
    post_noise: float = 0.15  # cv of a day's rate around its creative's (0.15: the scorer's weak default)
    worlds: int = 200  # simulated worlds per scenario (lifted and dead heat)
    seed: int = 0
    floor: float = 0.1  # the policy's exploration floor
    post_impressions: int = 5_000  # views per post (one post-noise draw each)

    def __post_init__(self) -> None:
        checks = [
            (self.arms >= 2, "arms must be at least 2"),
            (0.0 < self.baseline < 1.0, "baseline must be a rate within (0, 1), e.g. 0.03"),
            (self.lift > 0.0, "lift must be > 0 (relative: 0.2 = 20% better than the baseline)"),
            (self.baseline * (1.0 + self.lift) < 1.0, "baseline x (1 + lift) must stay below 1"),
            (0.5 <= self.confidence < 1.0, "confidence must be within [0.5, 1), e.g. 0.95"),
            (self.cpm > 0.0 and math.isfinite(self.cpm), "cpm must be > 0 (dollars per 1,000 impressions)"),
            (self.daily_impressions >= self.arms, "daily impressions must be at least one per arm"),
            (1 <= self.max_days <= 365, "max days must be within 1..365"),
            (0.0 <= self.post_noise <= 1.0, "post noise must be a coefficient of variation within [0, 1]"),
            (10 <= self.worlds <= 20_000, "worlds must be within 10..20,000"),
            (0.0 <= self.floor < 1.0, "floor must be within [0, 1)"),
            (self.post_impressions >= 1, "post impressions must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def better_rate(self) -> float:
        return self.baseline * (1.0 + self.lift)


@dataclass(frozen=True)
class Outcome:
    """Per simulated world: the rule's first winner (-1: none within the horizon), its day and impressions
    (inf: none)."""

    winner: np.ndarray
    day: np.ndarray
    impressions: np.ndarray


@dataclass(frozen=True)
class Plan:
    """What the planner found; days, impressions and budget are quantiles (None: beyond the horizon)."""

    inputs: PlanInputs
    policy: str
    margin: float | None  # the rule's practical margin (a winner must clear it), when it has one
    days: dict[str, float | None]
    impressions: dict[str, float | None]
    budget: dict[str, float | None]
    p_find: float  # lifted worlds: the rule named the better arm within max_days
    p_wrong: float  # lifted worlds: the rule named an ordinary arm first
    false_winner_rate: float  # dead-heat worlds: the rule named any winner within max_days
    ab_per_arm: int
    ab_impressions: int
    ab_days: float
    ab_budget: float

    def as_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------------------------------- worlds
def true_rates(inputs: PlanInputs, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """((2 W, k) true rates, (W,) index of the better arm): W lifted worlds, then W dead heats."""
    w, k = inputs.worlds, inputs.arms
    rates = np.full((2 * w, k), inputs.baseline)
    better = rng.integers(0, k, size=w)
    rates[np.arange(w), better] = inputs.better_rate
    return rates, better


def observe(n: np.ndarray, rates: np.ndarray, inputs: PlanInputs, rng: np.random.Generator) -> np.ndarray:
    """Events of one day's impressions `n` per arm. With post noise each arm's day goes out as m posts; the
    mean of their mean-one lognormal rate multipliers has coefficient of variation post_noise / sqrt(m)."""
    cv = inputs.post_noise
    if cv <= 0.0:
        return rng.binomial(n, rates).astype(float)
    posts = np.maximum(np.ceil(n / inputs.post_impressions), 1.0)
    sigma = np.sqrt(np.log1p(cv**2 / posts))
    mult = np.exp(rng.normal(-(sigma**2) / 2.0, sigma))
    return rng.binomial(n, np.clip(rates * mult, 0.0, 1.0)).astype(float)


def simulate(rates: np.ndarray, inputs: PlanInputs, rule: StoppingRule, policy, seed: int,
             on_day: Callable[[int], None] | None = None) -> Outcome:
    """Run the daily loop (allocate, observe, look with the rule) on every world until its first winner
    or `max_days`; `on_day(day)` after each simulated day."""
    sim_rng, pol_rng, stop_rng = (np.random.default_rng([seed, j]) for j in (1, 2, 3))
    w, k = rates.shape
    day_imp, day_ev = np.zeros((w, k, inputs.max_days)), np.zeros((w, k, inputs.max_days))
    imps = np.zeros((w, k))
    winner, day_of = np.full(w, -1), np.full(w, np.inf)
    active = np.ones(w, dtype=bool)
    dollars_per_impression = inputs.cpm / 1000.0

    def state(idx: np.ndarray, days: int) -> ArmStats:
        if days == 0:
            zero = np.zeros((idx.size, k))
            return ArmStats.from_arrays(zero, zero, hours_live=zero, spend=zero)
        return from_days(day_imp[idx, :, :days], day_ev[idx, :, :days], np.full(idx.size, 24.0 * days),
                         imps[idx] * dollars_per_impression)

    for day in range(1, inputs.max_days + 1):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        n = np.asarray(policy.allocate_many(state(idx, day - 1), inputs.daily_impressions, pol_rng))
        day_imp[idx, :, day - 1] = n
        day_ev[idx, :, day - 1] = observe(n, rates[idx], inputs, sim_rng)
        imps[idx] += n
        found = np.asarray(rule.decide_many(state(idx, day), stop_rng).winner)
        new = found >= 0
        winner[idx[new]] = found[new]
        day_of[idx[new]] = day
        active[idx[new]] = False
        if on_day is not None:
            on_day(day)
    spent = np.where(winner >= 0, imps.sum(axis=1), np.inf)
    return Outcome(winner=winner, day=day_of, impressions=spent)


# --------------------------------------------------------------------------------------------- plan
def _quantiles(x: np.ndarray, decimals: int = 0) -> dict[str, float | None]:
    """Median, 80th and 95th percentile as observed values (None where it lies beyond the horizon)."""
    out = {}
    for q in QUANTILES:
        v = float(np.quantile(x, q, method="inverted_cdf"))
        out[f"p{round(q * 100)}"] = round(v, decimals) if math.isfinite(v) else None
    return out


def plan_test(inputs: PlanInputs, on_day: Callable[[int], None] | None = None) -> Plan:
    """Simulate the stopping rule on lifted and dead-heat worlds; the plan and the textbook comparison."""
    rule = StoppingRule(confidence=inputs.confidence)
    policy_name, policy = POLICY, make_policy(POLICY, inputs.floor)
    rates, better = true_rates(inputs, np.random.default_rng([inputs.seed, 0]))
    out = simulate(rates, inputs, rule, policy, inputs.seed, on_day)
    w = inputs.worlds
    lifted_winner, dead_winner = out.winner[:w], out.winner[w:]
    days = out.day[:w]
    impressions = out.impressions[:w]
    ab = fixed_horizon_ab_sample_size(inputs.baseline, inputs.lift, alpha=1.0 - inputs.confidence,
                                      power=AB_POWER, arms=inputs.arms)
    ab_total = ab * inputs.arms
    dollars = inputs.cpm / 1000.0
    margin = getattr(rule, "margin", None)
    return Plan(
        inputs=inputs, policy=policy_name, margin=None if margin is None else float(margin),
        days=_quantiles(days), impressions=_quantiles(impressions), budget=_quantiles(impressions * dollars, 2),
        p_find=float(np.mean(lifted_winner == better)),
        p_wrong=float(np.mean((lifted_winner >= 0) & (lifted_winner != better))),
        false_winner_rate=float(np.mean(dead_winner >= 0)),
        ab_per_arm=int(ab), ab_impressions=int(ab_total), ab_days=round(ab_total / inputs.daily_impressions, 1),
        ab_budget=round(ab_total * dollars, 2),
    )


# ---------------------------------------------------------------------------------------- in words
def _beyond(value: float | None, horizon: float, fmt: Callable[[float], str]) -> str:
    return fmt(value) if value is not None else f"> {fmt(horizon)}"


def _money(x: float) -> str:
    return f"${x:,.0f}" if x >= 100 else f"${x:,.2f}"


def quantile_rows(plan: Plan) -> list[list[str]]:
    """The rows of the plan's main table: what, median, 80th, 95th percentile, textbook A/B (fixed horizon)."""
    i = plan.inputs
    horizon_imps = i.max_days * i.daily_impressions
    cols = ("p50", "p80", "p95")
    return [
        ["days to a decision", *(_beyond(plan.days[c], i.max_days, lambda x: f"{x:,.0f}") for c in cols),
         f"{plan.ab_days:,.1f}"],
        ["impressions", *(_beyond(plan.impressions[c], horizon_imps, lambda x: f"{x:,.0f}") for c in cols),
         f"{plan.ab_impressions:,}"],
        ["budget", *(_beyond(plan.budget[c], horizon_imps * i.cpm / 1000.0, _money) for c in cols),
         _money(plan.ab_budget)],
    ]


QUANTILE_HEADER = ["", "median", "80th pct", "95th pct", "textbook A/B"]
def rate_header(plan: Plan) -> list[str]:
    return [f"within {plan.inputs.max_days} days the rule", "share of simulated tests"]


def rate_rows(plan: Plan) -> list[list[str]]:
    """The rows of the plan's second table: how often the rule finds, misses or invents a winner."""
    w = plan.inputs.worlds

    def share(p: float) -> str:
        return f"{p:.1%} ({round(p * w):,} of {w:,})"

    return [
        ["names the better creative", share(plan.p_find)],
        ["names an ordinary creative instead", share(plan.p_wrong)],
        ["names a false winner when all are equal", share(plan.false_winner_rate)],
    ]


def markdown(plan: Plan) -> str:
    """Both tables as markdown (the Dagster UI's metadata), then the reading."""
    def table(header: list[str], rows: list[list[str]]) -> list[str]:
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                *("| " + " | ".join(r) + " |" for r in rows)]

    return "\n".join([*table(QUANTILE_HEADER, quantile_rows(plan)), "", *table(rate_header(plan), rate_rows(plan)),
                      "", reading(plan)])


def _days_text(plan: Plan, key: str) -> str:
    d = plan.days[key]
    return f"{d:,.0f} days" if d is not None else f"more than {plan.inputs.max_days} days"


def _when(plan: Plan) -> str:
    """The days to a decision in words: the median, then what it takes to be 80% and 95% sure of one."""
    i, d = plan.inputs, plan.days
    if d["p50"] is None:
        return f"Fewer than half of the simulated tests reach a decision within {i.max_days} days."
    median = (f"The rule names a winner in a median of {_days_text(plan, 'p50')} "
              f"({plan.impressions['p50']:,.0f} impressions, {_money(plan.budget['p50'])}); ")
    if d["p95"] is not None:
        return median + (f"allow {_days_text(plan, 'p80')} to be 80% sure of a decision and "
                         f"{_days_text(plan, 'p95')} for 95%.")
    if d["p80"] is not None:
        return median + (f"allow {_days_text(plan, 'p80')} to be 80% sure of a decision, but more than 1 test "
                         f"in 20 is still undecided after {i.max_days} days.")
    return median + f"but more than 1 test in 5 is still undecided after {i.max_days} days."


def reading(plan: Plan) -> str:
    """One paragraph: the plan in words, for a person deciding whether to run the test."""
    i = plan.inputs
    policy = POLICY_WORDS.get(plan.policy, plan.policy)
    text = [f"Plan for {i.arms} creatives at a {i.baseline:.2%} baseline, one of them {i.lift:.0%} better "
            f"({i.better_rate:.2%}), judged by the pipeline's stopping rule at {i.confidence * 100:g}% confidence with "
            f"the {policy} splitting each day's {i.daily_impressions:,} impressions.", _when(plan),
            f"Within {i.max_days} days it names the better creative in {plan.p_find:.0%} of tests and an ordinary "
            f"one in {plan.p_wrong:.1%}; when all creatives are equal it names a false winner in "
            f"{plan.false_winner_rate:.1%} of tests."]
    if plan.p_find < 0.5:
        text.append(_why_not(plan))
    noise = " and ignores post noise" if i.post_noise > 0 else ""
    text.append(f"The textbook fixed-horizon A/B/n test ({AB_POWER:.0%} power, alpha {1 - i.confidence:.2g} over "
                f"{i.arms - 1} comparison{'s' if i.arms > 2 else ''}) would need {plan.ab_impressions:,} impressions "
                f"({plan.ab_days:,.1f} days, {_money(plan.ab_budget)}), looked at once{noise}.")
    return " ".join(text)


def _why_not(plan: Plan) -> str:
    """Why the rule rarely finds the creative: a lift close to the rule's margin, or too little evidence."""
    i = plan.inputs
    if plan.margin is not None and i.lift < 2.0 * plan.margin:
        return (f"The rule only names a creative it is {i.confidence * 100:g}% sure beats its rivals by its margin of "
                f"{plan.margin:.0%}, and a {i.lift:.0%} lift leaves little room above that: look for a larger lift "
                f"or expect no winner.")
    return "More days or more impressions a day would help."
