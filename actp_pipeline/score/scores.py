"""Score: engagement with honest uncertainty, velocity and reach, per post, compared within fair cells.

Creatives are only compared inside a fair cell (score/cells.py). Each creative's engagement rate gets the
robust hierarchical Beta-Binomial posterior of stats/hierarchy.py: its posts are discounted for the
post-to-post spread estimated on the platform, its prior comes from the other creatives of its cell and the
other cells of its platform (its own data counts once), and a creative that stands out on strong evidence
is not pulled back to its cell. Every post carries its creative's posterior (er_mean) and interval
(er_low, er_high at `credible_mass`, 95% by default: the interval holds the creative's rate in 95% of
cases, whether typical of its cell or not; measured by benchmarks/calibration.py).
The chance of being the best in the cell, P(i best) = integral of f_i(x) * prod_{j != i} F_j(x) dx, is over
EVERY creative of the cell (a thin one is wide, thin evidence, never left out), by numerical integration
for all cells at once (`stats.posterior.p_best_in_cells`); Monte Carlo is kept as the reference
(`ScoringRules.p_best_method="monte_carlo"`). A post below the learning gates is `insufficient_data`.
The input is the latest metrics of each post (measure/latest.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from actp_pipeline.score.cells import comparison_windows, window_labels
from actp_pipeline.stats import hierarchy
from actp_pipeline.stats.posterior import p_best_in_cells, p_best_monte_carlo

P_BEST_METHODS = ("integrate", "monte_carlo")


@dataclass(frozen=True)
class ScoringRules:
    """The knobs of scoring: the learning gates, the posterior's noise, windows and weights."""

    min_views: int = 100  # learning gate
    min_engagements: int = 5  # learning gate
    # A post's engagement rate varies around its creative's rate beyond binomial noise (who saw it,
    # what else trended). None: estimated per platform from the creatives with several posts
    # (stats/hierarchy.py); a number fixes this coefficient of variation.
    post_noise_cv: float | None = None
    credible_mass: float = 0.95
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
        if self.post_noise_cv is not None and not 0.0 <= self.post_noise_cv < 10.0:
            raise ValueError(f"post_noise_cv must be None (estimated) or within [0, 10), got {self.post_noise_cv}")
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
    fit = _engagement_posterior(df, cell, rules)
    lap("posterior")
    lo, hi = hierarchy.robust_interval(fit.a, fit.b, fit.a_own, fit.b_own, rules.credible_mass)
    df["er_low"], df["er_high"] = lo[fit.creative], hi[fit.creative]
    df["credible_mass"] = rules.credible_mass
    lap("intervals")
    if rules.p_best_method == "integrate":
        p_best = p_best_in_cells(fit.cell, fit.a, fit.b)
    else:
        p_best = p_best_monte_carlo(fit.cell, fit.a, fit.b, rules.draws, np.random.default_rng(seed))
    df["p_best"] = p_best[fit.creative]
    lap("p_best")
    _rank_in_cells(df, cell, rules)
    df["status"] = np.where(df["sufficient"], "scored", "insufficient_data")
    df["_cell"] = cell
    out = df.sort_values(["_cell", "score"], ascending=[True, False], kind="stable")[SCORE_COLUMNS].reset_index(drop=True)
    out.attrs["spread"] = fit.spread
    out.attrs["credible_mass"] = rules.credible_mass
    lap("percentiles")
    return out


@dataclass(frozen=True)
class CreativeFit:
    """The posterior of every creative of every cell (one entry per creative, `creative` maps posts to them)."""

    creative: np.ndarray  # per post: its creative's index
    cell: np.ndarray  # per creative: its cell
    a: np.ndarray  # robust posterior Beta(a, b) per creative
    b: np.ndarray
    a_own: np.ndarray  # the creative's own data under the widened prior
    b_own: np.ndarray
    spread: dict  # platform -> what the data said about the spreads, in words


def _engagement_posterior(df: pd.DataFrame, cell: np.ndarray, rules: ScoringRules) -> CreativeFit:
    """Adds engagements, rates, effective views and the creative's posterior columns to `df` (in place)."""
    # the interactions the platform reports: a count it does not report (null) is no part of its engagement,
    # the same for every creative of a cell (cells are per platform)
    counts = df[["likes", "comments", "shares", "saves"]].apply(pd.to_numeric, errors="coerce")
    engagements = counts.fillna(0).to_numpy(dtype=np.int64).sum(axis=1)
    views = pd.to_numeric(df["views"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    df["engagements"] = engagements
    df["views"] = views
    df["engagement_rate"] = np.where(views > 0, engagements / np.maximum(views, 1), 0.0)
    sufficient = (views >= rules.min_views) & (engagements >= rules.min_engagements)
    df["sufficient"] = sufficient
    creative = pd.DataFrame({"c": cell, "v": df["variant_id"].astype(str).to_numpy()}).groupby(["c", "v"], sort=True).ngroup().to_numpy()
    platform = df["platform"].astype(str).to_numpy()
    post_cv2 = np.zeros(len(df))
    spread = {}
    for plat in np.unique(platform):
        rows = platform == plat
        if rules.post_noise_cv is None:
            cv2, df_post = hierarchy.estimate_post_cv2(creative[rows], views[rows], engagements[rows])
        else:
            cv2, df_post = rules.post_noise_cv**2, float("inf")
        post_cv2[rows] = cv2
        spread[plat] = {"post_cv2": cv2, "post_df": df_post}
    trials, successes = hierarchy.creative_evidence(creative, views, engagements, post_cv2)
    n_creatives = len(trials)
    c_cell = np.zeros(n_creatives, dtype=np.int64)
    c_cell[creative] = cell
    c_plat = np.empty(n_creatives, dtype=object)
    c_plat[creative] = platform
    mean, strength, fits = hierarchy.creative_priors(c_plat.astype(str), c_cell, trials, successes)
    a, b, a_own, b_own = hierarchy.robust_posterior(mean, strength, successes, trials)
    shown = np.maximum(views, 1)  # a post with no views counts as one view of rate 0
    n_eff, _ = hierarchy.effective_trials(shown, engagements, post_cv2, (successes / np.maximum(trials, 1e-12))[creative])
    df["effective_views"] = n_eff
    df["alpha"] = a[creative]
    df["beta"] = b[creative]
    df["er_mean"] = a[creative] / (a[creative] + b[creative])
    words = {}
    for plat, got in spread.items():
        f = fits.get(plat, {})
        words[plat] = hierarchy.Spread(got["post_cv2"], got["post_df"], f.get("creative_cv2", np.nan),
                                       f.get("creative_df", 0.0), f.get("cell_cv2", np.nan), f.get("cell_df", 0.0)).describe()
    return CreativeFit(creative, c_cell, a, b, a_own, b_own, words)


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
                 "er_low", "er_high", "credible_mass", "p_best", "velocity", "decay", "velocity_pct", "reach_pct", "er_pct", "score",
                 "status"]
