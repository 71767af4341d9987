"""Paid ads carry ACTP's tracked links (ads/ad_links.py): the executor makes the creative's paid link (once per
ads platform, account and creative) before it creates the ad, and hands it to the adapter; without a landing
page or hooks address nothing changes. The adapters put it where each platform reads an ad's destination."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from actp_pipeline.ads.ad_links import AdLinks, LinkedAdsClient, ads_platform
from actp_pipeline.ads.client import AdsClient
from actp_pipeline.ads.meta import InstagramCreatives, call_to_action
from actp_pipeline.ads.tiktok import TikTokAdsClient
from actp_pipeline.hooks.links import PAID, ad_link_key, link_url, load_link, location, slug_for
from actp_pipeline.store import connect_store, schema
from tests.core.test_ads_actions import NOW, FakeAds, _stored_plan

LINKS = AdLinks(destination="https://shop.example.com/offer", hooks_url="https://go.example.com", campaign="spring")


@pytest.fixture
def engine(tmp_path):
    return connect_store(f"sqlite:///{tmp_path / 'store.db'}")


class LinkAwareFake(FakeAds):
    """FakeAds whose ads remember the link they were made with (None: made without one)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.links: dict[str, str | None] = {}

    def create_ad_set(self, account_id, *, campaign_id, name, variant_id, post_id, daily_budget, status="ACTIVE",
                      link=None):
        oid = self._create("create_ad_set", name=name, campaign_id=campaign_id)
        self.links[oid] = link
        return oid

    def ensure_ad(self, account_id, ad_set_id, *, variant_id, post_id, link=None):
        self.links[f"ad-of-{ad_set_id}"] = link
        return "ad"


def _execute(engine, client, plan_id, ad_links=None):
    from actp_pipeline.ads.actions import execute_plan

    return execute_plan(engine, client, plan_id, now=NOW, approved={"A": "me"}, post_for_variant=lambda v: "post-1",
                        trigger="test", ad_links=ad_links)


def _links(engine) -> list[dict]:
    with engine.connect() as c:
        return [dict(r) for r in c.execute(sa.select(schema.links)).mappings()]


def test_the_executor_gives_each_new_ad_its_creatives_paid_link(engine):
    client = LinkAwareFake()
    out = _execute(engine, client, _stored_plan(engine), LINKS)
    assert [r["status"] for r in out.results] == ["success"] * 3
    [made] = [v for k, v in client.links.items() if not k.startswith("ad-of-")]
    key = ad_link_key("meta", "A", "v1")  # FakeAds promotes Instagram posts, as Meta's clients do
    assert key == "ad:meta:A:v1" and made == link_url(LINKS.hooks_url, slug_for(key))
    [row] = _links(engine)
    assert (row["idempotency_key"], row["variant_id"], row["platform"], row["account"], row["channel"]) == (
        key, "v1", "meta", "A", PAID)
    assert row["destination"] == LINKS.destination and row["campaign"] == "spring"
    # a reconciliation that completes the ad set hands the same link to ensure_ad; no second link row
    linked = LinkedAdsClient(client, LINKS, engine)
    linked.ensure_ad("A", "s9", variant_id="v1", post_id="post-1")
    assert client.links["ad-of-s9"] == made and len(_links(engine)) == 1
    assert isinstance(linked, AdsClient) and linked.objects is client.objects  # everything else passes through


def test_without_a_landing_page_ads_are_created_as_before(engine):
    assert AdLinks.from_settings(None, "https://go.example.com", "spring") is None
    assert AdLinks.from_settings("https://shop.example.com/", None, "spring") is None
    client = FakeAds()  # its create_ad_set takes no `link`: a call with one would fail
    out = _execute(engine, client, _stored_plan(engine), None)
    assert [r["status"] for r in out.results] == ["success"] * 3 and _links(engine) == []


def test_a_paid_link_redirects_with_a_paid_medium_and_the_platforms_click_id(engine):
    url = LINKS.url(engine, "tiktok", "7001", "v2")
    with engine.connect() as c:
        link = load_link(c, url.rsplit("/", 1)[1])
    assert link.channel == PAID and link.platform == "tiktok"
    target = location(link, "cid1", ("ttclid", "E.C.P.abc"))
    assert "utm_medium=actp_paid" in target and "utm_source=tiktok" in target and "ttclid=E.C.P.abc" in target
    assert ads_platform(TikTokAdsClient("http://127.0.0.1:9", "t")) == "tiktok"


class _Creatives(InstagramCreatives):
    def get(self, object_id, fields):  # the IG media's owner
        return {"owner": {"id": "17841400000000001"}}


@pytest.mark.parametrize("post_id, promoted", [("1234_5678", "object_story_id"),
                                               ("instagram:17900000000000001", "source_instagram_media_id")])
def test_meta_creatives_carry_the_link_as_their_call_to_action(post_id, promoted):
    link = "https://go.example.com/r/abcdefghijkl"
    with_link = _Creatives()._creative(post_id, "v1", link)
    assert with_link[promoted] and with_link["call_to_action"] == {"type": "SHOP_NOW", "value": {"link": link}}
    assert with_link["url_tags"].endswith("utm_content=v1")
    assert "call_to_action" not in _Creatives()._creative(post_id, "v1")  # no link: the creative of before
    with pytest.raises(ValueError, match="http"):
        call_to_action("SHOP_NOW", "javascript:alert(1)")


def test_tiktok_ads_land_on_the_link_with_the_variants_tags():
    with TikTokAdsClient("http://127.0.0.1:9", "t") as tt:
        landing = tt.landing_for("v1", "https://go.example.com/r/abcdefghijkl")
        assert landing == "https://go.example.com/r/abcdefghijkl?utm_source=actp&utm_medium=paid&utm_content=v1"
        assert tt.landing_for("v1").startswith("https://example.com/?")  # no link: the configured landing page
