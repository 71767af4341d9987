"""Allocate: how the next round's impressions are spread over the live creatives of one cell, and when
the test is over.

A test runs in daily batches: the policy splits one day's impressions (posting slots, ad budget) over the
creatives, the day's results come back, and only then is the next day planned. Feedback never arrives
inside a batch.

The state of a cell is a DataFrame, one row per live creative:

    arm_id        the creative (variant id)
    successes     effective core events: engagement rate x effective trials
    trials        effective trials: impressions discounted for post-level noise (`effective_trials`)
    impressions   raw impressions (optional; defaults to `trials`)   -- exposure gate
    events        raw core events (optional; defaults to `successes`) -- exposure gate
    hours_live    hours since the creative went live (optional; not gated when absent)
    spend         money spent (optional; "$5 spend OR 1,500 impressions")

The posterior of each creative's rate is Beta(prior + successes, prior + trials - successes) with the cell's
pooled rate as the prior mean and `prior_strength` pseudo-trials, the same model as `scores.py` (whose
defaults these are). Policies:

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

`stopping_rule` declares a winner only when the evidence says so (P(best) >= confidence, exposure gates,
beats the cell median by a margin) and otherwise says why not. `fixed_horizon_ab_sample_size` is the
classical baseline a bandit test is measured against.

Everything here is vectorised over a leading "cell" axis (`ArmStats` holds (cells, k) arrays) so a
benchmark can step hundreds of simulated cells at once through the very code the pipeline runs; the
DataFrame functions are thin wrappers around one cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from actp_pipeline.stats.posterior import p_best_in_cells

# Defaults shared with scores.ScoringRules (tests assert they agree) and winners.WinnerRule.
PRIOR_STRENGTH = 500.0  # pseudo-trials of the cell prior
POST_NOISE_CV = 0.05  # coefficient of variation of a post's rate around its creative's rate
MC_DRAWS = 4000  # Monte Carlo draws for P(best) in the stopping rule
IMPRESSIONS_PER_DOLLAR = 300.0  # original system: "$5 spend or 1,500 impressions" (a $3.33 CPM)


# ------------------------------------------------------------------------------------------ the state
@dataclass(frozen=True)
class ArmStats:
    """The state of `cells` cells with `k` creatives each, as (cells, k) float arrays."""

    successes: np.ndarray
    trials: np.ndarray
    impressions: np.ndarray
    events: np.ndarray
    hours_live: np.ndarray
    spend: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.trials.shape  # type: ignore[return-value]

    def take(self, rows: np.ndarray) -> ArmStats:
        """The cells selected by a boolean mask or an index array."""
        return ArmStats(self.successes[rows], self.trials[rows], self.impressions[rows], self.events[rows],
                        self.hours_live[rows], None if self.spend is None else self.spend[rows])

    @classmethod
    def from_arrays(cls, successes, trials, impressions=None, events=None, hours_live=None, spend=None) -> ArmStats:
        def arr(x, default):
            a = np.asarray(default if x is None else x, dtype=float)
            return np.atleast_2d(a)

        trials_a = arr(trials, None)
        succ_a = np.clip(arr(successes, None), 0.0, trials_a)
        return cls(
            successes=succ_a,
            trials=trials_a,
            impressions=arr(impressions, trials_a),
            events=arr(events, succ_a),
            hours_live=arr(hours_live, np.full_like(trials_a, np.inf)),
            spend=None if spend is None else arr(spend, None),
        )

    @classmethod
    def from_frame(cls, state: pd.DataFrame) -> ArmStats:
        """One cell from the state DataFrame (see the module doc for the columns)."""
        missing = {"arm_id", "successes", "trials"} - set(state.columns)
        if missing:
            raise ValueError(f"state lacks columns {sorted(missing)}")
        if state["arm_id"].duplicated().any():
            raise ValueError("arm_id must be unique within a cell")

        def col(name):
            return state[name].to_numpy(dtype=float) if name in state.columns else None

        trials, successes = col("trials"), col("successes")
        if np.any(trials < 0) or np.any(successes < 0) or np.any(~np.isfinite(trials)) or np.any(~np.isfinite(successes)):
            raise ValueError("successes and trials must be finite and >= 0")
        return cls.from_arrays(successes, trials, col("impressions"), col("events"), col("hours_live"), col("spend"))


def effective_trials(impressions, events, posts=1, post_noise_cv: float = POST_NOISE_CV) -> tuple[np.ndarray, np.ndarray]:
    """(effective trials, effective successes) of `impressions` with `events` spread over `posts` posts.

    The rate of one post varies around its creative's rate with coefficient of variation cv beyond the
    binomial noise, so a post of n impressions is worth n_eff = 1 / (1/n + r cv^2 / (1 - r)) trials (the
    formula of scores.py). m equal posts of n/m impressions add up to 1 / (1/n + r cv^2 / ((1 - r) m)).
    """
    n = np.asarray(impressions, dtype=float)
    e = np.asarray(events, dtype=float)
    m = np.maximum(np.asarray(posts, dtype=float), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.clip(np.where(n > 0, e / np.maximum(n, 1.0), 0.0), 1e-4, 1 - 1e-4)
        n_eff = np.where(n > 0, 1.0 / (1.0 / np.maximum(n, 1.0) + r * post_noise_cv**2 / ((1 - r) * m)), 0.0)
    rate = np.where(n > 0, e / np.maximum(n, 1.0), 0.0)
    return n_eff, rate * n_eff


def posterior(stats: ArmStats, prior_strength: float = PRIOR_STRENGTH) -> tuple[np.ndarray, np.ndarray]:
    """Beta parameters (alpha, beta), each (cells, k): the cell's pooled rate as the prior mean."""
    tot_t = stats.trials.sum(axis=1, keepdims=True)
    tot_s = stats.successes.sum(axis=1, keepdims=True)
    pooled = np.where(tot_t > 0, tot_s / np.maximum(tot_t, 1e-12), 0.5).clip(1e-4, 1 - 1e-4)
    a = pooled * prior_strength + stats.successes
    b = (1 - pooled) * prior_strength + (stats.trials - stats.successes)
    return a, b


def posterior_draws(a: np.ndarray, b: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(cells, k, draws) samples of the Beta posteriors."""
    return rng.beta(a[..., None], b[..., None], size=(*a.shape, draws))


def _win_counts(best: np.ndarray, k: int) -> np.ndarray:
    """How often each of k arms is the argmax: best is (cells, draws) -> (cells, k) counts."""
    cells = best.shape[0]
    flat = (best + k * np.arange(cells)[:, None]).ravel()
    return np.bincount(flat, minlength=cells * k).reshape(cells, k)


def p_best(stats: ArmStats, *, draws: int = MC_DRAWS, prior_strength: float = PRIOR_STRENGTH,
           rng: np.random.Generator | None = None) -> np.ndarray:
    """P(each arm has the highest rate in its cell), (cells, k), by Monte Carlo over the posteriors."""
    rng = rng if rng is not None else np.random.default_rng(0)
    a, b = posterior(stats, prior_strength)
    samples = posterior_draws(a, b, draws, rng)
    return _win_counts(samples.argmax(axis=1), a.shape[1]) / draws


# ------------------------------------------------------------------------------------------ budgets
def p_best_exact(stats: ArmStats, prior_strength: float = PRIOR_STRENGTH) -> np.ndarray:
    """P(best) of each arm, (cells, k), by exact integration (posterior.p_best_in_cells): for display,
    where no decision hangs on Monte Carlo draws, and the same figure scores.py reports."""
    cells, k = stats.shape
    a, b = posterior(stats, prior_strength)
    return p_best_in_cells(np.repeat(np.arange(cells), k), a.ravel(), b.ravel()).reshape(cells, k)


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
    k = shares.shape[1]
    return (1.0 - floor) * shares + floor / k


def _exposure_ok(stats: ArmStats, min_impressions: float, min_spend: float | None, min_events: float,
                 min_hours_live: float) -> np.ndarray:
    exposed = stats.impressions >= min_impressions
    if stats.spend is not None and min_spend is not None:
        exposed |= stats.spend >= min_spend
    return exposed & (stats.events >= min_events) & (stats.hours_live >= min_hours_live)


# ----------------------------------------------------------------------------------------- policies
@runtime_checkable
class Policy(Protocol):
    """Splits the next batch's impressions over the live creatives of one cell."""

    name: str

    def allocate(self, state: pd.DataFrame, budget: int, rng: np.random.Generator | None = None) -> pd.Series:
        """arm_id -> impressions for the next batch; the values add up to `budget`."""
        ...


class _BatchPolicy:
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
class Uniform(_BatchPolicy):
    """Equal shares: the classic A/B/n split."""

    name: str = "uniform"

    def shares(self, stats: ArmStats, rng: np.random.Generator) -> np.ndarray:
        cells, k = stats.shape
        return np.full((cells, k), 1.0 / k)


@dataclass(frozen=True)
class Thompson(_BatchPolicy):
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
class TopTwoThompson(_BatchPolicy):
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
        wins = _win_counts(samples.argmax(axis=1), k)
        p = wins / self.draws
        leader = p.argmax(axis=1)
        rows = np.arange(cells)
        # challenger distribution q[c, j, i] = P(J = i | I = j)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = p[:, None, :] / (1.0 - p[:, :, None])
        q[:, np.arange(k), np.arange(k)] = 0.0
        # runner-up frequencies for the leader: the best of the other arms within the same draws
        samples[rows, leader, :] = -np.inf
        runner = _win_counts(samples.argmax(axis=1), k) / self.draws
        thin = (self.draws - wins[rows, leader]) < self.min_challenger_draws
        q[rows[thin], leader[thin], :] = runner[thin]
        q = np.nan_to_num(q, nan=0.0, posinf=0.0)
        challenger = np.einsum("cj,cji->ci", p, q)
        return _with_floor(self.beta * p + (1.0 - self.beta) * challenger, self.floor)


@dataclass(frozen=True)
class FixedRule(_BatchPolicy):
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
        return _exposure_ok(stats, self.min_impressions, self.min_spend, self.min_events, self.min_hours_live)

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


# ----------------------------------------------------------------------------------- stopping rule
@dataclass(frozen=True)
class StoppingRule:
    """When a cell's test is over: a creative wins only when the evidence says so.

    All of: (1) it is the most likely best, with P(best) >= `confidence` (Monte Carlo over the Beta
    posteriors, as scores.py); (2) its exposure passed the gates of the original system (at least
    `min_impressions` impressions or `min_spend` spent, `min_events` core events, `min_hours_live`
    hours live); (3) P(its rate > cell median x (1 + margin)) >= `confidence`, where the cell median is
    the median of the posterior means (as winners.py). Otherwise no winner, with the reason.
    """

    confidence: float = 0.95
    min_impressions: float = 1500
    min_spend: float | None = 5.0
    min_events: float = 3
    min_hours_live: float = 24.0
    margin: float = 0.15
    prior_strength: float = PRIOR_STRENGTH
    draws: int = MC_DRAWS

    def __post_init__(self) -> None:
        if not 0.0 < self.confidence <= 1.0:
            raise ValueError("confidence must be within (0, 1]")
        if self.margin < 0:
            raise ValueError("margin must be >= 0")

    def decide_many(self, stats: ArmStats, rng: np.random.Generator | None = None) -> Decisions:
        rng = rng if rng is not None else np.random.default_rng(0)
        cells, k = stats.shape
        gates = _exposure_ok(stats, self.min_impressions, self.min_spend, self.min_events, self.min_hours_live)
        p = np.full((cells, k), np.nan)
        p_margin = np.full(cells, np.nan)
        leader = np.full(cells, -1)
        code = np.full(cells, "thin_data", dtype=object)
        code[stats.trials.sum(axis=1) <= 0] = "no_data"
        a, b = posterior(stats, self.prior_strength)
        mean = a / (a + b)
        bar = np.median(mean, axis=1) * (1.0 + self.margin) if k else np.zeros(cells)
        todo = np.flatnonzero(gates.any(axis=1))
        if todo.size:
            samples = posterior_draws(a[todo], b[todo], self.draws, rng)
            wins = _win_counts(samples.argmax(axis=1), k)
            p[todo] = wins / self.draws
            lead = wins.argmax(axis=1)
            leader[todo] = lead
            p_margin[todo] = (samples[np.arange(todo.size), lead, :] > bar[todo, None]).mean(axis=1)
            lead_gated = gates[todo, lead]
            p_lead = p[todo, lead]
            code[todo] = np.where(~lead_gated, "thin_data",
                                  np.where(p_lead < self.confidence, "no_clear_best",
                                           np.where(p_margin[todo] < self.confidence, "below_margin", "winner")))
        winner = np.where(code == "winner", leader, -1)
        return Decisions(winner=winner, leader=leader, p_best=p, p_beats_median=p_margin, code=code,
                         posterior_mean=mean, median_bar=bar)

    def explain(self, d: Decisions, stats: ArmStats, ids: list | None, i: int = 0) -> str:
        """The reason of cell i in words."""
        k = stats.shape[1]
        name = (lambda j: str(ids[j])) if ids is not None else (lambda j: f"arm {j}")
        code = d.code[i]
        if code == "no_data":
            return "no data yet"
        if code == "thin_data":
            j = d.leader[i] if d.leader[i] >= 0 else int(np.argmax(d.posterior_mean[i]))
            imp, ev, h = stats.impressions[i, j], stats.events[i, j], stats.hours_live[i, j]
            why = []
            spend_ok = stats.spend is not None and self.min_spend is not None and stats.spend[i, j] >= self.min_spend
            if imp < self.min_impressions and not spend_ok:
                spend_txt = f" and spend < ${self.min_spend:g}" if stats.spend is not None and self.min_spend is not None else ""
                why.append(f"{imp:,.0f} impressions < {self.min_impressions:,.0f}{spend_txt}")
            if ev < self.min_events:
                why.append(f"{ev:,.0f} core events < {self.min_events:g}")
            if h < self.min_hours_live:
                why.append(f"live {h:.1f} h < {self.min_hours_live:g} h")
            who = "leader" if d.leader[i] >= 0 else "no creative passed the exposure gates; best so far"
            return f"thin data: {who} {name(j)}: " + "; ".join(why)
        j = int(d.leader[i])
        pb = d.p_best[i]
        if code == "no_clear_best":
            others = np.argsort(-np.nan_to_num(pb, nan=-1.0), kind="stable")
            runner = next((int(x) for x in others if x != j), None)
            tie = f", runner-up {name(runner)} {pb[runner]:.2f}" if runner is not None and k > 1 else ""
            return f"no clear best (tie): P(best) of {name(j)} = {pb[j]:.2f} < {self.confidence:.2f}{tie}"
        if code == "below_margin":
            return (f"{name(j)} is the likely best (P(best) = {pb[j]:.2f}) but does not clearly beat the cell median "
                    f"by {self.margin:.0%}: P(ER > {d.median_bar[i]:.4f}) = {d.p_beats_median[i]:.2f} < {self.confidence:.2f}")
        return (f"winner {name(j)}: P(best) = {pb[j]:.3f}, P(ER > cell median x {1 + self.margin:.2f}) = "
                f"{d.p_beats_median[i]:.3f}, {stats.impressions[i, j]:,.0f} impressions, {stats.events[i, j]:,.0f} core events")


@dataclass(frozen=True)
class Decisions:
    """What `StoppingRule.decide_many` found for each cell; arrays over cells (and arms)."""

    winner: np.ndarray  # arm index or -1
    leader: np.ndarray  # the most likely best arm, -1 when no Monte Carlo was needed
    p_best: np.ndarray  # (cells, k), NaN where not computed
    p_beats_median: np.ndarray
    code: np.ndarray  # winner | thin_data | no_clear_best | below_margin | no_data
    posterior_mean: np.ndarray
    median_bar: np.ndarray


def stopping_rule(state: pd.DataFrame, *, confidence: float = 0.95, min_impressions: float = 1500,
                  min_spend: float | None = 5.0, min_events: float = 3, min_hours_live: float = 24.0,
                  margin: float = 0.15, prior_strength: float = PRIOR_STRENGTH, draws: int = MC_DRAWS,
                  rng: np.random.Generator | None = None) -> tuple[object | None, str]:
    """(winner arm_id or None, reason) for one cell's state. See `StoppingRule`."""
    if len(state) == 0:
        return None, "no creatives"
    rule = StoppingRule(confidence=confidence, min_impressions=min_impressions, min_spend=min_spend,
                        min_events=min_events, min_hours_live=min_hours_live, margin=margin,
                        prior_strength=prior_strength, draws=draws)
    stats = ArmStats.from_frame(state)
    d = rule.decide_many(stats, rng)
    ids = list(state["arm_id"])
    reason = rule.explain(d, stats, ids, 0)
    return (ids[int(d.winner[0])] if d.winner[0] >= 0 else None), reason


# ---------------------------------------------------------------------------- the classical baseline
def fixed_horizon_ab_sample_size(p_base: float, lift: float, alpha: float = 0.05, power: float = 0.8, arms: int = 2,
                                 *, continuity_correction: bool = False) -> int:
    """Impressions per arm of a fixed-horizon test that detects a relative `lift` over `p_base`.

    Two-proportion z-test, two-sided, equal groups (Fleiss, Levin & Paik, Statistical Methods for Rates
    and Proportions, the pooled-variance formula):

        n = (z_{1-a/2} sqrt(2 pbar qbar) + z_{1-b} sqrt(p1 q1 + p2 q2))^2 / (p2 - p1)^2

    with p1 = p_base, p2 = p_base (1 + lift), pbar = (p1 + p2) / 2. With `continuity_correction`,
    n' = n/4 (1 + sqrt(1 + 4 / (n |p2 - p1|)))^2 (Fleiss, Tytun & Ury 1980).

    k arms: the best arm is compared with each of the other k - 1 arms, so the significance level is
    Bonferroni-corrected to alpha / (k - 1). Dunnett's exact many-to-one critical value is slightly
    smaller (the comparisons share one arm and are positively correlated), so Bonferroni is a close,
    conservative stand-in that needs no multivariate normal integral. The total budget of the test is
    `arms` times the result; every arm gets the n of the hardest comparison.
    """
    from scipy.stats import norm  # imported here: scipy is slow to import

    if not 0.0 < p_base < 1.0:
        raise ValueError("p_base must be within (0, 1)")
    p2 = p_base * (1.0 + lift)
    if lift == 0 or not 0.0 < p2 < 1.0:
        raise ValueError("lift must be non-zero and keep the rate within (0, 1)")
    if arms < 2:
        raise ValueError("a test needs at least 2 arms")
    a = alpha / (arms - 1)
    z_a = norm.ppf(1.0 - a / 2.0)
    z_b = norm.ppf(power)
    p1 = p_base
    pbar = (p1 + p2) / 2.0
    d = abs(p2 - p1)
    n = (z_a * math.sqrt(2.0 * pbar * (1.0 - pbar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / d**2
    if continuity_correction:
        n = n / 4.0 * (1.0 + math.sqrt(1.0 + 4.0 / (n * d))) ** 2
    return int(math.ceil(n - 1e-9))


# ------------------------------------------------------------------ the pipeline's cells, from scores
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


def make_policy(name: str, floor: float = 0.1) -> _BatchPolicy:
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


def arms_from_scores(scores: pd.DataFrame, *, min_views: float | None = None,
                     min_engagements: float | None = None) -> pd.DataFrame:
    """One row per creative per cell from scored posts (scores.py): the state the policies and the stopping
    rule read, plus the cell columns.

    A creative with several posts in a cell is one arm: views, engagements and effective trials add up,
    successes are sum(engagement_rate x effective_views) (the post-noise-discounted evidence of scores.py),
    hours_live is the longest any of its posts has been live. `sufficient` is the learning gate
    (ScoringRules: `min_views` views and `min_engagements` engagements) applied to the pooled figures, so
    a creative whose every post is thin can still pass it in total.
    Columns: the cell columns (scores.CELL present in `scores`), arm_id (= variant_id), posts, successes,
    trials, impressions, events, hours_live, sufficient. Cells and arms are sorted.
    """
    from actp_pipeline.score.scores import CELL, ScoringRules  # here: scores imports the warehouse (duckdb)

    learning = ScoringRules()
    min_views = learning.min_views if min_views is None else min_views
    min_engagements = learning.min_engagements if min_engagements is None else min_engagements
    scores = pd.DataFrame() if scores is None else scores
    cell = CELL
    out_cols = [*cell, "arm_id", "posts", "successes", "trials", "impressions", "events", "hours_live", "sufficient"]
    if len(scores) == 0:
        return pd.DataFrame(columns=out_cols)
    df = scores.copy()
    views = df["views"].astype(float).fillna(0.0)
    if "engagements" not in df:
        df["engagements"] = df[[c for c in ("likes", "comments", "shares", "saves") if c in df]].sum(axis=1)
    eng = df["engagements"].astype(float).fillna(0.0)
    if "effective_views" in df:
        n_eff = df["effective_views"].astype(float).fillna(0.0).to_numpy()
    else:
        n_eff, _ = effective_trials(views.to_numpy(), eng.to_numpy())
    rate = (df["engagement_rate"].astype(float).fillna(0.0).to_numpy() if "engagement_rate" in df
            else np.where(views > 0, eng / views.clip(lower=1.0), 0.0))
    df = df.assign(_trials=n_eff, _succ=rate * n_eff, _views=views, _eng=eng,
                   _hours=df["hours_live"].astype(float).fillna(0.0) if "hours_live" in df else np.inf)
    arms = (df.groupby([*cell, "variant_id"], sort=True, dropna=False)
              .agg(posts=("variant_id", "size"), successes=("_succ", "sum"), trials=("_trials", "sum"),
                   impressions=("_views", "sum"), events=("_eng", "sum"), hours_live=("_hours", "max"))
              .reset_index().rename(columns={"variant_id": "arm_id"}))
    arms["successes"] = arms["successes"].clip(lower=0.0, upper=arms["trials"])
    arms["sufficient"] = (arms["impressions"] >= min_views) & (arms["events"] >= min_engagements)
    return arms[out_cols]


def cells_by_size(arms: pd.DataFrame, cell: list[str]):
    """Yield (k, [(cell key, arms of that cell)], ArmStats of shape (cells, k)) for the cells with k arms,
    so a rule or policy runs vectorised over all cells of the same size (no padding: a padded arm would
    take part in P(best))."""
    groups = list(arms.groupby(cell, sort=True, dropna=False))
    by_k: dict[int, list] = {}
    for key, g in groups:
        by_k.setdefault(len(g), []).append((key if isinstance(key, tuple) else (key,), g))
    for k in sorted(by_k):
        members = by_k[k]

        def stack(col):
            return np.vstack([g[col].to_numpy(dtype=float) for _, g in members])

        stats = ArmStats.from_arrays(stack("successes"), stack("trials"), stack("impressions"), stack("events"),
                                     stack("hours_live"))
        yield k, members, stats


def allocate_next_round(scores: pd.DataFrame, policy: str = "top_two_thompson", posts_budget: int = 12,
                        ad_budget: float = 10.0, floor: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """The next round's posts and ad dollars per creative, for every cell of `scores` (or of the decisions
    of winners.py, which carry the same columns).

    Every cell is its own test and gets the whole `posts_budget` (integer posts, exactly that many) and
    `ad_budget` (dollars, whole cents, never more than the budget) for the round; the shares come from the
    policy named `policy` (POLICY_NAMES) over the creatives' pooled evidence (`arms_from_scores`). The
    creatives below the learning gate take part: they are the ones that most need exposure, and the
    bandits' posterior (the cell's rate with little data) and the exploration `floor` give it to them.
    Deterministic for a given `seed` (the Monte Carlo draws of the bandits).

    Columns: the cell columns, variant_id, posts, views, engagements, er_mean (posterior mean of the pooled
    rate), p_best, sufficient, share, next_round_posts, next_round_ad_budget, policy.
    """
    from actp_pipeline.score.scores import CELL

    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"exploration floor must be within [0, 1], got {floor}")
    if int(posts_budget) != posts_budget or posts_budget < 0:
        raise ValueError(f"posts_budget must be a whole number >= 0, got {posts_budget}")
    if not (ad_budget >= 0 and math.isfinite(ad_budget)):
        raise ValueError(f"ad_budget must be a finite amount >= 0, got {ad_budget}")
    pol = make_policy(policy, floor)
    cell = CELL
    cols = [*cell, "variant_id", "posts", "views", "engagements", "er_mean", "p_best", "sufficient", "share",
            "next_round_posts", "next_round_ad_budget", "policy"]
    arms = arms_from_scores(scores) if scores is not None and len(scores) else pd.DataFrame()
    if arms.empty:
        return pd.DataFrame(columns=cols)
    rng = np.random.default_rng(seed)
    cents = int(math.floor(round(ad_budget * 100, 6)))
    out = []
    for _, members, stats in cells_by_size(arms, cell):
        shares = pol.shares(stats, rng)
        shares = shares / shares.sum(axis=1, keepdims=True)
        posts = split_budget(shares, int(posts_budget))
        dollars = split_budget(shares, cents) / 100.0
        pb = p_best_exact(stats)
        a, b = posterior(stats)
        for i, (_, g) in enumerate(members):
            out.append(pd.DataFrame({
                **{c: g[c].to_numpy() for c in cell}, "variant_id": g["arm_id"].to_numpy(),
                "posts": g["posts"].to_numpy(), "views": np.rint(g["impressions"].to_numpy()).astype(np.int64),
                "engagements": np.rint(g["events"].to_numpy()).astype(np.int64), "er_mean": a[i] / (a[i] + b[i]),
                "p_best": pb[i],
                "sufficient": g["sufficient"].to_numpy(), "share": shares[i], "next_round_posts": posts[i],
                "next_round_ad_budget": np.round(dollars[i], 2), "policy": policy}))
    plan = pd.concat(out, ignore_index=True)
    plan = plan.sort_values([*cell, "share"], ascending=[True] * len(cell) + [False], kind="stable")
    return plan.reset_index(drop=True)[cols]
