"""The Playwright page collector (research/sources/page_collector.py) against the sandbox's market page
(sandbox/routes/market_pages.py) through Debian's Chromium: it collects the day's items and they validate;
it fetches nothing unless allowed; robots.txt keeps it out (a Disallow rule, a robots.txt answering 5xx)
or lets it in (4xx); its page loads are spaced by the throttle or a longer Crawl-delay. The sandbox's
request log (/sandbox/truth/web_requests) is what says which requests were made and when."""

from __future__ import annotations

import httpx
import pytest

from actp_pipeline.chromium import chromium_problem
from actp_pipeline.research.market_items import validate_items
from actp_pipeline.research.sources import page_collector
from actp_pipeline.research.sources.base import Source, SourceError
from actp_pipeline.sandbox import SandboxServer
from tests.sandbox.conftest import sandbox_config

DAY = "2025-02-27"
PER_PAGE = 10
MIN_INTERVAL_S = 0.6

needs_browser = pytest.mark.skipif(chromium_problem() is not None, reason=str(chromium_problem()))


@pytest.fixture(scope="module")
def sb():
    # 8 posts per platform and day: 24 items, three pages of 10
    with SandboxServer(sandbox_config(seed=3, market_items_per_day=8, malformed_rate=0.15)) as server:
        yield server


def log(sb) -> list[dict]:
    r = httpx.get(sb.url + "/sandbox/truth/web_requests", headers={"X-Truth-Token": sb.config.truth_token})
    return r.json()["items"]


def truth(sb) -> list[dict]:
    r = httpx.get(sb.url + "/sandbox/truth/market", params={"date": DAY, "kind": "post"},
                  headers={"X-Truth-Token": sb.config.truth_token})
    return r.json()["items"]


def collector(sb, path: str = f"/sandbox/web/market?date={{day}}&per_page={PER_PAGE}", **spec):
    return page_collector.from_spec({"type": "page", "url": sb.url + path, "allow": True,
                                     "min_interval_s": MIN_INTERVAL_S, **spec}, env={})


class Robots:
    """Wraps the sandbox app: /robots.txt answers `status` with `text`; everything else passes."""

    def __init__(self, sb, status: int, text: str = ""):
        self.sb, self.inner, self.status, self.text = sb, sb.api.app, status, text

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/robots.txt":
            return await self.inner(scope, receive, send)
        await send({"type": "http.response.start", "status": self.status,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": self.text.encode()})

    def __enter__(self):
        self.sb.api.app = self
        return self

    def __exit__(self, *exc):
        self.sb.api.app = self.inner


def page_loads(entries: list[dict]) -> list[dict]:
    return [e for e in entries if e["path"] == "/sandbox/web/market"]


@needs_browser
def test_collects_the_days_items_and_they_validate(sb):
    src = collector(sb)
    assert isinstance(src, Source)
    before = len(log(sb))
    items = list(src.fetch(DAY))
    seen = log(sb)[before:]
    expected = truth(sb)
    assert len(items) == len(expected) == 24
    assert [e["query"] for e in page_loads(seen)] == [
        f"date={DAY}&per_page=10", f"date={DAY}&page=2&per_page=10", f"date={DAY}&page=3&per_page=10"]
    assert seen[0]["path"] == "/robots.txt" and all(e["user_agent"] == "actp-research/0.1" for e in seen)
    df, rejected = validate_items(items, source=src.name, collected_for=DAY)
    malformed = {t["id"] for t in expected if t["malformed"]}
    assert len(df) + len(rejected) == 24 and len(df) >= 24 - len(malformed)
    assert set(df["item_id"]).isdisjoint({t["id"] for t in expected if t["malformed"] in ("absurd_number",)})
    clean = next(t["id"] for t in expected if not t["malformed"])
    row = df.set_index("item_id").loc[clean]
    assert row["views"] > 0 and row["caption"] and row["hashtags"] and row["duration_s"] > 0
    # the throttle, seen from both ends: the collector's own clock and the server's
    gaps = [b - a for a, b in zip(src.loads, src.loads[1:])]
    server = [b["t"] - a["t"] for a, b in zip(page_loads(seen), page_loads(seen)[1:])]
    assert len(gaps) == 2 and min(gaps) >= MIN_INTERVAL_S and min(server) >= MIN_INTERVAL_S


def test_not_allowed_fetches_nothing(sb):
    src = page_collector.from_spec({"url": sb.url + "/sandbox/web/market?date={day}"}, env={})
    assert src.allow is False
    before = len(log(sb))
    with pytest.raises(SourceError) as e:
        list(src.fetch(DAY))
    assert not e.value.retryable and "not allowed" in str(e.value)
    assert log(sb)[before:] == []  # not even robots.txt


def test_a_disallowed_path_is_refused(sb):
    before = len(log(sb))
    with pytest.raises(SourceError) as e:
        list(collector(sb, "/sandbox/web/private").fetch(DAY))
    assert not e.value.retryable and "Disallow: /sandbox/web/private" in str(e.value)
    assert [x["path"] for x in log(sb)[before:]] == ["/robots.txt"]


def test_a_robots_txt_answering_500_blocks(sb):
    before = len(log(sb))
    with Robots(sb, 500), pytest.raises(SourceError) as e:
        list(collector(sb).fetch(DAY))
    assert "HTTP 500" in str(e.value) and "disallowed" in str(e.value) and e.value.retryable
    assert page_loads(log(sb)[before:]) == []


@needs_browser
def test_a_missing_robots_txt_allows_and_crawl_delay_is_honoured(sb):
    with Robots(sb, 404):  # RFC 9309: "unavailable" = no rules
        items = list(collector(sb, "/sandbox/web/market?date={day}&per_page=20", max_pages=1).fetch(DAY))
    assert len(items) == 20  # max_pages=1: the first page is the answer
    rules = "User-agent: *\nCrawl-delay: 2\nDisallow: /web/\n"
    src = collector(sb, "/sandbox/web/market?date={day}&per_page=12", min_interval_s=0.1)
    with Robots(sb, 200, rules):
        items = list(src.fetch(DAY))
    assert len(items) == 24 and len(src.loads) == 2 and src.loads[1] - src.loads[0] >= 2.0


@pytest.mark.parametrize("spec, field", [
    ({}, "url"),
    ({"url": "file:///etc/passwd"}, "url"),
    ({"url": "http://x/", "allow": "yes"}, "allow"),
    ({"url": "http://x/", "min_interval_s": -1}, "min_interval_s"),
    ({"url": "http://x/", "max_pages": 0}, "max_pages"),
    ({"url": "http://x/", "fields": {"colour": ".c"}}, "colour"),
    ({"url": "http://x/", "fields": {"caption": ""}}, "fields.caption"),
    ({"url": "http://x/", "itemselector": "a"}, "itemselector"),
])
def test_bad_specs_name_the_field(spec, field):
    with pytest.raises(ValueError, match=field):
        page_collector.from_spec({"type": "page", **spec}, env={})


def test_numbers_are_read_and_junk_is_left_for_the_validator():
    item = page_collector.typed({"views": "120", "likes": "12k", "duration_s": "9.5", "caption": "7"})
    assert item == {"views": 120, "likes": "12k", "duration_s": 9.5, "caption": "7"}
