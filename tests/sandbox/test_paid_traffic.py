"""The sandbox's paid visitors: an ad made by ACTP's own clients with its creative's paid tracked link (Meta:
the creative's call_to_action link; TikTok: the ad's landing_page_url) sends its delivered link clicks through
that link over real HTTP to a real hooks service, with the platform's click id; attribution on the hooks
service's tables then counts them as paid, apart from the same creative's organic clicks, exactly as the
sandbox's ground truth says they happened."""

from __future__ import annotations

import datetime as dt

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from actp_pipeline import creative
from actp_pipeline.ads.ad_links import AdLinks
from actp_pipeline.ads.meta import MetaAdsClient
from actp_pipeline.ads.tiktok import TikTokAdsClient
from actp_pipeline.attribution import ALL, attribute
from actp_pipeline.attribution.load import load_funnel
from actp_pipeline.hooks.links import create_link, link_url, slug_for
from actp_pipeline.hooks.server import HooksServer
from actp_pipeline.publish.tiktok import TikTokPublisher
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.sandbox.traffic import PRICE
from actp_pipeline.store import schema
from tests.media import make_mp4, variant
from tests.sandbox_posts import publish

START = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
TRUTH = "truth-for-tests"
ADV = "7000000000000000009"


@pytest.fixture
def world(tmp_path):
    with SandboxServer(WorldConfig(start=START, truth_token=TRUTH)) as sb, \
            HooksServer(f"sqlite:///{tmp_path / 'store.db'}") as hooks:
        yield sb, hooks


def _links(sb, hooks) -> AdLinks:
    return AdLinks(destination=sb.url + "/sandbox/shop", hooks_url=hooks.url, campaign="skincare")


def _truth(sb) -> dict:
    resp = httpx.get(sb.url + "/sandbox/truth/funnel", headers={"X-Truth-Token": TRUTH}, timeout=60)
    resp.raise_for_status()
    return resp.json()


def _run(sb) -> dict:
    return httpx.post(sb.url + "/sandbox/traffic/run", timeout=300).json()


def _clicks_of(engine, slug: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(schema.clicks).where(schema.clicks.c.slug == slug)).mappings()]


def _instagram_post(sb, hooks, tmp_path) -> tuple[str, str]:
    """(sandbox post id, variant id) of a Reel whose caption carries its organic tracked link."""
    v = variant()
    key = f"{v['variant_id']}:instagram:main"
    with hooks.engine.begin() as conn:
        create_link(conn, idempotency_key=key, variant_id=v["variant_id"], platform="instagram", account="main",
                    campaign="skincare", destination=sb.url + "/sandbox/shop", now=START.replace(tzinfo=None))
    media = make_mp4(tmp_path / "reel.mp4", creative.descriptor_json(v), seconds=3.5)
    post = publish(sb.url, sb.config.api_keys[0], media, tmp_path, idempotency_key=key,
                   caption=f"Try it\nShop: {link_url(hooks.url, slug_for(key))}", truth_token=TRUTH)
    return post["sandbox_post_id"], v["variant_id"]


def _meta_ad(meta: MetaAdsClient, sb, hooks, tmp_path, now: dt.datetime | None = None) -> tuple[str, str, str]:
    """(variant id, ad set id, paid link) of a Meta ad promoting a fresh Reel, made as the executor makes it."""
    post_id, vid = _instagram_post(sb, hooks, tmp_path)
    link = _links(sb, hooks).url(hooks.engine, "meta", "4242", vid, now=now)
    camp = meta.create_campaign("4242", name="ACTP | purchases | learning", objective="OUTCOME_TRAFFIC",
                                budget_mode="ABO", daily_budget=None)
    sid = meta.create_ad_set("4242", campaign_id=camp, name="learn", variant_id=vid, post_id=post_id,
                             daily_budget=150.0, link=link)
    return vid, sid, link


def test_a_meta_ads_clicks_go_through_its_link_with_fbclid_and_are_attributed_as_paid(world, tmp_path):
    sb, hooks = world
    with MetaAdsClient(sb.url + "/graph", sb.config.api_keys[0]) as meta:
        vid, sid, link = _meta_ad(meta, sb, hooks, tmp_path)
    httpx.post(sb.url + "/sandbox/clock/advance", json={"hours": 30}).raise_for_status()
    first = _run(sb)
    truth = _truth(sb)
    [paid] = truth["paid"]
    assert (paid["adset_id"], paid["platform"], paid["click_param"], paid["link"], paid["variant_id"]) == (
        sid, "meta", "fbclid", link, vid)
    assert paid["clicks"] == paid["delivered_clicks"] == first["paid_clicks"] > 20 and first["failures"] == 0
    assert paid["conversions"] == first["paid_conversions"]
    assert paid["revenue"] == pytest.approx(PRICE * paid["conversions"])
    # the hooks service saw each paid click on the ad's link, with Meta's click id
    slug = link.rsplit("/", 1)[1]
    mine = _clicks_of(hooks.engine, slug)
    assert len(mine) == paid["clicks"] and all(c["platform_click_id"].startswith(f"sbx.{sid}.") for c in mine)
    [organic] = truth["items"]
    assert organic["channel"] == "organic" and organic["clicks"] == first["clicks"] > 0
    assert len(_clicks_of(hooks.engine, slug_for(f"{vid}:instagram:main"))) == organic["clicks"]
    assert truth["by_channel"]["paid"]["clicks"] == paid["clicks"]

    # attribution splits the creative by channel exactly as the truth says it happened
    t = load_funnel(hooks.engine)
    result = attribute(t.links, t.clicks, t.page_views, t.conversions, t.posts)
    ch = result.channels.set_index(["variant_id", "platform", "channel", "event"])
    assert ch.loc[(vid, ALL, "paid", ALL), "clicks"] == paid["clicks"]
    assert ch.loc[(vid, ALL, "paid", ALL), "converting_clicks"] == paid["conversions"]
    assert ch.loc[(vid, "meta", "paid", ALL), "clicks"] == paid["clicks"]
    assert ch.loc[(vid, ALL, "organic", ALL), "clicks"] == organic["clicks"]
    assert ch.loc[(vid, ALL, "organic", ALL), "converting_clicks"] == organic["conversions"]
    both = result.creatives.set_index(["variant_id", "platform", "event"]).loc[(vid, ALL, ALL)]
    assert both["channel"] == ALL and both["clicks"] == paid["clicks"] + organic["clicks"]
    assert result.totals["by_channel"]["paid"]["clicks"] == paid["clicks"]
    ad_row = result.posts[(result.posts["channel"] == "paid") & (result.posts["event"] == ALL)].iloc[0]
    assert ad_row["idempotency_key"] == f"ad:meta:4242:{vid}" and not ad_row["in_ledger"]
    assert _run(sb)["paid_clicks"] == 0  # the same instant again: nothing new, nothing twice


def test_a_tiktok_spark_ads_clicks_go_through_its_landing_page_with_ttclid(world, tmp_path, mp4_with_descriptor):
    sb, hooks = world
    path, v = mp4_with_descriptor
    with TikTokPublisher(sb.config.api_keys[0], base_url=sb.url, clock=sb.clock.now, poll_interval_s=0.05) as pub:
        post = pub.publish(media_path=path, platform="tiktok", account="main", caption="POV: the serum",
                           hashtags=[], scheduled_at=None, idempotency_key="k-spark")
        httpx.post(sb.url + "/sandbox/clock/advance", json={"hours": 0.5}).raise_for_status()
        [video_id] = pub.fetch_status(post["post_id"])["publicaly_available_post_id"]
    link = _links(sb, hooks).url(hooks.engine, "tiktok", ADV, v["variant_id"])
    with TikTokAdsClient(sb.url, sb.config.api_keys[0]) as tt:
        camp = tt.create_campaign(ADV, name="ACTP | purchases | learning", objective="OUTCOME_TRAFFIC",
                                  budget_mode="ABO", daily_budget=None)
        sid = tt.create_ad_set(ADV, campaign_id=camp, name="learn", variant_id=v["variant_id"], post_id=str(video_id),
                               daily_budget=150.0, link=link)
        assert tt.ad_sets(ADV).set_index("id").loc[sid, "variant_id"] == v["variant_id"]  # read back from the tags
    httpx.post(sb.url + "/sandbox/clock/advance", json={"hours": 30}).raise_for_status()
    ran = _run(sb)
    [paid] = _truth(sb)["paid"]
    assert (paid["platform"], paid["click_param"], paid["variant_id"]) == ("tiktok", "ttclid", v["variant_id"])
    assert paid["link"].startswith(link + "?") and paid["clicks"] == paid["delivered_clicks"] == ran["paid_clicks"] > 20
    mine = _clicks_of(hooks.engine, link.rsplit("/", 1)[1])
    assert len(mine) == paid["clicks"] and all(c["platform_click_id"].startswith(f"sbx.{sid}.") for c in mine)


def test_the_paid_rows_cost_is_the_ads_spend_over_their_conversions(world, tmp_path):
    """Cost per conversion on the paid channel: the spend Meta reports for the creative's ad set since its link
    was made, in the account's currency, over the conversions through that ad's link; organic and mixed rows
    have none (no ad money bought those clicks)."""
    from actp_pipeline.attribution.paid_spend import paid_spend

    sb, hooks = world
    with MetaAdsClient(sb.url + "/graph", sb.config.api_keys[0]) as meta:
        # the link made on the platform's clock, as the executor makes it: the ad's spend counts from there
        vid, sid, _ = _meta_ad(meta, sb, hooks, tmp_path, now=sb.clock.now().replace(tzinfo=None))
        httpx.post(sb.url + "/sandbox/clock/advance", json={"hours": 30}).raise_for_status()
        _run(sb)
        now = sb.clock.now().replace(tzinfo=None)
        t = load_funnel(hooks.engine)
        paid_links = t.links[t.links["channel"] == "paid"]
        spend, errors = paid_spend(meta, "meta", paid_links, now)
        billed = meta.insights("4242", START.replace(tzinfo=None), now)
    assert not errors and spend.to_dict("records") == [
        {"variant_id": vid, "platform": "meta", "channel": "paid", "spend": pytest.approx(
            billed.loc[billed["ad_set_id"].astype(str) == sid, "spend"].sum()), "currency": "USD"}]
    assert spend["spend"].iloc[0] > 0
    result = attribute(t.links, t.clicks, t.page_views, t.conversions, t.posts, spend=spend)
    ch = result.channels.set_index(["variant_id", "platform", "channel", "event"])
    paid_row = ch.loc[(vid, ALL, "paid", ALL)]
    assert paid_row["conversions"] > 0 and paid_row["spend_currency"] == "USD"
    assert paid_row["cost_per_conversion"] == pytest.approx(spend["spend"].iloc[0] / paid_row["conversions"])
    assert ch.loc[(vid, "meta", "paid", ALL), "cost_per_conversion"] == pytest.approx(paid_row["cost_per_conversion"])
    assert pd.isna(ch.loc[(vid, ALL, "organic", ALL), "cost_per_conversion"])
    mixed = result.creatives.set_index(["variant_id", "platform", "event"]).loc[(vid, ALL, ALL)]
    assert pd.isna(mixed["cost_per_conversion"])
