import os

import pandas as pd
import pytest

from actp_pipeline.store.warehouse import Warehouse


def test_write_read_partitions_and_query(tmp_path):
    wh = Warehouse(tmp_path)
    wh.write("market_items", pd.DataFrame({"a": [1, 2]}), partition="2026-01-01")
    wh.write("market_items", pd.DataFrame({"a": [3]}), partition="2026-01-02")
    assert wh.partitions("market_items") == ["2026-01-01", "2026-01-02"]
    assert sorted(wh.read("market_items")["a"]) == [1, 2, 3]
    assert list(wh.read("market_items", partitions=["2026-01-02"])["a"]) == [3]
    out = wh.query("SELECT sum(a) AS s FROM market_items", tables={"market_items": None})
    assert out["s"].iloc[0] == 6


def test_append_parts_and_replace(tmp_path):
    wh = Warehouse(tmp_path)
    wh.write("post_metrics", pd.DataFrame({"v": [1]}), partition="d", part="t1", replace_partition=False)
    wh.write("post_metrics", pd.DataFrame({"v": [2]}), partition="d", part="t2", replace_partition=False)
    assert sorted(wh.read("post_metrics")["v"]) == [1, 2]
    wh.write("post_metrics", pd.DataFrame({"v": [9]}), partition="d")
    assert list(wh.read("post_metrics")["v"]) == [9]


def test_interrupted_write_leaves_previous_version(tmp_path, monkeypatch):
    wh = Warehouse(tmp_path)
    wh.write("scores", pd.DataFrame({"x": [1, 2, 3]}))

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        wh.write("scores", pd.DataFrame({"x": [7]}))
    monkeypatch.undo()
    assert list(wh.read("scores")["x"]) == [1, 2, 3]


def test_missing_table_reads_empty_and_bad_names_are_refused(tmp_path):
    wh = Warehouse(tmp_path)
    assert wh.read("nothing").empty
    with pytest.raises(ValueError, match="invalid warehouse table"):
        wh.write("../escape", pd.DataFrame({"a": [1]}))


def test_duckdb_views_file(tmp_path):
    import duckdb

    wh = Warehouse(tmp_path / "wh")
    wh.write("winners", pd.DataFrame({"variant_id": ["v1"]}))
    db = tmp_path / "views.duckdb"
    assert wh.write_views(db) == ["winners"]
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT variant_id FROM winners").fetchall() == [("v1",)]
