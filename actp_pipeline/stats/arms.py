"""Arms: the evidence of the creatives of a test cell, their Beta posteriors and P(best).

The state of a cell is a DataFrame, one row per live creative:

    arm_id        the creative (variant id)
    successes     effective core events: engagement rate x effective trials
    trials        effective trials: impressions discounted for post-level noise (`effective_trials`)
    impressions   raw impressions (optional; defaults to `trials`)   -- exposure gate
    events        raw core events (optional; defaults to `successes`) -- exposure gate
    hours_live    hours since the creative went live (optional; not gated when absent)
    spend         money spent (optional; "$5 spend OR 1,500 impressions")

The posterior of each creative's rate is Beta(prior + successes, prior + trials - successes) with the cell's
pooled rate as the prior mean and `prior_strength` pseudo-trials, the model of score/scores.py (whose
ScoringRules defaults are these constants; a test asserts they agree).

Everything is vectorised over a leading "cell" axis (`ArmStats` holds (cells, k) arrays) so a benchmark
can step hundreds of simulated cells at once through the very code the pipeline runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from actp_pipeline.stats.posterior import p_best_in_cells

PRIOR_STRENGTH = 500.0  # pseudo-trials of the cell prior
POST_NOISE_CV = 0.05  # coefficient of variation of a post's rate around its creative's rate
MC_DRAWS = 4000  # Monte Carlo draws for P(best) in the stopping rule


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


def win_counts(best: np.ndarray, k: int) -> np.ndarray:
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
    return win_counts(samples.argmax(axis=1), a.shape[1]) / draws


def p_best_exact(stats: ArmStats, prior_strength: float = PRIOR_STRENGTH) -> np.ndarray:
    """P(best) of each arm, (cells, k), by exact integration (posterior.p_best_in_cells): for display,
    where no decision hangs on Monte Carlo draws, and the same figure scores.py reports."""
    cells, k = stats.shape
    a, b = posterior(stats, prior_strength)
    return p_best_in_cells(np.repeat(np.arange(cells), k), a.ravel(), b.ravel()).reshape(cells, k)


def exposure_ok(stats: ArmStats, min_impressions: float, min_spend: float | None, min_events: float,
                min_hours_live: float) -> np.ndarray:
    """(cells, k) mask of the arms past the exposure gates: enough impressions (or spend), events, hours."""
    exposed = stats.impressions >= min_impressions
    if stats.spend is not None and min_spend is not None:
        exposed |= stats.spend >= min_spend
    return exposed & (stats.events >= min_events) & (stats.hours_live >= min_hours_live)
