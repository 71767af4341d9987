"""Stopping: when a cell's test is over, and why not yet. One rule for organic posts and paid ad sets.

`StoppingRule` declares a winner only when the evidence says so: the most likely best creative beats the
best of the OTHER creatives by a practical margin with probability >= `confidence`, and it passed the
exposure gates of the original system; otherwise it says why not, in words. It reads `arms.ArmStats`,
vectorised over cells; `stopping_rule` is the one-cell DataFrame form.

Valid under continuous monitoring. A team looks at a test every day, and a rule that stops the first time
a posterior probability crosses 95% stops on noise far more often than 5% of the time (measured on the
previous rule: 32.5% false winners over 30 looks of dead heats). Three things keep this one honest, all
measured by benchmarks/calibration.py over a grid of worlds it does not assume (base rates 1-20%, post
noise 0-20%, 2 and 8 creatives, 30 looks): the margin is against the best rival, so a dead heat must
look like a `margin` lift of the leader over EVERY rival, which random walks rarely manage once evidence
accumulates; the threshold is 99%, calibrated on those dead heats, where the first few looks (the
evidence is thin and the margin small next to the noise) are where false winners come from; and the
posterior is the robust hierarchical one (stats/hierarchy.py), whose post spread carries an allowance for
its own uncertainty. The figure the benchmark prints is the rate of false winners in dead heats at any of
30 looks (target at most 5%).

Why 5% at 99% and not 10% at 97.5% (the previous defaults): both keep dead heats at about 1% false
winners pooled (the worst configuration at 5% and 99%: 2 paid creatives with 15% day-to-day noise,
3.5%), but proving a 10% lead costs about (z / (gap - 0.10))^2: a creative 15% ahead needs nearly three
times the impressions of the proof at 5% and 99%, more than a fixed-horizon test that just picks the highest rate
(benchmarks/decisions.py measured 1.05x that test's budget at equal accuracy; 5% at 99% is the figure in
the README).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from actp_pipeline.stats.arms import MC_DRAWS, PRIOR_STRENGTH, ArmStats, exposure_ok, posterior, posterior_draws, win_counts


def _short_of(p: float) -> str:
    """A probability that fell short of a threshold, rounded DOWN to 3 decimals, so 0.9899 never reads as
    '0.990 < 0.99'."""
    return f"{math.floor(float(p) * 1000.0) / 1000.0:.3f}"


@dataclass(frozen=True)
class StoppingRule:
    """When a cell's test is over: a creative wins only when the evidence says so.

    All of: (1) it is the most likely best (the largest P(best), Monte Carlo over the posteriors of every
    creative of the cell, thin ones included as thin evidence); (2) its exposure passed the gates of the
    original system (at least `min_impressions` impressions or `min_spend` spent, `min_events` core events,
    `min_hours_live` hours live); (3) P(its rate > (1 + margin) x the best rate among the others) >=
    `confidence`. With margin 0, (3) is P(best) >= confidence. Otherwise no winner, with the reason.
    """

    confidence: float = 0.99
    min_impressions: float = 1500
    min_spend: float | None = 5.0
    min_events: float = 3
    min_hours_live: float = 24.0
    margin: float = 0.05
    prior_strength: float | None = PRIOR_STRENGTH
    draws: int = MC_DRAWS

    def __post_init__(self) -> None:
        if not 0.0 < self.confidence <= 1.0:
            raise ValueError("confidence must be within (0, 1]")
        if self.margin < 0:
            raise ValueError("margin must be >= 0")

    def decide_many(self, stats: ArmStats, rng: np.random.Generator | None = None) -> Decisions:
        """The verdict of every cell of `stats` (Monte Carlo only for cells with an arm past the gates)."""
        rng = rng if rng is not None else np.random.default_rng(0)
        cells, k = stats.shape
        gates = exposure_ok(stats, self.min_impressions, self.min_spend, self.min_events, self.min_hours_live)
        p = np.full((cells, k), np.nan)
        p_margin = np.full(cells, np.nan)
        leader = np.full(cells, -1)
        code = np.full(cells, "thin_data", dtype=object)
        code[stats.trials.sum(axis=1) <= 0] = "no_data"
        a, b = posterior(stats, self.prior_strength)
        mean = a / (a + b)
        todo = np.flatnonzero(gates.any(axis=1))
        if todo.size:
            samples = posterior_draws(a[todo], b[todo], self.draws, rng)
            wins = win_counts(samples.argmax(axis=1), k)
            p[todo] = wins / self.draws
            lead = wins.argmax(axis=1)
            leader[todo] = lead
            rows = np.arange(todo.size)
            lead_draws = samples[rows, lead, :]
            if k > 1:
                others = samples.copy()
                others[rows, lead, :] = -np.inf
                p_margin[todo] = (lead_draws > (1.0 + self.margin) * others.max(axis=1)).mean(axis=1)
            else:
                p_margin[todo] = 0.0  # a lone creative has no rival to beat: a test needs two
            lead_gated = gates[todo, lead]
            p_lead = p[todo, lead]
            code[todo] = np.where(~lead_gated, "thin_data",
                                  np.where(p_lead < self.confidence, "no_clear_best",
                                           np.where(p_margin[todo] < self.confidence, "below_margin", "winner")))
            if k == 1:
                code[todo] = np.where(lead_gated, "no_rival", "thin_data")
        winner = np.where(code == "winner", leader, -1)
        return Decisions(winner=winner, leader=leader, p_best=p, p_beats_others=p_margin, code=code,
                         posterior_mean=mean)

    def explain(self, d: Decisions, stats: ArmStats, ids: list | None, i: int = 0) -> str:
        """The reason of cell i in words."""
        k = stats.shape[1]
        name = (lambda j: str(ids[j])) if ids is not None else (lambda j: f"arm {j}")
        code = d.code[i]
        if code == "no_data":
            return "no data yet"
        if code == "no_rival":
            return f"{name(0)} is the only creative of its cell: nothing to compare it with"
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
            return f"no clear best (tie): P(best) of {name(j)} = {_short_of(pb[j])} < {self.confidence:g}{tie}"
        if code == "below_margin":
            return (f"{name(j)} is the likely best (P(best) = {pb[j]:.2f}) but not clearly {self.margin:.0%} better "
                    f"than every other creative: P(rate > {1 + self.margin:.2f} x the best other) = "
                    f"{_short_of(d.p_beats_others[i])} < {self.confidence:g}")
        return (f"winner {name(j)}: P(best) = {pb[j]:.3f}, P(rate > {1 + self.margin:.2f} x the best other) = "
                f"{d.p_beats_others[i]:.3f}, {stats.impressions[i, j]:,.0f} impressions, {stats.events[i, j]:,.0f} core events")


@dataclass(frozen=True)
class Decisions:
    """What `StoppingRule.decide_many` found for each cell; arrays over cells (and arms)."""

    winner: np.ndarray  # arm index or -1
    leader: np.ndarray  # the most likely best arm, -1 when no Monte Carlo was needed
    p_best: np.ndarray  # (cells, k), NaN where not computed
    p_beats_others: np.ndarray  # P(leader's rate > (1 + margin) x the best other rate), NaN where not computed
    code: np.ndarray  # winner | thin_data | no_clear_best | below_margin | no_rival | no_data
    posterior_mean: np.ndarray


def stopping_rule(state: pd.DataFrame, *, confidence: float = 0.99, min_impressions: float = 1500,
                  min_spend: float | None = 5.0, min_events: float = 3, min_hours_live: float = 24.0,
                  margin: float = 0.05, prior_strength: float | None = PRIOR_STRENGTH, draws: int = MC_DRAWS,
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
