"""Factor effects read on conversions (attribution/conversion_effects.py, score/factor_effects.py with the
clicks -> converting clicks outcome), on simulated per-post funnels with planted effects per factor level."""

import time

import numpy as np
import pandas as pd
import pytest

from actp_pipeline.attribution import ALL
from actp_pipeline.attribution.conversion_effects import (
    COLUMNS,
    MIN_CLICKS,
    conversion_posts,
    estimate_conversion_effects,
)
from actp_pipeline.score.factor_effects import EFFECT_COLUMNS, estimate_factor_effects, hour_bucket

# planted effects on the logit of the conversion rate per click
CTA = {"link_in_bio": 0.5, "follow": -0.2, "comment": -0.1, "save": -0.2}  # link in bio: the clear effect
HOOK = {"question": 0.2, "stat": 0.0, "story": -0.2}
FORMAT = {"text_hook": 0.0, "listicle": 0.0}  # no effect
HOUR = {"night": 0.0, "morning": -0.1, "afternoon": 0.0, "evening": 0.1}
PLANTED = {"cta_style": CTA, "hook_pattern": HOOK, "format": FORMAT, "hour_bucket": HOUR}
FACTORS = tuple(PLANTED)
BASELINE = {("tiktok", "main"): -3.3, ("instagram", "brand"): -2.7}  # ~3.6% and ~6.3% per click
CREATIVE_SD = 0.3


def truth() -> dict[tuple[str, str], float]:
    """Each level's planted effect relative to its factor's average level (what the model estimates)."""
    return {(f, lv): v - np.mean(list(levels.values())) for f, levels in PLANTED.items() for lv, v in levels.items()}


def simulate(rng, n_creatives=24, posts_per_creative=3, mean_clicks=200):
    """(attribution_posts-like frame, variants): creatives balanced over the factor levels, each with a
    random effect, posted `posts_per_creative` times in random cells and hours; clicks ~ Poisson(mean_clicks),
    converting clicks ~ Binomial(clicks, expit(cell baseline + factor effects + creative effect))."""
    design = {f: rng.permutation(np.resize(list(PLANTED[f]), n_creatives)) for f in ("cta_style", "hook_pattern",
                                                                                     "format")}
    variants = pd.DataFrame({"variant_id": [f"v{c}" for c in range(n_creatives)], **design,
                             "angle": "curiosity", "length_s": 15})
    creative = rng.normal(0, CREATIVE_SD, n_creatives)
    n = n_creatives * posts_per_creative
    owner = np.repeat(np.arange(n_creatives), posts_per_creative)
    cells = list(BASELINE)
    cell = rng.integers(0, len(cells), n)
    hours = rng.integers(0, 24, n)
    logit = (np.array([BASELINE[cells[i]] for i in cell]) + creative[owner]
             + sum(np.array([PLANTED[f][design[f][c]] for c in owner]) for f in design)
             + np.array([HOUR[hour_bucket(int(h))] for h in hours]))
    clicks = rng.poisson(mean_clicks, n)
    converting = rng.binomial(clicks, 1 / (1 + np.exp(-logit)))
    posts = pd.DataFrame({"idempotency_key": [f"k{i}" for i in range(n)], "variant_id": [f"v{c}" for c in owner],
                          "platform": [cells[i][0] for i in cell], "account": [cells[i][1] for i in cell],
                          "live_at": pd.Timestamp("2026-11-02") + pd.to_timedelta(rng.integers(0, 14, n) * 24 + hours,
                                                                                  unit="h"),
                          "event": ALL, "clicks": clicks, "converting_clicks": converting})
    # the per-post funnel is long in the event: a purchase row per post that the default (ALL) must not read
    other = posts.assign(event="purchase", converting_clicks=converting // 2)
    return pd.concat([posts, other], ignore_index=True), variants


@pytest.fixture(scope="module")
def world():
    return simulate(np.random.default_rng(5))


def test_columns_labels_and_attrs(world):
    posts, variants = world
    eff = estimate_conversion_effects(posts, variants, factors=FACTORS)
    assert list(eff.columns) == COLUMNS
    assert COLUMNS == [{"views": "clicks", "engagements": "converting_clicks"}.get(c, c) for c in EFFECT_COLUMNS]
    assert eff.attrs["reason"] == "" and eff.attrs["n_posts"] == 72 and eff.attrs["n_cells"] == 2
    assert eff.attrs["outcome"] == "conversion rate per click" and eff.attrs["event"] == ALL
    assert set(eff["factor"]) == set(FACTORS)
    lib = eff[(eff["factor"] == "cta_style") & (eff["level"] == "link_in_bio")].iloc[0]
    assert lib["label"].startswith("link in bio CTA: +") and "95% interval" in lib["label"]
    assert lib["label"].endswith("conversion rate per click vs. average CTA")
    # the counts are the event's: clicks and converting clicks of the ALL rows, summed per level
    every = posts[posts["event"] == ALL]
    cta = eff[eff["factor"] == "cta_style"]
    assert cta["clicks"].sum() == every["clicks"].sum()
    assert cta["converting_clicks"].sum() == every["converting_clicks"].sum()
    assert (eff["low"] <= eff["effect"]).all() and (eff["effect"] <= eff["high"]).all()
    assert not eff.duplicated(["factor", "level"]).any()
    # another event reads its own rows
    purchases = estimate_conversion_effects(posts, variants, factors=FACTORS, event="purchase")
    assert purchases["converting_clicks"].sum() < eff["converting_clicks"].sum()


def test_intervals_cover_the_planted_effects_in_200_worlds():
    from threadpoolctl import threadpool_limits  # ships with scikit-learn

    rng = np.random.default_rng(2026)
    target = truth()
    covered, right_sign, lib_above_zero = [], [], []
    started = time.perf_counter()
    with threadpool_limits(1):  # tiny matrices: BLAS threads only fight each other (and other processes)
        for _ in range(200):
            posts, variants = simulate(rng)
            eff = estimate_conversion_effects(posts, variants, factors=FACTORS)
            t = np.array([target[k] for k in zip(eff["factor"], eff["level"])])
            covered += list((eff["logit_low"] <= t) & (t <= eff["logit_high"]))
            lib = eff[(eff["factor"] == "cta_style") & (eff["level"] == "link_in_bio")].iloc[0]
            right_sign.append(lib["effect"] > 0)
            lib_above_zero.append(lib["low"] > 0)
    elapsed = time.perf_counter() - started
    rate = float(np.mean(covered))
    print(f"coverage of nominal 95%: {rate:.3f} over {len(covered)} intervals; link_in_bio > 0 in "
          f"{np.mean(right_sign):.3f} of worlds, interval above 0 in {np.mean(lib_above_zero):.3f}; {elapsed:.1f} s")
    assert len(covered) == 200 * 13
    assert 0.90 <= rate <= 0.985, rate
    assert np.mean(right_sign) >= 0.99  # the clear effect (+0.5 logit, ~+55% on the rate) has the right sign
    assert np.mean(lib_above_zero) >= 0.8  # and is told apart from zero in most worlds


def test_hour_bucket_comes_from_live_at(world):
    posts, variants = world
    frame = conversion_posts(posts, variants)
    assert len(frame) == 72 and "hour_bucket" not in frame and "live_at" in frame
    eff = estimate_conversion_effects(posts, variants, factors=("hour_bucket",))
    assert set(eff["level"]) == {"night", "morning", "afternoon", "evening"}


def test_the_gate_is_on_clicks_and_never_on_conversions(world):
    posts, variants = world
    few = posts.assign(clicks=np.minimum(posts["clicks"], MIN_CLICKS - 1))
    eff = estimate_conversion_effects(few, variants, factors=FACTORS)
    assert eff.empty and list(eff.columns) == COLUMNS
    assert "only 0 posts pass the learning gate (clicks >= 20)" in eff.attrs["reason"]
    assert eff.attrs["posts_over_gate"] == 0 and eff.attrs["clicks"] > 0
    # posts without a single conversion stay in: dropping them would select on the outcome
    none = posts["event"].eq(ALL) & posts["idempotency_key"].isin(["k0", "k1", "k2"])
    zeroed = posts.assign(converting_clicks=posts["converting_clicks"].where(~none, 0))
    assert estimate_conversion_effects(zeroed, variants, factors=FACTORS).attrs["n_posts"] == 72


def test_empty_inputs_and_posts_without_factors():
    eff = estimate_conversion_effects(pd.DataFrame(), None)
    assert eff.empty and list(eff.columns) == COLUMNS and eff.attrs["reason"]
    posts, _ = simulate(np.random.default_rng(1))
    # no variants: only the posting time is known
    eff = estimate_conversion_effects(posts, None)
    assert set(eff["factor"]) == {"hour_bucket"} and "cta_style" in eff.attrs["skipped_factors"]
    with pytest.raises(ValueError, match="lacks"):
        conversion_posts(posts.drop(columns=["converting_clicks"]), None)


def test_engagement_remains_the_default_outcome(world):
    # the same frame read as engagement would need views; the defaults have not moved
    posts, variants = world
    frame = conversion_posts(posts, variants).rename(columns={"clicks": "views", "converting_clicks": "engagements"})
    a = estimate_factor_effects(frame, factors=FACTORS, min_trials=MIN_CLICKS)
    b = estimate_conversion_effects(posts, variants, factors=FACTORS)
    np.testing.assert_allclose(a["logit_effect"], b["logit_effect"])
    assert a["label"].str.contains(" engagement vs. average ").all()
    assert estimate_factor_effects(frame, factors=FACTORS).attrs["n_posts"] == 72  # default gate: 100 views
