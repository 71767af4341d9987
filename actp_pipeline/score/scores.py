"""Score: engagement with honest uncertainty, velocity and reach, per post, compared within fair cells.

Creatives are only compared inside a fair cell (score/cells.py). Engagement rate gets a Beta-Binomial
posterior whose prior is the cell's pooled rate (so thin data is pulled toward the cell, not toward zero).
The chance of being the best in the cell, P(i best) = integral of f_i(x) * prod_{j != i} F_j(x) dx over the
Beta posteriors of the cell's sufficient posts, is computed by numerical integration on a grid per cell,
for all cells at once (`stats.posterior.p_best_in_cells`); Monte Carlo is kept as the reference
(`ScoringRules.p_best_method="monte_carlo"`). A creative below the learning gates is `insufficient_data`.
The input is the latest metrics of each post (measure/latest.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from actp_pipeline.score.cells import comparison_windows, window_labels
from actp_pipeline.stats.arms import effective_trials
from actp_pipeline.stats.posterior import beta_interval, p_best_in_cells, p_best_monte_carlo

P_BEST_METHODS = ("integrate", "monte_carlo")


@dataclass(frozen=True)
class ScoringRules:
    """The knobs of scoring: the learning gates, the posterior's prior and noise, windows and weights."""

    min_views: int = 100  # learning gate
    min_engagements: int = 5  # learning gate
    prior_strength: float = 500.0  # pseudo-views of the cell prior
    # A post's engagement rate varies around its creative's rate beyond binomial noise (who saw it,
    # what else trended). This coefficient of variation caps how much evidence one post can give.
    post_noise_cv: float = 0.05
    credible_mass: float = 0.90
    velocity_window_h: float = 6.0
    comparison_window_h: float = 72.0  # posts of one account compared only within this span of live times
    p_best_method: str = "integrate"  # or "monte_carlo" (the reference, `draws` draws per cell)
    draws: int = 4000
    weights: tuple[float, float, float] = (0.5, 0.25, 0.25)  # engagement, velocity, reach

    def __post_init__(self) -> None:
        if not self.comparison_window_h >= 1.0:
            raise ValueError(f"comparison_window_h must be at least 1 hour, got {self.comparison_window_h}")
        if self.p_best_method not in P_BEST_METHODS:
            raise ValueError(f"unknown p_best_method {self.p_best_method!r}: use one of {P_BEST_METHODS}")
        if not 0.0 < self.credible_mass < 1.0:
            raise ValueError(f"credible_mass must be within (0, 1), got {self.credible_mass}")
        if not self.prior_strength > 0:
            raise ValueError(f"prior_strength must be > 0, got {self.prior_strength}")
        if self.draws < 1:
            raise ValueError(f"draws must be >= 1, got {self.draws}")


# ------------------------------------------------------------------------------------------- scoring
def score_posts(latest: pd.DataFrame, rules: ScoringRules = ScoringRules(), seed: int = 0,
                timings: dict[str, float] | None = None) -> pd.DataFrame:
    """One scored row per post: fair cell, posterior engagement rate and interval, P(best in cell), composite
    score. `timings`, when given, receives the seconds of each phase."""
    if latest.empty:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        if timings is not None:
            now = time.perf_counter()
            timings[name] = timings.get(name, 0.0) + now - clock
            clock = now

    df = latest.reset_index(drop=True)
    cell, window_start = comparison_windows(df["platform"], df["account"], df["live_at"], rules.comparison_window_h)
    df["cell_window"] = window_labels(cell, window_start)
    lap("windows")
    alpha, beta, sufficient = _engagement_posterior(df, cell, rules)
    lap("posterior")
    df["er_low"], df["er_high"] = beta_interval(alpha, beta, rules.credible_mass)
    lap("intervals")
    p_best = np.full(len(df), np.nan)
    if sufficient.any():
        if rules.p_best_method == "integrate":
            p_best[sufficient] = p_best_in_cells(cell[sufficient], alpha[sufficient], beta[sufficient])
        else:
            p_best[sufficient] = p_best_monte_carlo(cell[sufficient], alpha[sufficient], beta[sufficient],
                                                    rules.draws, np.random.default_rng(seed))
    df["p_best"] = p_best
    lap("p_best")
    _rank_in_cells(df, cell, rules)
    df["status"] = np.where(sufficient, "scored", "insufficient_data")
    df["_cell"] = cell
    out = df.sort_values(["_cell", "score"], ascending=[True, False], kind="stable")[SCORE_COLUMNS].reset_index(drop=True)
    lap("percentiles")
    return out


def _engagement_posterior(df: pd.DataFrame, cell: np.ndarray,
                          rules: ScoringRules) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adds engagements, rates, effective views and the Beta posterior columns to `df` (in place);
    returns (alpha, beta, sufficient)."""
    engagements = df[["likes", "comments", "shares", "saves"]].to_numpy(dtype=np.int64).sum(axis=1)
    views = df["views"].to_numpy(dtype=np.int64)
    df["engagements"] = engagements
    df["views"] = views
    rate = np.where(views > 0, engagements / np.maximum(views, 1), 0.0)
    df["engagement_rate"] = rate
    sufficient = (views >= rules.min_views) & (engagements >= rules.min_engagements)
    df["sufficient"] = sufficient
    n_cells = int(cell.max()) + 1
    pooled_e = np.bincount(cell, weights=engagements, minlength=n_cells)
    pooled_v = np.bincount(cell, weights=views, minlength=n_cells)
    cell_rate = (pooled_e / np.maximum(pooled_v, 1))[cell].clip(1e-4, 1 - 1e-4)
    # effective trials: binomial variance p(1-p)/n plus post-level variance (p*cv)^2 (a post with no views
    # counts as one view of rate 0)
    shown = np.maximum(views, 1)
    n_eff, _ = effective_trials(shown, rate * shown, post_noise_cv=rules.post_noise_cv)
    alpha = cell_rate * rules.prior_strength + rate * n_eff
    beta = (1 - cell_rate) * rules.prior_strength + (1 - rate) * n_eff
    df["effective_views"] = n_eff
    df["alpha"] = alpha
    df["beta"] = beta
    df["er_mean"] = alpha / (alpha + beta)
    return alpha, beta, sufficient


def _rank_in_cells(df: pd.DataFrame, cell: np.ndarray, rules: ScoringRules) -> None:
    """Adds decay, the within-cell percentiles and the composite score to `df` (in place)."""
    # decay: how much of its early pace a post has lost (0 = views still come as fast as in the first
    # hours, 0.8 = its lifetime pace is a fifth of the early one); unknown until it outlived the window
    lifetime = df["views"] / df["hours_live"].where(df["hours_live"] > 0)
    old = df["hours_live"] > 2 * rules.velocity_window_h
    df["decay"] = (1.0 - lifetime / df["velocity"].where(df["velocity"] > 0)).clip(0.0, 1.0).where(old)
    grp = df.groupby(cell)
    df["er_pct"] = grp["er_mean"].rank(pct=True)
    df["velocity_pct"] = grp["velocity"].rank(pct=True).fillna(0.0)
    df["reach_pct"] = grp["views"].rank(pct=True)
    we, wv, wr = rules.weights
    df["score"] = we * df["er_pct"] + wv * df["velocity_pct"] + wr * df["reach_pct"]


SCORE_COLUMNS = ["post_id", "variant_id", "platform", "account", "cell_window", "idempotency_key", "live_at",
                 "last_snapshot_at", "hours_live", "snapshots", "views", "likes", "comments", "shares", "saves",
                 "watch_time_s", "engagements", "engagement_rate", "effective_views", "alpha", "beta", "er_mean",
                 "er_low", "er_high", "p_best", "velocity", "decay", "velocity_pct", "reach_pct", "er_pct", "score",
                 "status"]
