"""Creative fatigue (`stats.fatigue`): seeded false alarms on stationary series stay near 5 %, a clear decay
of the core-event rate or a clear CPM rise is found, intervals cover the truth, thin series say so."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from actp_pipeline.stats.fatigue import (
    FATIGUED,
    RESULT_COLUMNS,
    STABLE,
    TOO_LITTLE_DATA,
    FatigueRule,
    assess,
    assess_one,
    cpm_trend,
    rate_trend,
)


def series(rng, days=7, impressions=5000, rate=0.02, decay=0.0, day_noise=0.0, cpm=8.0, cpm_noise=0.1,
           cpm_rise=0.0):
    """A creative's daily (impressions, events, spend): the rate falls by `decay` (a fraction) and the CPM
    rises by `cpm_rise` over the exposure; `day_noise` = lognormal day-to-day noise of the rate."""
    n = rng.poisson(impressions, days).astype(float)
    share = (np.cumsum(n) - n / 2) / n.sum()
    p = rate * (1 - decay) ** share
    if day_noise:
        p = p * rng.lognormal(-day_noise ** 2 / 2, day_noise, days)
    y = rng.binomial(n.astype(int), np.clip(p, 0, 1)).astype(float)
    c = cpm * (1 + cpm_rise) ** share * rng.lognormal(0, cpm_noise, days)
    return n, y, n * c / 1000


@pytest.mark.parametrize("days,rate,day_noise", [(4, 0.02, 0.0), (7, 0.002, 0.0), (7, 0.02, 0.0), (7, 0.2, 0.2),
                                                 (14, 0.02, 0.3)])
def test_stationary_series_rarely_look_fatigued(days, rate, day_noise):
    rng = np.random.default_rng(20261205 + days)
    hits = [assess_one(*series(rng, days, rate=rate, day_noise=day_noise))["verdict"] == FATIGUED
            for _ in range(400)]
    assert np.mean(hits) <= 0.05


def test_a_clear_decay_is_detected():
    rng = np.random.default_rng(7)
    found = [assess_one(*series(rng, 10, rate=0.02, decay=0.5))["verdict"] == FATIGUED for _ in range(200)]
    assert np.mean(found) >= 0.95
    n, y, s = series(np.random.default_rng(1), 10, rate=0.02, decay=0.5)
    r = assess_one(n, y, s)
    assert r["verdict"] == FATIGUED and r["p_decay"] > 0.99
    assert r["rate_change_lo"] < r["rate_change"] < r["rate_change_hi"] < 0  # the interval excludes no change
    assert -0.7 < r["rate_change"] < -0.3 and "P(decay) = " in r["why"]


def test_a_clear_cpm_rise_is_detected_on_its_own():
    rng = np.random.default_rng(3)
    found = [assess_one(*series(rng, 7, cpm_rise=1.0))["verdict"] == FATIGUED for _ in range(200)]
    assert np.mean(found) >= 0.9
    r = assess_one(*series(np.random.default_rng(4), 7, cpm_rise=1.0, cpm_noise=0.05))
    assert r["p_cpm_rise"] > 0.99 and 0.6 < r["cpm_change"] < 1.5 and r["p_decay"] < 0.975


def test_a_small_but_certain_decay_is_not_fatigue():
    # 2 % down over a million impressions a day is real but immaterial (min_drop 20 %)
    n = np.full(10, 1e6)
    share = (np.cumsum(n) - n / 2) / n.sum()
    y = np.round(n * 0.05 * 0.98 ** share)
    r = assess_one(n, y, n * 0.008)
    assert r["p_decay"] > 0.99 and r["verdict"] == STABLE


def test_the_rate_interval_covers_the_true_change():
    rng = np.random.default_rng(11)
    truth = -0.3
    covered = []
    for _ in range(300):
        n, y, s = series(rng, 8, rate=0.03, decay=0.3)
        r = assess_one(n, y, s)
        x = (np.cumsum(n) - n / 2) / 1000
        true_change = (1 + truth) ** ((x[-1] - x[0]) / (n.sum() / 1000)) - 1  # over first..last midpoints
        covered.append(r["rate_change_lo"] <= true_change <= r["rate_change_hi"])
    assert 0.85 <= np.mean(covered) <= 0.995  # 90 % intervals, t-based and dispersion >= 1: a bit wide


def test_thin_series_are_too_little_data():
    rng = np.random.default_rng(5)
    r = assess_one(*series(rng, 3, rate=0.02, decay=0.9))
    assert r["verdict"] == TOO_LITTLE_DATA and "3 bucket(s)" in r["why"]
    n, y, s = series(rng, 6, impressions=200, rate=0.005)  # ~6 events: the rate is not tested ...
    r = assess_one(n, y, np.zeros(6))  # ... and no spend: nor the CPM
    assert r["verdict"] == TOO_LITTLE_DATA and math.isnan(r["p_decay"]) and math.isnan(r["p_cpm_rise"])
    r = assess_one(n, y, s)  # with spend, the CPM alone is tested
    assert r["verdict"] in (STABLE, FATIGUED) and math.isnan(r["p_decay"]) and not math.isnan(r["p_cpm_rise"])


def test_all_events_early_gives_a_finite_estimate():
    n = np.full(5, 1000.0)
    t = rate_trend(n, np.array([40.0, 0, 0, 0, 0]))
    assert math.isfinite(t.slope) and math.isfinite(t.se) and t.slope < 0
    assert t.p_negative() > 0.975  # a step down is not log-linear, but its deviance still says "decay"
    assert assess_one(n, np.array([40.0, 0, 0, 0, 0]), n * 0.008)["verdict"] == FATIGUED


def test_trends_need_three_buckets_and_ignore_empty_ones():
    with pytest.raises(ValueError):
        rate_trend([100, 100], [1, 1])
    with pytest.raises(ValueError):
        cpm_trend([100, 0, 100, 100], [1, 1, 0, 1])
    t = rate_trend([1000, 0, 1000, 1000, 1000], [20, 0, 20, 20, 20])
    assert t.df == 2 and abs(t.slope) < 1e-6


def test_assess_frames_per_creative():
    rng = np.random.default_rng(9)
    rows = []
    for creative, decay in (("worn", 0.6), ("fresh", 0.0)):
        n, y, s = series(rng, 8, impressions=8000, rate=0.03, decay=decay, cpm_noise=0.02)
        for d in range(8):  # each day in two half-day rows: summed per bucket
            for half in (0, 1):
                rows.append({"creative": creative, "bucket": pd.Timestamp("2026-11-01") + pd.Timedelta(days=d),
                             "impressions": n[d] / 2, "events": y[d] / 2, "spend": s[d] / 2})
    out = assess(pd.DataFrame(rows)).set_index("creative")
    assert list(out.reset_index().columns) == RESULT_COLUMNS
    assert out.loc["worn", "verdict"] == FATIGUED and out.loc["fresh", "verdict"] == STABLE
    assert out.loc["worn", "buckets"] == 8
    assert assess(pd.DataFrame(columns=["creative", "bucket", "impressions", "events", "spend"])).empty
    with pytest.raises(ValueError):
        assess(pd.DataFrame({"creative": ["x"]}))


@pytest.mark.parametrize("kw", [dict(min_buckets=2), dict(p_fatigue=1.0), dict(p_fatigue=0.4), dict(mass=1.0),
                                dict(min_drop=1.0), dict(min_drop=-0.1), dict(min_cpm_rise=math.inf),
                                dict(min_events=-1)])
def test_rule_validation(kw):
    with pytest.raises(ValueError):
        FatigueRule(**kw)
