import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from actp_pipeline.creative import PLATFORMS
from actp_pipeline.measure.timing_matrix import DEFAULT_HOURS, MATRIX_COLUMNS, best_hours, build_timing_matrix, post_performance
from actp_pipeline.publish.publish_schedule import SlotRules

# planted log-reach effect by hour (UTC): peak 19-21h, trough 3-5h
HOUR_EFFECT = np.array([-0.1, -0.3, -0.45, -0.6, -0.65, -0.6, -0.4, -0.25, -0.1, 0.0, 0.05, 0.1,
                        0.15, 0.15, 0.1, 0.15, 0.2, 0.3, 0.4, 0.55, 0.6, 0.5, 0.3, 0.1])
PEAK = (16, 17, 18, 19, 20, 21)  # the six best planted hours (19-21 highest)
ACCOUNTS = {("tiktok", "main"): 9.5, ("tiktok", "second"): 7.0, ("instagram", "brand"): 8.0}


def simulate(n=3000, seed=0, noise=0.35, hours=None):
    rng = np.random.default_rng(seed)
    cells = list(ACCOUNTS)
    rows = []
    for i in range(n):
        platform, account = cells[i % len(cells)]
        day = int(rng.integers(0, 28))
        hour = int(rng.integers(0, 24)) if hours is None else int(rng.choice(hours))
        live_at = pd.Timestamp("2026-01-05") + pd.Timedelta(days=day, hours=hour, minutes=int(rng.integers(0, 60)))
        age = float(rng.uniform(6, 72))
        log_views = ACCOUNTS[(platform, account)] + HOUR_EFFECT[hour] + 0.5 * np.log1p(age) + rng.normal(0, noise)
        views = int(np.expm1(log_views))
        rows.append({"post_id": f"p{i}", "platform": platform, "account": account, "live_at": live_at,
                     "hours_live": age, "views": views, "engagements": int(views * 0.05)})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def matrix():
    return build_timing_matrix(simulate())


def test_full_grid(matrix):
    assert list(matrix.columns) == MATRIX_COLUMNS
    assert len(matrix) == 7 * 24 * len(PLATFORMS)
    assert not matrix.duplicated(["platform", "weekday", "hour"]).any()
    assert set(matrix["weekday"]) == set(range(7)) and set(matrix["hour"]) == set(range(24))
    assert matrix["expected"].notna().all() and matrix["lift"].notna().all()
    assert matrix["n_posts"].sum() == 3000


def test_planted_hour_effects_recovered_in_order(matrix):
    tiktok = matrix[matrix["platform"] == "tiktok"].groupby("hour")["expected"].mean()
    assert spearmanr(tiktok.to_numpy(), HOUR_EFFECT).statistic > 0.9
    assert tiktok.idxmax() in (19, 20, 21) and tiktok.idxmin() in (3, 4, 5)
    # account size (a 2.5 log-unit gap) is normalised away: lift is about the hour, not the account
    lift = matrix[matrix["platform"] == "tiktok"].groupby("hour")["lift"].mean()
    assert 0.3 < lift[20] < 1.2 and -0.6 < lift[4] < -0.25


def test_best_hours_pick_planted_peaks(matrix):
    hours = best_hours(matrix, "tiktok")
    assert len(hours) == 6 and list(hours) == sorted(hours)
    assert {19, 20, 21} <= set(hours) and len(set(hours) & set(PEAK)) >= 5
    assert {19, 20} <= set(best_hours(matrix, "instagram", n=3))
    # usable as SlotRules.hours
    assert SlotRules(hours=hours).hours == hours
    # per weekday: the same peak shows through (each weekday cell shrinks toward the hour's prior)
    assert {19, 20, 21} & set(best_hours(matrix, "tiktok", weekday=2, n=4))


def test_thin_cells_shrink_to_the_prior():
    posts = simulate(n=600, seed=1)
    one = posts.iloc[[0]].assign(post_id="lone", platform="youtube", account="yt",
                                 live_at=pd.Timestamp("2026-01-07 14:00"), views=5_000_000)  # a Wednesday
    k = 4.0
    m = build_timing_matrix(pd.concat([posts, one], ignore_index=True), prior_strength=k)
    yt = m[m["platform"] == "youtube"].set_index(["weekday", "hour"])
    cell = yt.loc[(2, 14)]
    # a single post, alone on its account, is its account's mean: raw 0; the formula holds exactly
    assert cell["n_posts"] == 1 and cell["raw_mean"] == pytest.approx(0.0)
    assert cell["expected"] == pytest.approx((1 * cell["raw_mean"] + k * cell["hour_prior"]) / (1 + k))
    # a thin cell with an extreme value lands much nearer its prior than its raw mean
    tk = m[m["platform"] == "tiktok"]
    thin = tk[tk["n_posts"] == 1].iloc[0]
    assert thin["expected"] == pytest.approx((thin["raw_mean"] + k * thin["hour_prior"]) / (1 + k))
    assert abs(thin["expected"] - thin["hour_prior"]) < abs(thin["raw_mean"] - thin["hour_prior"]) / 4
    # cells without posts are exactly the prior; the prior of an hour without posts is the platform mean
    empty = tk[tk["n_posts"] == 0]
    assert (empty["expected"] == empty["hour_prior"]).all() and empty["raw_mean"].isna().all()
    # shrinkage grows with prior_strength
    loose = build_timing_matrix(posts, prior_strength=0.5)
    tight = build_timing_matrix(posts, prior_strength=50)
    assert loose["expected"].std() > tight["expected"].std()


def test_hours_never_posted_get_the_platform_mean():
    posts = simulate(n=900, seed=2, hours=DEFAULT_HOURS)
    m = build_timing_matrix(posts)
    tk = m[m["platform"] == "tiktok"]
    unposted = tk[~tk["hour"].isin(DEFAULT_HOURS)]
    assert (unposted["n_posts"] == 0).all() and np.allclose(unposted["expected"], 0.0)
    assert np.allclose(unposted["lift"], 0.0)
    hours = best_hours(m, "tiktok", n=3)
    assert set(hours) <= {18, 19, 20, 21}


def test_no_data_gives_platform_mean_and_default_hours():
    for empty in (pd.DataFrame(), pd.DataFrame(columns=["platform", "account", "live_at", "views"])):
        m = build_timing_matrix(empty)
        assert len(m) == 7 * 24 * len(PLATFORMS)
        assert (m["n_posts"] == 0).all() and (m["expected"] == 0).all() and (m["lift"] == 0).all()
        assert best_hours(m, "tiktok") == DEFAULT_HOURS
    assert best_hours(build_timing_matrix(simulate()), "mastodon") == DEFAULT_HOURS
    # too little evidence on a platform: keep the defaults
    few = build_timing_matrix(simulate(n=9))
    assert best_hours(few, "tiktok", min_posts=20) == DEFAULT_HOURS


def test_engagement_rate_metric():
    rng = np.random.default_rng(4)
    posts = simulate(n=2000, seed=4)
    # engagement is better in the morning (8-10h), whatever the reach
    boost = np.where(pd.to_datetime(posts["live_at"]).dt.hour.isin([8, 9, 10]), 1.5, 1.0)
    posts["engagements"] = rng.binomial(posts["views"], 0.04 * boost)
    m = build_timing_matrix(posts, metric="engagement_rate")
    assert set(m["metric"]) == {"engagement_rate"}
    assert set(best_hours(m, "tiktok", n=3)) == {8, 9, 10}
    # the learning gate applies to engagement rate, not to reach
    low = posts.assign(views=50)
    assert post_performance(low, "engagement_rate").empty and len(post_performance(low, "reach")) == len(low)


def test_rejects_unknown_metric():
    with pytest.raises(ValueError):
        build_timing_matrix(simulate(n=10), metric="likes")
