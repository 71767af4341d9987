"""Power and sample size of the classical fixed-horizon A/B test: the baseline a bandit test is measured against.

Two-proportion z-test, two-sided, equal groups, the pooled-variance normal approximation (Fleiss, Levin &
Paik, Statistical Methods for Rates and Proportions; the formula of R's `power.prop.test`):

    power = Phi((sqrt(n) |p2 - p1| - z_{1-a/2} sqrt(2 pbar qbar)) / sqrt(p1 q1 + p2 q2))
    n     = (z_{1-a/2} sqrt(2 pbar qbar) + z_{power} sqrt(p1 q1 + p2 q2))^2 / (p2 - p1)^2

with p1 = p_base, p2 = p_base (1 + lift), pbar = (p1 + p2) / 2; the two are exact inverses of each other.
The far rejection tail (the test finding the wrong sign) is left out, as is usual and as the sample size
formula does. With the continuity correction of Fleiss, Tytun & Ury (1980),
n' = n/4 (1 + sqrt(1 + 4 / (n |p2 - p1|)))^2, whose inverse is n = (n' - 1/|p2 - p1|)^2 / n'.

k arms: the best arm is compared with each of the other k - 1 arms, so the significance level is
Bonferroni-corrected to alpha / (k - 1). Dunnett's exact many-to-one critical value is slightly smaller
(the comparisons share one arm and are positively correlated), so Bonferroni is a close, conservative
stand-in that needs no multivariate normal integral. The total budget of the test is `arms` times the
per-arm n; every arm gets the n of the hardest comparison.
"""

from __future__ import annotations

import math

import numpy as np


def _test(p_base: float, lift: float, alpha: float, arms: int) -> tuple[float, float, float]:
    """(p1, p2, z_{1-a/2}) of the test, after checking its inputs."""
    from scipy.stats import norm  # imported here: scipy is slow to import

    if not 0.0 < p_base < 1.0:
        raise ValueError("p_base must be within (0, 1)")
    p2 = p_base * (1.0 + lift)
    if lift == 0 or not 0.0 < p2 < 1.0:
        raise ValueError("lift must be non-zero and keep the rate within (0, 1)")
    if arms < 2:
        raise ValueError("a test needs at least 2 arms")
    a = alpha / (arms - 1)
    return p_base, p2, norm.ppf(1.0 - a / 2.0)


def two_proportion_power(n, p_base: float, lift: float, alpha: float = 0.05, arms: int = 2, *,
                         continuity_correction: bool = False):
    """Power of the fixed-horizon test with `n` impressions per arm to detect a relative `lift` over `p_base`.

    `n` may be a number (a float comes back) or an array (an array of the same shape comes back).
    """
    from scipy.stats import norm

    p1, p2, z_a = _test(p_base, lift, alpha, arms)
    n_arr = np.asarray(n, dtype=float)
    if np.any(n_arr < 0):
        raise ValueError("n must be >= 0")
    d = abs(p2 - p1)
    if continuity_correction:  # the uncorrected n whose corrected size is n (none below 1/d)
        n_arr = np.where(n_arr > 1.0 / d, (n_arr - 1.0 / d) ** 2 / np.maximum(n_arr, 1e-300), 0.0)
    pbar = (p1 + p2) / 2.0
    z = (np.sqrt(n_arr) * d - z_a * math.sqrt(2.0 * pbar * (1.0 - pbar))) / math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    power = norm.cdf(z)
    return float(power) if power.ndim == 0 else power


def fixed_horizon_ab_sample_size(p_base: float, lift: float, alpha: float = 0.05, power: float = 0.8, arms: int = 2,
                                 *, continuity_correction: bool = False) -> int:
    """Impressions per arm of a fixed-horizon test that detects a relative `lift` over `p_base` with `power`
    (the smallest whole n; see the module doc for the formula and for k arms)."""
    from scipy.stats import norm

    if not 0.0 < power < 1.0:
        raise ValueError("power must be within (0, 1)")
    p1, p2, z_a = _test(p_base, lift, alpha, arms)
    z_b = norm.ppf(power)
    pbar = (p1 + p2) / 2.0
    d = abs(p2 - p1)
    n = (z_a * math.sqrt(2.0 * pbar * (1.0 - pbar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / d**2
    if continuity_correction:
        n = n / 4.0 * (1.0 + math.sqrt(1.0 + 4.0 / (n * d))) ** 2
    return int(math.ceil(n - 1e-9))
