"""Attribution split by channel (actp_pipeline/attribution/funnel.py): a creative's clicks on its posts' links
(organic) and on its ads' links (paid) are counted apart, add up to the all-channel row, and never mix."""

import math

import pandas as pd
import pytest

from actp_pipeline.attribution import ALL, attribute
from tests.core.test_attribution_funnel import _clicks, _conversions, _row, _views

PAID_KEY = "ad:meta:4242:v1"


def _links():
    return pd.DataFrame([
        {"slug": "a", "idempotency_key": "k-a", "variant_id": "v1", "platform": "instagram", "channel": "organic"},
        {"slug": "p", "idempotency_key": PAID_KEY, "variant_id": "v1", "platform": "meta", "channel": "paid"},
        {"slug": "t", "idempotency_key": "k-t", "variant_id": "v2", "platform": "tiktok", "channel": None},
        {"slug": "q", "idempotency_key": "ad:tiktok:7001:v2", "variant_id": "v2", "platform": "tiktok",
         "channel": "paid"},
    ])


@pytest.fixture
def result():
    posts = pd.DataFrame([{"idempotency_key": "k-a", "variant_id": "v1", "platform": "instagram"},
                          {"idempotency_key": "k-t", "variant_id": "v2", "platform": "tiktok"}])
    clicks = _clicks([("o1", "a"), ("o2", "a"), ("o3", "a"), ("o4", "a"),
                      ("p1", "p"), ("p2", "p"), ("p3", "p", "facebookexternalhit/1.1"),
                      ("t1", "t"), ("q1", "q"), ("q2", "q")])
    conv = _conversions([("buy-o", "o1", "purchase", 29.0, "USD"),
                         ("buy-p1", "p1", "purchase", 29.0, "USD"), ("buy-p2", "p2", "purchase", 29.0, "USD"),
                         ("lead-q", "q1", "lead")])
    spend = pd.DataFrame({"variant_id": ["v1"], "spend": [10.0], "currency": ["USD"]})
    return attribute(_links(), clicks, _views(["o1", "p1"]), conv, posts, spend=spend)


def test_each_creative_is_split_by_channel_and_the_channels_add_up(result):
    ch, cr = result.channels, result.creatives
    organic = _row(ch, variant_id="v1", platform=ALL, channel="organic", event=ALL)
    paid = _row(ch, variant_id="v1", platform=ALL, channel="paid", event=ALL)
    assert (organic["clicks"], organic["converting_clicks"], organic["revenue_USD"]) == (4, 1, 29.0)
    assert (paid["clicks"], paid["bot_clicks"], paid["converting_clicks"], paid["revenue_USD"]) == (2, 1, 2, 58.0)
    assert organic["conversion_rate"] == pytest.approx(0.25) and paid["conversion_rate"] == pytest.approx(1.0)
    assert (organic["links"], paid["links"], organic["posts"], paid["posts"]) == (1, 1, 1, 0)
    both = _row(cr, variant_id="v1", platform=ALL, event=ALL)  # unchanged meaning: every click
    assert both["channel"] == ALL and both["clicks"] == organic["clicks"] + paid["clicks"] == 6
    assert both["revenue_USD"] == 87.0 and both["cost_per_conversion"] == pytest.approx(10.0 / 3)
    assert math.isnan(paid["spend"]) and math.isnan(paid["cost_per_conversion"])  # spend is not per channel
    # per platform: Meta's ads are their own platform; a TikTok creative's organic and paid links are split
    assert _row(ch, variant_id="v1", platform="meta", channel="paid", event=ALL)["clicks"] == 2
    assert not ((ch["variant_id"] == "v1") & (ch["platform"] == "meta") & (ch["channel"] == "organic")).any()
    assert _row(ch, variant_id="v2", platform="tiktok", channel="organic", event=ALL)["clicks"] == 1  # channel None
    tt_paid = _row(ch, variant_id="v2", platform="tiktok", channel="paid", event="lead")
    assert (tt_paid["clicks"], tt_paid["conversions"]) == (2, 1)
    assert not ch.duplicated(["variant_id", "platform", "channel", "event"]).any()
    assert set(ch["channel"]) == {"organic", "paid"} and set(cr["channel"]) == {ALL}


def test_the_totals_and_the_posts_know_each_channel(result):
    t = result.totals["by_channel"]
    assert t["organic"] == {"links": 2, "clicks": 5, "conversions": 1, "revenue": {"USD": 29.0}}
    assert t["paid"] == {"links": 2, "clicks": 4, "conversions": 3, "revenue": {"USD": 58.0}}
    every = result.posts[result.posts["event"] == ALL].set_index("idempotency_key")
    assert every.loc[PAID_KEY, "channel"] == "paid" and not every.loc[PAID_KEY, "in_ledger"]
    assert every.loc[PAID_KEY, "platform"] == "meta" and every.loc[PAID_KEY, "clicks"] == 2
    assert every.loc["k-a", "channel"] == "organic" and every.loc["k-a", "clicks"] == 4


def test_links_without_a_channel_column_are_organic_and_an_empty_funnel_has_the_column():
    links = _links().drop(columns=["channel"])
    r = attribute(links, _clicks([("o1", "a"), ("p1", "p")]), None, None, None)
    assert set(r.channels["channel"]) == {"organic"} and r.totals["by_channel"]["paid"]["clicks"] == 0
    empty = attribute(None, None, None, None, None)
    assert empty.creatives.empty and empty.channels.empty
    assert "channel" in empty.creatives and "channel" in empty.channels
