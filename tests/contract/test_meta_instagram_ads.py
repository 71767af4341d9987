"""Contract: an ad promotes an existing Instagram post the way Meta documents it (an AdCreative with
source_instagram_media_id + instagram_user_id). A Reel is published through ACTP's Instagram adapter
(InstagramPublisher, Meta's SDK) against the sandbox, then promoted through ACTP's Meta clients with the
post id post_lookup gives ("instagram:<media id>"): the creative carries the Instagram fields, delivery
follows the sandbox post behind the media, ad_sets() reads back the variant and the qualified post id, and
the ground truth names the same sandbox post. A creative missing one of the two fields, or naming someone
else's media, is refused in Graph's error shape."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adcreative import AdCreative
from facebook_business.exceptions import FacebookRequestError

from actp_pipeline import creative
from actp_pipeline.ads.errors import AdsError
from actp_pipeline.ads.meta import MetaAdsClient
from actp_pipeline.ads.meta_sdk import MetaSdkAdsClient
from actp_pipeline.sandbox import SandboxServer
from tests.contract.test_instagram import advance, ig_posts, ig_user_id, key, make_publisher, publish, sdk_api
from tests.media import make_mp4, variant
from tests.sandbox.conftest import sandbox_config

START = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
ACC = "igads"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # the SDK's type-checker notes


@pytest.fixture(scope="module")
def reel(tmp_path_factory) -> Path:
    return make_mp4(tmp_path_factory.mktemp("igads") / "reel.mp4", creative.descriptor_json(variant()), seconds=4)


@pytest.fixture
def sandbox():
    with SandboxServer(sandbox_config(seed=7, start=START)) as server:
        yield server


@pytest.fixture
def published(sandbox, reel) -> tuple[str, str]:
    """(IG media id, the sandbox post behind it) of a Reel published through the Instagram adapter."""
    post = publish(make_publisher(sandbox), reel, "ig-ads-reel")
    (world_post,) = ig_posts(sandbox)
    return post["post_id"], world_post["post_id"]


def _truth(sandbox) -> dict[str, dict]:
    resp = httpx.get(sandbox.url + "/sandbox/truth/ads", headers={"X-Truth-Token": sandbox.truth_token}, timeout=30)
    assert resp.status_code == 200, resp.text
    return {i["adset_id"]: i for i in resp.json()["items"]}


def _graph_error(exc: FacebookRequestError) -> dict:
    err = exc.body()["error"]
    assert {"message", "type", "code", "fbtrace_id"} <= set(err)
    return err


# ------------------------------------------------------------------------------------- round trip
def test_an_instagram_reel_is_promoted_by_its_media_id_through_the_sdk_client(sandbox, published):
    media_id, sandbox_post = published
    user = ig_user_id(sandbox)
    post_id = f"instagram:{media_id}"
    with MetaSdkAdsClient(sandbox.url + "/graph", key(sandbox)) as sdk:  # no instagram_user_id: read from owner
        camp = sdk.create_campaign(ACC, name="ACTP | virality | learning", objective="OUTCOME_ENGAGEMENT",
                                   budget_mode="ABO", daily_budget=None)
        ig_set = sdk.create_ad_set(ACC, campaign_id=camp, name="learn ig", variant_id="v_ig", post_id=post_id,
                                   daily_budget=24.0)
        # the same sandbox post promoted by object_story_id: delivery must follow it identically
        story_set = sdk.create_ad_set(ACC, campaign_id=camp, name="learn story", variant_id="v_story",
                                      post_id=sandbox_post, daily_budget=24.0)
        assert sdk.ensure_ad(ACC, ig_set, variant_id="v_ig", post_id=post_id)  # reconciliation finds the ad

        api = sdk_api(sandbox)
        (made,) = [c.export_all_data() for c in AdAccount(f"act_{ACC}", api=api).get_ad_creatives(
            fields=["source_instagram_media_id", "instagram_user_id", "object_story_id", "url_tags"])
            if c.get("source_instagram_media_id")]
        assert made["source_instagram_media_id"] == media_id and made["instagram_user_id"] == user
        assert "object_story_id" not in made and made["url_tags"].endswith("utm_content=v_ig")
        read = AdCreative(made["id"], api=api).api_get(fields=["source_instagram_media_id", "instagram_user_id"])
        assert (read["source_instagram_media_id"], read["instagram_user_id"]) == (media_id, user)
        ads = [a.export_all_data() for a in AdAccount(f"act_{ACC}", api=api).get_ads(
            fields=["adset_id", "creative{object_story_id,source_instagram_media_id,instagram_user_id,url_tags}"])]
        ig_ad = next(a for a in ads if a["adset_id"] == ig_set)
        assert ig_ad["creative"]["source_instagram_media_id"] == media_id
        assert ig_ad["creative"]["instagram_user_id"] == user and "object_story_id" not in ig_ad["creative"]

        advance(sandbox, 6.5)
        ins = sdk.insights(ACC, START, START + dt.timedelta(days=1))
        mine = ins[ins["ad_set_id"] == ig_set]
        assert len(mine) == 6 and mine["impressions"].sum() > 0 and mine["spend"].sum() > 0
        sets = sdk.ad_sets(ACC).set_index("id")
        assert (sets.loc[ig_set, "variant_id"], sets.loc[ig_set, "post_id"]) == ("v_ig", post_id)
        assert (sets.loc[story_set, "variant_id"], sets.loc[story_set, "post_id"]) == ("v_story", sandbox_post)
        with MetaAdsClient(sandbox.url + "/graph", key(sandbox)) as raw:  # the httpx client reads the same
            assert raw.ad_sets(ACC).set_index("id").loc[ig_set, "post_id"] == post_id
        scaling = sdk.create_campaign(ACC, name="ACTP | virality | scaling", objective="OUTCOME_ENGAGEMENT",
                                      budget_mode="CBO", daily_budget=30.0)
        copy = sdk.duplicate_ad_set(ig_set, campaign_id=scaling, name="scale ig")  # promotion keeps the post
        sets = sdk.ad_sets(ACC).set_index("id")
        assert (sets.loc[copy, "variant_id"], sets.loc[copy, "post_id"]) == ("v_ig", post_id)

    truth = _truth(sandbox)
    assert truth[ig_set]["post_ids"] == [sandbox_post] == truth[story_set]["post_ids"] == truth[copy]["post_ids"]
    assert truth[ig_set]["multiplier"] == truth[story_set]["multiplier"] > 0
    assert truth[ig_set]["variant_id"] == "v_ig" and truth[ig_set]["impressions_to_date"] > 0


def test_the_httpx_client_uses_the_configured_instagram_user(sandbox, published):
    media_id, sandbox_post = published
    user = ig_user_id(sandbox)
    with MetaAdsClient(sandbox.url + "/graph", key(sandbox), instagram_user_id=user) as raw:
        camp = raw.create_campaign(ACC, name="ACTP | virality | learning", objective="OUTCOME_ENGAGEMENT",
                                   budget_mode="ABO", daily_budget=None)
        sid = raw.create_ad_set(ACC, campaign_id=camp, name="learn ig", variant_id="v_ig",
                                post_id=f"instagram:{media_id}", daily_budget=24.0)
        (ad,) = raw._ads(ACC, [{"field": "adset.id", "operator": "EQUAL", "value": sid}])
        assert ad["creative"]["source_instagram_media_id"] == media_id
        assert raw.ad_sets(ACC).set_index("id").loc[sid, "post_id"] == f"instagram:{media_id}"
    with MetaAdsClient(sandbox.url + "/graph", key(sandbox), instagram_user_id="17841000000000000") as wrong:
        camp = wrong.create_campaign(ACC, name="ACTP | reach | learning", objective="OUTCOME_ENGAGEMENT",
                                     budget_mode="ABO", daily_budget=None)
        with pytest.raises(AdsError) as e:  # the media is not that IG user's: Graph's unknown-object error
            wrong.create_ad_set(ACC, campaign_id=camp, name="learn other", variant_id="v_ig",
                                post_id=f"instagram:{media_id}", daily_budget=24.0)
    assert (e.value.status, e.value.code, e.value.subcode, e.value.retryable) == (404, 100, 33, False)
    assert _truth(sandbox)[sid]["post_ids"] == [sandbox_post]


# ------------------------------------------------------------------------------------------ errors
def test_a_creative_needs_both_instagram_fields_and_a_known_media(sandbox, published):
    media_id, _ = published
    user = ig_user_id(sandbox)
    account = AdAccount(f"act_{ACC}", api=sdk_api(sandbox))
    with pytest.raises(FacebookRequestError) as e:
        account.create_ad_creative(params={"name": "x", "source_instagram_media_id": media_id, "url_tags": "a=b"})
    err = _graph_error(e.value)
    assert (e.value.http_status(), err["code"], err["type"]) == (400, 100, "OAuthException")
    assert "instagram_user_id" in err["message"]
    with pytest.raises(FacebookRequestError) as e:
        account.create_ad_creative(params={"name": "x", "instagram_user_id": user})
    assert e.value.http_status() == 400 and "source_instagram_media_id" in _graph_error(e.value)["message"]
    with pytest.raises(FacebookRequestError) as e:
        account.create_ad_creative(params={"name": "x", "source_instagram_media_id": "17980000000000001",
                                           "instagram_user_id": user})
    err = _graph_error(e.value)
    assert (e.value.http_status(), err["code"], err["error_subcode"]) == (404, 100, 33)
    # an ad's inline creative spec is checked the same way
    camp = account.create_campaign(params={"name": "c", "objective": "OUTCOME_ENGAGEMENT", "status": "ACTIVE",
                                           "special_ad_categories": []})
    adset = account.create_ad_set(params={"name": "s", "campaign_id": camp["id"], "daily_budget": 2400,
                                          "billing_event": "IMPRESSIONS", "optimization_goal": "THRUPLAY",
                                          "targeting": {"geo_locations": {"countries": ["US"]}}})
    with pytest.raises(FacebookRequestError) as e:
        account.create_ad(params={"name": "a", "adset_id": adset["id"],
                                  "creative": {"source_instagram_media_id": media_id}})
    assert e.value.http_status() == 400 and _graph_error(e.value)["code"] == 100
