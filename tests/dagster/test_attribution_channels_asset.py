"""The attribution asset with an ad's tracked link beside the posts' links: the `attribution` table holds each
creative's all-channel rows and its organic and paid rows, its checks pass, and its metadata compares them."""

import secrets

import dagster as dg
import pytest

from actp_pipeline.attribution import ALL
from actp_pipeline.hooks.links import PAID, ad_link_key, create_link, slug_for
from actp_pipeline.store import schema
from resources import AdsResource, PlatformResource, StoreResource

# attribution reads the ads' spend behind paid links from the ads platform; none answers here (no token, port 9):
# the spend is unknown and the run goes on
NO_ADS = {"ads": AdsResource(base_url="http://127.0.0.1:9"), "platform": PlatformResource(base_url="http://127.0.0.1:9")}
from tests.dagster.test_attribution_asset import CHECKS, HUMAN, _fill, _now


@pytest.fixture
def store(tmp_path):
    return StoreResource(data_dir=str(tmp_path / "data"))


def test_the_attribution_table_splits_each_creative_by_channel(store):
    _fill(store)  # v1: 4 human organic clicks on its TikTok post's link
    key = ad_link_key("tiktok", "7001", "v1")
    paid = [secrets.token_hex(12) for _ in range(3)]
    with store.engine().begin() as c:
        create_link(c, idempotency_key=key, variant_id="v1", platform="tiktok", account="7001", campaign="round-1",
                    destination="https://shop.example.com/landing", now=_now(), channel=PAID)
        c.execute(schema.clicks.insert(), [{"click_id": cid, "slug": slug_for(key), "at": _now(),
                                            "platform_click_id": f"E.C.P.{i}", "referrer": None, "user_agent": HUMAN,
                                            "visitor": cid[:8]} for i, cid in enumerate(paid)])
        c.execute(schema.conversions.insert(), [{"dedupe_key": "order-paid", "click_id": paid[0], "event": "purchase",
                                                 "value": 29.0, "currency": "USD", "source": "server", "at": _now()}])
    from assets.attribution import attribution

    with dg.instance_for_test() as instance:
        result = dg.materialize([attribution, *CHECKS], resources={"store": store, **NO_ADS}, instance=instance)
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    cr = store.warehouse().read("attribution").set_index(["variant_id", "platform", "channel", "event"])
    assert cr.loc[("v1", ALL, ALL, ALL), "clicks"] == 7
    assert cr.loc[("v1", ALL, "organic", ALL), "clicks"] == 4 and cr.loc[("v1", "tiktok", "paid", ALL), "clicks"] == 3
    assert cr.loc[("v1", ALL, "paid", "purchase"), "revenue_USD"] == 29.0
    assert cr.loc[("v1", ALL, "organic", "purchase"), "revenue_USD"] == 40.0
    meta = result.asset_materializations_for_node("attribution")[0].metadata
    assert meta["by_channel"].value["paid"]["clicks"] == 3 and meta["by_channel"].value["organic"]["clicks"] == 6
    split = meta["organic_vs_paid"].value
    assert "v1" in split and "paid_clicks" in split and "v2" not in split  # only creatives with paid clicks
    posts = store.warehouse().read("attribution_posts")
    assert set(posts.loc[posts["idempotency_key"] == key, "channel"]) == {"paid"}
