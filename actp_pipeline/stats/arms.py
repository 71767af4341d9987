"""Arms: the evidence of the creatives of a test cell, their Beta posteriors and P(best).

The state of a cell is a DataFrame, one row per live creative:

    arm_id        the creative (variant id)
    successes     effective core events: engagement rate x effective trials
    trials        effective trials: impressions discounted for post-level noise (`effective_trials`)
    impressions   raw impressions (optional; defaults to `trials`)   -- exposure gate
    events        raw core events (optional; defaults to `successes`) -- exposure gate
    hours_live    hours since the creative went live (optional; not gated when absent)
    spend         money spent (optional; "$5 spend OR 1,500 impressions")

The posterior of each creative's rate is the robust hierarchical Beta of stats/hierarchy.py: its prior comes
from the other creatives of its cell and the other cells of the batch (or `prior_mean`/`prior_strength`
given by the caller, as winners.py does from the whole platform), its own data counts once. A fixed
`prior_strength` number instead gives the old pooled-rate prior (kept for comparisons in benchmarks).

Everything is vectorised over a leading "cell" axis (`ArmStats` holds (cells, k) arrays) so a benchmark
can step hundreds of simulated cells at once through the very code the pipeline runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from actp_pipeline.stats import hierarchy
from actp_pipeline.stats.posterior import p_best_in_cells

PRIOR_STRENGTH = None  # None: the hierarchical prior, estimated (stats/hierarchy.py); a number: a fixed pooled prior
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
    prior_mean: np.ndarray | None = None  # (cells, k) Beta prior mean per arm, when the caller knows better
    prior_strength: np.ndarray | None = None  # (cells, k) its pseudo-trials

    @property
    def shape(self) -> tuple[int, int]:
        return self.trials.shape  # type: ignore[return-value]

    def take(self, rows: np.ndarray) -> ArmStats:
        """The cells selected by a boolean mask or an index array."""
        def pick(x):
            return None if x is None else x[rows]

        return ArmStats(self.successes[rows], self.trials[rows], self.impressions[rows], self.events[rows],
                        self.hours_live[rows], pick(self.spend), pick(self.prior_mean), pick(self.prior_strength))

    @classmethod
    def from_arrays(cls, successes, trials, impressions=None, events=None, hours_live=None, spend=None,
                    prior_mean=None, prior_strength=None) -> ArmStats:
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
            prior_mean=None if prior_mean is None else arr(prior_mean, None),
            prior_strength=None if prior_strength is None else arr(prior_strength, None),
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


def from_units(unit_arm: np.ndarray, unit_impressions: np.ndarray, unit_events: np.ndarray, *, arms: int,
               hours_live, spend=None, prior_factor: np.ndarray | None = None) -> tuple[ArmStats, float, float]:
    """(ArmStats of ONE cell, unit-to-unit cv^2, its degrees of freedom) from its units of evidence: the
    posts of an organic creative or the days of an ad set, each (arm index, impressions, events).

    The units' spread beyond binomial noise is estimated and discounts each arm's evidence, and each arm's
    prior comes from the other arms (stats/hierarchy.py), its centre times `prior_factor` when given (an
    organic lift carried into a paid test). What the paid test, the planner and the benchmarks decide on."""
    unit_arm = np.asarray(unit_arm, dtype=np.int64)
    imp_u = np.asarray(unit_impressions, dtype=float)
    ev_u = np.asarray(unit_events, dtype=float)
    cv2, df = hierarchy.estimate_post_cv2(unit_arm, imp_u, ev_u)
    trials, successes = hierarchy.creative_evidence(unit_arm, imp_u, ev_u, cv2, creatives=arms)
    mean, strength, _ = hierarchy.creative_priors(np.zeros(arms), np.zeros(arms), trials, successes)
    if prior_factor is not None:
        mean = np.clip(mean * np.asarray(prior_factor, dtype=float), hierarchy.RATE_FLOOR, 1 - hierarchy.RATE_FLOOR)
    impressions = np.bincount(unit_arm, weights=imp_u, minlength=arms)
    events = np.bincount(unit_arm, weights=ev_u, minlength=arms)
    stats = ArmStats.from_arrays(successes=successes, trials=trials, impressions=impressions, events=events,
                                 hours_live=np.broadcast_to(np.asarray(hours_live, dtype=float), (arms,)),
                                 spend=None if spend is None else np.broadcast_to(np.asarray(spend, float), (arms,)),
                                 prior_mean=mean, prior_strength=strength)
    return stats, cv2, df


def from_days(day_impressions: np.ndarray, day_events: np.ndarray, hours_live, spend=None) -> ArmStats:
    """Cells of arms observed day by day, (cells, k, days) arrays, as one ArmStats: each cell through
    `from_units` with its arm-days of any impressions as the units (a paid test's view of its ad sets), for
    simulations that step many cells at once. `hours_live` and `spend` are per cell (or per cell and arm)."""
    cells, k, _ = day_impressions.shape
    hours = np.broadcast_to(np.asarray(hours_live, dtype=float), (cells,) + np.shape(hours_live)[1:])
    parts = []
    for c in range(cells):
        arm, day = np.nonzero(day_impressions[c] > 0)
        parts.append(from_units(arm, day_impressions[c][arm, day], day_events[c][arm, day], arms=k,
                                hours_live=hours[c], spend=None if spend is None else spend[c])[0])
    return stack(parts)


def stack(parts: list[ArmStats]) -> ArmStats:
    """Cells of several ArmStats (same number of arms) as one, for one vectorised decide_many call."""
    return ArmStats(**{f: (np.concatenate([getattr(p, f) for p in parts]) if getattr(parts[0], f) is not None else None)
                       for f in ArmStats.__dataclass_fields__})


def effective_trials(impressions, events, posts=1, post_noise_cv: float = hierarchy.DEFAULT_POST_CV
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(effective trials, effective successes) of `impressions` with `events` spread over `posts` equal posts
    whose rates vary around the creative's with coefficient of variation `post_noise_cv` (for simulations
    that know their posts only as counts; real posts go through hierarchy.creative_evidence)."""
    n = np.asarray(impressions, dtype=float)
    m = np.maximum(np.asarray(posts, dtype=float), 1.0)
    return hierarchy.effective_trials(n, events, post_noise_cv**2 / m)


def priors(stats: ArmStats) -> tuple[np.ndarray, np.ndarray]:
    """(prior mean, prior strength), each (cells, k): the caller's, or the hierarchical prior of every arm
    from the other arms of its cell and the other cells of the batch (hierarchy.creative_priors)."""
    if stats.prior_mean is not None and stats.prior_strength is not None:
        return stats.prior_mean, stats.prior_strength
    cells, k = stats.shape
    mean, strength, _ = hierarchy.creative_priors(np.zeros(cells * k), np.repeat(np.arange(cells), k),
                                                  stats.trials.ravel(), stats.successes.ravel())
    return mean.reshape(cells, k), strength.reshape(cells, k)


def posterior(stats: ArmStats, prior_strength: float | None = PRIOR_STRENGTH) -> tuple[np.ndarray, np.ndarray]:
    """Beta parameters (alpha, beta), each (cells, k): the robust hierarchical posterior (stats/hierarchy.py);
    with a number for `prior_strength`, the old prior of that many pseudo-trials at the cell's pooled rate."""
    if prior_strength is not None:
        tot_t = stats.trials.sum(axis=1, keepdims=True)
        tot_s = stats.successes.sum(axis=1, keepdims=True)
        pooled = np.where(tot_t > 0, tot_s / np.maximum(tot_t, 1e-12), 0.5).clip(1e-4, 1 - 1e-4)
        return pooled * prior_strength + stats.successes, (1 - pooled) * prior_strength + (stats.trials - stats.successes)
    mean, strength = priors(stats)
    a, b, _, _ = hierarchy.robust_posterior(mean, strength, stats.successes, stats.trials)
    return a, b


def posterior_draws(a: np.ndarray, b: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(cells, k, draws) samples of the Beta posteriors."""
    return rng.beta(a[..., None], b[..., None], size=(*a.shape, draws))


def win_counts(best: np.ndarray, k: int) -> np.ndarray:
    """How often each of k arms is the argmax: best is (cells, draws) -> (cells, k) counts."""
    cells = best.shape[0]
    flat = (best + k * np.arange(cells)[:, None]).ravel()
    return np.bincount(flat, minlength=cells * k).reshape(cells, k)


def p_best(stats: ArmStats, *, draws: int = MC_DRAWS, prior_strength: float | None = PRIOR_STRENGTH,
           rng: np.random.Generator | None = None) -> np.ndarray:
    """P(each arm has the highest rate in its cell), (cells, k), by Monte Carlo over the posteriors."""
    rng = rng if rng is not None else np.random.default_rng(0)
    a, b = posterior(stats, prior_strength)
    samples = posterior_draws(a, b, draws, rng)
    return win_counts(samples.argmax(axis=1), a.shape[1]) / draws


def p_best_exact(stats: ArmStats, prior_strength: float | None = PRIOR_STRENGTH) -> np.ndarray:
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
