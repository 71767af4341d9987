"""The round's experiment design: arms in the asked shares, the round's size kept, controls from proven
blueprints, exploration one, two or more factors away, balance that keeps factors apart, clear errors."""

import itertools
import math

import pandas as pd
import pytest

from actp_pipeline.creative import FACTOR_LEVELS, variant_id
from actp_pipeline.generate.design import ARMS, DESIGN_FACTORS, DesignShares, plan_round
from actp_pipeline.generate.variants import MatrixShape, build_matrix, build_round
from actp_pipeline.score.factor_effects import generation_weights


def _bp(rows):
    """Blueprints as extract_blueprints writes them (id, factors, length, lift, weight, hashtags)."""
    frame = pd.DataFrame([{"blueprint_id": f"bp_{i}", "hook_pattern": h, "angle": a, "cta_style": c, "format": f,
                           "length_s": 15, "lift": lift, "hashtags": ["#glow"]} for i, (h, a, c, f, lift) in enumerate(rows)])
    frame["weight"] = frame["lift"] / frame["lift"].sum()
    return frame


BLUEPRINTS = [("question", "curiosity", "follow", "text_hook", 1.6), ("question", "pain_point", "save", "listicle", 1.4),
              ("pov", "curiosity", "follow", "listicle", 1.2), ("stat", "urgency", "comment", "testimonial", 0.2)]


def _core(row, design_core) -> int:
    return sum(row[f] not in design_core[f] for f in DESIGN_FACTORS)


def test_default_shares_split_the_default_round_and_keep_its_size():
    r = build_round(pd.DataFrame(), topic="skincare")
    assert len(r.matrix) == 3 * 2 * 2 * 2  # min(product, max_variants): the round's size is unchanged
    assert r.design["rows_asked"] == {"control": 14, "moderate": 6, "aggressive": 4}
    assert r.design["rows_achieved"] == r.design["rows_asked"]
    assert r.design["shares_asked"] == {"control": 0.6, "moderate": 0.25, "aggressive": 0.15}
    assert list(r.matrix["arm"]) == sorted(r.matrix["arm"], key=ARMS.index)  # control rows first
    assert r.matrix["variant_id"].is_unique


@pytest.mark.parametrize("shape", [MatrixShape(1, 1, 1, 1), MatrixShape(2, 1, 1, 1), MatrixShape(1, 1, 1, 2),
                                   MatrixShape(3, 2, 2, 2, max_variants=10), MatrixShape(6, 5, 4, 3, max_variants=10_000),
                                   MatrixShape(9, 9, 9, 9, max_variants=50)])
def test_the_round_has_exactly_min_of_product_and_cap(shape):
    product = math.prod(min(k, len(FACTOR_LEVELS[f])) for k, f in zip(
        (shape.hook_patterns, shape.angles, shape.cta_styles, shape.formats), DESIGN_FACTORS))
    m = build_matrix(pd.DataFrame(), topic="skincare", shape=shape)
    assert len(m) == min(product, shape.max_variants) and m["variant_id"].is_unique


def test_the_whole_vocabulary_leaves_nothing_to_explore_and_says_so():
    r = build_round(pd.DataFrame(), topic="skincare", shape=MatrixShape(6, 5, 4, 3, max_variants=10_000))
    assert len(r.matrix) == 360 and set(r.matrix["arm"]) == {"control"}
    assert r.design["shares_achieved"] == {"control": 1.0, "moderate": 0.0, "aggressive": 0.0}


def test_without_blueprints_the_row_explains_the_control():
    m = build_matrix(pd.DataFrame(), topic="skincare")
    control = m[m["arm"] == "control"]
    assert control["blueprint_id"].isna().all()
    note = control.iloc[0]["design_note"]
    assert "no blueprints yet" in note and "vocabulary's first levels" in note and "hook_pattern question|bold_claim|stat" in note
    assert control.iloc[0][list(DESIGN_FACTORS)].tolist() == ["question", "pain_point", "follow", "text_hook"]
    assert m.loc[m["arm"] == "aggressive", "blueprint_id"].isna().all()  # pure exploration


def test_arms_are_what_they_say_they_are():
    bp = _bp(BLUEPRINTS)
    plan = plan_round(bp, vocabulary=FACTOR_LEVELS, core_levels={"hook_pattern": 2, "angle": 2, "cta_style": 2,
                                                                   "format": 2}, max_variants=16)
    chosen, core = plan.chosen, plan.core
    assert core["hook_pattern"] == ["question", "pov"]  # the market's strongest levels form the control
    out = chosen.apply(lambda r: _core(r, core), axis=1)
    assert (out[chosen["arm"] == "control"] == 0).all()
    assert out[chosen["arm"] == "moderate"].between(1, 2).all()
    aggressive = chosen[chosen["arm"] == "aggressive"]
    assert ((out[aggressive.index] >= 3) | aggressive["blueprint_id"].notna()).all()
    # a blueprint inside the control levels is tested first, under its own id
    assert chosen.iloc[0]["blueprint_id"] == "bp_0" and chosen.iloc[0]["design_note"] == "control: blueprint bp_0"
    # the weak blueprint outside the control levels is a new blueprint: the aggressive arm takes it first
    assert aggressive.iloc[0]["blueprint_id"] == "bp_3" and "new blueprint" in aggressive.iloc[0]["design_note"]
    assert chosen.loc[chosen["arm"] != "aggressive", "blueprint_id"].notna().all()  # every control has its source


def test_control_is_balanced_so_factors_can_be_told_apart():
    """Every pair of factors crosses its levels as evenly as the control's row count allows: no two factors
    move together (aliased), so scoring can separate their effects."""
    m = build_matrix(pd.DataFrame(), topic="skincare")
    control = m[m["arm"] == "control"]
    for a, b in itertools.combinations(DESIGN_FACTORS, 2):
        table = pd.crosstab(control[a], control[b])
        assert table.values.max() - table.values.min() <= 1, (a, b, table)
        assert (table.values > 0).all()


def test_measured_effects_steer_the_control_and_the_exploration():
    effects = pd.DataFrame({"factor": ["hook_pattern", "hook_pattern", "angle"], "level": ["question", "how_to", "urgency"],
                            "effect": [-0.4, 0.3, 0.3], "low": [-0.5, 0.2, 0.2], "high": [-0.3, 0.4, 0.4]})
    r = build_round(pd.DataFrame(), topic="skincare", weights=generation_weights(effects))
    m = r.matrix
    control = m[m["arm"] == "control"]
    assert "question" not in set(control["hook_pattern"]) and "how_to" in set(control["hook_pattern"])
    assert "urgency" in set(control["angle"])
    assert "the levels ranked first by measured effect" in control.iloc[0]["design_note"]
    # the measured loser is the least explored hook outside the control
    explore = m[m["arm"] != "control"]["hook_pattern"].value_counts()
    assert explore.get("question", 0) <= explore.min()


def test_ids_are_stable_and_carry_their_factors():
    a = build_matrix(_bp(BLUEPRINTS), topic="skincare")
    b = build_matrix(_bp(BLUEPRINTS), topic="skincare")
    assert a["variant_id"].tolist() == b["variant_id"].tolist()
    r = a.iloc[5]
    assert r["variant_id"] == variant_id(r["hook_pattern"], r["angle"], r["cta_style"], r["format"], r["length_s"],
                                         "skincare")


def test_shares_are_configurable_and_validated():
    r = build_round(pd.DataFrame(), topic="skincare", shares=DesignShares(0.5, 0.5, 0.0))
    assert r.design["rows_achieved"] == {"control": 12, "moderate": 12, "aggressive": 0}
    with pytest.raises(ValueError, match=r"design shares must sum to 1: control 0.6 \+ moderate 0.3 \+ aggressive 0.15 = 1.05"):
        DesignShares(0.6, 0.3, 0.15)
    with pytest.raises(ValueError, match="within"):
        DesignShares(1.2, -0.2, 0.0)
    assert DesignShares().counts(7) == {"control": 4, "moderate": 2, "aggressive": 1}
    assert sum(DesignShares().counts(1001).values()) == 1001


def test_loop_settings_carry_the_shares_from_the_environment():
    from resources.loop import LoopSettings, loop_from_env

    assert LoopSettings().design_shares() == DesignShares()
    loop = loop_from_env({"ACTP_LOOP_DESIGN_CONTROL_SHARE": "0.5", "ACTP_LOOP_DESIGN_MODERATE_SHARE": "0.3",
                          "ACTP_LOOP_DESIGN_AGGRESSIVE_SHARE": "0.2"})
    assert loop.design_shares() == DesignShares(0.5, 0.3, 0.2)
    with pytest.raises(ValueError, match="ACTP_LOOP_DESIGN_AGGRESSIVE_SHARE: .*must sum to 1"):
        loop_from_env({"ACTP_LOOP_DESIGN_CONTROL_SHARE": "0.9"})
