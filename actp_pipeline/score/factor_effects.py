"""Factor effects: which creative factors drive engagement, with intervals, compared within fair cells.

This is what tells a user "question hooks: +18% (± 6%, 95% interval) engagement vs. average hook" and what
the next round of generation is weighted by.

The outcome is any per-post binomial rate, successes out of trials, named by the caller: engagement
(``engagements`` of ``views``, the default) or the conversion rate per click (``converting_clicks`` of
``clicks``: attribution/conversion_effects.py). Below, "views" and "engagements" stand for the trial and
success columns; ``outcome`` is the rate's wording in the labels, and the count columns of the result are
named after the trial and success columns (``effect_columns``).

Model (a linear mixed model on the outcome's logit, fitted by generalised least squares):

- Outcome: the logit of each post's rate with a continuity correction,
  ``logit((engagements + 0.5) / (views + 1))``, so a post with no engagement is finite.
- Fixed effects: a free intercept per cell (platform, account) and the factor levels in sum-to-zero
  (effect) coding. Organic reach is not randomised, so posts are only compared inside their cell: a factor
  level that is more common in a high-baseline cell does not inherit that cell's baseline. Effects are
  therefore relative to the factor's average level (unweighted mean of its levels on the logit scale).
  There is no shrinkage: a ridge pulls extreme levels toward the average (it cost ~17% of the extreme
  effects at demo size); only a tiny penalty (``ridge``, relative to the information, default 1e-9) is kept
  so that an aliased design gives huge intervals instead of an error.
- Variance: ``binomial + post + creative``. The binomial part ``1 / (views mu (1 - mu))`` is taken at the
  fitted rate ``mu`` (not the post's own rate: weights that depend on the outcome bias the mean); the
  post part (who happened to see it, what else trended) caps the weight of one huge post; the creative
  part is a random intercept shared by all posts of one creative (variant_id). Posts of one creative are
  correlated (same video, same hook), so three posts of a creative are not three independent creatives;
  treating them as such made nominal 90% intervals cover 0.75. Both sds are estimated by REML unless
  given (``post_noise``, ``creative_sd``).
- Intervals (default 95%, ``level``): ``estimate ± t * se`` with the model's GLS standard error and
  Student's t on ``creatives - fixed effects`` degrees of freedom (the creatives are what the factors vary
  over). The level is in the table (``interval_level``), in ``attrs["level"]`` and in every label.
- Lifts: the logit effect turned into a multiplicative lift on the engagement rate at the data's
  overall (weighted) baseline: ``expit(b0 + d) / expit(b0) - 1``.

Learning gate: a post needs ``min_trials`` trials (default 100 views). There is deliberately no gate on
successes: keeping only posts that already earned engagement (or a conversion) would select on the outcome
and inflate every effect.
Hours are those of ``live_at`` in the store's clock (naive UTC).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from actp_pipeline import creative

CELL = ["platform", "account"]
CLUSTER = "variant_id"  # the creative: its posts share a random effect

# Posting time of day (hours of live_at, UTC), for the hour_bucket factor.
HOUR_BUCKETS: dict[str, tuple[int, int]] = {"night": (0, 6), "morning": (6, 12), "afternoon": (12, 18),
                                           "evening": (18, 24)}

DEFAULT_FACTORS = ("hook_pattern", "angle", "cta_style", "format", "length_bucket", "hour_bucket")

# The known vocabulary per factor; generation_weights gives untested levels exploration weight.
LEVELS: dict[str, tuple[str, ...]] = {**creative.FACTOR_LEVELS, "hour_bucket": tuple(HOUR_BUCKETS)}

EFFECT_COLUMNS = ["factor", "level", "effect", "low", "high", "logit_effect", "logit_low", "logit_high",
                  "logit_se", "interval_level", "n_posts", "n_creatives", "views", "engagements", "label"]
TRIALS, SUCCESSES, OUTCOME = "views", "engagements", "engagement"  # the default outcome: engagement per view
MIN_TRIALS = 100  # views


def effect_columns(trials: str = TRIALS, successes: str = SUCCESSES) -> list[str]:
    """EFFECT_COLUMNS with the level's summed counts named after the outcome's trial and success columns."""
    return [trials if c == TRIALS else successes if c == SUCCESSES else c for c in EFFECT_COLUMNS]

# Range REML searches for a variance (logit scale, squared): sd from 1e-4 to 5.
_VAR_BOUNDS = (1e-8, 25.0)
_VAR_START = (0.05, 0.01)  # (creative, post) variances the search starts from

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


def level_text(level: float) -> str:
    """0.95 -> '95%', 0.975 -> '97.5%'."""
    return f"{round(level * 100, 4):g}%"


# An interval wider than +-100% on the rate says nothing a reader could act on: the label says so instead of
# printing a number (and `findings` lists such levels last).
UNMEASURED_HALF_WIDTH = 1.0


def effect_label(factor: str, level: str, effect: float, low: float, high: float, interval_level: float,
                 outcome: str = OUTCOME) -> str:
    """'question hooks: +18% (± 6%, 95% interval) engagement vs. average hook'. The ± is the interval's
    half-width; its level is part of the label, so nobody reads an interval without it. `outcome` names the
    rate ("engagement", "conversion rate per click")."""
    level_fmt, noun = _WORDING.get(factor, ("{} " + factor.replace("_", " "), factor.replace("_", " ")))
    half = (high - low) / 2.0
    name = level_fmt.format(str(level).replace("_", " "))
    if not half <= UNMEASURED_HALF_WIDTH:  # e.g. a level that always came with the same other level
        return (f"{name}: not measurable yet ({level_text(interval_level)} interval {low:+.0%} to {high:+.0%}) "
                f"vs. average {noun}")
    return (f"{name}: {effect:+.0%} (± {half:.0%}, {level_text(interval_level)} interval) "
            f"{outcome} vs. average {noun}")


def _empty(reason: str, columns: Sequence[str] = EFFECT_COLUMNS, **attrs) -> pd.DataFrame:
    out = pd.DataFrame(columns=list(columns))
    out.attrs.update({"reason": reason, **attrs})
    return out


def _engagements(df: pd.DataFrame) -> pd.Series | None:
    """Engagements of a scored frame without the column: likes + comments + shares + saves, else
    engagement_rate * views; None when neither is there."""
    parts = [c for c in ("likes", "comments", "shares", "saves") if c in df]
    if parts:
        return df[parts].fillna(0).sum(axis=1)
    if "engagement_rate" in df:
        return (df["engagement_rate"].fillna(0) * df["views"]).round()
    return None


def prepare_posts(scored: pd.DataFrame, factors: Sequence[str] = DEFAULT_FACTORS, *, min_trials: int = MIN_TRIALS,
                  trials: str = TRIALS, successes: str = SUCCESSES) -> pd.DataFrame:
    """Gated posts (`trials` >= `min_trials`) with successes clipped to [0, trials], and derived length_bucket
    (from length_s) and hour_bucket (from live_at). Engagements missing from a scored frame are derived
    from likes, comments, shares and saves (or engagement_rate); other success columns must be there."""
    df = scored.copy()
    if df.empty or trials not in df:
        return df.iloc[0:0]
    df[trials] = pd.to_numeric(df[trials], errors="coerce").fillna(0)
    if successes not in df:
        derived = _engagements(df) if (trials, successes) == (TRIALS, SUCCESSES) else None
        if derived is None:
            return df.iloc[0:0]
        df[successes] = derived
    df[successes] = pd.to_numeric(df[successes], errors="coerce").fillna(0).clip(lower=0)
    df[successes] = np.minimum(df[successes], df[trials])
    if "length_bucket" in factors and "length_bucket" not in df and "length_s" in df:
        secs = pd.to_numeric(df["length_s"], errors="coerce")
        df["length_bucket"] = [creative.length_bucket(s) if pd.notna(s) else None for s in secs]
    if "hour_bucket" in factors and "hour_bucket" not in df and "live_at" in df:
        hours = pd.to_datetime(df["live_at"], errors="coerce", utc=True).dt.hour  # naive = UTC
        df["hour_bucket"] = [hour_bucket(int(h)) if pd.notna(h) else None for h in hours]
    return df[df[trials] >= min_trials].reset_index(drop=True)


def estimate_factor_effects(scored: pd.DataFrame, *, factors: Sequence[str] = DEFAULT_FACTORS,
                            level: float = 0.95, min_trials: int = MIN_TRIALS, min_posts: int = 6,
                            trials: str = TRIALS, successes: str = SUCCESSES, outcome: str = OUTCOME,
                            post_noise: float | None = None, creative_sd: float | None = None,
                            ridge: float = 1e-9, continuity: float = 0.5) -> pd.DataFrame:
    """One row per (factor, level): lift on the outcome's rate vs. the factor's average level, with interval.

    `scored` is one row per post: the scores table joined with the variants' factors (hook_pattern, angle,
    cta_style, format, length_s), variant_id (the creative; posts without one count as their own creative),
    platform, account and live_at, with the outcome's counts: `successes` out of `trials` (default
    engagements of views; `outcome` words the rate in the labels; a post needs `min_trials` trials).
    Columns of the result: effect_columns(trials, successes) (EFFECT_COLUMNS by default);
    ``effect``/``low``/``high`` are multiplicative lifts (0.18 = +18%), the ``logit_*`` columns the same on
    the model's scale, ``interval_level`` the interval's level (`level`, default 0.95). ``result.attrs``
    carries ``reason`` (empty string when effects were estimated; why not otherwise), ``level``,
    ``n_posts``, ``n_creatives``, ``n_cells``, ``baseline_rate``, ``skipped_factors``, ``creative_sd`` and
    ``post_noise`` (as used: given or estimated), ``df`` (of the t quantile), ``ridge`` and ``outcome``.
    Fewer than `min_posts` gated posts, or no factor with two observed levels, give an empty frame with a
    reason."""
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    names = (trials, successes, outcome)
    posts = prepare_posts(scored, factors, min_trials=min_trials, trials=trials, successes=successes)
    missing = [f for f in factors if f not in posts or posts[f].isna().all()]
    present = [f for f in factors if f not in missing]
    if present:
        posts = posts.dropna(subset=present).reset_index(drop=True)
    empty = dict(columns=effect_columns(trials, successes), n_posts=len(posts), level=level, outcome=outcome)
    if len(posts) < min_posts:
        return _empty(f"only {len(posts)} posts pass the learning gate ({trials} >= {min_trials}) with known factors; "
                      f"need at least {min_posts}", skipped_factors=missing, **empty)
    single = [f for f in present if len(_codes(posts, f)[1]) < 2]
    used = [f for f in present if f not in single]
    if not used:
        return _empty("no factor has two observed levels to compare", skipped_factors=missing + single, **empty)

    X, columns, M, cells = _design(posts, used)
    n_trials = posts[trials].to_numpy(float)
    rate = (posts[successes].to_numpy(float) + continuity) / (n_trials + 2 * continuity)
    y = np.log(rate / (1 - rate))
    groups = _creatives(posts)
    model = _fit_model(X, y, n_trials, cells, groups, post_noise=post_noise, creative_sd=creative_sd, ridge=ridge)

    delta = M @ model.coef
    se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", M, model.cov, M), 0, None))
    n_groups = int(groups.max()) + 1
    df = max(n_groups - int(np.linalg.matrix_rank(X)), 1)
    t = float(stats.t.ppf(0.5 + level / 2, df))
    w = 1.0 / (model.binom + model.s2)
    baseline = float(np.sum(w * y) / np.sum(w))
    out = _effect_table(posts, columns, used, delta, se, t, level, baseline, groups, names)
    out.attrs.update({"reason": "", "level": level, "n_posts": len(posts), "n_creatives": n_groups,
                      "n_cells": int(cells.max()) + 1, "baseline_rate": float(_expit(baseline)),
                      "skipped_factors": missing + single, "creative_sd": math.sqrt(model.tau2),
                      "post_noise": math.sqrt(model.s2), "df": df, "ridge": ridge, "outcome": outcome})
    return out


def _design(posts: pd.DataFrame, used: list[str]):
    """(X, [(factor, levels)], M, cells). X: one free column per cell, then each factor in sum-to-zero
    coding (k - 1 columns for k levels; the last level is minus the sum of the others). M maps the
    coefficients to every level's effect relative to its factor's average level."""
    cells = pd.factorize(_text(posts[CELL[0]]) + "\x1f" + _text(posts[CELL[1]]), sort=True)[0]
    n_cells = int(cells.max()) + 1
    blocks, columns = [np.eye(n_cells)[cells]], []
    for f in used:
        codes, levels = _codes(posts, f)
        onehot = np.eye(len(levels))[codes]
        blocks.append(onehot[:, :-1] - onehot[:, -1:])
        columns.append((f, levels))
    X = np.hstack(blocks)
    M = np.zeros((sum(len(lv) for _, lv in columns), X.shape[1]))
    row, col = 0, n_cells
    for _, levels in columns:
        k = len(levels)
        M[row:row + k - 1, col:col + k - 1] = np.eye(k - 1)
        M[row + k - 1, col:col + k - 1] = -1.0
        row, col = row + k, col + k - 1
    return X, columns, M, cells


def _codes(posts: pd.DataFrame, factor: str) -> tuple[np.ndarray, list[str]]:
    """(level index of every post, the factor's observed levels sorted)."""
    codes, levels = pd.factorize(_text(posts[factor]), sort=True)
    return codes, list(levels)


def _text(values: pd.Series) -> np.ndarray:
    """The values as plain Python strings (an object array: cheaper to factorize than Arrow strings)."""
    return np.array([str(v) for v in values.to_numpy(dtype=object)], dtype=object)


def _creatives(posts: pd.DataFrame) -> np.ndarray:
    """Creative (variant_id) of every post as 0..G-1; a post without one is a creative of its own."""
    ids = posts[CLUSTER].astype(object) if CLUSTER in posts else pd.Series([None] * len(posts), dtype=object)
    own = pd.Series([f"\0post{i}" for i in range(len(posts))], index=ids.index)
    return pd.factorize(_text(ids.where(ids.notna(), own)))[0]


@dataclass
class _Fit:
    coef: np.ndarray  # fixed effects (cells, then factor columns)
    cov: np.ndarray   # their covariance, (X' V^-1 X + penalty)^-1
    reml: float       # the REML criterion at these variances (smaller is better)
    binom: np.ndarray = None  # binomial variance of each post's logit, at the fitted rate
    tau2: float = 0.0  # creative variance
    s2: float = 0.0    # post variance beyond the binomial


def _gls(X, y, binom, starts, tau2: float, s2: float, penalty) -> _Fit:
    """GLS with V = diag(binom + s2) + tau2 Z Z' (Z: post -> creative), by Sherman-Morrison per creative:
    V_g^-1 = D^-1 - c_g d d' with d = 1 / (binom + s2) and c_g = tau2 / (1 + tau2 sum_g d). Never forms V.
    Rows must be sorted by creative; `starts` holds each creative's first row."""
    d = 1.0 / (binom + s2)
    Xd = X * d[:, None]
    S = np.add.reduceat(np.column_stack([Xd, d * y, d]), starts, axis=0)
    Sx, sy, sd = S[:, :-2], S[:, -2], S[:, -1]
    c = tau2 / (1.0 + tau2 * sd)
    A = Xd.T @ X - Sx.T @ (c[:, None] * Sx) + penalty
    cov = np.linalg.inv(A)
    coef = cov @ (Xd.T @ y - Sx.T @ (c * sy))
    r = y - X @ coef
    sr = np.add.reduceat(d * r, starts)
    quad = float(np.sum(d * r * r) - np.sum(c * sr * sr))
    logdet_v = float(np.sum(np.log(binom + s2)) + np.sum(np.log1p(tau2 * sd)))
    logdet_a = float(np.linalg.slogdet(A)[1])
    return _Fit(coef, cov, 0.5 * (logdet_v + logdet_a + quad))


def _variances(X, y, binom, starts, penalty, creative_sd: float | None, post_noise: float | None,
               start: tuple[float, float]) -> tuple[float, float]:
    """(tau2, s2): the creative and post variances, REML estimates where not given."""
    fixed = (None if creative_sd is None else creative_sd**2, None if post_noise is None else post_noise**2)
    free = [v is None for v in fixed]
    if not any(free):
        return fixed  # type: ignore[return-value]

    def unpack(theta) -> tuple[float, float]:
        it = iter(np.exp(theta))
        return tuple(float(next(it)) if v is None else v for v in fixed)  # type: ignore[return-value]

    lo, hi = np.log(_VAR_BOUNDS)
    x0 = np.clip(np.log([s for s, f in zip(start, free) if f]), lo, hi)
    res = optimize.minimize(lambda th: _gls(X, y, binom, starts, *unpack(th), penalty).reml, x0,
                            method="L-BFGS-B", bounds=[(lo, hi)] * len(x0), options={"ftol": 1e-7})
    return unpack(res.x)


def _fit_model(X, y, views, cells, groups, *, post_noise: float | None, creative_sd: float | None,
               ridge: float) -> _Fit:
    """The mixed model, with the binomial variance at the fitted rate (weights from a post's own rate would
    favour lucky posts): a first GLS at each cell's pooled rate and the starting variances gives the fitted
    rates, at which REML estimates the variances and GLS the effects."""
    n, p = X.shape
    n_cells = int(cells.max()) + 1
    pooled = np.bincount(cells, weights=_expit(y) * views) / np.bincount(cells, weights=views)
    order = np.argsort(groups, kind="stable")
    X, y, views, g, mu = X[order], y[order], views[order], groups[order], pooled[cells[order]]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    tau2 = _VAR_START[0] if creative_sd is None else creative_sd**2
    s2 = _VAR_START[1] if post_noise is None else post_noise**2
    for step in ("pilot", "final"):
        mu = np.clip(mu, 1e-6, 1 - 1e-6)
        binom = 1.0 / (views * mu * (1 - mu))
        scale = np.mean(np.sum(X[:, n_cells:] ** 2 / (binom + 0.01)[:, None], axis=0)) if p > n_cells else 1.0
        penalty = np.diag(np.r_[np.zeros(n_cells), np.full(p - n_cells, ridge * scale)])
        if step == "final":
            tau2, s2 = _variances(X, y, binom, starts, penalty, creative_sd, post_noise, (tau2, s2))
        fit = _gls(X, y, binom, starts, tau2, s2, penalty)
        mu = _expit(X @ fit.coef)
    fit.binom, fit.tau2, fit.s2 = binom[np.argsort(order)], tau2, s2
    return fit


def _effect_table(posts: pd.DataFrame, columns: list[tuple[str, list[str]]], used: list[str], delta, se,
                  t: float, level: float, baseline: float, groups: np.ndarray,
                  outcome: tuple[str, str, str] = (TRIALS, SUCCESSES, OUTCOME)) -> pd.DataFrame:
    """The rows of the result (effect_columns; `outcome`: the trial and success columns and the outcome's
    wording), lifts at the baseline rate, sorted by factor then effect."""
    trials, successes, wording = outcome
    views, eng = posts[trials].to_numpy(float), posts[successes].to_numpy(float)
    factor, level_names, n_posts, n_creatives, level_views, level_eng = [], [], [], [], [], []
    for f, levels in columns:
        codes = _codes(posts, f)[0]
        factor += [f] * len(levels)
        level_names += levels
        n_posts += list(np.bincount(codes, minlength=len(levels)))
        n_creatives += list(np.bincount(np.unique(np.c_[codes, groups], axis=0)[:, 0], minlength=len(levels)))
        level_views += list(np.bincount(codes, weights=views, minlength=len(levels)))
        level_eng += list(np.bincount(codes, weights=eng, minlength=len(levels)))
    lo, hi = delta - t * se, delta + t * se
    lift = [_expit(baseline + d) / _expit(baseline) - 1.0 for d in (delta, lo, hi)]
    out = pd.DataFrame({"factor": factor, "level": level_names, "effect": lift[0], "low": lift[1], "high": lift[2],
                        "logit_effect": delta, "logit_low": lo, "logit_high": hi, "logit_se": se,
                        "interval_level": level, "n_posts": np.array(n_posts, dtype=int),
                        "n_creatives": np.array(n_creatives, dtype=int),
                        trials: np.array(level_views).astype(int), successes: np.array(level_eng).astype(int),
                        "label": [effect_label(*row, level, wording) for row in zip(factor, level_names, *lift)]})
    order = np.lexsort((-lift[0], [used.index(f) for f in factor]))
    return out.iloc[order].reset_index(drop=True)


def _expit(x):
    return special.expit(x)  # no overflow warning for the huge logits of an aliased design


def generation_weights(effects: pd.DataFrame, *, temperature: float = 0.2, floor: float = 0.05,
                       levels: Mapping[str, Sequence[str]] | None = None) -> dict[str, dict[str, float]]:
    """Sampling weights per factor level for the next round of generation.

    For each factor: ``softmax(log(1 + effect) / temperature)`` over its levels, i.e. a level's weight is
    proportional to ``(1 + effect) ** (1 / temperature)``, using the central (unshrunk) estimate. At
    the default temperature 0.2 a level at +18% gets 2.3x the weight of an average level, one at -15%
    gets 0.44x; temperature 1 makes weights proportional to the expected engagement itself. The central
    estimate is used rather than the lower bound: thin levels have wide intervals, and ranking by the lower
    bound would starve them of exploration.
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
