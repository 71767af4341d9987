"""ACTP's core signals read from Meta's insights by meta_signals' table: custom conversions only when the
account maps them (the sandbox's stand-ins only on loopback), landing page views read, and a signal Meta
does not report is unknown (NaN), never 0."""

from __future__ import annotations

import datetime as dt
import json
import math

import httpx
import pytest
import requests

from actp_pipeline.ads.meta import ACTION_TYPES, INSIGHT_COLUMNS, MetaAdsClient, insight_frame
from actp_pipeline.ads.meta_sdk import MetaSdkAdsClient
from actp_pipeline.ads.meta_signals import CUSTOM_SIGNALS, SIGNALS, is_loopback, signal_table

HOURLY = "hourly_stats_aggregated_by_advertiser_time_zone"
DAY = (dt.datetime(2026, 11, 21), dt.datetime(2026, 11, 22))

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # the SDK's type-checker notes


def _row(hour: int, actions: list[tuple[str, int]], adset: str = "1", **more) -> dict:
    return {"adset_id": adset, HOURLY: f"{hour:02d}:00:00 - {hour:02d}:59:59", "date_start": "2026-11-21",
            "spend": "1.00", "impressions": "100", "clicks": "3",
            "actions": [{"action_type": a, "value": str(v)} for a, v in actions], **more}


ROWS = [_row(10, [("link_click", 3), ("landing_page_view", 2), ("offsite_conversion.custom.123", 1),
                  ("lead", 1), ("offsite_conversion.fb_pixel_lead", 1), ("smartlink_click", 9)]),
        _row(11, [("link_click", 1)])]


def test_the_table_names_a_source_for_every_signal():
    assert ACTION_TYPES == tuple(SIGNALS) and "landing_page_view" in ACTION_TYPES
    assert INSIGHT_COLUMNS[-len(ACTION_TYPES):] == ACTION_TYPES
    assert set(CUSTOM_SIGNALS) == {"smartlink_click", "profile_view", "presave_complete"}
    assert SIGNALS["thruplay"].field == "video_thruplay_watched_actions"
    assert {s: SIGNALS[s].action_type for s in ("link_click", "landing_page_view", "lead")} == {
        "link_click": "link_click", "landing_page_view": "landing_page_view", "lead": "lead"}


def test_a_mapped_custom_conversion_is_read_and_landing_page_views_are_read():
    df = insight_frame(ROWS, "acc", *DAY, {"smartlink_click": "offsite_conversion.custom.123"})
    assert list(df["smartlink_click"]) == [1.0, 0.0]  # Meta lists only what happened: 0 in hour 11
    assert list(df["landing_page_view"]) == [2.0, 0.0] and list(df["link_click"]) == [3.0, 1.0]
    assert list(df["lead"]) == [1.0, 0.0]  # the aggregate only: its pixel part is not added again
    assert "offsite_conversion.custom.123" not in df.columns  # read as the signal, not an extra column
    assert list(df["offsite_conversion.fb_pixel_lead"]) == [1.0, 0.0]  # unread types stay extra columns
    assert df["profile_view"].isna().all() and df["presave_complete"].isna().all()
    # a bare custom conversion id is the same mapping
    same = insight_frame(ROWS, "acc", *DAY, {"smartlink_click": "123"})
    assert list(same["smartlink_click"]) == [1.0, 0.0]


def test_an_unmapped_custom_signal_is_unknown_never_zero():
    df = insight_frame(ROWS, "acc", *DAY)
    for signal in CUSTOM_SIGNALS:
        assert df[signal].isna().all(), signal
    # an action named like an ACTP signal is not Meta's: "smartlink_click" is not read, nor an extra column
    assert list(df.columns) == list(INSIGHT_COLUMNS) + ["offsite_conversion.custom.123",
                                                       "offsite_conversion.fb_pixel_lead"]
    assert df["thruplay"].isna().all()  # no row reports the ThruPlay field


def test_the_sandbox_default_applies_only_on_loopback():
    assert is_loopback("http://127.0.0.1:8787/graph") and is_loopback("http://localhost:1/graph")
    assert is_loopback("http://[::1]:8787/graph") and is_loopback("http://127.0.0.2/graph")
    assert not is_loopback("https://graph.facebook.com") and not is_loopback("http://sandbox:8787/graph")
    assert signal_table(base_url="http://127.0.0.1:8787/graph")["smartlink_click"] == "smartlink_click"
    assert signal_table(base_url="https://graph.facebook.com")["smartlink_click"] is None
    mapped = signal_table({"profile_view": "offsite_conversion.custom.7"}, base_url="http://127.0.0.1:1/graph")
    assert mapped["profile_view"] == "offsite_conversion.custom.7" and mapped["presave_complete"] == "presave_complete"
    for bad in ({"thruplay": "video_view"}, {"streams": "x"}, {"smartlink_click": "has space"}):
        with pytest.raises(ValueError):
            signal_table(bad)


def _graph(rows: list[dict]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/insights")
        return httpx.Response(200, json={"data": rows, "paging": {}})
    return httpx.MockTransport(handler)


def test_the_mapping_is_per_client():
    mapped = MetaAdsClient("https://graph.example", "tok", transport=_graph(ROWS),
                           signal_actions={"smartlink_click": "offsite_conversion.custom.123"})
    plain = MetaAdsClient("https://graph.example", "tok", transport=_graph(ROWS))
    local = MetaAdsClient("http://127.0.0.1:9/graph", "tok", transport=_graph(ROWS))
    with mapped, plain, local:
        a, b, c = (x.insights("acc", *DAY) for x in (mapped, plain, local))
    assert list(a["smartlink_click"]) == [1.0, 0.0]
    assert b["smartlink_click"].isna().all() and b["presave_complete"].isna().all()
    assert list(c["smartlink_click"]) == [9.0, 0.0]  # the sandbox's stand-in name, on loopback only
    assert mapped.signal_actions["smartlink_click"] == "offsite_conversion.custom.123"
    assert plain.signal_actions["smartlink_click"] is None


def test_the_sdk_client_takes_the_same_mapping(monkeypatch):
    sdk = MetaSdkAdsClient("https://graph.example", "tok", signal_actions={"presave_complete": "55"})
    plain = MetaSdkAdsClient("https://graph.example", "tok")
    assert sdk.signal_actions["presave_complete"] == "offsite_conversion.custom.55"
    assert plain.signal_actions["presave_complete"] is None
    rows = [_row(10, [("offsite_conversion.custom.55", 4)])]

    def answer(method, url, **kw):  # what Meta would answer, as `requests` hands it to the SDK
        resp = requests.Response()
        resp.status_code, resp._content = 200, json.dumps({"data": rows, "paging": {}}).encode()
        resp.headers["Content-Type"] = "application/json"
        return resp

    for client in (sdk, plain):
        monkeypatch.setattr(client.api._session.requests, "request", answer)
    with sdk, plain:
        got, unknown = sdk.insights("acc", *DAY), plain.insights("acc", *DAY)
    assert list(got["presave_complete"]) == [4.0]
    assert math.isnan(unknown["presave_complete"][0])


def test_the_ads_resource_reads_custom_signals_from_actp_ads_signal_actions(monkeypatch):
    from actp_pipeline.settings import Settings
    from resources.defaults import default_resources

    monkeypatch.setenv("ACTP_ADS_SIGNAL_ACTIONS", "smartlink_click=123, profile_view=offsite_conversion.custom.456")
    monkeypatch.setenv("ACTP_ADS_URL", "https://graph.facebook.com")
    monkeypatch.setenv("ACTP_ADS_ACCESS_TOKEN", "not-a-real-token")
    ads = default_resources(Settings())["ads"]
    with ads.client() as client:
        assert client.signal_actions["smartlink_click"] == "offsite_conversion.custom.123"
        assert client.signal_actions["profile_view"] == "offsite_conversion.custom.456"
        assert client.signal_actions["presave_complete"] is None  # unmapped on a real account: unknown
    monkeypatch.setenv("ACTP_ADS_SIGNAL_ACTIONS", "smartlink_click")
    with pytest.raises(ValueError, match="ACTP_ADS_SIGNAL_ACTIONS"):
        Settings()


def test_tiktok_ads_on_a_real_host_refuse_the_placeholder_landing_page():
    import dagster as dg

    from resources.ads import AdsResource

    with pytest.raises(dg.Failure, match="landing_page_url"):
        AdsResource(base_url="https://business-api.tiktok.com", access_token="t", platform="tiktok").client()
    real = AdsResource(base_url="https://business-api.tiktok.com", access_token="t", platform="tiktok",
                       landing_page_url="https://shop.example.org/")
    with real.client() as client:
        assert client.landing_page_url == "https://shop.example.org/"
    with AdsResource(base_url="http://127.0.0.1:9", access_token="t", platform="tiktok").client() as sandbox:
        assert sandbox.landing_page_url == "https://example.com/"  # the sandbox takes the placeholder
