"""An ad's tracked link on the hooks service over real HTTP: the click an ad platform sends (its ad's URL tags
and its click id appended, as Meta and TikTok do) is recorded with the platform's click id and redirected with
the paid medium; the tags are dropped, never steer; anything else is still refused."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from actp_pipeline.ads.meta_records import url_tags
from actp_pipeline.hooks import links
from actp_pipeline.hooks.server import HooksServer
from actp_pipeline.store import schema

NOW = dt.datetime(2026, 12, 8, 12, 0)
KEY = links.ad_link_key("meta", "1001", "v_7")


@pytest.fixture
def hooks(tmp_path):
    with HooksServer(f"sqlite:///{tmp_path / 'store.db'}") as server:
        with server.engine.begin() as conn:
            links.create_link(conn, idempotency_key=KEY, variant_id="v_7", platform="meta", account="1001",
                              campaign="spring", destination="https://shop.example.com/offer", now=NOW,
                              channel=links.PAID)
            links.create_link(conn, idempotency_key="v_7:tiktok:main", variant_id="v_7", platform="tiktok",
                              account="main", campaign="spring", destination="https://shop.example.com/offer", now=NOW)
        yield server


def _clicks(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(schema.clicks)).mappings()]


@pytest.mark.parametrize("click_param, extra", [
    ("fbclid", url_tags("v_7")),  # Meta: the creative's url_tags, then fbclid
    ("ttclid", url_tags("v_7") + "&actp_from=1800000000000000007"),  # TikTok: the landing page's own query
])
def test_an_ad_platforms_click_is_recorded_with_its_click_id_and_redirected_as_paid(hooks, click_param, extra):
    slug = links.slug_for(KEY)
    resp = httpx.get(f"{hooks.url}/r/{slug}?{extra}&{click_param}=IwAR.0-x_1")
    assert resp.status_code == 302, resp.text
    q = parse_qs(urlsplit(resp.headers["location"]).query)
    assert q["utm_medium"] == ["actp_paid"] and q["utm_source"] == ["meta"] and q["utm_content"] == ["v_7"]
    assert q[click_param] == ["IwAR.0-x_1"] and "actp_from" not in q  # the link's tags win; the rest is dropped
    [click] = _clicks(hooks.engine)
    assert click["slug"] == slug and click["platform_click_id"] == "IwAR.0-x_1"


def test_an_organic_links_medium_is_unchanged(hooks):
    resp = httpx.get(f"{hooks.url}/r/{links.slug_for('v_7:tiktok:main')}")
    assert parse_qs(urlsplit(resp.headers["location"]).query)["utm_medium"] == ["actp_post"]


@pytest.mark.parametrize("query", [
    "utm_source=actp&url=https://evil.com",  # a tag does not open the door to a steering parameter
    "utm_source=a&utm_source=b",  # each tag once
    "fbclid=a&ttclid=b",  # one click id
    "utm_content=" + "x" * 201,
    "utm_content=%0d%0aLocation:https://evil.com",
])
def test_anything_but_tags_and_one_click_id_is_still_refused(hooks, query):
    resp = httpx.get(f"{hooks.url}/r/{links.slug_for(KEY)}?{query}")
    assert resp.status_code == 400 and "location" not in resp.headers
    assert _clicks(hooks.engine) == []


def test_a_links_channel_is_organic_or_paid():
    with pytest.raises(ValueError, match="channel"):
        links.create_link(None, idempotency_key="k", variant_id="v", platform="meta", account="a", campaign="c",
                          destination="https://shop.example.com/", now=NOW, channel="influencer")
