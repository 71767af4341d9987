import pandas as pd

from actp_pipeline.extract.blueprints import extract_blueprints
from actp_pipeline.extract.learned import predict_factors
from actp_pipeline.creative import FORMATS, variant_id
from actp_pipeline.generate.design import DesignShares
from actp_pipeline.generate.variants import MatrixShape, build_matrix, moderate


def _factors(caption: str) -> dict:
    return predict_factors(pd.Series([caption])).iloc[0].to_dict()


def test_hook_classifier():
    assert _factors("POV: you finally slept")["hook_pattern"] == "pov"
    assert _factors("How to glow in 3 steps")["hook_pattern"] == "how_to"
    assert _factors("73% of people do this wrong")["hook_pattern"] == "stat"
    assert _factors("Why does nobody say this?")["hook_pattern"] == "question"
    assert _factors("Stop washing your face like this")["hook_pattern"] == "bold_claim"
    assert _factors("I tried everything last year")["hook_pattern"] == "story"
    assert _factors("hello")["hook_pattern"] == "unknown"


def test_other_classifiers():
    assert _factors("hook\nbody\nLink in bio for more")["cta_style"] == "link_in_bio"
    assert _factors("hook\nbody\nSave this for later")["cta_style"] == "save"
    assert _factors("hook\n1. a\n2. b\n3. c\nFollow for more")["format"] == "listicle"
    assert _factors('hook\n"It works."\n— Ana\nFollow for more')["format"] == "testimonial"
    assert _factors("hook\nthe secret nobody knows\nFollow for more")["angle"] == "curiosity"


def _items():
    rows = []
    for i in range(40):
        good = i % 2 == 0
        hook = "Why does this work?" if good else "Stop doing this."
        caption = f"{hook}\nThe secret step\nFollow for more"
        rows.append({"item_id": str(i), "platform": "tiktok", "caption": caption, "duration_s": 15.0,
                     "hashtags": ["#skincare", "#glow" if good else "#meh"], "views": 10000,
                     "engagements": 900 if good else 300, "engagement_rate": 0.09 if good else 0.03})
    return pd.DataFrame(rows)


def test_blueprints_rank_what_performs():
    bp, lifts = extract_blueprints(_items())
    assert bp.iloc[0]["hook_pattern"] == "question" and bp.iloc[0]["lift"] > 1
    assert "#glow" in bp.iloc[0]["hashtags"]
    hooks = lifts[lifts["factor"] == "hook_pattern"].set_index("level")["lift"]
    assert hooks["question"] > hooks["bold_claim"]


def test_matrix_is_factorial_stable_and_led_by_blueprints():
    bp, _ = extract_blueprints(_items())
    m1 = build_matrix(bp, topic="skincare", shape=MatrixShape(2, 2, 1, 2))
    m2 = build_matrix(bp, topic="skincare", shape=MatrixShape(2, 2, 1, 2))
    assert len(m1) == 8 and m1["variant_id"].is_unique
    assert list(m1["variant_id"]) == list(m2["variant_id"])
    assert m1.iloc[0]["hook_pattern"] == "question"
    assert set(m1["format"]) <= set(FORMATS)
    assert variant_id("a", "b", "c", "d", 15, "Skincare ") == variant_id("a", "b", "c", "d", 15, "skincare")


def test_measured_factor_effects_steer_the_next_round():
    """What earlier rounds measured reorders the levels: a clearly negative hook falls out of the control
    levels, an untested one (counted as average) gets its chance, the market order breaks ties. (Control
    only here: the old factorial over the top levels; the exploration arms are test_experiment_design's.)"""
    from actp_pipeline.score.factor_effects import generation_weights

    only_control = DesignShares(1.0, 0.0, 0.0)
    bp, _ = extract_blueprints(_items())
    first = build_matrix(bp, topic="skincare", shape=MatrixShape(2, 1, 1, 1), shares=only_control)
    led = first["hook_pattern"].tolist()
    assert len(set(led)) == 2
    effects = pd.DataFrame({"factor": ["hook_pattern", "hook_pattern", "cta_style"], "level": [led[0], led[1], "save"],
                            "effect": [-0.30, 0.25, 0.20], "low": [-0.4, 0.15, 0.1], "high": [-0.2, 0.35, 0.3]})
    nxt = build_matrix(bp, topic="skincare", shape=MatrixShape(2, 1, 1, 1), weights=generation_weights(effects),
                       shares=only_control)
    hooks = nxt["hook_pattern"].tolist()
    assert hooks[0] == led[1] and led[0] not in hooks  # the measured loser is replaced by an untested hook
    assert set(nxt["cta_style"]) == {"save"}
    assert build_matrix(bp, topic="skincare", shape=MatrixShape(2, 1, 1, 1), weights={}, shares=only_control)[
        "variant_id"].tolist() == first["variant_id"].tolist()
    # with the default design the loser still leaves the control, and exploration keeps the round's size
    mixed = build_matrix(bp, topic="skincare", shape=MatrixShape(2, 1, 1, 1), weights=generation_weights(effects))
    assert len(mixed) == 2 and mixed.iloc[0]["hook_pattern"] == led[1] and mixed.iloc[0]["arm"] == "control"


def test_moderation_rejects_banned_claims_and_long_hooks():
    m = build_matrix(pd.DataFrame(), topic="skincare", shape=MatrixShape(1, 1, 1, 1))
    bad = pd.concat([m, m.assign(variant_id="x", caption="A miracle cure!"), m.assign(variant_id="y", hook="h" * 500)])
    out = moderate(bad)
    assert list(out["moderation"]) == ["approved", "rejected", "rejected"]
    assert "miracle" in out.iloc[1]["moderation_reason"] and "500 characters" in out.iloc[2]["moderation_reason"]
