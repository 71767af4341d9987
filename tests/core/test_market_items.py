import json

from actp_pipeline.research.market_items import validate_items
from actp_pipeline.research.sources.file_import import read_items

GOOD = {"id": "p1", "platform": "tiktok", "kind": "post", "author": "a", "url": "https://x/1",
        "caption": "Why is this?\nbody\nFollow for more", "hashtags": ["#SkinCare", "glow"],
        "posted_at": "2026-11-01T10:00:00Z", "duration_s": 15.0, "views": 1000, "likes": 50, "comments": 5,
        "shares": 3, "saves": 2}


def test_good_item_is_typed():
    df, bad = validate_items([GOOD], source="trending", collected_for="2026-11-01")
    assert bad == [] and len(df) == 1
    row = df.iloc[0]
    assert row["engagements"] == 60 and abs(row["engagement_rate"] - 0.06) < 1e-12
    assert list(row["hashtags"]) == ["#glow", "#skincare"]


def test_bad_items_are_reported_with_field_and_skipped():
    bad_items = [
        {k: v for k, v in GOOD.items() if k != "caption"} | {"id": "missing"},
        GOOD | {"id": "wrongtype", "views": "lots"},
        GOOD | {"id": "absurd", "views": 10**15},
        GOOD | {"id": "morelikes", "likes": 5000},
        GOOD | {"id": "tags", "hashtags": "#a #b"},
        GOOD | {"id": "long", "caption": "x" * 20000},
        GOOD | {"id": "platform", "platform": "myspace"},
        GOOD | {"id": "date", "posted_at": "yesterday-ish"},
        "not an object",
        GOOD | {"id": "p1"},  # fine
        GOOD | {"id": "p1"},  # duplicate
    ]
    df, bad = validate_items(bad_items, source="trending", collected_for="d")
    assert list(df["item_id"]) == ["p1"]
    fields = {b.item_id: b.field for b in bad}
    assert fields["missing"] == "caption" and fields["wrongtype"] == "views" and fields["absurd"] == "views"
    assert fields["tags"] == "hashtags" and fields["long"] == "caption" and fields["platform"] == "platform"
    assert fields["date"] == "posted_at" and fields["p1"] == "id"
    assert any(b.field == "*" for b in bad)
    assert len(bad) == 10


def test_hostile_text_is_kept_as_inert_data():
    df, bad = validate_items([GOOD | {"caption": "<script>alert(1)</script>\x00'; DROP TABLE x;--"}],
                             source="t", collected_for="d")
    assert not bad and "\x00" not in df.iloc[0]["caption"] and "<script>" in df.iloc[0]["caption"]


def load_file(path):
    return validate_items(read_items(path), source=f"file:{path.name}", collected_for="2026-11-01")


def test_jsonl_and_csv_import(tmp_path):
    p = tmp_path / "items.jsonl"
    p.write_text(json.dumps(GOOD) + "\n{broken json\n")
    df, bad = load_file(p)
    assert len(df) == 1 and len(bad) == 1 and "unparseable" in bad[0].problem
    c = tmp_path / "items.csv"
    c.write_text("id,platform,caption,hashtags,posted_at,duration_s,views,likes,comments,shares,saves\n"
                 "c1,instagram,Hello?,#a #b,2026-11-01T00:00:00,12,100,5,1,0,0\n"
                 "c2,instagram,Hello?,#a,2026-11-01T00:00:00,12,many,5,1,0,0\n")
    df, bad = load_file(c)
    assert list(df["item_id"]) == ["c1"] and bad[0].field == "views"
