import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actp_pipeline.score.factor_effects import (EFFECT_COLUMNS, LEVELS, _gls, effect_label, estimate_factor_effects,
                                          generation_weights, hour_bucket, prepare_posts)

# planted effects on the logit of the engagement rate
HOOK = {"question": 0.25, "bold_claim": -0.15, "stat": 0.0, "story": 0.10, "pov": -0.05, "how_to": -0.15}
CTA = {"follow": 0.0, "link_in_bio": -0.10, "comment": 0.15, "save": 0.0}
FORMAT_MIX = {  # format has no effect, but listicles are mostly posted in the high-baseline cell
    ("tiktok", "main"): {"text_hook": 0.45, "listicle": 0.15, "testimonial": 0.40},
    ("instagram", "brand"): {"text_hook": 0.15, "listicle": 0.70, "testimonial": 0.15},
}
BASELINE = {("tiktok", "main"): -3.0, ("instagram", "brand"): -2.2}  # ~4.7% vs ~10% engagement
EVENING_BOOST = 0.10  # planted posting-time effect (evening vs other hours)


def simulate(n=400, seed=0, post_noise=0.05):
    rng = np.random.default_rng(seed)
    cells = list(BASELINE)
    rows = []
    for i in range(n):
        cell = cells[i % 2]
        hook, cta = rng.choice(list(HOOK)), rng.choice(list(CTA))
        mix = FORMAT_MIX[cell]
        fmt = rng.choice(list(mix), p=list(mix.values()))
        live_at = pd.Timestamp("2026-01-05") + pd.Timedelta(hours=int(rng.integers(0, 24 * 14)))
        views = int(rng.lognormal(8.5, 0.8)) + 100
        logit = (BASELINE[cell] + HOOK[hook] + CTA[cta] + (EVENING_BOOST if live_at.hour >= 18 else 0.0)
                 + rng.normal(0, post_noise))
        eng = int(rng.binomial(views, 1 / (1 + np.exp(-logit))))
        rows.append({"post_id": f"p{i}", "variant_id": f"v{i}", "platform": cell[0], "account": cell[1],
                     "views": views, "engagements": eng, "engagement_rate": eng / views, "live_at": live_at,
                     "hook_pattern": hook, "angle": rng.choice(["pain_point", "curiosity"]), "cta_style": cta,
                     "format": fmt, "length_s": int(rng.choice([9, 15, 24]))})
    return pd.DataFrame(rows)


def centred(planted):
    mean = np.mean(list(planted.values()))
    return {k: v - mean for k, v in planted.items()}


@pytest.fixture(scope="module")
def sim():
    return simulate()


@pytest.fixture(scope="module")
def effects(sim):
    return estimate_factor_effects(sim)


def by_level(effects, factor):
    return effects[effects["factor"] == factor].set_index("level")


def test_shape_and_labels(effects):
    assert list(effects.columns) == EFFECT_COLUMNS
    assert effects.attrs["reason"] == "" and effects.attrs["n_cells"] == 2 and effects.attrs["n_posts"] == 400
    assert set(effects["factor"]) == {"hook_pattern", "angle", "cta_style", "format", "length_bucket", "hour_bucket"}
    assert (effects["low"] <= effects["effect"]).all() and (effects["effect"] <= effects["high"]).all()
    q = by_level(effects, "hook_pattern").loc["question"]
    assert q["label"].startswith("question hooks: +") and q["label"].endswith("engagement vs. average hook")
    assert "(± " in q["label"] and "95% interval" in q["label"]  # the default level, in every label
    assert effects.attrs["level"] == 0.95 and (effects["interval_level"] == 0.95).all()
    assert effects["label"].str.contains("95% interval", regex=False).all()
    # lengths and hours were derived from length_s and live_at
    assert set(by_level(effects, "length_bucket").index) == {"short", "medium", "long"}
    assert set(by_level(effects, "hour_bucket").index) == {"night", "morning", "afternoon", "evening"}
    assert by_level(effects, "hook_pattern")["n_posts"].sum() == 400


def test_planted_effects_have_right_sign_and_order(effects):
    hooks = by_level(effects, "hook_pattern")
    assert hooks["effect"].idxmax() == "question"
    assert hooks.loc["question", "low"] > 0 and hooks.loc["story", "low"] > 0
    assert hooks.loc["bold_claim", "high"] < 0 and hooks.loc["how_to", "high"] < 0
    truth = centred(HOOK)
    order = sorted(truth, key=truth.get)
    est = hooks.loc[order, "logit_effect"].to_numpy()
    assert np.corrcoef(est, [truth[k] for k in order])[0, 1] > 0.95
    # magnitudes: the lift of question hooks is about exp(0.25) - 1 = +28% on a ~7% rate
    assert 0.18 < hooks.loc["question", "effect"] < 0.36
    ctas = by_level(effects, "cta_style")
    assert ctas["effect"].idxmax() == "comment" and ctas["effect"].idxmin() == "link_in_bio"
    hours = by_level(effects, "hour_bucket")
    assert hours["effect"].idxmax() == "evening" and hours.loc["evening", "low"] > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_intervals_cover_planted_values(seed):
    eff = estimate_factor_effects(simulate(seed=seed))
    truth = {("hook_pattern", k): v for k, v in centred(HOOK).items()}
    truth |= {("cta_style", k): v for k, v in centred(CTA).items()}
    truth |= {("format", k): 0.0 for k in LEVELS["format"]}
    truth |= {("angle", k): 0.0 for k in ("pain_point", "curiosity")}
    truth |= {("length_bucket", k): 0.0 for k in LEVELS["length_bucket"]}
    rows = eff[[(f, lv) in truth for f, lv in zip(eff["factor"], eff["level"])]]
    t = np.array([truth[(f, lv)] for f, lv in zip(rows["factor"], rows["level"])])
    covered = (rows["logit_low"] <= t) & (t <= rows["logit_high"])
    assert len(rows) == 18 and covered.mean() >= 0.8


def test_cell_baseline_is_not_credited_to_a_partially_confounded_factor(sim, effects):
    # naive pooled rates make listicles look far better: they are mostly posted in the 10% cell
    pooled = sim.groupby("format")[["engagements", "views"]].sum()
    naive = pooled["engagements"] / pooled["views"]
    assert naive["listicle"] / naive[["text_hook", "testimonial"]].mean() > 1.25
    fmt = by_level(effects, "format")
    assert (fmt["effect"].abs() < 0.03).all()
    assert ((fmt["low"] <= 0) & (fmt["high"] >= 0)).all()


def test_one_huge_post_does_not_dominate(sim):
    # a viral bold-claim post with a freak engagement rate (20%) and ~400x the views of a typical post
    freak = sim.iloc[[0]].assign(post_id="viral", hook_pattern="bold_claim", views=2_000_000, engagements=400_000)
    with_freak = pd.concat([sim, freak], ignore_index=True)

    def shift(post_noise):
        kw = {} if post_noise is None else {"post_noise": post_noise, "creative_sd": 0.0}
        before = estimate_factor_effects(sim, **kw)
        after = estimate_factor_effects(with_freak, **kw)
        return (by_level(after, "hook_pattern").loc["bold_claim", "logit_effect"]
                - by_level(before, "hook_pattern").loc["bold_claim", "logit_effect"]), after

    capped, eff = shift(None)  # post and creative variances estimated: they cap every post's weight
    assert capped < 0.08 and by_level(eff, "hook_pattern")["effect"].idxmax() == "question"
    capped, eff = shift(0.05)  # the post variance alone caps it too
    assert capped < 0.08 and by_level(eff, "hook_pattern")["effect"].idxmax() == "question"
    uncapped, eff = shift(0.001)  # (almost) pure binomial weights: the one post takes over its level
    assert uncapped > 0.3 and by_level(eff, "hook_pattern")["effect"].idxmax() == "bold_claim"


def test_thin_levels_get_wide_intervals_not_errors(sim):
    # a level seen in exactly one post (of a creative of its own)
    lone = sim.iloc[[1]].assign(hook_pattern="mystery", post_id="x1", variant_id="x1")
    eff = estimate_factor_effects(pd.concat([sim, lone], ignore_index=True))
    hooks = by_level(eff, "hook_pattern")
    assert hooks.loc["mystery", "n_posts"] == 1 and hooks.loc["mystery", "n_creatives"] == 1
    widths = hooks["logit_high"] - hooks["logit_low"]
    assert np.isfinite(widths).all()
    assert widths["mystery"] > 3 * widths.drop("mystery").max()
    # no shrinkage: the estimate is what the post says (its planted hook), and the wide interval holds it
    planted = HOOK[sim.iloc[1]["hook_pattern"]]
    truth = planted - (sum(HOOK.values()) + planted) / (len(HOOK) + 1)  # relative to the 7 levels' average
    assert hooks.loc["mystery", "logit_low"] <= truth <= hooks.loc["mystery", "logit_high"]
    assert abs(hooks.loc["mystery", "logit_effect"] - truth) < 0.3


def test_tiny_data_returns_empty_with_reason(sim):
    eff = estimate_factor_effects(sim.head(5))
    assert eff.empty and list(eff.columns) == EFFECT_COLUMNS
    assert "only 5 posts" in eff.attrs["reason"]
    # the learning gate is on views only: posts below 100 views do not count
    gated = estimate_factor_effects(sim.head(20).assign(views=50, engagements=5))
    assert gated.empty and "views >= 100" in gated.attrs["reason"]
    assert estimate_factor_effects(pd.DataFrame()).attrs["reason"]


def test_small_data_and_missing_factor_columns(sim):
    # no variants join: only the posting time is known
    eff = estimate_factor_effects(sim.head(12)[["platform", "account", "views", "engagements", "live_at"]])
    assert eff.attrs["reason"] == "" and set(eff["factor"]) == {"hour_bucket"}
    assert "hook_pattern" in eff.attrs["skipped_factors"]
    one_level = sim.head(30).assign(hook_pattern="question")
    eff = estimate_factor_effects(one_level, factors=("hook_pattern",))
    assert eff.empty and "two observed levels" in eff.attrs["reason"]


def test_gls_is_the_mixed_model_from_its_definition():
    # _gls (Sherman-Morrison per creative, never forming V) == GLS written out with the dense covariance
    # V = diag(binom + s2) + tau2 Z Z', free cell intercepts and a penalty on the factor columns only;
    # its REML criterion == 0.5 (log|V| + log|X'V^-1X + P| + r'V^-1 r)
    rng = np.random.default_rng(3)
    n, p, n_cells, tau2, s2 = 60, 4, 3, 0.09, 0.02
    groups = np.sort(rng.integers(0, 20, size=n))
    groups = np.unique(groups, return_inverse=True)[1]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    cells = rng.integers(0, n_cells, size=n)
    X = np.hstack([np.eye(n_cells)[cells], rng.choice([-1.0, 0.0, 1.0], size=(n, p))])
    y, binom = rng.normal(size=n) + cells, rng.uniform(0.01, 0.5, size=n)
    penalty = np.diag(np.r_[np.zeros(n_cells), np.full(p, 0.3)])
    fit = _gls(X, y, binom, starts, tau2, s2, penalty)
    Z = np.eye(groups.max() + 1)[groups]
    V = np.diag(binom + s2) + tau2 * Z @ Z.T
    Vi = np.linalg.inv(V)
    A = X.T @ Vi @ X + penalty
    coef = np.linalg.solve(A, X.T @ Vi @ y)
    np.testing.assert_allclose(fit.coef, coef, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fit.cov, np.linalg.inv(A), rtol=1e-8, atol=1e-12)
    r = y - X @ coef
    reml = 0.5 * (np.linalg.slogdet(V)[1] + np.linalg.slogdet(A)[1] + r @ Vi @ r)
    assert fit.reml == pytest.approx(reml, rel=1e-9)


def test_prepare_posts_derives_buckets():
    df = pd.DataFrame({"platform": ["tiktok"] * 3, "account": ["a"] * 3, "views": [500, 500, 50],
                       "likes": [10, 5, 1], "comments": [1, 0, 0],
                       "live_at": pd.to_datetime(["2026-01-01 03:00", "2026-01-01 20:30", "2026-01-01 12:00"]),
                       "length_s": [9, 30, 15]})
    out = prepare_posts(df)
    assert list(out["engagements"]) == [11, 5]  # the 50-view post is below the gate
    assert list(out["hour_bucket"]) == ["night", "evening"] and list(out["length_bucket"]) == ["short", "long"]
    assert [hour_bucket(h) for h in (0, 6, 12, 18, 23)] == ["night", "morning", "afternoon", "evening", "evening"]


def test_generation_weights_follow_effects(effects):
    weights = generation_weights(effects)
    hooks = weights["hook_pattern"]
    assert max(hooks, key=hooks.get) == "question" and min(hooks, key=hooks.get) in ("bold_claim", "how_to")
    assert set(hooks) == set(LEVELS["hook_pattern"])
    # untested angles keep the weight of an average level
    angles = weights["angle"]
    assert set(angles) == set(LEVELS["angle"])
    assert angles["urgency"] == pytest.approx(angles["social_proof"])
    # a hotter temperature flattens, a colder one sharpens
    cold, hot = generation_weights(effects, temperature=0.05), generation_weights(effects, temperature=5.0)
    assert cold["hook_pattern"]["question"] > hooks["question"] > hot["hook_pattern"]["question"]


def test_generation_weights_without_evidence_are_uniform():
    empty = estimate_factor_effects(pd.DataFrame())
    weights = generation_weights(empty)
    assert set(weights) == {"hook_pattern", "angle", "cta_style", "format", "length_bucket"}
    for levels in weights.values():
        assert np.allclose(list(levels.values()), 1 / len(levels))


@settings(max_examples=60, deadline=None)
@given(effects=st.lists(st.floats(-0.9, 3.0), min_size=1, max_size=8),
       temperature=st.floats(0.01, 5.0), floor=st.floats(0.0, 0.5))
def test_weights_respect_floor_and_sum_to_one(effects, temperature, floor):
    frame = pd.DataFrame({"factor": "hook_pattern", "level": [f"l{i}" for i in range(len(effects))], "effect": effects})
    levels = {"hook_pattern": tuple(frame["level"])}
    w = generation_weights(frame, temperature=temperature, floor=floor, levels=levels)["hook_pattern"]
    values = np.array(list(w.values()))
    assert values.sum() == pytest.approx(1.0)
    assert (values >= min(floor, 1 / len(values)) - 1e-12).all()
    best = frame["level"][int(np.argmax(effects))]
    assert w[best] == pytest.approx(values.max())


def test_level_is_in_labels_columns_and_attrs(sim, effects):
    assert effect_label("hook_pattern", "question", 0.18, 0.12, 0.24, 0.9) == \
        "question hooks: +18% (± 6%, 90% interval) engagement vs. average hook"
    assert "97.5% interval" in effect_label("format", "listicle", 0.0, -0.1, 0.1, 0.975)
    eff80 = estimate_factor_effects(sim, level=0.80)
    assert eff80.attrs["level"] == 0.80 and (eff80["interval_level"] == 0.80).all()
    assert eff80["label"].str.contains("80% interval", regex=False).all()
    assert not eff80["label"].str.contains("95%", regex=False).any()
    # same fit, narrower interval: only the quantile changed
    a, b = by_level(eff80, "hook_pattern"), by_level(effects, "hook_pattern")
    np.testing.assert_allclose(a["logit_effect"], b.loc[a.index, "logit_effect"])
    assert ((a["logit_high"] - a["logit_low"]) < (b.loc[a.index, "logit_high"] - b.loc[a.index, "logit_low"])).all()
    assert estimate_factor_effects(pd.DataFrame(), level=0.9).attrs["level"] == 0.9  # also when empty
    with pytest.raises(ValueError):
        estimate_factor_effects(sim, level=90)


def simulate_factorial(rng, n_creatives=16, posts_per_creative=3, creative_sd=0.3):
    """A factorial round: 3 factors (2, 2, 4 levels) balanced over the creatives, planted logit effects, a
    creative random effect, `posts_per_creative` posts of each creative with 5,000-50,000 views."""
    sizes = (2, 2, 4)
    planted = {f: rng.permutation(np.linspace(-0.25, 0.25, k)) for f, k in zip(("hook_pattern", "cta_style", "format"), sizes)}
    design = {f: rng.permutation(np.resize(np.arange(len(v)), n_creatives)) for f, v in planted.items()}
    logit = -3.0 + rng.normal(0, creative_sd, n_creatives) + sum(planted[f][design[f]] for f in planted)
    rows = []
    for c in range(n_creatives):
        for j in range(posts_per_creative):
            views = int(rng.integers(5_000, 50_000))
            eng = int(rng.binomial(views, 1 / (1 + np.exp(-(logit[c] + rng.normal(0, 0.05))))))
            rows.append({"post_id": f"p{c}-{j}", "variant_id": f"c{c}", "platform": "tiktok", "account": "main",
                         "views": views, "engagements": eng, **{f: f"l{design[f][c]}" for f in planted}})
    truth = {(f, f"l{i}"): float(v) for f, values in planted.items() for i, v in enumerate(values)}
    return pd.DataFrame(rows), truth


def coverage(worlds, **kwargs):
    covered = []
    for frame, truth in worlds:
        eff = estimate_factor_effects(frame, factors=("hook_pattern", "cta_style", "format"), level=0.90, **kwargs)
        t = np.array([truth[k] for k in zip(eff["factor"], eff["level"])])
        covered += list((eff["logit_low"] <= t) & (t <= eff["logit_high"]))
    return float(np.mean(covered))


def test_intervals_account_for_posts_of_one_creative_being_correlated():
    # 3 posts per creative share its random effect: they are not 3 independent pieces of evidence
    rng = np.random.default_rng(7)
    worlds = [simulate_factorial(rng) for _ in range(60)]  # 60 worlds x 8 levels = 480 intervals
    assert 0.85 <= coverage(worlds) <= 0.95  # nominal 90%
    # the naive model (posts independent, their variance still estimated) covers far less
    assert coverage(worlds, creative_sd=0.0) < 0.75


def test_extreme_levels_are_not_shrunk():
    # the old ridge pulled the extreme levels ~17% toward the average at demo size; now within a few %
    rng = np.random.default_rng(11)
    ratios = []
    for _ in range(60):
        frame, truth = simulate_factorial(rng, posts_per_creative=2)
        eff = estimate_factor_effects(frame, factors=("hook_pattern", "cta_style", "format"))
        for f, lv, est in zip(eff["factor"], eff["level"], eff["logit_effect"]):
            if abs(truth[(f, lv)]) == 0.25:
                ratios.append(est / truth[(f, lv)])
    assert abs(np.mean(ratios) - 1) < 0.05, np.mean(ratios)
