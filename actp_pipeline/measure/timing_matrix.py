"""Timing matrix: expected performance by platform x weekday x hour, shrunk where data is thin.

publish_schedule picks its slot hours from it (``SlotRules(hours=best_hours(matrix, platform))``).

Metric. Posting time mostly moves reach, so the default metric is ``reach``: log(1 + views), adjusted
for how long the post has been live (a within-cell regression on log(1 + hours_live), when the scores
table has it) and normalised within the cell (platform, account). Organic reach is not randomised and
accounts differ in audience size, so a post is only measured against its own account's posts: a big
account that happens to post at 20h does not make 20h look good. ``engagement_rate`` is the
alternative: log((engagements + 0.5) / (views + 1)), normalised within the cell, for posts that pass the
learning gate (``min_views``). Either way the values are on a log scale relative to the account's mean.

Shrinkage, in two levels, with `prior_strength` k pseudo-posts each:

    hour prior  = (N_h * mean_h + k * platform_mean) / (N_h + k)   (all weekdays at that hour)
    expected    = (n * raw_mean + k * hour prior) / (n + k)         (this weekday and hour)

so a cell with no posts gets the hour's prior, and an hour with no posts gets the platform mean.
``lift`` is ``exp(expected - platform_mean) - 1``: 0.25 means 25% more views (or engagement rate) than
an average slot on that platform. Weekday and hour are those of ``live_at`` in the store's clock (naive
UTC), the same clock publish_schedule plans slots in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from actp_pipeline import creative

# The posting hours (UTC) used until the matrix has data: publish_schedule's default slots and the
# fallback of `best_hours`. Kept here, with the data that replaces them, so measuring needs no publisher.
DEFAULT_HOURS = (8, 11, 13, 16, 18, 19, 20, 21, 22)
CELL = ["platform", "account"]
METRICS = ("reach", "engagement_rate")
MATRIX_COLUMNS = ["platform", "weekday", "hour", "n_posts", "raw_mean", "hour_prior", "expected", "lift", "metric"]


def post_performance(scored: pd.DataFrame, metric: str = "reach", *, min_views: int = 100,
                     min_hours_live: float = 1.0) -> pd.DataFrame:
    """One row per usable post: platform, weekday, hour and `value` (the metric, normalised within cell)."""
    metric = "reach" if metric == "views" else metric
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, not {metric!r}")
    cols = ["platform", "weekday", "hour", "value"]
    if scored is None or scored.empty or not {"platform", "account", "live_at", "views"} <= set(scored.columns):
        return pd.DataFrame(columns=cols)
    df = scored.copy()
    live = pd.to_datetime(df["live_at"], errors="coerce", utc=True)  # naive timestamps are UTC
    df["weekday"], df["hour"] = live.dt.day_of_week, live.dt.hour
    df["views"] = pd.to_numeric(df["views"], errors="coerce")
    df = df[df["weekday"].notna() & df["views"].notna()]
    age = None
    if "hours_live" in df:
        df["hours_live"] = pd.to_numeric(df["hours_live"], errors="coerce")
        df = df[df["hours_live"].isna() | (df["hours_live"] >= min_hours_live)]
    if metric == "reach":
        y = np.log1p(df["views"].clip(lower=0).to_numpy(float))
        if "hours_live" in df and df["hours_live"].notna().all():
            age = np.log1p(df["hours_live"].to_numpy(float))
    else:
        df = df[df["views"] >= min_views]
        if "engagements" in df:
            eng = pd.to_numeric(df["engagements"], errors="coerce").fillna(0)
        else:
            eng = pd.to_numeric(df.get("engagement_rate", 0), errors="coerce").fillna(0) * df["views"]
        y = np.log((eng.to_numpy(float) + 0.5) / (df["views"].to_numpy(float) + 1.0))
    if df.empty:
        return pd.DataFrame(columns=cols)
    cell = df.groupby(CELL, sort=False).ngroup().to_numpy()
    value = y - _cell_mean(y, cell)
    if age is not None:
        x = age - _cell_mean(age, cell)
        sxx = float(np.sum(x * x))
        if sxx > 1e-12:  # pooled within-cell slope of log views on log age
            value = value - float(np.sum(x * value)) / sxx * x
    return pd.DataFrame({"platform": df["platform"].astype(str).to_numpy(),
                         "weekday": df["weekday"].astype(int).to_numpy(),
                         "hour": df["hour"].astype(int).to_numpy(), "value": value})


def _cell_mean(values: np.ndarray, cell: np.ndarray) -> np.ndarray:
    sums = np.bincount(cell, weights=values)
    counts = np.bincount(cell)
    return (sums / counts)[cell]


def build_timing_matrix(scored: pd.DataFrame, *, metric: str = "reach", prior_strength: float = 3.0,
                        platforms: Sequence[str] = creative.PLATFORMS, min_views: int = 100,
                        min_hours_live: float = 1.0) -> pd.DataFrame:
    """Full grid (every platform x weekday 0-6 x hour 0-23) of expected performance; see the module doc.

    Platforms: those in `platforms` plus any in the data. Cells without posts have ``n_posts`` 0,
    ``raw_mean`` NaN and ``expected`` equal to their prior; with no data at all, every cell is the
    platform mean (0 on this normalised scale) and ``lift`` is 0.
    """
    if prior_strength < 0:
        raise ValueError("prior_strength must be >= 0")
    metric = "reach" if metric == "views" else metric
    posts = post_performance(scored, metric, min_views=min_views, min_hours_live=min_hours_live)
    names = list(dict.fromkeys([*platforms, *sorted(posts["platform"].unique())]))
    grid = pd.MultiIndex.from_product([names, range(7), range(24)], names=["platform", "weekday", "hour"])
    k = float(prior_strength)

    by_cell = posts.groupby(["platform", "weekday", "hour"])["value"].agg(["size", "mean"]).reindex(grid)
    n = by_cell["size"].fillna(0).to_numpy(float)
    raw = by_cell["mean"].to_numpy(float)

    plat_mean = posts.groupby("platform")["value"].mean().reindex(names).fillna(0.0)
    by_hour = posts.groupby(["platform", "hour"])["value"].agg(["size", "mean"]).reindex(
        pd.MultiIndex.from_product([names, range(24)], names=["platform", "hour"]))
    n_h = by_hour["size"].fillna(0).to_numpy(float)
    pm_h = plat_mean.reindex(by_hour.index.get_level_values("platform")).to_numpy(float)
    hour_prior = _shrink(n_h, by_hour["mean"].to_numpy(float), pm_h, k)

    # broadcast the per-(platform, hour) prior onto the (platform, weekday, hour) grid
    hour_prior_grid = hour_prior.reshape(len(names), 1, 24).repeat(7, axis=1).reshape(-1)
    expected = _shrink(n, raw, hour_prior_grid, k)
    pm = plat_mean.reindex(grid.get_level_values("platform")).to_numpy(float)
    out = grid.to_frame(index=False)
    out["n_posts"] = n.astype("int64")
    out["raw_mean"] = raw
    out["hour_prior"] = hour_prior_grid
    out["expected"] = expected
    out["lift"] = np.expm1(expected - pm)
    out["metric"] = metric
    out.attrs.update({"metric": metric, "prior_strength": k, "n_posts": int(len(posts))})
    return out[MATRIX_COLUMNS]


def _shrink(n: np.ndarray, raw: np.ndarray, prior: np.ndarray, k: float) -> np.ndarray:
    """(n * raw + k * prior) / (n + k); the prior where there are no posts."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mixed = (n * np.nan_to_num(raw) + k * prior) / (n + k)
    return np.where(n > 0, mixed, prior)


def best_hours(matrix: pd.DataFrame, platform: str, *, n: int = 6, weekday: int | None = None,
               min_posts: int = 20, fallback: Sequence[int] = DEFAULT_HOURS) -> tuple[int, ...]:
    """The `n` hours with the highest expected performance on `platform`, ascending, for SlotRules.hours.

    Without a weekday, an hour's value is the mean of its expected values over the 7 weekdays. With
    fewer than `min_posts` posts on the platform the matrix is mostly prior, so the answer is
    `fallback` (DEFAULT_HOURS) unchanged. Ties prefer hours in `fallback`, then earlier.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    rows = matrix[matrix["platform"] == platform] if len(matrix) else matrix
    if rows.empty or int(rows["n_posts"].sum()) < min_posts:
        return tuple(fallback)
    if weekday is not None:
        rows = rows[rows["weekday"] == int(weekday)]
    by_hour = rows.groupby("hour")["expected"].mean()
    preferred = set(fallback)
    ranked = sorted(by_hour.index, key=lambda h: (-round(float(by_hour[h]), 12), h not in preferred, h))
    return tuple(sorted(int(h) for h in ranked[:n]))
