"""What changed since the last round: new and dropped queries, weights that moved, and the effect behind them."""

import pandas as pd
import pytest

from actp_pipeline.iterate.research_queries import next_round
from actp_pipeline.iterate.round_changes import (CHANGE_COLUMNS, WEIGHT_MOVE, changes_summary, round_changes)

PLATFORMS = ["tiktok"]


def _effects(effects=None):
    effects = effects or {}
    return pd.DataFrame([{"factor": f, "level": lv, "effect": e, "low": e - 0.1, "high": e + 0.1, "interval_level": 0.95,
                          "n_posts": 40} for (f, lv), e in effects.items()])


def _winners(*pairs):
    return pd.DataFrame([{"platform": "tiktok", "account": "main", "variant_id": f"v_{h}_{a}", "hook_pattern": h,
                          "angle": a} for h, a in pairs])


def _round(winners, effects):
    return next_round(winners, effects, None, None, "skincare", PLATFORMS)


def test_new_and_dropped_queries_and_moved_weights_with_their_effect():
    before = _round(_winners(("question", "pain_point"), ("pov", "urgency")),
                    _effects({("hook_pattern", "question"): 0.0, ("hook_pattern", "pov"): 0.0}))
    effects = _effects({("hook_pattern", "question"): 0.3, ("hook_pattern", "pov"): -0.2})
    after = _round(_winners(("question", "pain_point"), ("story", "transformation")), effects)
    changes = round_changes(before, after, effects)
    assert list(changes.columns) == CHANGE_COLUMNS
    texts = {kind: set(r.loc[r["kind"] == "research_query", "text"]) for kind, r in (("before", before), ("after", after))}
    new = changes[changes["change"] == "new_query"]
    dropped = changes[changes["change"] == "dropped_query"]
    assert set(new["text"]) == texts["after"] - texts["before"] and len(new)
    assert set(dropped["text"]) == texts["before"] - texts["after"] and len(dropped)
    assert new["why"].str.startswith("winner v_story_transformation of this round (").all()
    assert dropped["why"].str.contains("v_pov_urgency of the last round").all()
    moved = changes[changes["change"].str.startswith("weight")]
    weights = moved[moved["factor"] == "hook_pattern"].set_index("level")
    assert weights.loc["question", "change"] == "weight_up" and weights.loc["question", "delta"] > WEIGHT_MOVE
    assert weights.loc["question", "why"].startswith("effect +30% (95%: +20% .. +40%), 40 posts")
    assert weights.loc["pov", "change"] == "weight_down"
    assert (changes.loc[changes["delta"].notna(), "delta"].abs() > WEIGHT_MOVE).all()
    assert "new query" in changes_summary(changes, first_round=False)


def test_an_unchanged_round_and_small_moves_report_nothing():
    effects = _effects({("hook_pattern", "question"): 0.3})
    rows = _round(_winners(("question", "pain_point")), effects)
    assert round_changes(rows, rows, effects).empty
    nudged = _round(_winners(("question", "pain_point")), _effects({("hook_pattern", "question"): 0.31}))
    assert round_changes(rows, nudged, effects).empty  # a point of effect moves a weight less than WEIGHT_MOVE
    assert round_changes(rows, nudged, effects, min_move=0.0)["change"].eq("weight_up").any()
    assert changes_summary(round_changes(rows, rows), first_round=False).startswith("no new or dropped")


def test_first_round_is_all_new_and_bad_threshold_is_refused():
    effects = _effects({("hook_pattern", "question"): 0.1})
    rows = _round(_winners(("question", "pain_point")), effects)
    changes = round_changes(None, rows, effects)
    assert set(changes["change"]) == {"new_query", "new_level"}
    assert changes_summary(changes, first_round=True).startswith("first round")
    why = changes[changes["change"] == "new_level"].set_index(["factor", "level"])["why"]
    assert why[("hook_pattern", "question")].startswith("effect +10%")
    assert why[("angle", "pain_point")].startswith("not tested yet")
    assert round_changes(None, rows)["why"].dropna().str.contains("no factor effect|winner").all()
    with pytest.raises(ValueError, match="min_move"):
        round_changes(rows, rows, min_move=-1)


def test_the_asset_metadata_says_what_changed(tmp_path):
    import dagster as dg

    from assets.research_queries import research_queries
    from resources import LoopSettings, StoreResource

    store = StoreResource(data_dir=str(tmp_path))
    wh = store.warehouse()
    wh.write("winners", _winners(("question", "pain_point")))
    wh.write("factor_effects", _effects({("hook_pattern", "question"): 0.3}))
    assert dg.materialize([research_queries], resources={"store": store, "loop": LoopSettings()}).success
    wh.write("winners", _winners(("question", "pain_point"), ("story", "transformation")))
    wh.write("factor_effects", _effects({("hook_pattern", "question"): -0.3}))
    result = dg.materialize([research_queries], resources={"store": store, "loop": LoopSettings()})
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert "new query" in meta["what_changed"].value and "weight down" in meta["what_changed"].value
    assert "v_story_transformation" in meta["changes_since_last_round"].value
