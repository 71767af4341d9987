"""Lineage: market item -> blueprint -> variant -> post -> score, both ways, and before the links exist."""

import datetime as dt

import pandas as pd
import pytest
from click.testing import CliRunner

from actp_pipeline.cli import actp
from actp_pipeline.iterate.lineage import COLUMNS, lineage
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.warehouse import Warehouse

T0 = dt.datetime(2026, 6, 2, 9, 0)


def _items(day, ids):
    return pd.DataFrame([{"item_id": i, "platform": "tiktok", "author": f"@{i}", "url": f"https://t.example/{i}",
                          "hashtags": ["#skincare"], "views": 1000, "engagements": 50, "engagement_rate": 0.05,
                          "collected_for": day} for i in ids])


@pytest.fixture
def world(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    wh = Warehouse(data / "warehouse")
    engine = connect_store(f"sqlite:///{data / 'store.db'}")
    wh.write("market_items", _items("2026-06-01", ["m1", "m2"]), partition="2026-06-01")
    wh.write("market_items", _items("2026-06-02", ["m3", "m4"]), partition="2026-06-02")
    wh.write("blueprints", pd.DataFrame({"blueprint_id": ["bp1", "bp2"], "hook_pattern": ["question", "pov"],
                                         "evidence_item_ids": [["m1", "m3"], ["m2", "m3"]]}))
    wh.write("variants", pd.DataFrame({"variant_id": ["v1", "v2", "v3"], "round_id": ["r1", "r1", "r1"],
                                       "blueprint_id": ["bp1", "bp2", "bp2"], "hook_pattern": ["question", "pov", "pov"]}))
    with engine.begin() as conn:
        conn.execute(schema.posts.insert(), [
            {"idempotency_key": f"k-{v}-{a}", "variant_id": v, "platform": "tiktok", "account": a,
             "external_id": f"ext-{v}-{a}", "url": f"https://tiktok.example/{v}/{a}", "live_at": T0, "posted_at": T0}
            for v, a in (("v1", "main"), ("v1", "second"), ("v2", "main"))])
    wh.write("scores", pd.DataFrame({
        "post_id": ["ext-v1-main", "ext-v1-second"], "variant_id": ["v1", "v1"], "platform": ["tiktok", "tiktok"],
        "account": ["main", "second"], "idempotency_key": ["k-v1-main", "k-v1-second"], "views": [900, 1200],
        "er_mean": [0.06, 0.04], "er_low": [0.05, 0.03], "er_high": [0.07, 0.05], "p_best": [0.8, 0.2],
        "score": [0.9, 0.4], "status": ["scored", "scored"]}))
    return wh, engine, data


def test_a_variant_leads_back_to_its_items_and_on_to_its_scores(world):
    wh, engine, _ = world
    out = lineage(wh, engine, variant_id="v1")
    assert list(out.columns) == COLUMNS and out.attrs["notes"] == []
    assert set(out["blueprint_id"]) == {"bp1"} and set(out["item_id"]) == {"m1", "m3"}
    assert len(out) == 4  # 2 items x 2 posts
    by_post = out.drop_duplicates("external_id").set_index("account")
    assert by_post.loc["main", "score"] == 0.9 and by_post.loc["second", "er_mean"] == 0.04
    assert set(out["item_day"]) == {"2026-06-01", "2026-06-02"}


def test_a_market_item_leads_to_every_variant_it_informed(world):
    wh, engine, _ = world
    out = lineage(wh, engine, item_id="m3")
    assert set(out["blueprint_id"]) == {"bp1", "bp2"} and set(out["variant_id"]) == {"v1", "v2", "v3"}
    v2 = out[out["variant_id"] == "v2"]
    assert v2["external_id"].tolist() == ["ext-v2-main"] and v2["score"].isna().all()  # posted, not scored yet
    assert out[out["variant_id"] == "v3"]["external_id"].isna().all()  # not posted
    assert lineage(wh, engine, item_id="nope").empty


def test_before_the_link_columns_exist_it_is_empty_with_a_note(tmp_path, world):
    wh, engine, _ = world
    old = Warehouse(tmp_path / "old")
    old.write("blueprints", pd.DataFrame({"blueprint_id": ["bp1"], "hook_pattern": ["question"]}))
    old.write("variants", pd.DataFrame({"variant_id": ["v1"], "round_id": ["r1"]}))
    out = lineage(old, engine, item_id="m1")
    assert out.empty and list(out.columns) == COLUMNS
    assert any("evidence_item_ids" in n for n in out.attrs["notes"])
    partial = lineage(old, engine, variant_id="v1")  # posts still found; the blueprint is unknown
    assert partial["blueprint_id"].isna().all() and set(partial["external_id"]) == {"ext-v1-main", "ext-v1-second"}
    assert any("blueprint_id" in n for n in partial.attrs["notes"])
    assert lineage(Warehouse(tmp_path / "none"), engine, variant_id="v1").empty
    with pytest.raises(ValueError, match="exactly one"):
        lineage(wh, engine)


def test_cli_prints_a_tree(world, monkeypatch):
    _, _, data = world
    monkeypatch.delenv("ACTP_DATABASE_URL", raising=False)
    result = CliRunner().invoke(actp, ["--data-dir", str(data), "lineage", "v1"])
    assert result.exit_code == 0, result.output
    for text in ("variant v1", "blueprint bp1", "market item m1", "post tiktok:main ext-v1-main", "score 0.900"):
        assert text in result.output
    result = CliRunner().invoke(actp, ["--data-dir", str(data), "lineage", "--item", "m2"])
    assert result.exit_code == 0 and "variant v2" in result.output and "not scored yet" in result.output
    assert CliRunner().invoke(actp, ["--data-dir", str(data), "lineage"]).exit_code != 0
