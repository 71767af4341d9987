"""Contract: an ad carries ACTP's paid tracked link in each platform's own dialect, and the sandbox checks it as
the platform would. Meta: both of ACTP's Meta clients (httpx and the official SDK) make the same creative, the
link in its call_to_action {"type", "value": {"link"}} beside object_story_id, read back in the documented
shape (fixtures/meta/adcreative_call_to_action.json); TikTok: ad/create's landing_page_url is the link with the
variant's tags, call_to_action one of TikTok's values. A link that is not an http(s) URL, or an unknown
call-to-action type, is refused in each platform's error shape."""

from __future__ import annotations

import json

import httpx
import pytest
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adcreative import AdCreative
from facebook_business.exceptions import FacebookRequestError

from actp_pipeline import creative
from actp_pipeline.ads.errors import AdsError
from actp_pipeline.ads.meta import MetaAdsClient
from actp_pipeline.ads.meta_sdk import MetaSdkAdsClient
from actp_pipeline.publish.tiktok import TikTokPublisher
from actp_pipeline.sandbox import SandboxServer
from actp_pipeline.sandbox.ads_creatives import CALL_TO_ACTION_TYPES
from tests.contract.test_instagram import sdk_api
from tests.contract.test_meta_documented_shapes import documented, same_shape
from tests.contract.test_tiktok_ads import ADV, START, advance, client
from tests.media import make_mp4, other_variant, variant
from tests.sandbox.conftest import sandbox_config
from tests.sandbox_posts import publish

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # the SDK's type-checker notes
LINK = "http://127.0.0.1:8788/r/abcdefghijk2"
ACC = "links"


@pytest.fixture
def sandbox():
    with SandboxServer(sandbox_config(seed=13, start=START)) as server:
        yield server


@pytest.fixture
def key(sandbox) -> str:
    return sandbox.config.api_keys[0]


@pytest.fixture
def posts(sandbox, key, tmp_path) -> list[tuple[str, str]]:
    """(sandbox post id, variant id) of two Instagram Reels published through ACTP's Instagram adapter."""
    out = []
    for name, v in (("a", variant()), ("b", other_variant())):
        mp4 = make_mp4(tmp_path / f"{name}.mp4", creative.descriptor_json(v), seconds=3.5)
        post = publish(sandbox.url, key, mp4, tmp_path / "publish", platform="instagram", idempotency_key=f"ln-{name}",
                       truth_token=sandbox.truth_token)
        out.append((post["sandbox_post_id"], v["variant_id"]))
    return out


@pytest.fixture
def organic(sandbox, key, mp4_with_descriptor) -> tuple[str, str]:
    """(public video id, variant id) of a TikTok post published through the Content Posting dialect."""
    path, v = mp4_with_descriptor
    with TikTokPublisher(key, base_url=sandbox.url, clock=sandbox.clock.now, poll_interval_s=0.05) as pub:
        post = pub.publish(media_path=path, platform="tiktok", account="main", caption="POV: the serum",
                           hashtags=[], scheduled_at=None, idempotency_key="k-links")
        advance(sandbox, 0.5)  # moderation ends: the public video id appears
        [video_id] = pub.fetch_status(post["post_id"])["publicaly_available_post_id"]
    return str(video_id), v["variant_id"]


def _graph(sandbox, key):
    return httpx.Client(base_url=sandbox.url + "/graph/v21.0", params={"access_token": key}, timeout=30)


def test_both_meta_clients_put_the_link_in_the_creatives_call_to_action(sandbox, key, posts):
    (post_a, v_a), (post_b, v_b) = posts
    with MetaSdkAdsClient(sandbox.url + "/graph", key) as sdk, MetaAdsClient(sandbox.url + "/graph", key) as raw:
        camp = raw.create_campaign(ACC, name="ACTP | purchases | learning", objective="OUTCOME_TRAFFIC",
                                   budget_mode="ABO", daily_budget=None)
        by_sdk = sdk.create_ad_set(ACC, campaign_id=camp, name="sdk", variant_id=v_a, post_id=post_a,
                                   daily_budget=24.0, link=LINK)
        by_raw = raw.create_ad_set(ACC, campaign_id=camp, name="raw", variant_id=v_b, post_id=post_b,
                                   daily_budget=24.0, link=LINK + "x")
        plain = raw.create_ad_set(ACC, campaign_id=camp, name="plain", variant_id=v_b, post_id=post_b,
                                  daily_budget=24.0)
        sets = raw.ad_sets(ACC).set_index("id")
        assert sets.loc[by_sdk, "variant_id"] == v_a and sets.loc[by_raw, "variant_id"] == v_b  # tags read back
    with _graph(sandbox, key) as g:
        fields = "adset_id,creative{id,object_story_id,call_to_action,url_tags}"
        ads = g.get(f"/act_{ACC}/ads", params={"fields": fields}).json()["data"]
        made = {a["adset_id"]: a["creative"] for a in ads}
        assert made[by_sdk]["call_to_action"] == {"type": "SHOP_NOW", "value": {"link": LINK}}
        assert made[by_raw]["call_to_action"] == {"type": "SHOP_NOW", "value": {"link": LINK + "x"}}
        assert "call_to_action" not in made[plain]  # without a link: the ad of before
        # the two clients' creatives differ only in the post, the variant and the link
        assert set(made[by_sdk]) == set(made[by_raw]) and made[by_sdk]["url_tags"].replace(v_a, v_b) == \
            made[by_raw]["url_tags"]
        doc = documented("adcreative_call_to_action")
        same_shape(g.get(f"/{made[by_sdk]['id']}", params={"fields": "object_story_id,call_to_action,url_tags"}).json(),
                   doc)


@pytest.mark.parametrize("cta, why", [
    ({"type": "SHOP_NOW", "value": {"link": "javascript:alert(1)"}}, "http"),
    ({"type": "SHOP_NOW", "value": {"link": "https://"}}, "http"),
    ({"type": "SHOP_NOW", "value": {"link": "https://a b.example.com/"}}, "http"),
    ({"type": "SHOP_NOW"}, "value.link"),
    ({"type": "CLICK_HERE_NOW", "value": {"link": "https://shop.example.com/"}}, "type"),
    ("SHOP_NOW", "JSON"),  # a bare type is no call_to_action object
])
def test_the_sandbox_refuses_a_call_to_action_meta_would_refuse(sandbox, key, posts, cta, why):
    (post_a, _), _ = posts
    account = AdAccount(f"act_{ACC}", api=sdk_api(sandbox))
    with pytest.raises(FacebookRequestError) as e:
        account.create_ad_creative(params={"name": "x", "object_story_id": post_a, "call_to_action": cta})
    err = e.value.body()["error"]
    assert e.value.http_status() == 400 and err["code"] == 100 and why in err["message"]


def test_the_sandboxs_call_to_action_types_are_metas():
    metas = {v for k, v in vars(AdCreative.CallToActionType).items() if not k.startswith("_")}
    assert set(CALL_TO_ACTION_TYPES) <= metas and "SHOP_NOW" in CALL_TO_ACTION_TYPES


def test_a_tiktok_spark_ad_lands_on_the_link_and_bad_destinations_are_refused(sandbox, organic):
    video_id, variant = organic
    with client(sandbox) as tt:
        camp = tt.create_campaign(ADV, name="ACTP | purchases | learning", objective="OUTCOME_TRAFFIC",
                                  budget_mode="ABO", daily_budget=None)
        sid = tt.create_ad_set(ADV, campaign_id=camp, name="learn", variant_id=variant, post_id=video_id,
                               daily_budget=24.0, link=LINK)
        [ad] = tt._ads_of(ADV, sid)
        assert ad["landing_page_url"] == f"{LINK}?utm_source=actp&utm_medium=paid&utm_content={variant}"
        assert ad["call_to_action"] == "LEARN_MORE"
        assert tt.ad_sets(ADV).set_index("id").loc[sid, "variant_id"] == variant
        base = {"ad_name": "x", "ad_format": "SINGLE_VIDEO", "identity_type": "TT_USER",
                "identity_id": tt._identity(ADV), "tiktok_item_id": video_id, "call_to_action": "SHOP_NOW",
                "landing_page_url": "https://shop.example.com/"}
        for bad, why in [({"landing_page_url": "javascript:alert(1)"}, "landing_page_url"),
                         ({"landing_page_url": "https:///no-host"}, "landing_page_url"),
                         ({"call_to_action": "CLICK_HERE_NOW"}, "call_to_action")]:
            with pytest.raises(AdsError) as e:
                tt._call("POST", "ad/create", {"advertiser_id": ADV, "adgroup_id": sid,
                                               "creatives": [{**base, **bad}]})
            assert e.value.code == 40002 and why in e.value.message, json.dumps(bad)
        assert len(tt._ads_of(ADV, sid)) == 1  # nothing refused was made
