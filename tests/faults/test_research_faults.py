"""Hostile research rows through the real market_items asset over HTTP (issue 9, class 3, fuzzed): no run
fails, no good row is lost, no stored day is replaced by a smaller answer."""

from tests.faults import research_faults


def test_hostile_rows_never_fail_a_run_or_lose_good_rows(tmp_path):
    out = research_faults.run(tmp_path, rows=200, per_day=100, seed=1)
    print(out)
    assert out["hostile_rows"] == 200 and out["rejected_rows"] >= 150, out
    assert out["failed_runs"] == 0 and out["good_rows_missing"] == 0 and out["days_replaced_by_less"] == 0, out


def test_a_5000_digit_number_costs_its_row_not_the_page(tmp_path):
    from tests.core.test_market_items_hostile import GOOD

    with research_faults.items_feed([GOOD | {"id": "ok"}, GOOD | {"id": "huge", "views": 10**5000},
                                     GOOD | {"id": "neg", "likes": -(10**4500)}]) as feed:
        from actp_pipeline.publish.platforms import HttpPlatform

        with HttpPlatform(feed.url, "k") as client:
            items = list(client.market_feed("trending", "2026-11-01"))
    assert [i["id"] for i in items] == ["ok", "huge", "neg"]
    assert items[1]["views"] == float("inf") and items[2]["likes"] == float("-inf")
