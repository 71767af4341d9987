"""Contract: the sandbox's Ad Library endpoint (GET /<version>/ads_archive) against Meta's documented fields,
parameters, paging and error bodies; and the research source (research/sources/ad_library.py, on Meta's SDK
with only its base URL overridden) against it over real HTTP, the access token never reaching stored data,
errors or logs."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import httpx
import pytest

from actp_pipeline.research.market_items import validate_items
from actp_pipeline.research.sources import ad_library
from actp_pipeline.research.sources.base import Source, SourceError
from actp_pipeline.sandbox import SandboxServer
from tests.sandbox.conftest import sandbox_config

DAY = "2025-02-27"
ARCHIVE = "/graph/v21.0/ads_archive"
# Meta's ArchivedAd fields the Ad Library API documents (the ones ACTP reads, and the sandbox serves)
DOCUMENTED = {"id", "ad_creation_time", "ad_creative_bodies", "ad_creative_link_captions",
              "ad_creative_link_descriptions", "ad_creative_link_titles", "ad_delivery_start_time",
              "ad_delivery_stop_time", "ad_snapshot_url", "bylines", "currency", "delivery_by_region",
              "demographic_distribution", "estimated_audience_size", "eu_total_reach", "impressions", "languages",
              "page_id", "page_name", "publisher_platforms", "spend", "target_ages", "target_gender",
              "target_locations", "age_country_gender_reach_breakdown", "beneficiary_payers"}
META_PLATFORMS = {"facebook", "instagram", "audience_network", "messenger", "whatsapp", "oculus", "threads"}
ALL_FIELDS = ",".join(ad_library.FIELDS)
GRAPH_ERROR_KEYS = {"message", "type", "code", "fbtrace_id"}
TOKEN = "tok-SECRET-42"


@pytest.fixture(scope="module")
def sb():
    with SandboxServer(sandbox_config(seed=5)) as server:
        yield server


@pytest.fixture(scope="module")
def key(sb) -> str:
    return sb.config.api_keys[0]


def archive(sb, **params) -> httpx.Response:
    return httpx.get(sb.url + ARCHIVE, params=params, timeout=30)


def every_page(sb, first: httpx.Response) -> list[dict]:
    out, body = [], first.json()
    while True:
        out.extend(body["data"])
        nxt = body["paging"].get("next")
        if not nxt:
            return out
        body = httpx.get(nxt, timeout=30).json()


def truth_ads(sb, day: str) -> list[dict]:
    r = httpx.get(sb.url + "/sandbox/truth/market", params={"date": day, "kind": "ad"},
                  headers={"X-Truth-Token": sb.config.truth_token}, timeout=30)
    return r.json()["items"]


def source(sb, key, **spec):
    return ad_library.from_spec({"token_env": "META_AD_LIBRARY_TOKEN", "graph_url": sb.url + "/graph", **spec},
                                env={"META_AD_LIBRARY_TOKEN": key})


# ------------------------------------------------------------------------------ the sandbox's shape
def test_documented_shape_of_every_archived_ad(sb, key):
    r = archive(sb, access_token=key, ad_reached_countries='["US"]', ad_active_status="ALL",
                ad_delivery_date_min=DAY, ad_delivery_date_max=DAY, fields=ALL_FIELDS, limit=1000)
    assert r.status_code == 200
    ads = r.json()["data"]
    assert ads
    for ad in ads:
        assert set(ad) <= DOCUMENTED, set(ad) - DOCUMENTED
        assert re.fullmatch(r"[1-9][0-9]{9,20}", ad["id"])
        assert set(ad["publisher_platforms"]) <= META_PLATFORMS
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", ad["ad_delivery_start_time"])
        assert ad["ad_delivery_start_time"] <= DAY and ad["ad_delivery_stop_time"] == DAY  # a past day: stopped
        assert all(isinstance(b, str) for b in ad["ad_creative_bodies"])
        for band in (ad["impressions"], ad["spend"]):
            assert set(band) <= {"lower_bound", "upper_bound"} and band["lower_bound"].isdigit()
            assert int(band["lower_bound"]) <= int(band.get("upper_bound", band["lower_bound"]))
        assert ad["currency"] == "USD" and "eu_total_reach" not in ad  # no EU country asked for
        assert f"id={ad['id']}" in ad["ad_snapshot_url"] and "access_token=" in ad["ad_snapshot_url"]


def test_fields_are_honoured_and_id_is_the_default(sb, key):
    base = {"access_token": key, "ad_reached_countries": "US", "ad_delivery_date_min": DAY,
            "ad_delivery_date_max": DAY, "ad_active_status": "ALL"}
    assert all(set(ad) == {"id"} for ad in archive(sb, **base).json()["data"])
    picked = archive(sb, **base, fields="page_name,impressions").json()["data"]
    assert picked and all(set(ad) == {"id", "page_name", "impressions"} for ad in picked)
    eu = archive(sb, **{**base, "ad_reached_countries": '["DE","FR"]'}, fields="eu_total_reach").json()["data"]
    assert eu and all(isinstance(ad["eu_total_reach"], int) for ad in eu)


def test_cursor_paging_reads_every_ad_once(sb, key):
    query = {"access_token": key, "ad_reached_countries": "US", "ad_active_status": "ALL",
             "ad_delivery_date_min": "2025-02-25", "ad_delivery_date_max": DAY, "fields": "id,ad_delivery_stop_time"}
    whole = archive(sb, **query, limit=1000).json()
    assert "next" not in whole["paging"]
    first = archive(sb, **query, limit=4)
    body = first.json()
    assert body["paging"]["cursors"]["after"] and body["paging"]["next"]
    paged = every_page(sb, first)
    assert [a["id"] for a in paged] == [a["id"] for a in whole["data"]]
    assert len({a["id"] for a in paged}) == len(paged)
    days = {a["ad_delivery_stop_time"] for a in paged}
    assert days == {"2025-02-25", "2025-02-26", DAY}  # the window is every day in it
    instagram = sum(1 for d in ("2025-02-25", "2025-02-26", DAY) for t in truth_ads(sb, d))
    assert len(paged) < instagram  # Meta's library holds Meta's ads only, not the world's TikTok/YouTube ones


def test_search_terms_match_the_body(sb, key):
    base = {"access_token": key, "ad_reached_countries": "US", "ad_active_status": "ALL",
            "ad_delivery_date_min": DAY, "ad_delivery_date_max": DAY, "fields": "ad_creative_bodies", "limit": 500}
    ads = archive(sb, **base).json()["data"]
    word = re.findall(r"[a-z]{6,}", ads[0]["ad_creative_bodies"][0].lower())[0]
    found = archive(sb, **base, search_terms=word).json()["data"]
    assert ads[0]["id"] in {a["id"] for a in found}
    assert all(word in a["ad_creative_bodies"][0].lower() for a in found)
    assert len(found) <= len(ads)
    assert archive(sb, **base, search_terms="zzzqqq nothing matches").json()["data"] == []


@pytest.mark.parametrize("params, status, code", [
    ({"access_token": "not-a-key", "ad_reached_countries": "US"}, 400, 190),
    ({"ad_reached_countries": "US"}, 400, 104),
    ({"ad_reached_countries": ""}, 400, 100),  # with the key: missing ad_reached_countries
    ({"ad_reached_countries": "US", "ad_active_status": "SOMETIMES"}, 400, 100),
    ({"ad_reached_countries": "US", "ad_delivery_date_min": "27/02/2025"}, 400, 100),
    ({"ad_reached_countries": "US", "fields": "id,no_such_field"}, 400, 100),
    ({"ad_reached_countries": "US", "after": "not-a-cursor"}, 400, 100),
    ({"ad_reached_countries": "USA"}, 400, 100),
])
def test_graph_error_bodies(sb, key, params, status, code):
    if code != 190 and code != 104:
        params = {"access_token": key, **params}
    r = archive(sb, **params)
    assert r.status_code == status
    err = r.json()["error"]
    assert GRAPH_ERROR_KEYS <= set(err) and err["code"] == code and err["type"] == "OAuthException"
    if params.get("ad_reached_countries") == "":
        assert err["error_subcode"] and "ad_reached_countries" in err["message"]
    assert key not in r.text


# ------------------------------------------------------------------------------- the source
def test_source_reads_the_days_instagram_ads_without_the_token(sb, key, caplog):
    src = source(sb, key, limit=7, search_terms=[])  # a small page: paging is exercised
    assert isinstance(src, Source) and src.name == "meta_ad_library"
    with caplog.at_level(logging.DEBUG):
        items = list(src.fetch(DAY))
    truth = [t for t in truth_ads(sb, DAY)]
    served = archive(sb, access_token=key, ad_reached_countries="US", ad_active_status="ALL",
                     ad_delivery_date_min=DAY, ad_delivery_date_max=DAY, limit=1000).json()["data"]
    assert len(items) == len(served) > 7 and len(served) < len(truth)
    assert all(i["kind"] == "ad" and i["platform"] == "instagram" for i in items)
    assert all("duration_s" not in i for i in items)  # unknown in the library
    df, rejected = validate_items(items, source=src.name, collected_for=DAY)
    assert len(df) + len(rejected) == len(items) and len(df) >= len(items) * 0.8
    stored = json.dumps(items) + df.to_json(date_format="iso") + json.dumps([r.as_dict() for r in rejected]) + repr(src)
    assert key not in stored and "access_token" not in stored
    assert key not in caplog.text
    assert all(u.startswith("https://www.facebook.com/ads/archive/render_ad/?id=") for u in df["url"])
    assert (df["spend_usd"] > 0).all() and (df["impressions"] > 0).all() and (df["views"] > 0).all()


def test_queries_are_added_to_the_search_terms(sb, key):
    everything = list(source(sb, key).fetch(DAY))
    word = re.findall(r"[a-z]{6,}", everything[0]["caption"].lower())[0]
    found = list(source(sb, key, search_terms=["zzzqqq nothing matches"]).fetch(DAY, queries=[word]))
    assert found and all(word in i["caption"].lower() for i in found)
    assert everything[0]["id"] in {i["id"] for i in found}


def test_a_refused_token_is_final_and_not_in_the_error(sb):
    with pytest.raises(SourceError) as e:
        list(source(sb, "wrong-token-value-123").fetch(DAY))
    assert not e.value.retryable and "190" in str(e.value)
    assert "wrong-token-value-123" not in str(e.value) and e.value.__cause__ is None


class Canned:
    """Wraps the sandbox app: requests for ads_archive get `answer(n)` (the n-th such request), others pass."""

    def __init__(self, sb, answer):
        self.sb, self.inner, self.answer, self.calls = sb, sb.api.app, answer, 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].endswith("/ads_archive"):
            return await self.inner(scope, receive, send)
        self.calls += 1
        status, body, delay = self.answer(self.calls)
        await asyncio.sleep(delay)
        payload = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    def __enter__(self):
        self.sb.api.app = self
        return self

    def __exit__(self, *exc):
        self.sb.api.app = self.inner


ERROR_5XX = {"error": {"message": "An unexpected error has occurred.", "type": "OAuthException", "code": 2,
                       "is_transient": True, "fbtrace_id": "Ax"}}
ERROR_429 = {"error": {"message": "(#613) Calls to this api have exceeded the rate limit.", "type": "OAuthException",
                       "code": 613, "fbtrace_id": "Ay"}}


def _page(after: str) -> dict:
    return {"data": [{"id": "123456789012345", "publisher_platforms": ["instagram"]}],
            "paging": {"cursors": {"after": after}, "next": "http://x/ads_archive?after=" + after}}


@pytest.mark.parametrize("answer, retryable, words", [
    (lambda n: (500, ERROR_5XX, 0), True, "HTTP 500"),
    (lambda n: (429, ERROR_429, 0), True, "HTTP 429"),
    (lambda n: (200, _page("same"), 0), False, "repeated the cursor"),
    (lambda n: (200, _page(f"c{n}"), 0), False, "more than 3 pages"),
    (lambda n: (200, ["not", "an", "object"], 0), False, "JSON object"),
    (lambda n: (200, {"data": [], "paging": {}}, 3.0), True, "timed out"),
])
def test_source_errors(sb, key, answer, retryable, words):
    src = source(sb, key, max_pages=3, timeout_s=1.0)
    with Canned(sb, answer), pytest.raises(SourceError) as e:
        list(src.fetch(DAY))
    assert e.value.retryable is retryable and words in str(e.value)
    assert key not in str(e.value) and e.value.__cause__ is None


def test_raw_item_mapping():
    ad = {"id": "987654321098765", "publisher_platforms": ["facebook", "instagram"],
          "ad_creative_bodies": ["Body #GlowUp text"], "ad_creative_link_titles": ["Shop now"],
          "ad_delivery_start_time": "2025-02-20", "page_name": "Brand", "currency": "USD",
          "ad_snapshot_url": "https://www.facebook.com/ads/archive/render_ad/?id=9&access_token=SECRET",
          "impressions": {"lower_bound": "1000", "upper_bound": "1999"}, "spend": {"lower_bound": "100",
                                                                                 "upper_bound": "199"}}
    item = ad_library.raw_item(ad)
    assert item == {"kind": "ad", "platform": "instagram", "id": "987654321098765",
                    "caption": "Body #GlowUp text\nShop now", "hashtags": ["#glowup"], "posted_at": "2025-02-20",
                    "author": "Brand", "url": "https://www.facebook.com/ads/archive/render_ad/?id=9",
                    "impressions": 1499, "views": 1499, "spend_usd": 149.0}
    eu = ad_library.raw_item({**ad, "eu_total_reach": 800, "currency": "EUR", "impressions": None})
    assert eu["views"] == 800 and eu["impressions"] == 800 and "spend_usd" not in eu
    facebook = ad_library.raw_item({**ad, "publisher_platforms": ["facebook", "messenger"]})
    df, rejected = validate_items([facebook, "junk"], source="meta_ad_library", collected_for=DAY)
    assert df.empty and [r.field for r in rejected] == ["platform", "*"]
    assert "facebook" in rejected[0].problem


@pytest.mark.parametrize("spec, env, field", [
    ({}, {}, "token_env"),
    ({"token_env": "T"}, {}, "token_env"),
    ({"token_env": "T", "countries": ["USA"]}, {"T": TOKEN}, "countries"),
    ({"token_env": "T", "countries": "US"}, {"T": TOKEN}, "countries"),
    ({"token_env": "T", "limit": 0}, {"T": TOKEN}, "limit"),
    ({"token_env": "T", "graph_url": "ftp://x"}, {"T": TOKEN}, "graph_url"),
    ({"token_env": "T", "api_version": "21"}, {"T": TOKEN}, "api_version"),
    ({"token_env": "T", "platforms": ["tiktok"]}, {"T": TOKEN}, "platforms"),
    ({"token_env": "T", "serch_terms": ["x"]}, {"T": TOKEN}, "serch_terms"),
])
def test_bad_specs_name_the_field(spec, env, field):
    with pytest.raises(ValueError, match=field) as e:
        ad_library.from_spec({"type": "meta_ad_library", **spec}, env=env)
    assert TOKEN not in str(e.value)
