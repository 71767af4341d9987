"""Bandit policies: how the next batch's impressions are spread over the live creatives of one cell.

A test runs in daily batches: the policy splits one day's impressions (posting slots, ad budget) over the
creatives, the day's results come back, and only then is the next day planned. Feedback never arrives
inside a batch. The state a policy reads is `arms.ArmStats` (or its DataFrame form, see stats/arms.py).

- `TopTwoThompson` (best-arm identification; Russo 2016): with probability beta the arm sampled as best,
  otherwise a challenger: the arm that is best in a fresh posterior draw in which the leader is not best.
  Batched: each arm gets its expected share of the batch instead of one draw per impression.
- `Thompson`: probability matching, share = P(best).
- `Uniform`: equal shares.
- `FixedRule`: the original system's rule (ABO learning campaign split evenly; once ad sets pass the
  exposure gates, the top 1-2 by cost per core event that beat the median cost by 15% are promoted to a
  scaling campaign with 30% of the budget while learning keeps 70%; ad sets with > $10 spent, zero core
  events and 48 h live are paused).

The bandit policies take an exploration `floor`: a fraction of every batch spread evenly over the live
arms, so every arm receives at least `floor * budget / k` impressions (up to rounding down) per batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from actp_pipeline.stats.arms import PRIOR_STRENGTH, ArmStats, exposure_ok, p_best, posterior, posterior_draws, win_counts

IMPRESSIONS_PER_DOLLAR = 300.0  # original system: "$5 spend or 1,500 impressions" (a $3.33 CPM)


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
    prior_strength: float = PRIOR_STRENGTH
    name: str = "thompson"

    def __post_init__(self) -> None:
        if not 0.0 <= self.floor <= 1.0:
            raise ValueError("floor must be within [0, 1]")

    def shares(self, stats: ArmStats, rng: np.random.Generator) -> np.ndarray:
        return _with_floor(p_best(stats, draws=self.draws, prior_strength=self.prior_strength, rng=rng), self.floor)


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
    prior_strength: float = PRIOR_STRENGTH
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
POLICY_NAMES = ("top_two_thompson", "thompson", "uniform", "fixed_rule")

POLICY_EXPLANATIONS = {
    "top_two_thompson": ("top-two Thompson sampling (best-arm identification): each creative's share is "
                         "{beta:g} x P(best) + {rest:g} x P(it is the challenger of the leader), "
                         "then {floor:.0%} of the round is spread evenly over all creatives"),
    "thompson": ("Thompson sampling: each creative's share is its posterior P(best), then {floor:.0%} of the "
                 "round is spread evenly over all creatives"),
    "uniform": "uniform: equal shares for every creative (the classic A/B/n split)",
    "fixed_rule": ("the original fixed rule: equal shares while learning; once every creative passed the exposure "
                   "gates, the best 1-2 by cost per core event that beat the median by 15% share 30% of the round "
                   "and the learning campaign keeps 70%; creatives with no core event after $10 and 48 h are paused "
                   "(no exploration floor: the learning share is its exploration)"),
}


def make_policy(name: str, floor: float = 0.1) -> BatchPolicy:
    """The policy called `name` (one of POLICY_NAMES); `floor` is the bandits' exploration floor."""
    if name == "top_two_thompson":
        return TopTwoThompson(floor=floor)
    if name == "thompson":
        return Thompson(floor=floor)
    if name == "uniform":
        return Uniform()
    if name == "fixed_rule":
        return FixedRule()
    raise ValueError(f"unknown allocation policy {name!r}: choose one of {', '.join(POLICY_NAMES)}")


def explain_policy(name: str, floor: float = 0.1) -> str:
    """How `name` splits a round, in words."""
    pol = make_policy(name, floor)
    beta = getattr(pol, "beta", 0.5)
    return POLICY_EXPLANATIONS[name].format(beta=beta, rest=1.0 - beta, floor=floor)

