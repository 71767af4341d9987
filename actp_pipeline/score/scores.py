"""Score: engagement with honest uncertainty, velocity and reach, per post, compared within fair cells.

Organic reach is not randomised, so creatives are only compared inside a fair cell (`CELL`): the same
platform, the same account, and an overlapping time window. Windows are formed per (platform, account)
by walking the posts in `live_at` order: the first post opens a window, and every post that went live
at most `comparison_window_h` hours (default 72) after that first post belongs to it; the first post
later than that opens the next window. So every two posts of a cell went live at most
`comparison_window_h` apart, every post is in exactly one cell, and posts going live later never move
an earlier post to another cell (a post backfilled with an earlier live time can). `cell_window` names
the window by its first post's live time ("2026-11-17T09:30", UTC minutes).

Engagement rate gets a Beta-Binomial posterior whose prior is the cell's pooled rate (so thin data is
pulled toward the cell, not toward zero). The chance of being the best in the cell,
P(i best) = integral of f_i(x) * prod_{j != i} F_j(x) dx over the Beta posteriors of the cell's
sufficient posts, is computed by numerical integration on a grid per cell, for all cells at once
(`p_best_in_cells`); Monte Carlo is kept as the reference (`ScoringRules.p_best_method="monte_carlo"`).
A creative below the learning gates is `insufficient_data`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from actp_pipeline.score.allocation import effective_trials
from actp_pipeline.stats.posterior import beta_interval, p_best_in_cells, p_best_monte_carlo
from actp_pipeline.store.warehouse import Warehouse

CELL = ["platform", "account", "cell_window"]
WINDOW_FORMAT = "%Y-%m-%dT%H:%M"
P_BEST_METHODS = ("integrate", "monte_carlo")


@dataclass(frozen=True)
class ScoringRules:
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


# arg_max is keyed on a BIGINT (epoch microseconds), not on the TIMESTAMP itself: at 10M snapshots DuckDB's
# arg_max over a TIMESTAMP key is 2-3x slower than over an integer (benchmarks/scoring.py).
LATEST_SQL = """
SELECT post_id,
       any_value(variant_id) AS variant_id, any_value(platform) AS platform, any_value(account) AS account,
       any_value(idempotency_key) AS idempotency_key, min(live_at) AS live_at,
       max(snapshot_at) AS last_snapshot_at, max(age_h) AS hours_live, count(*) AS snapshots,
       arg_max(views, t) AS views, arg_max(likes, t) AS likes, arg_max(comments, t) AS comments,
       arg_max(shares, t) AS shares, arg_max(saves, t) AS saves, arg_max(watch_time_s, t) AS watch_time_s,
       coalesce(arg_max(views / age_h, age_h) FILTER (WHERE age_h > 0 AND age_h <= {window}),
                arg_min(views / age_h, age_h) FILTER (WHERE age_h > 0)) AS velocity
FROM (SELECT *, epoch_us(snapshot_at) AS t FROM post_metrics) GROUP BY post_id
"""


def latest_per_post(warehouse: Warehouse, velocity_window_h: float = 6.0) -> pd.DataFrame:
    """Latest metrics of each post plus its early view velocity, computed in DuckDB over all snapshots."""
    if not warehouse.exists("post_metrics"):
        return pd.DataFrame()
    return warehouse.query(LATEST_SQL.format(window=float(velocity_window_h)), tables={"post_metrics": None})


# ------------------------------------------------------------------------------------------ fair cells
def comparison_windows(platform: pd.Series, account: pd.Series, live_at: pd.Series,
                       window_h: float) -> tuple[np.ndarray, np.ndarray]:
    """(cell id, window start) per row: the fair cell of each post (see the module doc for the rule).

    Cell ids are 0..n_cells-1 in (platform, account, window start) order; window starts are
    datetime64[ns]. Rows without a live time form one window of their own per (platform, account).
    """
    n = len(live_at)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype="datetime64[ns]")
    pair = (pd.DataFrame({"platform": platform.to_numpy(), "account": account.to_numpy()})
            .groupby(["platform", "account"], sort=True, dropna=False).ngroup().to_numpy())
    t = pd.to_datetime(live_at, utc=True).dt.tz_localize(None).to_numpy().astype("datetime64[ns]")  # naive = UTC
    missing = np.isnat(t)
    never = np.iinfo(np.int64).max
    ns = np.where(missing, never, t.astype(np.int64))  # unknown live times sort last within their pair
    order = np.lexsort((ns, pair))
    pair_s, ns_s = pair[order], ns[order]
    width = int(round(window_h * 3600e9))
    start = np.zeros(n, dtype=bool)
    bounds = (np.flatnonzero(np.diff(pair_s)) + 1).tolist()
    for lo, hi in zip([0, *bounds], [*bounds, n]):  # one pass per (platform, account), one step per window
        seg, i = ns_s[lo:hi], lo
        while i < hi:
            start[i] = True
            if ns_s[i] == never:  # the rows without a live time share one window
                break
            i = lo + int(np.searchsorted(seg, ns_s[i] + width, side="right"))
    cell_sorted = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    win_sorted = ns_s[first][cell_sorted]
    cell = np.empty(n, dtype=np.int64)
    cell[order] = cell_sorted
    win = np.empty(n, dtype=np.int64)
    win[order] = win_sorted
    win_t = win.astype("datetime64[ns]")
    win_t[missing] = np.datetime64("NaT")
    return cell, win_t


def _window_labels(cell: np.ndarray, window_start: np.ndarray) -> np.ndarray:
    """"2026-11-17T09:30" per row, formatting each cell's start once."""
    if len(cell) == 0:
        return np.zeros(0, dtype=object)
    ids, first = np.unique(cell, return_index=True)
    starts = pd.DatetimeIndex(window_start[first])
    labels = np.asarray(starts.strftime(WINDOW_FORMAT), dtype=object)
    labels[pd.isna(starts)] = "unknown"
    lookup = np.empty(int(ids.max()) + 1, dtype=object)
    lookup[ids] = labels
    return lookup[cell]


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
    df["cell_window"] = _window_labels(cell, window_start)
    lap("windows")
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
    df["status"] = np.where(sufficient, "scored", "insufficient_data")
    df["_cell"] = cell
    out = df.sort_values(["_cell", "score"], ascending=[True, False], kind="stable")[SCORE_COLUMNS].reset_index(drop=True)
    lap("percentiles")
    return out


def fair_cells(scored: pd.DataFrame) -> pd.DataFrame:
    """One row per fair cell of a scored table: platform, account, cell_window, the first and last live
    time of its posts, posts and scored posts (past the learning gates)."""
    cols = [*CELL, "window_start", "window_end", "posts", "scored_posts"]
    if scored.empty:
        return pd.DataFrame(columns=cols)
    g = scored.assign(_scored=scored["status"] == "scored").groupby(CELL, sort=True)
    out = g.agg(window_start=("live_at", "min"), window_end=("live_at", "max"), posts=("post_id", "size"),
                scored_posts=("_scored", "sum")).reset_index()
    out["scored_posts"] = out["scored_posts"].astype("int64")
    return out[cols]


SCORE_COLUMNS = ["post_id", "variant_id", "platform", "account", "cell_window", "idempotency_key", "live_at",
                 "last_snapshot_at", "hours_live", "snapshots", "views", "likes", "comments", "shares", "saves",
                 "watch_time_s", "engagements", "engagement_rate", "effective_views", "alpha", "beta", "er_mean",
                 "er_low", "er_high", "p_best", "velocity", "decay", "velocity_pct", "reach_pct", "er_pct", "score",
                 "status"]
