"""Contract: ACTP's TikTok ads client (ads/tiktok.py, httpx: TikTok's Business API SDK is not on PyPI) drives
the sandbox's Marketing API dialect (/open_api/v1.3) over HTTP through the whole round trip: an organic post
published through the Content Posting dialect -> its public video id -> campaign -> ad group -> Spark Ad on
that video -> hourly report -> budget change -> pause -> a promotion copy into a CBO campaign; the same ad
group is in the sandbox's ground truth (/sandbox/truth/ads) with its spend. And the refusals: TikTok's rate
limit (40100), a bad or empty token (40105 / 40104), a write whose answer is lost reconciled by name and
never made twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd
import pytest

from actp_pipeline.ads.client import AdsClient
from actp_pipeline.ads.errors import AdsError
from actp_pipeline.ads.meta import (
    AD_SET_COLUMNS,
    CAMPAIGN_COLUMNS,
    INSIGHT_COLUMNS,
    campaign_name,
)
from actp_pipeline.ads.tiktok import SIGNAL_METRICS, TikTokAdsClient
from actp_pipeline.publish.tiktok import TikTokPublisher
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.sandbox.routes.tiktok_ads import TikTokAdsDialect

START = datetime.fromisoformat("2025-03-01T12:00:00+00:00")
ADV = "7000000000000000001"
TRUTH = "truth-for-tests"


@pytest.fixture
def sandbox():
    with SandboxServer(WorldConfig(start=START, truth_token=TRUTH)) as server:
        yield server


def service(server: SandboxServer):
    return next(d for d in server.api.dialects if isinstance(d, TikTokAdsDialect)).service


def advance(server: SandboxServer, hours: float) -> None:
    httpx.post(server.url + "/sandbox/clock/advance", json={"hours": hours}, timeout=30).raise_for_status()


def utc_now(server: SandboxServer) -> datetime:
    return server.clock.now().astimezone(UTC).replace(tzinfo=None)


def client(server: SandboxServer, token: str | None = None, **kw) -> TikTokAdsClient:
    return TikTokAdsClient(server.url, token or server.config.api_keys[0], **kw)


@pytest.fixture
def organic(sandbox, mp4_with_descriptor):
    """(public video id, variant id) of a post published through TikTok's Content Posting dialect."""
    path, variant = mp4_with_descriptor
    with TikTokPublisher(sandbox.config.api_keys[0], base_url=sandbox.url, clock=sandbox.clock.now,
                         poll_interval_s=0.05) as pub:
        post = pub.publish(media_path=path, platform="tiktok", account="main", caption="POV: the serum that works",
                           hashtags=["skincare"], scheduled_at=None, idempotency_key="k-ads")
        advance(sandbox, 0.5)  # moderation ends: the public video id appears
        status = pub.fetch_status(post["post_id"])
    [video_id] = status["publicaly_available_post_id"]
    return str(video_id), variant["variant_id"]


def truth_item(server: SandboxServer, adset_id: str) -> dict:
    items = httpx.get(server.url + "/sandbox/truth/ads", headers={"X-Truth-Token": TRUTH}, timeout=30).json()["items"]
    return next(i for i in items if i["adset_id"] == adset_id)


def test_round_trip_campaign_ad_group_spark_ad_report_budget_pause_copy(sandbox, organic):
    video_id, variant = organic
    with client(sandbox) as tt:
        assert isinstance(tt, AdsClient)
        learning = campaign_name("virality", "learning") + " | t1"
        cid = tt.create_campaign(ADV, name=learning, objective="OUTCOME_ENGAGEMENT", budget_mode="ABO",
                                 daily_budget=None)
        name = f"ACTP | virality | learning | {variant} | t1"
        sid = tt.create_ad_set(ADV, campaign_id=cid, name=name, variant_id=variant, post_id=video_id, daily_budget=24.0)

        camps = tt.campaigns(ADV)
        assert list(camps.columns) == list(CAMPAIGN_COLUMNS)
        [camp] = camps.to_dict("records")
        assert (camp["id"], camp["goal"], camp["kind"], camp["budget_mode"], camp["status"]) == (
            cid, "virality", "learning", "ABO", "ACTIVE")
        assert camp["objective"] == "VIDEO_VIEWS" and math.isnan(camp["daily_budget"])
        assert str(camps["created_at"].dtype) == "datetime64[ns]"
        sets = tt.ad_sets(ADV)
        assert list(sets.columns) == list(AD_SET_COLUMNS) and sets["daily_budget"].dtype == "float64"
        [row] = sets.to_dict("records")
        assert (row["id"], row["campaign_id"], row["variant_id"], row["post_id"], row["daily_budget"], row["status"]) == (
            sid, cid, variant, video_id, 24.0, "ACTIVE")
        assert tt.find_ad_set(ADV, name)["id"] == sid and tt.find_campaign(ADV, learning)["id"] == cid
        assert tt.find_ad_set(ADV, name[:-1]) is None  # TikTok's name filter is fuzzy; ACTP's lookup is exact

        advance(sandbox, 6)
        ins = tt.insights(ADV, START.replace(tzinfo=None), utc_now(sandbox))
        assert list(ins.columns) == list(INSIGHT_COLUMNS)
        assert len(ins) >= 5 and set(ins["ad_set_id"]) == {sid} and ins["spend"].sum() > 0
        assert ins["impressions"].dtype == "int64" and ins["at"].dtype == "datetime64[ns]"
        assert ins["thruplay"].notna().all() and ins["link_click"].notna().all()
        for signal, metric in SIGNAL_METRICS.items():  # no TikTok metric: unknown, never 0
            assert ins[signal].isna().all() == (metric is None), signal

        truth = truth_item(sandbox, sid)  # the ground truth sees the same ad group, delivery and creative
        assert truth["platform"] == "tiktok" and truth["variant_id"] == variant and truth["budget_mode"] == "ABO"
        assert truth["spend_to_date"] == pytest.approx(ins["spend"].sum(), abs=0.011)

        tt.set_budget(sid, 30.0)
        assert tt.get(sid, ["daily_budget", "status"]) == {"id": sid, "daily_budget": "3000", "status": "ACTIVE"}
        tt.set_status(sid, "PAUSED")
        assert tt.get(sid, ["status"])["status"] == "PAUSED"
        paused_at = utc_now(sandbox)
        advance(sandbox, 3)
        later = tt.insights(ADV, paused_at + timedelta(hours=1), utc_now(sandbox))
        assert later.empty or later["spend"].sum() == 0  # a paused ad group spends nothing

        scaling = tt.create_campaign(ADV, name=campaign_name("virality", "scaling") + " | t2",
                                     objective="OUTCOME_ENGAGEMENT", budget_mode="CBO", daily_budget=60.0)
        copy_name = f"ACTP | virality | scaling | {variant} | t2"
        copy = tt.duplicate_ad_set(sid, campaign_id=scaling, name=copy_name)
        copied = tt.find_ad_set(ADV, copy_name)
        assert copied["id"] == copy and copied["campaign_id"] == scaling and copied["promoted_from"] == sid
        assert copied["variant_id"] == variant and copied["post_id"] == video_id and copied["status"] == "ACTIVE"
        assert math.isnan(copied["daily_budget"]) and tt.get(scaling, ["daily_budget"])["daily_budget"] == "6000"
        ad_id = tt.ensure_ad(ADV, copy, variant_id=variant, post_id=video_id)  # already there: not made again
        assert tt.get(ad_id, ["status"])["status"] == "ACTIVE"
        assert len(tt._ads_of(ADV, copy)) == 1


def test_rate_limit_is_tiktoks_40100_and_retryable(sandbox):
    svc = service(sandbox)
    svc.policy = dataclasses.replace(svc.policy, requests_per_minute=2)
    with client(sandbox) as tt:
        tt.RETRY_BACKOFF_S = 0.0
        tt.campaigns(ADV)
        tt.campaigns(ADV)
        with pytest.raises(AdsError) as err:
            tt.campaigns(ADV)
        assert err.value.code == 40100 and err.value.retryable and err.value.fbtrace_id
    raw = httpx.get(sandbox.url + "/open_api/v1.3/campaign/get/", params={"advertiser_id": ADV},
                    headers={"Access-Token": sandbox.config.api_keys[0]}, timeout=30)
    assert raw.status_code == 200 and raw.json()["code"] == 40100 and raw.json()["data"] == {}
    advance(sandbox, 1 / 60)  # the window is a simulated minute
    with client(sandbox) as tt:
        assert tt.campaigns(ADV).empty


def test_bad_and_empty_token(sandbox):
    with client(sandbox, token="not-a-key") as tt, pytest.raises(AdsError) as err:
        tt.campaigns(ADV)
    assert err.value.code == 40105 and not err.value.retryable
    raw = httpx.get(sandbox.url + "/open_api/v1.3/campaign/get/", params={"advertiser_id": ADV}, timeout=30)
    body = raw.json()
    assert raw.status_code == 200 and body["code"] == 40104 and set(body) == {"code", "message", "request_id", "data"}


class LoseAnswer:
    """ASGI wrapper: the next `times` requests to `path` are served, but their answers never reach the client."""

    def __init__(self, app, path: str, times: int = 1):
        self.app, self.path, self.times = app, path, times

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].rstrip("/").endswith(self.path) or self.times <= 0:
            return await self.app(scope, receive, send)
        self.times -= 1

        async def swallow(message):
            return None

        await self.app(scope, receive, swallow)
        await asyncio.sleep(3.0)  # the client's read times out first


def test_lost_answers_are_reconciled_by_name_never_made_twice(sandbox, organic):
    video_id, variant = organic
    real = sandbox.api.app
    with client(sandbox, timeout_s=1.0) as tt:
        sandbox.api.app = LoseAnswer(real, "campaign/create")
        name = campaign_name("virality", "learning") + " | lost"
        with pytest.raises(AdsError) as err:
            tt.create_campaign(ADV, name=name, objective="OUTCOME_ENGAGEMENT", budget_mode="ABO", daily_budget=None)
        assert err.value.retryable and "may or may not" in err.value.message
        cid = tt.find_campaign(ADV, name)["id"]  # made: found by its name, not created again

        sandbox.api.app = LoseAnswer(real, "adgroup/create")
        set_name = f"ACTP | virality | learning | {variant} | lost"
        with pytest.raises(AdsError):
            tt.create_ad_set(ADV, campaign_id=cid, name=set_name, variant_id=variant, post_id=video_id,
                             daily_budget=20.0)
        found = tt.find_ad_set(ADV, set_name)
        assert found is not None and found["variant_id"] is None  # the ad group exists, its ad was never sent
        ad_id = tt.ensure_ad(ADV, found["id"], variant_id=variant, post_id=video_id)
        assert tt.ensure_ad(ADV, found["id"], variant_id=variant, post_id=video_id) == ad_id

        scaling = tt.create_campaign(ADV, name=campaign_name("virality", "scaling") + " | lost",
                                     objective="OUTCOME_ENGAGEMENT", budget_mode="CBO", daily_budget=50.0)
        sandbox.api.app = LoseAnswer(real, "adgroup/create")
        copy_name = f"ACTP | virality | scaling | {variant} | lost"
        copy = tt.duplicate_ad_set(found["id"], campaign_id=scaling, name=copy_name)  # looks the copy up itself
        sandbox.api.app = real
        again = tt.duplicate_ad_set(found["id"], campaign_id=scaling, name=copy_name, resume=True)
        assert again == copy

        sets = tt.ad_sets(ADV)
        assert sorted(sets["name"]) == sorted([set_name, copy_name])  # one of each, nothing twice
        assert len(tt.campaigns(ADV)) == 2
        assert sets.set_index("name").loc[copy_name, "promoted_from"] == found["id"]
        assert len(tt._ads_of(ADV, copy)) == 1


def test_unknown_metric_is_nan_not_zero():
    from actp_pipeline.ads.tiktok import report_frame

    rows = [{"dimensions": {"adgroup_id": "1", "stat_time_hour": "2025-03-01 12:00:00"},
             "metrics": {"spend": "1.50", "impressions": "250", "clicks": "3", "profile_visits": "2"}}]
    frame = report_frame(rows, ADV, datetime(2025, 3, 1), datetime(2025, 3, 2))
    [rec] = frame.to_dict("records")
    assert rec["spend"] == 1.5 and rec["impressions"] == 250 and rec["link_click"] == 3.0
    assert rec["profile_view"] == 2.0 and math.isnan(rec["thruplay"]) and math.isnan(rec["lead"])
    assert isinstance(frame, pd.DataFrame) and frame["thruplay"].dtype == "float64"
