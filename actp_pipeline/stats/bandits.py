"""Bandit policies: how the next batch's impressions are spread over the live creatives of one cell.

A test runs in daily batches: the policy splits one day's impressions (posting slots, ad budget) over the
creatives, the day's results come back, and only then is the next day planned. Feedback never arrives
inside a batch. The state a policy reads is `arms.ArmStats` (or its DataFrame form, see stats/arms.py).

- `TopTwoThompson` (best-arm identification; Russo 2016): with probability beta the arm sampled as best,
  otherwise a challenger: the arm that is best in a fresh posterior draw in which the leader is not best.
  Batched: each arm gets its expected share of the batch instead of one draw per impression.
- `Thompson`: probability matching, share = P(best).
- `DecayingThompson`: Thompson sampling whose exploration floor shrinks as the cell's evidence grows
  (floor / (1 + t), t = the cell's trials per creative / EVIDENCE_UNIT).
- `Uniform`: equal shares.
- `FixedRule`: the original system's rule (ABO learning campaign split evenly; once ad sets pass the
  exposure gates, the top 1-2 by cost per core event that beat the median cost by 15% are promoted to a
  scaling campaign with 30% of the budget while learning keeps 70%; ad sets with > $10 spent, zero core
  events and 48 h live are paused).

The bandit policies take an exploration `floor`: a fraction of every batch spread evenly over the live
arms, so every arm receives at least `floor * budget / k` impressions (up to rounding down) per batch
(for `DecayingThompson`, the floor of the current evidence, `floor_now`).

Two modes name what a cell's round is for (`MODES`, `mode_policy`):
- *identify*: find the best creative and stop (a learning test with no winner yet): top-two Thompson.
  It keeps about half of every round on the challenger on purpose, which is the price of a fast, sure
  decision and a waste once the decision is made.
- *earn*: make the most of the creatives (scaling, organic rounds after a winner was declared): Thompson
  sampling with a decaying floor. A fixed floor (or top-two's challenger share) keeps a constant slice of
  traffic off the best arm forever, so its regret grows linearly; a floor that decays like 1/t costs
  O(log t), the order of Thompson sampling's own regret, and still guards against a posterior that locked
  on too early. (1/sqrt(t) costs O(sqrt(t)): on 2 arms at 5% vs 4.5%, 300 batches of 2,000, with floor
  0.1 it had 1.29x plain Thompson's regret, 1/t 0.99x; benchmarks/decisions.py measures it.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from actp_pipeline.stats.arms import PRIOR_STRENGTH, ArmStats, exposure_ok, p_best, posterior, posterior_draws, win_counts

IMPRESSIONS_PER_DOLLAR = 300.0  # original system: "$5 spend or 1,500 impressions" (a $3.33 CPM)
EVIDENCE_UNIT = 500.0  # trials per creative that count as one step of the earn mode's floor decay


def split_budget(shares: np.ndarray, budget) -> np.ndarray:
    """Integer impressions per arm that add up to `budget` exactly (largest remainder), (cells, k).

    Every arm gets at least floor(share * budget).
    """
    shares = np.atleast_2d(np.asarray(shares, dtype=float))
    shares = np.clip(shares, 0.0, None)
    total = shares.sum(axis=1, keepdims=True)
    k = shares.shape[1]
    shares = np.where(total > 0, shares / np.where(total > 0, total, 1.0), 1.0 / k)
    budget = np.broadcast_to(np.asarray(budget, dtype=np.int64), (shares.shape[0],))
    if np.any(budget < 0):
        raise ValueError("budget must be >= 0")
    exact = shares * budget[:, None]
    base = np.floor(exact).astype(np.int64)
    rest = budget - base.sum(axis=1)
    order = np.argsort(-(exact - base), axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(k)[None, :].repeat(len(order), axis=0), axis=1)
    return base + (ranks < rest[:, None]).astype(np.int64)


def _with_floor(shares: np.ndarray, floor: float) -> np.ndarray:
    """Spread `floor` of the batch evenly over the k arms (exploration)."""
    k = shares.shape[1]
    return (1.0 - floor) * shares + floor / k


# ----------------------------------------------------------------------------------------- policies
@runtime_checkable
class Policy(Protocol):
    """Splits the next batch's impressions over the live creatives of one cell."""

    name: str

    def allocate(self, state: pd.DataFrame, budget: int, rng: np.random.Generator | None = None) -> pd.Series:
        """arm_id -> impressions for the next batch; the values add up to `budget`."""
        ...


class BatchPolicy:
    """A policy that sets each arm's share of a batch (`shares`), for many cells at once."""

    name = "policy"

    def shares(self, stats: ArmStats, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def allocate_many(self, stats: ArmStats, budget, rng: np.random.Generator) -> np.ndarray:
        """(cells, k) integer impressions, each row adding up to its budget."""
        return split_budget(self.shares(stats, rng), budget)

    def allocate(self, state: pd.DataFrame, budget: int, rng: np.random.Generator | None = None) -> pd.Series:
        if len(state) == 0:
            return pd.Series(dtype="int64", name="impressions")
        rng = rng if rng is not None else np.random.default_rng(0)
        n = self.allocate_many(ArmStats.from_frame(state), int(budget), rng)[0]
        return pd.Series(n, index=pd.Index(state["arm_id"].to_numpy(), name="arm_id"), name="impressions")


@dataclass(frozen=True)
class Uniform(BatchPolicy):
    """Equal shares: the classic A/B/n split."""

    name: str = "uniform"

    def shares(self, stats: ArmStats, rng: np.random.Generator) -> np.ndarray:
        cells, k = stats.shape
        return np.full((cells, k), 1.0 / k)


@dataclass(frozen=True)
class Thompson(BatchPolicy):
    """Batched Thompson sampling: each arm's share of the batch is its posterior P(best)."""

    floor: float = 0.05
    draws: int = 1000
    prior_strength: float | None = PRIOR_STRENGTH
    name: str = "thompson"

    def __post_init__(self) -> None:
        if not 0.0 <= self.floor <= 1.0:
            raise ValueError("floor must be within [0, 1]")

    def shares(self, stats: ArmStats, rng: np.random.Generator) -> np.ndarray:
        return _with_floor(p_best(stats, draws=self.draws, prior_strength=self.prior_strength, rng=rng), self.floor)


@dataclass(frozen=True)
class DecayingThompson(BatchPolicy):
    """Batched Thompson sampling with an exploration floor that decays with the cell's evidence (earn mode).

    floor_now = floor / (1 + t)^`decay`, t = the cell's trials / (k x `unit_trials`): one unit per creative
    is EVIDENCE_UNIT trials (a typical cell prior's worth); decay 1 (the default) makes the total forced
    exploration grow like log t, 0.5 like sqrt(t) (see the module doc). The state carries no round counter, and
    evidence is what the floor should shrink with anyway: a cell fed large rounds learns faster and needs
    less forced exploration sooner. The floor keeps every creative seen while the posterior is young and
    fades to plain Thompson sampling as the evidence piles up.
    """

    floor: float = 0.1
    unit_trials: float = EVIDENCE_UNIT
    decay: float = 1.0
    draws: int = 1000
    prior_strength: float | None = PRIOR_STRENGTH
    name: str = "decaying_thompson"

    def __post_init__(self) -> None:
        if not 0.0 <= self.floor <= 1.0:
            raise ValueError("floor must be within [0, 1]")
        if not self.unit_trials > 0:
            raise ValueError("unit_trials must be > 0")
        if not self.decay >= 0:
            raise ValueError("decay must be >= 0")

    def floor_now(self, stats: ArmStats) -> np.ndarray:
        """The exploration floor of each cell for its next round, (cells,)."""
        k = max(stats.shape[1], 1)
        t = np.clip(stats.trials, 0.0, None).sum(axis=1) / (k * self.unit_trials)
        return self.floor / (1.0 + t) ** self.decay

    def shares(self, stats: ArmStats, rng: np.random.Generator) -> np.ndarray:
        p = p_best(stats, draws=self.draws, prior_strength=self.prior_strength, rng=rng)
        f = self.floor_now(stats)[:, None]
        return (1.0 - f) * p + f / p.shape[1]


@dataclass(frozen=True)
class TopTwoThompson(BatchPolicy):
    """Top-two Thompson sampling for best-arm identification, batched.

    Share of arm i = beta P(I = i) + (1 - beta) sum_j P(I = j) P(J = i | I = j), where I is the arm best
    in a posterior draw and the challenger J is the best arm of a fresh draw in which I is not best:
    P(J = i | I = j) = P(best = i) / (1 - P(best = j)). When the leader wins (nearly) every draw that
    conditional cannot be estimated; then the challenger is the arm best among the others in the same
    draws (the runner-up), which is where the remaining doubt lies.
    """

    beta: float = 0.5
    floor: float = 0.05
    draws: int = 1000
    prior_strength: float | None = PRIOR_STRENGTH
    min_challenger_draws: int = 50
    name: str = "top_two_thompson"

    def __post_init__(self) -> None:
        if not 0.0 <= self.floor <= 1.0:
            raise ValueError("floor must be within [0, 1]")
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError("beta must be within [0, 1]")

    def shares(self, stats: ArmStats, rng: np.random.Generator) -> np.ndarray:
        cells, k = stats.shape
        if k == 1:
            return np.ones((cells, 1))
        a, b = posterior(stats, self.prior_strength)
        samples = posterior_draws(a, b, self.draws, rng)
        wins = win_counts(samples.argmax(axis=1), k)
        p = wins / self.draws
        leader = p.argmax(axis=1)
        rows = np.arange(cells)
        # challenger distribution q[c, j, i] = P(J = i | I = j)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = p[:, None, :] / (1.0 - p[:, :, None])
        q[:, np.arange(k), np.arange(k)] = 0.0
        # runner-up frequencies for the leader: the best of the other arms within the same draws
        samples[rows, leader, :] = -np.inf
        runner = win_counts(samples.argmax(axis=1), k) / self.draws
        thin = (self.draws - wins[rows, leader]) < self.min_challenger_draws
        q[rows[thin], leader[thin], :] = runner[thin]
        q = np.nan_to_num(q, nan=0.0, posinf=0.0)
        challenger = np.einsum("cj,cji->ci", p, q)
        return _with_floor(self.beta * p + (1.0 - self.beta) * challenger, self.floor)


@dataclass(frozen=True)
class FixedRule(BatchPolicy):
    """The original system's rule, as its design notes describe it.

    1. Learning (ABO): every ad set gets an equal share until all have the minimum exposure
       ($5 spend or 1,500 impressions, 3 core events, 24 h live).
    2. Then the top `keep` ad sets by cost per core event that beat the median cost by `margin`
       (cost <= (1 - margin) x median cost) are winners; if none does, the best performer with
       sufficient volume is. Winners are duplicated into a scaling (CBO) campaign that gets
       1 - `learning_share` of the budget (split evenly), the learning campaign keeps `learning_share`
       split evenly over the live ad sets. Winners are re-evaluated every batch.
    3. Ad sets that spent more than $10 (here: `pause_impressions`), have zero core events and have been
       live 48 h are paused.
    The original also grows the scaling budget by 20% a day up to a cap; here the batch size is given,
    so only the split is modelled. Cost per event is impressions per event (a constant CPM).
    `learning_share=0` gives the stricter reading "keep only the winners and scale those".
    """

    min_impressions: float = 1500
    min_spend: float | None = 5.0
    min_events: float = 3
    min_hours_live: float = 24.0
    margin: float = 0.15
    keep: int = 2
    learning_share: float = 0.7
    pause_impressions: float = 3000  # $10 at the original's $5 = 1,500 impressions
    pause_hours: float = 48.0
    name: str = "fixed_rule"

    def _gates(self, stats: ArmStats) -> np.ndarray:
        return exposure_ok(stats, self.min_impressions, self.min_spend, self.min_events, self.min_hours_live)

    def paused(self, stats: ArmStats) -> np.ndarray:
        spent = stats.impressions > self.pause_impressions
        if stats.spend is not None:
            spent |= stats.spend > self.pause_impressions / IMPRESSIONS_PER_DOLLAR
        return spent & (stats.events <= 0) & (stats.hours_live >= self.pause_hours)

    def winners(self, stats: ArmStats) -> np.ndarray:
        """(cells, k) mask of the rule's winners (all False while some ad set is still learning)."""
        cells, k = stats.shape
        gated, paused = self._gates(stats), self.paused(stats)
        eligible = gated & ~paused
        with np.errstate(divide="ignore", invalid="ignore"):
            cost = np.where(stats.events > 0, stats.impressions / np.maximum(stats.events, 1e-12), np.inf)
        cost_e = np.where(eligible, cost, np.nan)
        all_nan = np.isnan(cost_e).all(axis=1)
        med = np.full(cells, np.inf)
        if (~all_nan).any():
            med[~all_nan] = np.nanmedian(cost_e[~all_nan], axis=1)
        beats = eligible & np.isfinite(cost) & (cost <= (1.0 - self.margin) * med[:, None])
        order_key = np.where(eligible, cost, np.inf)
        ranks = np.argsort(np.argsort(order_key, axis=1, kind="stable"), axis=1, kind="stable")
        chosen = beats & (ranks < self.keep)
        fallback = ~chosen.any(axis=1) & eligible.any(axis=1) & np.isfinite(order_key).any(axis=1)
        chosen[fallback] = (ranks[fallback] == 0)
        learning = ~(gated | paused).all(axis=1)
        chosen[learning] = False
        return chosen

    def shares(self, stats: ArmStats, rng: np.random.Generator) -> np.ndarray:
        live = ~self.paused(stats)
        live[~live.any(axis=1)] = True  # never pause a whole cell into silence
        even = live / live.sum(axis=1, keepdims=True)
        win = self.winners(stats) & live
        has = win.any(axis=1)
        out = even.copy()
        if has.any():
            scaled = win[has] / win[has].sum(axis=1, keepdims=True)
            out[has] = self.learning_share * even[has] + (1.0 - self.learning_share) * scaled
        return out


# -------------------------------------------------------------------------------------- by name
POLICY_NAMES = ("auto", "identify", "earn", "top_two_thompson", "decaying_thompson", "thompson", "uniform",
                "fixed_rule")
MODES = {"identify": "top_two_thompson", "earn": "decaying_thompson"}  # mode -> the policy that serves it
POLICY_MODE = {"top_two_thompson": "identify", "uniform": "identify", "fixed_rule": "identify",
               "decaying_thompson": "earn", "thompson": "earn"}  # what a named policy is good for

POLICY_EXPLANATIONS = {
    "top_two_thompson": ("top-two Thompson sampling (best-arm identification): each creative's share is "
                         "{beta:g} x P(best) + {rest:g} x P(it is the challenger of the leader), "
                         "then {floor:.0%} of the round is spread evenly over all creatives"),
    "decaying_thompson": ("Thompson sampling with a decaying floor (earn the most): each creative's share is its "
                          "posterior P(best), then {floor:.0%} / (1 + t) of the round is spread evenly over all "
                          "creatives, t = the cell's impressions per creative / 500"),
    "thompson": ("Thompson sampling: each creative's share is its posterior P(best), then {floor:.0%} of the "
                 "round is spread evenly over all creatives"),
    "uniform": "uniform: equal shares for every creative (the classic A/B/n split)",
    "fixed_rule": ("the original fixed rule: equal shares while learning; once every creative passed the exposure "
                   "gates, the best 1-2 by cost per core event that beat the median by 15% share 30% of the round "
                   "and the learning campaign keeps 70%; creatives with no core event after $10 and 48 h are paused "
                   "(no exploration floor: the learning share is its exploration)"),
}
MODE_EXPLANATIONS = {
    "identify": "identify mode (find the best and stop), for a cell whose test has no winner yet: ",
    "earn": "earn mode (least regret), for a cell with a declared winner or when asked for: ",
}


def mode_policy(mode: str, floor: float = 0.1) -> BatchPolicy:
    """The policy serving `mode` (one of MODES)."""
    if mode not in MODES:
        raise ValueError(f"unknown allocation mode {mode!r}: choose one of {', '.join(MODES)}")
    return make_policy(MODES[mode], floor)


def make_policy(name: str, floor: float = 0.1) -> BatchPolicy:
    """The policy called `name` (one of POLICY_NAMES; a mode name gives its policy); `floor` is the bandits'
    exploration floor. "auto" picks a mode per cell, which needs the cell's verdict: use `mode_policy` with
    the mode (score/allocation.py does)."""
    if name in MODES:
        return mode_policy(name, floor)
    if name == "top_two_thompson":
        return TopTwoThompson(floor=floor)
    if name == "decaying_thompson":
        return DecayingThompson(floor=floor)
    if name == "thompson":
        return Thompson(floor=floor)
    if name == "uniform":
        return Uniform()
    if name == "fixed_rule":
        return FixedRule()
    if name == "auto":
        raise ValueError("policy 'auto' picks a mode per cell: call mode_policy('identify' | 'earn')")
    raise ValueError(f"unknown allocation policy {name!r}: choose one of {', '.join(POLICY_NAMES)}")


def explain_policy(name: str, floor: float = 0.1) -> str:
    """How `name` splits a round, in words."""
    if name == "auto":
        return ("auto: each cell in its own mode; " + explain_policy("identify", floor) + "; "
                + explain_policy("earn", floor))
    if name in MODES:
        return MODE_EXPLANATIONS[name] + explain_policy(MODES[name], floor)
    pol = make_policy(name, floor)
    beta = getattr(pol, "beta", 0.5)
    return POLICY_EXPLANATIONS[name].format(beta=beta, rest=1.0 - beta, floor=floor)
