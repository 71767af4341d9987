"""The sandbox's TikTok Marketing API answers against documented example responses
(tests/contract/fixtures/tiktok_ads/), and ACTP's client against the same examples.

The fixtures were written for this project after the response tables of TikTok's API for Business v1.3
reference (campaign/create and /get, adgroup/create and /get, ad/create and /get, campaign/status/update,
adgroup/update, identity/get, report/integrated/get with adgroup_id + stat_time_hour, and the return codes
40002, 40100, 40104, 40105) as its SDK's models name the fields; they hold the fields ACTP and the sandbox
use, not every field TikTok documents (TikTok's objects carry dozens more). Shapes are compared both ways:
every field of an example is served with the same JSON type, and the sandbox serves no field the example
lacks. Values are compared where TikTok fixes them: the envelope {code, message, request_id, data} with
code 0 and "OK" on success and HTTP 200 on errors, enums (operation_status, budget_mode, secondary_status
prefixes), ids as digit strings, times as "YYYY-MM-DD HH:MM:SS", report metrics as strings, page_info.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from actp_pipeline.ads.tiktok import TikTokAdsClient
from tests.contract import test_tiktok_ads as round_trip
from tests.contract.test_tiktok_ads import ADV, advance

sandbox, organic = round_trip.sandbox, round_trip.organic  # the round trip's fixtures

FIXTURES = Path(__file__).parent / "fixtures" / "tiktok_ads"
TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
DIGITS = re.compile(r"^\d{1,20}$")


def documented(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}[type(value)]


def shape_diff(doc: Any, got: Any, path: str = "$") -> list[str]:
    """Where `got` differs in shape from `doc` (JSON types, keys both ways; lists by their first element)."""
    if json_type(doc) != json_type(got):
        return [f"{path}: documented {json_type(doc)}, served {json_type(got)}"]
    out: list[str] = []
    if isinstance(doc, dict):
        for k in sorted(doc.keys() | got.keys()):
            if k not in got:
                out.append(f"{path}.{k}: documented, not served")
            elif k not in doc:
                out.append(f"{path}.{k}: served, not documented")
            else:
                out += shape_diff(doc[k], got[k], f"{path}.{k}")
    elif isinstance(doc, list) and doc and got:
        out += shape_diff(doc[0], got[0], f"{path}[0]")
    return out


def call(server, method: str, path: str, payload: dict[str, Any], token: str | None = None) -> httpx.Response:
    headers = {} if token == "" else {"Access-Token": token or server.config.api_keys[0]}
    url = f"{server.url}/open_api/v1.3/{path}/"
    if method == "GET":
        query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}
        return httpx.get(url, params=query, headers=headers, timeout=30)
    return httpx.post(url, json=payload, headers=headers, timeout=30)


def check_ok(name: str, resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert shape_diff(documented(name), body) == [], name
    assert body["code"] == 0 and body["message"] == "OK" and body["request_id"]
    return body["data"]


def check_error(name: str, resp: httpx.Response) -> None:
    doc = documented(name)
    assert resp.status_code == 200, resp.text  # TikTok answers errors with HTTP 200 and the code in the body
    body = resp.json()
    assert shape_diff(doc, body) == [] and body["code"] == doc["code"] and body["data"] == {}


def check_object(obj: dict[str, Any], kind: str) -> None:
    assert all(DIGITS.match(obj[k]) for k in ("advertiser_id", "campaign_id", "adgroup_id", "ad_id") if k in obj)
    assert TIME.match(obj["create_time"]) and TIME.match(obj["modify_time"])
    assert obj["operation_status"] in ("ENABLE", "DISABLE")
    assert obj["secondary_status"].startswith(f"{kind.upper()}_STATUS_")
    if "budget_mode" in obj:
        assert obj["budget_mode"] in ("BUDGET_MODE_INFINITE", "BUDGET_MODE_DAY", "BUDGET_MODE_TOTAL")


def test_sandbox_answers_have_the_documented_shapes(sandbox, organic):
    video_id, variant = organic
    made = check_ok("campaign_create_response.json", call(sandbox, "POST", "campaign/create", {
        "advertiser_id": ADV, "campaign_name": "ACTP | virality | learning | t", "objective_type": "VIDEO_VIEWS",
        "budget_mode": "BUDGET_MODE_INFINITE"}))
    check_object(made, "campaign")
    group = check_ok("adgroup_create_response.json", call(sandbox, "POST", "adgroup/create", {
        "advertiser_id": ADV, "campaign_id": made["campaign_id"], "adgroup_name": "g", "optimization_goal": "ENGAGED_VIEW",
        "billing_event": "CPV", "placement_type": "PLACEMENT_TYPE_NORMAL", "placements": ["PLACEMENT_TIKTOK"],
        "location_ids": ["6252001"], "age_groups": ["AGE_18_24"], "languages": ["en"], "budget_mode": "BUDGET_MODE_DAY",
        "budget": 20.0, "schedule_type": "SCHEDULE_FROM_NOW", "schedule_start_time": "2025-03-01 12:30:00"}))
    check_object(group, "adgroup")
    identity = check_ok("identity_get_response.json", call(sandbox, "GET", "identity/get", {"advertiser_id": ADV}))
    [ident] = identity["identity_list"]
    assert ident["identity_type"] == "TT_USER"
    ads = check_ok("ad_create_response.json", call(sandbox, "POST", "ad/create", {
        "advertiser_id": ADV, "adgroup_id": group["adgroup_id"], "creatives": [{
            "ad_name": "a", "ad_format": "SINGLE_VIDEO", "identity_type": "TT_USER", "identity_id": ident["identity_id"],
            "tiktok_item_id": video_id, "call_to_action": "LEARN_MORE",
            "landing_page_url": f"https://example.com/?utm_content={variant}"}]}))
    assert ads["ad_ids"] == [ads["creatives"][0]["ad_id"]]
    for path, name, kind in (("campaign/get", "campaign_get_response.json", "campaign"),
                             ("adgroup/get", "adgroup_get_response.json", "adgroup"),
                             ("ad/get", "ad_get_response.json", "ad")):
        data = check_ok(name, call(sandbox, "GET", path, {"advertiser_id": ADV}))
        assert data["page_info"] == {"page": 1, "page_size": 10, "total_number": 1, "total_page": 1}
        check_object(data["list"][0], kind)
    assert check_ok("campaign_status_update_response.json", call(sandbox, "POST", "campaign/status/update", {
        "advertiser_id": ADV, "campaign_ids": [made["campaign_id"]], "operation_status": "DISABLE"}))["status"] == "DISABLE"
    check_ok("adgroup_update_response.json", call(sandbox, "POST", "adgroup/update", {
        "advertiser_id": ADV, "adgroup_id": group["adgroup_id"], "budget": 25.0}))
    call(sandbox, "POST", "campaign/status/update", {"advertiser_id": ADV, "campaign_ids": [made["campaign_id"]],
                                                    "operation_status": "ENABLE"})
    advance(sandbox, 4)
    report = check_ok("report_integrated_get_hourly_response.json", call(sandbox, "GET", "report/integrated/get", {
        "advertiser_id": ADV, "report_type": "BASIC", "data_level": "AUCTION_ADGROUP",
        "dimensions": ["adgroup_id", "stat_time_hour"], "page_size": 1000,
        "metrics": ["spend", "impressions", "clicks", "video_views_p100", "profile_visits", "conversion"],
        "start_date": "2025-03-01", "end_date": "2025-03-01"}))
    assert report["list"] and all(TIME.match(r["dimensions"]["stat_time_hour"]) for r in report["list"])
    assert all(isinstance(v, str) for r in report["list"] for v in r["metrics"].values())


def test_sandbox_errors_have_the_documented_codes(sandbox):
    check_error("error_invalid_params.json", call(sandbox, "POST", "campaign/create", {"advertiser_id": ADV}))
    check_error("error_access_token_invalid.json", call(sandbox, "GET", "campaign/get", {"advertiser_id": ADV},
                                                        token="wrong"))
    check_error("error_access_token_empty.json", call(sandbox, "GET", "campaign/get", {"advertiser_id": ADV}, token=""))
    svc = round_trip.service(sandbox)
    svc.policy = type(svc.policy)(requests_per_minute=1)
    call(sandbox, "GET", "campaign/get", {"advertiser_id": ADV})
    check_error("error_rate_limit.json", call(sandbox, "GET", "campaign/get", {"advertiser_id": ADV}))


@pytest.fixture
def documented_client():
    """The client against TikTok's documented example answers (served by an httpx MockTransport)."""
    served = {"campaign/get": "campaign_get_response.json", "adgroup/get": "adgroup_get_response.json",
              "ad/get": "ad_get_response.json", "report/integrated/get": "report_integrated_get_hourly_response.json",
              "campaign/status/update": "error_rate_limit.json"}
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path.removeprefix("/open_api/v1.3/").rstrip("/")
        return httpx.Response(200, json=documented(served[path]))

    with TikTokAdsClient("https://business-api.tiktok.com", "tok", transport=httpx.MockTransport(handler)) as client:
        client.RETRY_BACKOFF_S = 0.0
        yield client, seen


def test_client_reads_the_documented_answers(documented_client):
    client, seen = documented_client
    [camp] = client.campaigns(ADV).to_dict("records")
    assert (camp["id"], camp["goal"], camp["kind"], camp["budget_mode"], camp["status"]) == (
        "1800000000000000001", "virality", "learning", "ABO", "ACTIVE")
    [row] = client.ad_sets(ADV).to_dict("records")
    assert (row["variant_id"], row["post_id"], row["daily_budget"], row["promoted_from"]) == (
        "var-1", "7087602209870823067", 20.0, None)
    ins = client.insights(ADV, datetime(2025, 3, 1, 12), datetime(2025, 3, 1, 15))
    assert list(ins["spend"]) == [0.77, 0.81] and list(ins["thruplay"]) == [17.0, 21.0]
    assert list(ins["link_click"]) == [1.0, 2.0] and ins["smartlink_click"].isna().all()
    assert all(r.headers["Access-Token"] == "tok" for r in seen)
    report = next(r for r in seen if "report" in r.url.path)
    assert json.loads(report.url.params["dimensions"]) == ["adgroup_id", "stat_time_hour"]
    assert report.url.params["data_level"] == "AUCTION_ADGROUP" and report.url.params["report_type"] == "BASIC"


def test_client_maps_documented_errors(documented_client):
    from actp_pipeline.ads.errors import AdsError

    client, seen = documented_client
    client._where["1800000000000000001"] = ("campaign", ADV)
    with pytest.raises(AdsError) as err:
        client.set_status("1800000000000000001", "PAUSED")
    assert err.value.code == 40100 and err.value.retryable
    assert sum("status/update" in r.url.path for r in seen) == 3  # a refused write is retried after 40100
    assert json.loads(seen[-1].content) == {"advertiser_id": ADV, "campaign_ids": ["1800000000000000001"],
                                            "operation_status": "DISABLE"}
