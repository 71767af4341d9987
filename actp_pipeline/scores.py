"""Score: engagement with honest uncertainty, velocity and reach, per post, compared within fair cells.

Organic reach is not randomised, so creatives are only compared inside a cell: the same platform and
account. Engagement rate gets a Beta-Binomial posterior whose prior is the cell's pooled rate (so thin
data is pulled toward the cell, not toward zero); the chance of being the best in the cell is estimated
by Monte Carlo over those posteriors. A creative below the learning gates is `insufficient_data`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from actp_pipeline.warehouse import Warehouse

CELL = ["platform", "account"]


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
    draws: int = 4000
    weights: tuple[float, float, float] = (0.5, 0.25, 0.25)  # engagement, velocity, reach


LATEST_SQL = """
SELECT post_id,
       any_value(variant_id) AS variant_id, any_value(platform) AS platform, any_value(account) AS account,
       any_value(idempotency_key) AS idempotency_key, min(live_at) AS live_at,
       max(snapshot_at) AS last_snapshot_at, max(age_h) AS hours_live, count(*) AS snapshots,
       arg_max(views, snapshot_at) AS views, arg_max(likes, snapshot_at) AS likes,
       arg_max(comments, snapshot_at) AS comments, arg_max(shares, snapshot_at) AS shares,
       arg_max(saves, snapshot_at) AS saves, arg_max(watch_time_s, snapshot_at) AS watch_time_s,
       coalesce(arg_max(views / age_h, age_h) FILTER (WHERE age_h > 0 AND age_h <= {window}),
                arg_min(views / age_h, age_h) FILTER (WHERE age_h > 0)) AS velocity
FROM post_metrics GROUP BY post_id
"""


def latest_per_post(warehouse: Warehouse, velocity_window_h: float = 6.0) -> pd.DataFrame:
    """Latest metrics of each post plus its early view velocity, computed in DuckDB over all snapshots."""
    if not warehouse.exists("post_metrics"):
        return pd.DataFrame()
    return warehouse.query(LATEST_SQL.format(window=float(velocity_window_h)), tables={"post_metrics": None})


def beta_interval(a: np.ndarray, b: np.ndarray, mass: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.stats import beta  # imported here: scipy is slow to import

    tail = (1 - mass) / 2
    return beta.ppf(tail, a, b), beta.ppf(1 - tail, a, b)


def score_posts(latest: pd.DataFrame, rules: ScoringRules = ScoringRules(), seed: int = 0) -> pd.DataFrame:
    """One scored row per post: posterior engagement rate and interval, P(best in cell), composite score."""
    if latest.empty:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    df = latest.reset_index(drop=True)  # unique labels: cells are addressed by index below
    df["engagements"] = df[["likes", "comments", "shares", "saves"]].sum(axis=1).astype("int64")
    df["views"] = df["views"].astype("int64")
    df["engagement_rate"] = np.where(df["views"] > 0, df["engagements"] / df["views"].clip(lower=1), 0.0)
    df["sufficient"] = (df["views"] >= rules.min_views) & (df["engagements"] >= rules.min_engagements)
    pooled = df.groupby(CELL)[["engagements", "views"]].transform("sum")
    cell_rate = (pooled["engagements"] / pooled["views"].clip(lower=1)).clip(1e-4, 1 - 1e-4)
    # effective trials: binomial variance p(1-p)/n plus post-level variance (p*cv)^2
    p = df["engagement_rate"].clip(1e-4, 1 - 1e-4)
    n_eff = 1.0 / (1.0 / df["views"].clip(lower=1) + p * rules.post_noise_cv**2 / (1 - p))
    df["effective_views"] = n_eff
    df["alpha"] = cell_rate * rules.prior_strength + df["engagement_rate"] * n_eff
    df["beta"] = (1 - cell_rate) * rules.prior_strength + (1 - df["engagement_rate"]) * n_eff
    df["er_mean"] = df["alpha"] / (df["alpha"] + df["beta"])
    df["er_low"], df["er_high"] = beta_interval(df["alpha"].to_numpy(), df["beta"].to_numpy(), rules.credible_mass)
    df["p_best"] = np.nan
    rng = np.random.default_rng(seed)
    for _, idx in df[df["sufficient"]].groupby(CELL).groups.items():
        cell = df.loc[idx]
        draws = rng.beta(cell["alpha"].to_numpy()[:, None], cell["beta"].to_numpy()[:, None], (len(cell), rules.draws))
        wins = np.bincount(draws.argmax(axis=0), minlength=len(cell))
        df.loc[idx, "p_best"] = wins / rules.draws
    grp = df.groupby(CELL)
    df["er_pct"] = grp["er_mean"].rank(pct=True)
    df["velocity_pct"] = grp["velocity"].rank(pct=True).fillna(0.0)
    df["reach_pct"] = grp["views"].rank(pct=True)
    we, wv, wr = rules.weights
    df["score"] = we * df["er_pct"] + wv * df["velocity_pct"] + wr * df["reach_pct"]
    df["status"] = np.where(df["sufficient"], "scored", "insufficient_data")
    return df[SCORE_COLUMNS].sort_values(["platform", "account", "score"], ascending=[True, True, False]).reset_index(drop=True)


SCORE_COLUMNS = ["post_id", "variant_id", "platform", "account", "idempotency_key", "live_at", "last_snapshot_at",
                 "hours_live", "snapshots", "views", "likes", "comments", "shares", "saves", "watch_time_s",
                 "engagements", "engagement_rate", "effective_views", "alpha", "beta", "er_mean", "er_low", "er_high", "p_best",
                 "velocity", "velocity_pct", "reach_pct", "er_pct", "score", "status"]
