"""Factor effects: which creative factors drive engagement, with intervals, compared within fair cells.

This is what tells a user "question hooks: +18% (± 6%) engagement vs. average hook" and what the next
round of generation is weighted by.

Model (one regularised regression over all scored posts):

- Outcome: the logit of each post's engagement rate with a continuity correction,
  ``logit((engagements + 0.5) / (views + 1))``, so a post with no engagement is finite.
- Weights: inverse variance of that logit, ``1 / (1 / (views p (1-p)) + post_noise**2)``. The binomial
  part grows with views; the post-level part (who happened to see it, what else trended) does not, so
  the weight is capped at ``1 / post_noise**2`` and one huge post cannot dominate. Weights are rescaled to
  sum to the number of posts, which makes ``alpha`` a count of pseudo-posts.
- Design: one-hot columns for every level of every factor, plus a fixed effect for each cell
  (platform, account). Organic reach is not randomised, so posts are only compared inside their cell;
  the cell effects are left unpenalised by fitting on data demeaned within cells (weighted), which is
  exactly a regression with free cell intercepts (Frisch-Waugh-Lovell). A factor level that is more
  common in a high-baseline cell therefore does not inherit that cell's baseline.
- Penalty: ridge, an L2 penalty of strength ``alpha`` on the factor coefficients (solved in closed
  form; the same estimate as scikit-learn's ``Ridge``): a level is pulled toward the average level as
  if it had ``alpha`` extra posts at the average.
- Effects are reported relative to the factor's average level (unweighted mean of the level
  coefficients on the logit scale), then turned into a multiplicative lift on the engagement rate at
  the data's overall (weighted) baseline: ``expit(b0 + d) / expit(b0) - 1``.
- Intervals (default 90%): the bootstrap percentile interval over posts (resampled within cells),
  widened where needed to the analytic ridge posterior interval ``sigma^2 (X'WX + alpha I)^-1``. A
  bootstrap cannot see the variance of a level seen in one post; the posterior can, so thin levels get
  wide intervals rather than falsely narrow ones.

Learning gate: a post needs ``min_views`` views. There is deliberately no gate on engagements: keeping
only posts that already earned engagement would select on the outcome and inflate every effect.
Hours are those of ``live_at`` in the store's clock (naive UTC).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

from actp_pipeline import creative

CELL = ["platform", "account"]

# Posting time of day (hours of live_at, UTC), for the hour_bucket factor.
HOUR_BUCKETS: dict[str, tuple[int, int]] = {"night": (0, 6), "morning": (6, 12), "afternoon": (12, 18),
                                           "evening": (18, 24)}

DEFAULT_FACTORS = ("hook_pattern", "angle", "cta_style", "format", "length_bucket", "hour_bucket")

# The known vocabulary per factor; generation_weights gives untested levels exploration weight.
LEVELS: dict[str, tuple[str, ...]] = {**creative.FACTOR_LEVELS, "hour_bucket": tuple(HOUR_BUCKETS)}

EFFECT_COLUMNS = ["factor", "level", "effect", "low", "high", "logit_effect", "logit_low", "logit_high",
                  "n_posts", "views", "engagements", "label"]

# How a level and the factor's average read in a label: ("question hooks", "average hook").
_WORDING = {
    "hook_pattern": ("{} hooks", "hook"),
    "angle": ("{} angle", "angle"),
    "cta_style": ("{} CTA", "CTA"),
    "format": ("{} format", "format"),
    "length_bucket": ("{} videos", "length"),
    "hour_bucket": ("{} posts", "posting time"),
}


def hour_bucket(hour: int) -> str:
    """Name of the time-of-day bucket an hour (0-23) falls in."""
    for name, (lo, hi) in HOUR_BUCKETS.items():
        if lo <= hour < hi:
            return name
    raise ValueError(f"hour {hour!r} is not in 0-23")


def effect_label(factor: str, level: str, effect: float, low: float, high: float) -> str:
    """'question hooks: +18% (± 6%) engagement vs. average hook' (± is the interval's half-width)."""
    level_fmt, noun = _WORDING.get(factor, ("{} " + factor.replace("_", " "), factor.replace("_", " ")))
    half = (high - low) / 2.0
    name = level_fmt.format(str(level).replace("_", " "))
    return f"{name}: {effect:+.0%} (± {half:.0%}) engagement vs. average {noun}"


def _empty(reason: str, **attrs) -> pd.DataFrame:
    out = pd.DataFrame(columns=EFFECT_COLUMNS)
    out.attrs.update({"reason": reason, **attrs})
    return out


def prepare_posts(scored: pd.DataFrame, factors: Sequence[str] = DEFAULT_FACTORS, *,
                  min_views: int = 100) -> pd.DataFrame:
    """Gated posts with derived length_bucket (from length_s) and hour_bucket (from live_at)."""
    df = scored.copy()
    if df.empty or "views" not in df:
        return df.iloc[0:0]
    df["views"] = pd.to_numeric(df["views"], errors="coerce").fillna(0)
    if "engagements" not in df:
        parts = [c for c in ("likes", "comments", "shares", "saves") if c in df]
        if parts:
            df["engagements"] = df[parts].fillna(0).sum(axis=1)
        elif "engagement_rate" in df:
            df["engagements"] = (df["engagement_rate"].fillna(0) * df["views"]).round()
        else:
            return df.iloc[0:0]
    df["engagements"] = pd.to_numeric(df["engagements"], errors="coerce").fillna(0).clip(lower=0)
    df["engagements"] = np.minimum(df["engagements"], df["views"])
    if "length_bucket" in factors and "length_bucket" not in df and "length_s" in df:
        secs = pd.to_numeric(df["length_s"], errors="coerce")
        df["length_bucket"] = [creative.length_bucket(s) if pd.notna(s) else None for s in secs]
    if "hour_bucket" in factors and "hour_bucket" not in df and "live_at" in df:
        hours = pd.to_datetime(df["live_at"], errors="coerce", utc=True).dt.hour  # naive = UTC
        df["hour_bucket"] = [hour_bucket(int(h)) if pd.notna(h) else None for h in hours]
    return df[df["views"] >= min_views].reset_index(drop=True)


def _within_cells(values: np.ndarray, w: np.ndarray, cells: np.ndarray, n_cells: int) -> np.ndarray:
    """Weighted within-cell demeaning of the columns of `values` (the unpenalised cell fixed effects)."""
    onehot = np.zeros((len(cells), n_cells))
    onehot[np.arange(len(cells)), cells] = 1.0
    sw = onehot.T @ w
    means = (onehot.T @ (w[:, None] * values)) / np.where(sw > 0, sw, 1.0)[:, None]
    return values - means[cells]


def _fit(X: np.ndarray, y: np.ndarray, w: np.ndarray, cells: np.ndarray, n_cells: int, alpha: float):
    """Weighted ridge on cell-demeaned data, in closed form: (X'WX + alpha I)^-1 X'Wy.

    The same estimate as scikit-learn's ``Ridge(alpha, fit_intercept=False)`` with ``sample_weight=w``
    (a test checks this), without its import time and per-fit validation cost inside the bootstrap.
    Returns (coefficients, demeaned X, demeaned y, normalised weights, X'WX).
    """
    w = w * (len(w) / w.sum())  # weights sum to the number of posts: alpha counts pseudo-posts
    Z = _within_cells(np.column_stack([y, X]), w, cells, n_cells)
    yt, Xt = Z[:, 0], Z[:, 1:]
    xtwx = Xt.T @ (w[:, None] * Xt)
    coef = np.linalg.solve(xtwx + alpha * np.eye(Xt.shape[1]), Xt.T @ (w * yt))
    return coef, Xt, yt, w, xtwx


def estimate_factor_effects(scored: pd.DataFrame, *, factors: Sequence[str] = DEFAULT_FACTORS,
                            alpha: float = 1.0, n_boot: int = 200, seed: int = 0, mass: float = 0.90,
                            min_views: int = 100, min_posts: int = 6, post_noise: float = 0.05,
                            continuity: float = 0.5) -> pd.DataFrame:
    """One row per (factor, level): lift on engagement rate vs. the factor's average level, with interval.

    `scored` is the scores table joined with the variants' factors (hook_pattern, angle, cta_style,
    format, length_s) and live_at. Columns of the result: see EFFECT_COLUMNS; ``effect``/``low``/``high``
    are multiplicative lifts (0.18 = +18%), the ``logit_*`` columns the same on the model's scale.
    ``result.attrs`` carries ``reason`` (empty string when effects were estimated; why not otherwise),
    ``n_posts``, ``n_cells``, ``baseline_rate``, ``skipped_factors``, ``alpha`` and ``mass``. Fewer than
    `min_posts` gated posts, or no factor with two observed levels, give an empty frame with a reason.
    """
    if not 0 < mass < 1:
        raise ValueError("mass must be in (0, 1)")
    posts = prepare_posts(scored, factors, min_views=min_views)
    missing = [f for f in factors if f not in posts or posts[f].isna().all()]
    present = [f for f in factors if f not in missing]
    if present:
        posts = posts.dropna(subset=present).reset_index(drop=True)
    if len(posts) < min_posts:
        return _empty(f"only {len(posts)} posts pass the learning gate (views >= {min_views}) with known factors; "
                      f"need at least {min_posts}", n_posts=len(posts), skipped_factors=missing)
    single = [f for f in present if posts[f].astype(str).nunique() < 2]
    used = [f for f in present if f not in single]
    if not used:
        return _empty("no factor has two observed levels to compare", n_posts=len(posts),
                      skipped_factors=missing + single)

    X, columns, C = _design(posts, used)
    views = posts["views"].to_numpy(float)
    eng = posts["engagements"].to_numpy(float)
    rate = (eng + continuity) / (views + 2 * continuity)
    y = np.log(rate / (1 - rate))
    var = 1.0 / (views * rate * (1 - rate)) + post_noise**2
    w0 = 1.0 / var
    cells = posts.groupby(CELL, sort=True).ngroup().to_numpy()
    n_cells = int(cells.max()) + 1

    coef, Xt, yt, w, xtwx = _fit(X, y, w0, cells, n_cells, alpha)
    delta = C @ coef
    baseline = float(np.sum(w * y) / np.sum(w))
    low, high = _ridge_interval(delta, C, Xt, yt, w, w0, xtwx, coef, n_cells, alpha, mass)
    if n_boot > 0:
        b_low, b_high = _bootstrap_interval(X, y, w0, cells, n_cells, alpha, C, n_boot, seed, mass)
        low, high = np.fmin(low, b_low), np.fmax(high, b_high)

    out = _effect_table(posts, columns, used, delta, low, high, baseline, views, eng)
    out.attrs.update({"reason": "", "n_posts": len(posts), "n_cells": n_cells,
                      "baseline_rate": float(_expit(baseline)), "skipped_factors": missing + single,
                      "alpha": alpha, "mass": mass})
    return out


def _design(posts: pd.DataFrame, used: list[str]) -> tuple[np.ndarray, list[tuple[str, list[str]]], np.ndarray]:
    """(X, [(factor, levels)], C): one-hot columns for every observed level of every factor, and the
    centering matrix that makes each level relative to the mean of its factor's levels."""
    blocks, columns = [], []
    for f in used:
        levels = sorted(posts[f].astype(str).unique())
        values = posts[f].astype(str).to_numpy()
        blocks.append(np.column_stack([values == lv for lv in levels]).astype(float))
        columns.append((f, levels))
    X = np.hstack(blocks)
    p = X.shape[1]
    C = np.zeros((p, p))
    start = 0
    for _, levels in columns:
        k = len(levels)
        C[start:start + k, start:start + k] = np.eye(k) - 1.0 / k
        start += k
    return X, columns, C


def _ridge_interval(delta, C, Xt, yt, w, w0, xtwx, coef, n_cells: int, alpha: float,
                    mass: float) -> tuple[np.ndarray, np.ndarray]:
    """The analytic ridge posterior interval: sigma^2 (X'WX + alpha I)^-1, sigma^2 never below the known
    noise level."""
    n, p = Xt.shape
    a_inv = np.linalg.inv(xtwx + alpha * np.eye(p))
    resid = yt - Xt @ coef
    dof = n - n_cells - float(np.trace(a_inv @ xtwx))
    sigma2 = max(float(np.sum(w * resid**2)) / max(dof, 1.0), n / float(np.sum(w0)))
    sd = np.sqrt(np.clip(np.diag(C @ (sigma2 * a_inv) @ C.T), 0, None))
    z = NormalDist().inv_cdf(0.5 + mass / 2)
    return delta - z * sd, delta + z * sd


def _bootstrap_interval(X, y, w0, cells, n_cells: int, alpha: float, C, n_boot: int, seed: int,
                        mass: float) -> tuple[np.ndarray, np.ndarray]:
    """The bootstrap percentile interval of the centred effects, over posts resampled within cells."""
    n, p = X.shape
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(cells == c) for c in range(n_cells)]
    draws = np.full((n_boot, p), np.nan)
    for b in range(n_boot):
        counts = np.zeros(n)
        for idx in members:
            counts += np.bincount(rng.choice(idx, size=len(idx)), minlength=n)
        bcoef = _fit(X, y, w0 * counts, cells, n_cells, alpha)[0]
        d = C @ bcoef
        d[(counts @ X) == 0] = np.nan  # a level absent from this resample says nothing about itself
        draws[b] = d
    tail = (1 - mass) / 2 * 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column: a level never resampled
        b_low, b_high = np.nanpercentile(draws, [tail, 100 - tail], axis=0)
    return b_low, b_high


def _effect_table(posts: pd.DataFrame, columns: list[tuple[str, list[str]]], used: list[str], delta, low, high,
                  baseline: float, views: np.ndarray, eng: np.ndarray) -> pd.DataFrame:
    """The rows of the result (EFFECT_COLUMNS), lifts at the baseline rate, sorted by factor then effect."""

    def lift(d):
        return _expit(baseline + d) / _expit(baseline) - 1.0

    rows = []
    j = 0
    for f, levels in columns:
        for lv in levels:
            mask = posts[f].astype(str).to_numpy() == lv
            e, lo, hi = lift(delta[j]), lift(low[j]), lift(high[j])
            rows.append({"factor": f, "level": lv, "effect": e, "low": lo, "high": hi,
                         "logit_effect": delta[j], "logit_low": low[j], "logit_high": high[j],
                         "n_posts": int(mask.sum()), "views": int(views[mask].sum()),
                         "engagements": int(eng[mask].sum()), "label": effect_label(f, lv, e, lo, hi)})
            j += 1
    out = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    out["_order"] = out["factor"].map({f: i for i, f in enumerate(used)})
    out = out.sort_values(["_order", "effect"], ascending=[True, False], kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def generation_weights(effects: pd.DataFrame, *, temperature: float = 0.2, floor: float = 0.05,
                       levels: Mapping[str, Sequence[str]] | None = None) -> dict[str, dict[str, float]]:
    """Sampling weights per factor level for the next round of generation.

    For each factor: ``softmax(log(1 + effect) / temperature)`` over its levels, i.e. a level's weight is
    proportional to ``(1 + effect) ** (1 / temperature)``, using the central (ridge-shrunk) estimate. At
    the default temperature 0.2 a level at +18% gets 2.3x the weight of an average level, one at -15%
    gets 0.44x; temperature 1 makes weights proportional to the expected engagement itself. The central
    estimate is used rather than the lower bound, because ridge already shrinks thin levels toward the
    average and the lower bound would penalise them a second time and starve exploration.
    Exploration: every level keeps at least `floor` (weights are ``floor + (1 - k * floor) * softmax``
    for k levels; uniform if ``k * floor >= 1``). Levels of the vocabulary (`levels`, default
    LEVELS) that were never tested count as average (effect 0). Factors: those in `effects` plus the
    generation factors (creative.FACTORS); with no effects at all, weights are uniform. Each factor's
    weights sum to 1.
    """
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    if not 0 <= floor <= 1:
        raise ValueError("floor must be in [0, 1]")
    vocab = dict(LEVELS if levels is None else levels)
    observed: dict[str, dict[str, float]] = {}
    if effects is not None and len(effects):
        for r in effects.itertuples():
            observed.setdefault(str(r.factor), {})[str(r.level)] = float(r.effect)
    factors = list(dict.fromkeys([*observed, *(f for f in creative.FACTORS if f in vocab)]))
    result: dict[str, dict[str, float]] = {}
    for f in factors:
        names = list(dict.fromkeys([*vocab.get(f, ()), *observed.get(f, {})]))
        if not names:
            continue
        k = len(names)
        scores = np.array([math.log1p(max(observed.get(f, {}).get(lv, 0.0), -0.999)) for lv in names]) / temperature
        soft = np.exp(scores - scores.max())
        soft /= soft.sum()
        weights = np.full(k, 1.0 / k) if k * floor >= 1 else floor + (1 - k * floor) * soft
        weights /= weights.sum()
        result[f] = {lv: float(wt) for lv, wt in zip(names, weights)}
    return result
