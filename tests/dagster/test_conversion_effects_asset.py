"""conversion_effects materialized with dg.materialize: from a warehouse holding a simulated attribution_posts
(known conversion effects) and variants, and after the attribution multi-asset on a store with a few clicks."""

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from actp_pipeline.attribution.conversion_effects import COLUMNS
from assets.attribution import attribution
from assets.factor_effects import conversion_effects, conversion_effects_consistent
from resources import AdsResource, PlatformResource, StoreResource

# attribution reads the ads' spend behind paid links from the ads platform; none answers here (no token, port 9):
# the spend is unknown and the run goes on
NO_ADS = {"ads": AdsResource(base_url="http://127.0.0.1:9"), "platform": PlatformResource(base_url="http://127.0.0.1:9")}
from tests.core.test_conversion_effects import simulate
from tests.dagster.test_attribution_asset import _fill


@pytest.fixture
def store(tmp_path):
    return StoreResource(data_dir=str(tmp_path / "data"))


def test_it_reads_conversions_per_post_by_factor(store):
    posts, variants = simulate(np.random.default_rng(3), n_creatives=32)
    wh = store.warehouse()
    wh.write("attribution_posts", posts)
    wh.write("variants", variants)
    with dg.instance_for_test() as instance:
        result = dg.materialize([conversion_effects, conversion_effects_consistent], resources={"store": store, **NO_ADS},
                                instance=instance)
    assert result.success
    assert [(e.check_name, e.passed) for e in result.get_asset_check_evaluations()] == \
        [("conversion_effects_consistent", True)]
    effects = wh.read("conversion_effects")
    assert list(effects.columns) == COLUMNS and not effects.duplicated(["factor", "level"]).any()
    assert set(effects["factor"]) >= {"cta_style", "hook_pattern", "format", "hour_bucket"}
    cta = effects[effects["factor"] == "cta_style"].set_index("level")
    assert cta["effect"].idxmax() == "link_in_bio" and cta.loc["link_in_bio", "low"] > 0  # planted +0.5 logit
    meta = result.asset_materializations_for_node("conversion_effects")[0].metadata
    findings = meta["findings"].value
    assert findings.startswith("- link in bio CTA: +") and "conversion rate per click vs. average CTA" in findings
    assert "95% interval" in findings and "reason" not in meta
    assert meta["posts_read"].value == 96 and meta["clicks"].value == int(posts.loc[posts["event"] == "*",
                                                                                      "clicks"].sum())
    assert "per click" in meta["what_the_numbers_mean"].value and meta["dagster/row_count"].value == len(effects)


def test_too_few_clicks_is_an_empty_table_with_a_reason(store):
    _fill(store)  # three posts, six human clicks in all
    with dg.instance_for_test() as instance:
        result = dg.materialize([attribution, conversion_effects, conversion_effects_consistent],
                                resources={"store": store, **NO_ADS}, instance=instance)
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    effects = store.warehouse().read("conversion_effects")
    assert effects.empty and list(effects.columns) == COLUMNS
    meta = result.asset_materializations_for_node("conversion_effects")[0].metadata
    reason = meta["reason"].value
    assert "clicks >= 20" in reason and "0 of 3 posts have 20+ clicks; 6 clicks in all" in reason
    assert "findings" not in meta


def test_an_empty_warehouse_is_readable(store):
    with dg.instance_for_test() as instance:
        result = dg.materialize([conversion_effects, conversion_effects_consistent], resources={"store": store, **NO_ADS},
                                instance=instance)
    assert result.success
    meta = result.asset_materializations_for_node("conversion_effects")[0].metadata
    assert meta["reason"].value == "no per-post funnel yet (attribution_posts)"
    assert list(store.warehouse().read("conversion_effects").columns) == COLUMNS


def test_it_follows_attribution_posts(store):
    defs = dg.Definitions(assets=[attribution, conversion_effects], resources={"store": store, **NO_ADS})
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.get_num_requested(dg.AssetKey("conversion_effects")) == 0
        for key in ("posts", "variants", "attribution", "attribution_factors", "attribution_posts"):
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert second.get_num_requested(dg.AssetKey("conversion_effects")) == 1


def test_the_check_passes_on_an_empty_table_and_fails_an_effect_outside_its_interval(store):
    store.warehouse().write("conversion_effects", pd.DataFrame(columns=COLUMNS))
    assert conversion_effects_consistent(store=store).passed
    bad = pd.DataFrame([{c: None for c in COLUMNS} | {"factor": "cta_style", "level": "save", "effect": 0.5,
                                                       "low": -0.1, "high": 0.2}])
    store.warehouse().write("conversion_effects", bad)
    verdict = conversion_effects_consistent(store=store)
    assert not verdict.passed and verdict.metadata["outside_interval"].value == 1
