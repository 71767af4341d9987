"""stats/power.py: the fixed-horizon two-proportion test's power and sample size, against textbook values,
against each other, and against a simulated test."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actp_pipeline.stats.power import fixed_horizon_ab_sample_size, two_proportion_power


def test_sample_size_matches_textbook_values():
    # JMP documentation example: p = 0.08 vs 0.06, alpha 0.05 two-sided, power 0.8 -> 2554 per group
    assert fixed_horizon_ab_sample_size(0.06, 0.08 / 0.06 - 1) == 2554
    # Zar, Biostatistical Analysis, example 24.26: 0.45 vs 0.25, power 0.9, continuity corrected -> 127.2
    assert fixed_horizon_ab_sample_size(0.25, 0.45 / 0.25 - 1, power=0.9, continuity_correction=True) == 128
    # R's power.prop.test examples: p1 = .50, p2 = .75, power = .90 => n = 76.7
    assert fixed_horizon_ab_sample_size(0.5, 0.5, power=0.9) == 77
    # more arms: Bonferroni over the k - 1 comparisons of the best with the others
    n2 = fixed_horizon_ab_sample_size(0.05, 0.1)
    n8 = fixed_horizon_ab_sample_size(0.05, 0.1, arms=8)
    assert n8 == fixed_horizon_ab_sample_size(0.05, 0.1, alpha=0.05 / 7) and n8 > 1.4 * n2
    with pytest.raises(ValueError):
        fixed_horizon_ab_sample_size(0.05, 0.0)


def test_power_matches_textbook_values():
    # R's power.prop.test examples (the same pooled-variance formula, strict = FALSE)
    assert two_proportion_power(50, 0.5, 0.5) == pytest.approx(0.7401659, abs=1e-7)  # n = 50, .50 vs .75
    assert two_proportion_power(76.7, 0.5, 0.5) == pytest.approx(0.90, abs=1e-3)  # => n = 76.7 for power .90
    assert two_proportion_power(50, 0.5, 0.8026 / 0.5 - 1) == pytest.approx(0.90, abs=1e-3)  # => p2 = 0.8026
    # the JMP example above: 2554 per group is the first n with power >= 0.8
    assert two_proportion_power(2554, 0.06, 0.08 / 0.06 - 1) >= 0.8 > two_proportion_power(2553, 0.06, 0.08 / 0.06 - 1)
    # Zar 24.26, continuity corrected: 127.2 per group gives power 0.9
    assert two_proportion_power(127.2, 0.25, 0.8, continuity_correction=True) == pytest.approx(0.90, abs=1e-3)


def test_sample_size_gives_the_requested_power():
    from scipy.stats import norm

    p1, lift = 0.05, 0.15
    n = fixed_horizon_ab_sample_size(p1, lift)
    p2 = p1 * (1 + lift)
    pbar = (p1 + p2) / 2
    se0 = math.sqrt(2 * pbar * (1 - pbar) / n)
    se1 = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    power = norm.cdf(((p2 - p1) - norm.ppf(0.975) * se0) / se1)
    assert 0.8 <= power < 0.8005
    assert two_proportion_power(n, p1, lift) == pytest.approx(power, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(p_base=st.floats(0.005, 0.5), lift=st.floats(0.02, 0.9), alpha=st.sampled_from([0.01, 0.05, 0.1]),
       power=st.floats(0.55, 0.99), arms=st.integers(2, 8), cc=st.booleans())
def test_power_and_sample_size_are_inverses(p_base, lift, alpha, power, arms, cc):
    n = fixed_horizon_ab_sample_size(p_base, lift, alpha, power, arms, continuity_correction=cc)
    got = two_proportion_power([n - 1, n], p_base, lift, alpha, arms, continuity_correction=cc)
    assert got[1] >= power - 1e-9  # the answer reaches the power ...
    assert got[0] < power + 1e-9  # ... and one impression less does not
    assert np.all(np.diff(two_proportion_power(np.linspace(0, 2 * n, 50), p_base, lift, alpha, arms,
                                               continuity_correction=cc)) >= 0)  # more data, more power


def test_power_agrees_with_a_simulated_test():
    """The normal approximation against the test itself: binomial counts, pooled two-sided z-test."""
    from scipy.stats import norm

    rng = np.random.default_rng(1)
    p1, lift, n, sims = 0.06, 0.08 / 0.06 - 1, 2554, 40_000
    x1, x2 = rng.binomial(n, p1, sims), rng.binomial(n, p1 * (1 + lift), sims)
    pooled = (x1 + x2) / (2 * n)
    z = (x2 - x1) / n / np.sqrt(2 * pooled * (1 - pooled) / n)
    rejected = np.abs(z) > norm.ppf(0.975)
    assert rejected.mean() == pytest.approx(two_proportion_power(n, p1, lift), abs=0.01)


def test_power_checks_its_inputs():
    assert two_proportion_power(0, 0.05, 0.1) < 0.05  # no data: the false-positive tail at most
    # n below 1/|p2 - p1|: the continuity correction leaves no evidence at all
    assert two_proportion_power(10, 0.05, 0.1, continuity_correction=True) == two_proportion_power(0, 0.05, 0.1)
    for bad in (dict(p_base=0.0, lift=0.1), dict(p_base=0.6, lift=1.0), dict(p_base=0.05, lift=0.1, arms=1)):
        with pytest.raises(ValueError):
            two_proportion_power(100, **bad)
    with pytest.raises(ValueError):
        two_proportion_power(-1, 0.05, 0.1)
    with pytest.raises(ValueError):
        fixed_horizon_ab_sample_size(0.05, 0.1, power=1.0)
