"""The hierarchical Beta-Binomial model: how much one post, one creative and one cell tell about a rate.

Three levels, each with a spread estimated from the data rather than assumed:

- a post's rate varies around its creative's rate beyond binomial noise (who saw it, what else trended):
  relative variance `post_cv2` (Var(post rate) = rate^2 x post_cv2), so a post of n views is worth
  n_eff = 1 / (1/n + r post_cv2 / (1 - r)) trials (`effective_trials`);
- a creative's rate varies around its cell's typical rate: relative variance `creative_cv2`;
- a cell's typical rate varies around its platform's: relative variance `cell_cv2`.

The spreads are method-of-moments estimates pooled over a platform (every creative with two or more posts
for `post_cv2`, every cell with two or more creatives for `creative_cv2`, every cell for `cell_cv2`), each
shrunk toward a stated weak default by a few pseudo degrees of freedom, so one noisy creative or a
platform without repeats still gets a usable value (`Spread` says how much data stands behind each).

A creative's prior is built only from the OTHER creatives of its cell and the OTHER cells of its platform
(`creative_priors`): its own data enters once, as its likelihood. The prior (a mean and a variance on the
rate scale, from normal approximations of the levels above) is moment-matched to a Beta, so the posterior
stays a Beta (P(best) integrates it exactly, stats/posterior.py). When nothing else is known the prior is
Jeffreys' Beta(1/2, 1/2).

Written here because no kept library fits: statsmodels' mixed models are Gaussian (or slow variational
binomial ones) and give no per-creative Beta posterior, and a full MCMC per run would cost minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Weak defaults, used where the data cannot say: posts of one creative vary by ~15% (relative sd) and
# creatives of one cell by ~30%, cells of one platform by ~30%: the order of the spreads measured on the
# sandbox's own worlds and of published reach-to-reach variation of short-form posts; each counts as
# DEFAULT_DF degrees of freedom next to the data's.
DEFAULT_POST_CV = 0.15
DEFAULT_CREATIVE_CV = 0.30
DEFAULT_CELL_CV = 0.30
DEFAULT_DF = 2.0
# An estimated post spread is itself uncertain: like a t-distribution's variance nu / (nu - 2) over a normal's,
# the post spread used is the shrunk estimate times (df + SPREAD_DF) / (df + SPREAD_DF - 2), so 1.5x with no
# repeats (the default alone), 1.2x at 6 df, 1.04x at 50. Without it a paid test's first days, whose spread
# rests on a handful of ad-set-days, crowned 8% of dead heats over 30 looks (benchmarks/calibration.py).
SPREAD_DF = 6.0
JEFFREYS = 0.5  # Beta(1/2, 1/2) when nothing but the creative's own data is known
MIN_STRENGTH = 1.0  # a prior is never stronger than its variance says, never weaker than one pseudo-trial
MAX_STRENGTH = 1e7
RATE_FLOOR = 1e-4


@dataclass(frozen=True)
class Spread:
    """The estimated spreads of one platform (relative variances) and the degrees of freedom behind each."""

    post_cv2: float
    post_df: float
    creative_cv2: float
    creative_df: float
    cell_cv2: float
    cell_df: float

    def describe(self) -> str:
        return (f"post-to-post sd {np.sqrt(self.post_cv2):.0%} ({self.post_df:.0f} df), creative-to-creative sd "
                f"{np.sqrt(self.creative_cv2):.0%} ({self.creative_df:.0f} df), cell-to-cell sd "
                f"{np.sqrt(self.cell_cv2):.0%} ({self.cell_df:.0f} df)")


def _shrink(estimate: float, df: float, default_cv: float) -> float:
    return (df * estimate + DEFAULT_DF * default_cv**2) / (df + DEFAULT_DF)


def effective_trials(views, events, post_cv2, reference_rate=None) -> tuple[np.ndarray, np.ndarray]:
    """(effective trials, effective successes) of posts: binomial noise plus the post-to-post spread.

    The post-level variance is evaluated at `reference_rate` (the cell's pooled rate, say), not at the
    post's own rate: a post's weight must not depend on its own outcome, or low observed rates would earn
    more weight and every pooled estimate would lean low. Without one, the post's regularised rate
    ((events + 1/2) / (views + 1)) is used."""
    n = np.asarray(views, dtype=float)
    e = np.asarray(events, dtype=float)
    cv2 = np.asarray(post_cv2, dtype=float)
    r = np.clip((e + 0.5) / (n + 1.0) if reference_rate is None else np.asarray(reference_rate, dtype=float),
                RATE_FLOOR, 1 - RATE_FLOOR)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(n > 0, 1.0 / (1.0 / np.maximum(n, 1.0) + r * cv2 / (1 - r)), 0.0)
    rate = np.where(n > 0, e / np.maximum(n, 1.0), 0.0)
    return n_eff, rate * n_eff


def _moment_cv2(unit: np.ndarray, value: np.ndarray, sampling_var: np.ndarray, start_cv2: float,
                iterations: int = 5) -> tuple[float, float]:
    """Relative variance c between the members of each unit beyond their sampling variance, pooled over units.

    Members u_i of a unit, with sampling variances v_i, are averaged with precision weights w_i (summing to 1
    per unit): m = sum w_i u_i. Then E (u_i - m)^2 = (v_i + m^2 c)(1 - 2 w_i) + sum_j w_j^2 (v_j + m^2 c),
    linear in c; c is the weighted least-squares solution over all members (weights 1 / Var((u_i - m)^2)),
    re-evaluated `iterations` times as the weights move with c. `value` should be on a relative scale
    (divided by a typical rate), so c is a relative variance. Returns (c >= 0, degrees of freedom = members
    minus units, over the units with two or more members)."""
    if value.size == 0:
        return 0.0, 0.0
    _, unit = np.unique(unit, return_inverse=True)
    keep = np.bincount(unit)[unit] >= 2
    if not keep.any():
        return 0.0, 0.0
    unit, value, v = unit[keep], value[keep], sampling_var[keep]
    _, unit = np.unique(unit, return_inverse=True)
    df = float(len(value) - unit.max() - 1)

    def per_unit(x):
        return np.bincount(unit, weights=x)[unit]

    c, m = start_cv2, per_unit(value) / np.bincount(unit)[unit]
    for _ in range(iterations):
        prec = 1.0 / np.maximum(v + m * m * c, 1e-300)
        w = prec / per_unit(prec)
        m = per_unit(w * value)
        a = v * (1 - 2 * w) + per_unit(w * w * v)
        b = m * m * ((1 - 2 * w) + per_unit(w * w))
        omega = 1.0 / np.maximum(a + c * b, 1e-300) ** 2
        denom = float((omega * b * b).sum())
        c = max(0.0, float((omega * b * ((value - m) ** 2 - a)).sum()) / denom) if denom > 0 else 0.0
    return c, df


def estimate_post_cv2(creative: np.ndarray, views: np.ndarray, events: np.ndarray) -> tuple[float, float]:
    """(post_cv2, df) from the creatives with two or more posts (shrunk toward DEFAULT_POST_CV, with the
    allowance for its own uncertainty, SPREAD_DF)."""
    views = np.asarray(views, dtype=float)
    events = np.asarray(events, dtype=float)
    ok = views > 0
    if not ok.any():
        return DEFAULT_POST_CV**2 * _allowance(0.0), 0.0
    creative, views, events = np.asarray(creative)[ok], views[ok], events[ok]
    _, cid = np.unique(creative, return_inverse=True)
    pooled = np.bincount(cid, weights=events) / np.bincount(cid, weights=views)
    theta = np.clip(pooled[cid], RATE_FLOOR, 1 - RATE_FLOOR)
    rate = events / views
    binom = theta * (1 - theta) / views
    # as a relative variance: divide by theta^2 so creatives of different rates share one scale
    est, df = _moment_cv2(cid, rate / theta, binom / theta**2, DEFAULT_POST_CV**2)
    return _shrink(est, df, DEFAULT_POST_CV) * _allowance(df), df


def _allowance(df: float) -> float:
    return (df + SPREAD_DF) / (df + SPREAD_DF - 2.0)


def creative_evidence(creative: np.ndarray, views: np.ndarray, events: np.ndarray, post_cv2,
                      creatives: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per creative id (0..creatives-1; default: the largest id + 1): (effective trials, effective successes).

    Every post of a creative is discounted at the creative's own pooled (regularised) rate: the post-level
    variance is multiplicative, so a creative twice as engaging varies twice as much in absolute terms,
    and one shared rate keeps each post's weight independent of its own outcome."""
    creative = np.asarray(creative)
    views = np.asarray(views, dtype=float)
    events = np.asarray(events, dtype=float)
    n = creatives if creatives is not None else (int(creative.max()) + 1 if creative.size else 0)
    pooled = (np.bincount(creative, weights=events, minlength=n) + 0.5) / (np.bincount(creative, weights=views, minlength=n) + 1.0)
    n_eff, s_eff = effective_trials(views, events, post_cv2, pooled[creative])
    return np.bincount(creative, weights=n_eff, minlength=n), np.bincount(creative, weights=s_eff, minlength=n)


def creative_priors(platform: np.ndarray, cell: np.ndarray, trials: np.ndarray, successes: np.ndarray, *,
                    fixed_creative_cv2: float | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(prior mean, prior strength) per creative (one row each) from the other creatives and cells only.

    `platform` and `cell` label each creative (cells nest in platforms); `trials`/`successes` are its
    effective evidence (`creative_evidence`). Returns Beta prior parameters as mean and strength
    (a = mean x strength, b = (1 - mean) x strength) and a dict platform -> (creative_cv2, df, cell_cv2, df).
    """
    trials = np.asarray(trials, dtype=float)
    successes = np.asarray(successes, dtype=float)
    n = len(trials)
    mean = np.full(n, JEFFREYS)
    strength = np.full(n, 2 * JEFFREYS)
    fits: dict = {}
    if n == 0:
        return mean, strength, fits
    rate = np.where(trials > 0, successes / np.maximum(trials, 1e-9), 0.0)
    seen = trials > 0
    plat_codes, plat = np.unique(np.asarray(platform).astype(str), return_inverse=True)
    for g in range(len(plat_codes)):
        rows = np.flatnonzero(plat == g)
        _, cl = np.unique(np.asarray(cell)[rows], return_inverse=True)
        fit = _platform_priors(cl, rate[rows], seen[rows], trials[rows], successes[rows], fixed_creative_cv2)
        mean[rows], strength[rows] = fit[0], fit[1]
        fits[str(plat_codes[g])] = fit[2]
    return mean, strength, fits


def _platform_priors(cl: np.ndarray, rate: np.ndarray, seen: np.ndarray, trials: np.ndarray,
                     successes: np.ndarray, fixed_creative_cv2: float | None):
    n_cells = int(cl.max()) + 1
    platform_rate = max(successes[seen].sum() / max(trials[seen].sum(), 1e-9), RATE_FLOOR) if seen.any() else 0.05
    # creative-to-creative spread, from the cells with two or more seen creatives, relative to each cell's rate
    cell_t = np.bincount(cl, weights=np.where(seen, trials, 0.0), minlength=n_cells)
    cell_s = np.bincount(cl, weights=np.where(seen, successes, 0.0), minlength=n_cells)
    cell_rate = np.clip((cell_s + 0.5) / (cell_t + 1.0), RATE_FLOOR, 1 - RATE_FLOOR)[cl]
    # sampling variances at the cell's rate: a creative's weight must not depend on its own outcome
    var = cell_rate * (1 - cell_rate) / np.maximum(trials, 1e-9)
    if fixed_creative_cv2 is None:
        est, c_df = _moment_cv2(cl[seen], rate[seen] / cell_rate[seen], var[seen] / cell_rate[seen] ** 2,
                                DEFAULT_CREATIVE_CV**2)
        c_cv2 = _shrink(est, c_df, DEFAULT_CREATIVE_CV)
    else:
        c_cv2, c_df = float(fixed_creative_cv2), float("inf")
    # each creative's share of its cell's precision, at that spread
    prec = np.where(seen, 1.0 / (var + cell_rate**2 * c_cv2 + 1e-300), 0.0)
    cell_prec = np.bincount(cl, weights=prec, minlength=n_cells)
    cell_sum = np.bincount(cl, weights=prec * rate, minlength=n_cells)
    # cell-to-cell spread of the cells' precision-weighted means, from every cell with data
    has = cell_prec > 0
    cell_mean = np.where(has, cell_sum / np.where(has, cell_prec, 1.0), platform_rate)
    if has.sum() >= 2:
        cvar = np.where(has, 1.0 / np.where(has, cell_prec, 1.0), 0.0)
        est, k_df = _moment_cv2(np.zeros(int(has.sum())), cell_mean[has] / platform_rate,
                                cvar[has] / platform_rate**2, DEFAULT_CELL_CV**2)
        k_cv2 = _shrink(est, k_df, DEFAULT_CELL_CV)
        k_df = float(k_df)
    else:
        k_cv2, k_df = DEFAULT_CELL_CV**2, 0.0
    # the platform's typical cell rate without cell w: mean of the other cells' means
    n_has = has.sum()
    tot_mean = cell_mean[has].sum()
    other_cells = n_has - has.astype(float)
    plat_wo = np.where(other_cells[cl] > 0, (tot_mean - np.where(has, cell_mean, 0.0))[cl] / np.maximum(other_cells[cl], 1), np.nan)
    # the cell's rate from its other creatives (leave-one-out), combined with the platform's
    loo_prec = cell_prec[cl] - prec
    loo_mean = np.where(loo_prec > 1e-12, (cell_sum[cl] - prec * rate) / np.where(loo_prec > 1e-12, loo_prec, 1.0), np.nan)
    plat_known = np.isfinite(plat_wo)
    prior_cell_var = np.where(plat_known, (np.nan_to_num(plat_wo) ** 2) * k_cv2, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_plat = np.where(plat_known, 1.0 / prior_cell_var, 0.0)
        p_loo = np.where(np.isfinite(loo_mean), loo_prec, 0.0)
        total = p_plat + p_loo
        mu = np.where(total > 0, (p_plat * np.nan_to_num(plat_wo) + p_loo * np.nan_to_num(loo_mean)) / np.where(total > 0, total, 1.0), np.nan)
        mu_var = np.where(total > 0, 1.0 / np.where(total > 0, total, 1.0), np.inf)
    known = np.isfinite(mu) & (total > 0)
    mu = np.clip(np.nan_to_num(mu, nan=JEFFREYS), RATE_FLOOR, 1 - RATE_FLOOR)
    prior_var = mu**2 * c_cv2 + mu_var
    with np.errstate(invalid="ignore"):
        strength = mu * (1 - mu) / prior_var - 1.0
    strength = np.clip(np.nan_to_num(strength, nan=MIN_STRENGTH), MIN_STRENGTH, MAX_STRENGTH)
    mean = np.where(known, mu, JEFFREYS)
    strength = np.where(known, strength, 2 * JEFFREYS)
    return mean, strength, {"creative_cv2": float(c_cv2), "creative_df": float(c_df), "cell_cv2": float(k_cv2),
                            "cell_df": k_df}


# ------------------------------------------------------------------------------------------ robust posterior
# A shrinkage prior pulls every creative toward its cell; the truly best creative is pulled hardest, which is
# what a growth team looks at. So the prior is a two-part mixture: with probability 1 - UNLIKE_CELL the
# creative is like the others of its cell (the hierarchical prior), with probability UNLIKE_CELL it is not
# (the same centre, UNLIKE_WIDEN times the spread). The creative's own data decide between the two by their
# marginal likelihoods: a creative in line with its cell is pooled, one that stands out on strong evidence
# keeps its own rate. The mixture posterior is moment-matched to one Beta (the form P(best) integrates).
UNLIKE_CELL = 0.5
UNLIKE_WIDEN = 5.0


def _beta_moments(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = a / (a + b)
    return m, m * (1 - m) / (a + b + 1)


def robust_posterior(prior_mean, prior_strength, successes, trials, *, unlike: float = UNLIKE_CELL,
                     widen: float = UNLIKE_WIDEN) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(a, b) of the robust posterior and (a_own, b_own) of its 'unlike the cell' part (the creative's own
    data under the widened prior), element-wise over arrays of any shape."""
    from scipy.special import betaln

    m0 = np.clip(np.asarray(prior_mean, dtype=float), RATE_FLOOR, 1 - RATE_FLOOR)
    k1 = np.asarray(prior_strength, dtype=float)
    s = np.asarray(successes, dtype=float)
    f = np.asarray(trials, dtype=float) - s
    var1 = m0 * (1 - m0) / (k1 + 1)
    k2 = np.clip(m0 * (1 - m0) / (widen**2 * var1) - 1.0, 2 * JEFFREYS, None)
    k2 = np.minimum(k2, k1)
    a1, b1, a2, b2 = m0 * k1, (1 - m0) * k1, m0 * k2, (1 - m0) * k2
    log_odds = (betaln(a2 + s, b2 + f) - betaln(a2, b2) + np.log(unlike)) - (
        betaln(a1 + s, b1 + f) - betaln(a1, b1) + np.log1p(-unlike))
    w = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))  # posterior weight of "unlike the cell"
    A1, B1, A2, B2 = a1 + s, b1 + f, a2 + s, b2 + f
    m1, v1 = _beta_moments(A1, B1)
    m2, v2 = _beta_moments(A2, B2)
    m = (1 - w) * m1 + w * m2
    v = (1 - w) * (v1 + m1 * m1) + w * (v2 + m2 * m2) - m * m
    k = np.clip(m * (1 - m) / np.maximum(v, 1e-300) - 1.0, 1e-6, None)
    return m * k, (1 - m) * k, A2, B2


def robust_interval(a, b, a_own, b_own, mass: float) -> tuple[np.ndarray, np.ndarray]:
    """The interval shown for a creative's rate: the hull of the robust posterior's equal-tailed interval
    and that of its own data alone, so it holds whether the creative is typical of its cell or the
    exception a team is looking at (the best of a cell sits where pooling pulls hardest)."""
    from actp_pipeline.stats.posterior import beta_interval

    lo1, hi1 = beta_interval(a, b, mass)
    lo2, hi2 = beta_interval(a_own, b_own, mass)
    return np.minimum(lo1, lo2), np.maximum(hi1, hi2)
