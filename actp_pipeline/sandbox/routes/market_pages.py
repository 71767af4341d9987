"""A public web page of the day's trending posts, for the research page collector to read with a browser.

Why: some markets are only visible as web pages (no API). research/sources/page_collector.py reads such a
listing through Playwright, honouring robots.txt, an allow switch and a throttle; this page and the
site's robots.txt are what it rehearses against. No login, no JavaScript, every value HTML-escaped.

    GET /robots.txt                         allows /sandbox/web/market, disallows /sandbox/web/private
    GET /sandbox/web/market?date=YYYY-MM-DD[&page=N][&per_page=K]
                                            the day's trending items (the same records as
                                            /sandbox/research/trending), K a page (default 50, at most 200);
                                            <a rel="next"> while more follow; each item an
                                            <article class="market-item" data-id data-platform data-kind>
                                            with .author (a link to the post), .caption, .hashtags li,
                                            time.posted-at[datetime], .duration[data-seconds] and
                                            dd.views/.likes/.comments/.shares/.saves[data-value]
    GET /sandbox/web/private                a page robots.txt keeps crawlers out of
    GET /sandbox/truth/web_requests         (X-Truth-Token) the requests for these pages and robots.txt:
                                            path, query, user agent and wall-clock time (the last 1000),
                                            for tests of the collector

A malformed world item is shown as it is (a missing field has no element, a mistyped value is printed as
text), so the collector's validation sees what a real page would give it.
"""

from __future__ import annotations

import threading
from collections import deque
from html import escape
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from .. import clock as real_time
from ..errors import bad_request
from ..transport import Auth, endpoint, html_response, json_response, query_one, route
from ..world import World
from .market import date_param, market_records
from .web_pages import SECURITY_HEADERS

ROBOTS_TXT = """# the sandbox's public pages: crawlers may read the market listing, never the private area
User-agent: *
Allow: /sandbox/web/market
Disallow: /sandbox/web/private
Disallow: /web/
"""
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_LOG = 1000  # page loads remembered for the truth endpoint
COUNTS = ("views", "likes", "comments", "shares", "saves")


def _positive(request: Request, name: str, default: int, maximum: int) -> int:
    raw = query_one(request, name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise bad_request(f"{name} must be an integer from 1 to {maximum}", field=name, code="invalid_field")
    return int(raw)


def _value(v: Any) -> str:
    return escape(str(v), quote=True)


def article(item: dict[str, Any]) -> str:
    """One item as an <article>; a field the item lacks has no element."""
    attrs = "".join(f' data-{k}="{_value(item[k])}"' for k in ("id", "platform", "kind") if k in item)
    parts = []
    if "author" in item:
        href = f' href="{_value(item["url"])}"' if "url" in item else ""
        parts.append(f'<a class="author"{href}>{_value(item["author"])}</a>')
    if "caption" in item:
        parts.append(f'<p class="caption">{_value(item["caption"])}</p>')
    if "hashtags" in item:
        tags = item["hashtags"] if isinstance(item["hashtags"], list) else [item["hashtags"]]
        parts.append('<ul class="hashtags">' + "".join(f'<li class="hashtag">{_value(t)}</li>' for t in tags) + "</ul>")
    if "posted_at" in item:
        parts.append(f'<time class="posted-at" datetime="{_value(item["posted_at"])}">{_value(item["posted_at"])}</time>')
    if "duration_s" in item:
        parts.append(f'<span class="duration" data-seconds="{_value(item["duration_s"])}">{_value(item["duration_s"])} s</span>')
    counts = "".join(f'<dt>{k}</dt><dd class="{k}" data-value="{_value(item[k])}">{_value(item[k])}</dd>'
                     for k in COUNTS if k in item)
    parts.append(f'<dl class="counts">{counts}</dl>')
    return f'<article class="market-item"{attrs}>{"".join(parts)}</article>'


def listing_page(day: str, items: list[dict[str, Any]], page: int, per_page: int) -> str:
    shown = items[(page - 1) * per_page: page * per_page]
    nav = ""
    if page * per_page < len(items):
        query = urlencode({"date": day, "page": page + 1, "per_page": per_page})
        nav = f'<nav><a rel="next" class="next" href="/sandbox/web/market?{escape(query)}">Next page</a></nav>'
    body = "".join(article(i) for i in shown)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Trending on {escape(day)} · '
            f'page {page}</title></head><body><main><h1>Trending on {escape(day)}</h1>'
            f'<p id="count">{len(items)} items</p><section id="items">{body}</section>{nav}</main></body></html>')


class MarketPages:
    """The listing pages, robots.txt and the log of page loads (thread-safe: routes run in worker threads)."""

    def __init__(self, world: World, auth: Auth):
        self.world = world
        self.auth = auth
        self._log: deque[dict[str, Any]] = deque(maxlen=MAX_LOG)
        self._lock = threading.Lock()

    def _seen(self, request: Request) -> None:
        with self._lock:
            self._log.append({"path": request.url.path, "query": request.url.query,
                              "user_agent": request.headers.get("User-Agent", ""), "t": real_time.wall_time()})

    def robots(self, request: Request, body: bytes) -> Response:
        self._seen(request)
        return Response(ROBOTS_TXT.encode("ascii"), 200, {"Cache-Control": "no-store"}, media_type="text/plain")

    def market(self, request: Request, body: bytes) -> Response:
        self._seen(request)
        day = date_param(request)
        page = _positive(request, "page", 1, 100_000)
        per_page = _positive(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
        items = [r.item for r in market_records(self.world, "post", day, None)]
        return html_response(200, listing_page(day, items, page, per_page), SECURITY_HEADERS)

    def private(self, request: Request, body: bytes) -> Response:
        self._seen(request)
        return html_response(200, "<!doctype html><title>Private</title><p id=\"private\">Not for crawlers.</p>",
                             SECURITY_HEADERS)

    def truth(self, request: Request, body: bytes) -> Response:
        with self._lock:
            return json_response(200, {"items": list(self._log)})

    def routes(self) -> list[BaseRoute]:
        return [
            route("/robots.txt", {"GET": endpoint(self.robots)}),
            route("/sandbox/web/market", {"GET": endpoint(self.market)}),
            route("/sandbox/web/private", {"GET": endpoint(self.private)}),
            route("/sandbox/truth/web_requests", {"GET": endpoint(self.truth, guard=self.auth.truth)}),
        ]


def market_page_routes(world: World, auth: Auth) -> list[BaseRoute]:
    return MarketPages(world, auth).routes()
