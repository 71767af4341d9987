"""The research feeds: a day's trending competitor posts (/sandbox/research/trending), ad library items
(/sandbox/research/ad_library) and a keyword search over the day's posts (/sandbox/research/search?q=),
paged with an opaque cursor bound to its listing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..errors import bad_request
from ..market import MarketRecord
from ..transport import Auth, endpoint, json_response, query_one, route
from ..validation import decode_json, missing
from ..world import World

MAX_PAGE = 500
DEFAULT_PAGE = 100
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def date_param(request: Request) -> str:
    raw = query_one(request, "date")
    if raw is None:
        raise missing("date")
    try:
        if not _DATE_RE.match(raw):
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        raise bad_request("date must be a calendar date YYYY-MM-DD", field="date", code="invalid_field") from None
    if not 1970 <= day.year <= 2100:
        raise bad_request("date must be between 1970 and 2100", field="date", code="invalid_field")
    return day.isoformat()


def platform_param(request: Request, platforms: tuple[str, ...]) -> str | None:
    raw = query_one(request, "platform")
    if raw is None or raw == "":
        return None
    if raw not in platforms:
        raise bad_request(f"unknown platform {raw!r}; one of {', '.join(platforms)}", field="platform",
                          code="unknown_platform")
    return raw


def _limit_param(request: Request) -> int:
    raw = query_one(request, "limit")
    if raw is None or raw == "":
        return DEFAULT_PAGE
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request("limit must be an integer", field="limit", code="invalid_field") from None
    if limit < 1:
        raise bad_request("limit must be at least 1", field="limit", code="invalid_field")
    return min(limit, MAX_PAGE)


def page(request: Request, items: list[Any], scope: str) -> Response:
    """The page of `items` after the request's cursor; a cursor only works on the listing (`scope`) it came from."""
    limit = _limit_param(request)
    scope_tag = hashlib.sha256(scope.encode()).hexdigest()[:12]
    cursor = query_one(request, "cursor")
    offset = 0
    if cursor:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            decoded = decode_json(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))
            offset = decoded["o"]
            if decoded["s"] != scope_tag or isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
                raise ValueError
        except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error):
            raise bad_request("cursor is not a cursor of this listing", field="cursor", code="invalid_cursor") from None
    nxt = None
    if offset + limit < len(items):
        token = json.dumps({"s": scope_tag, "o": offset + limit}, separators=(",", ":")).encode()
        nxt = base64.urlsafe_b64encode(token).decode("ascii").rstrip("=")
    return json_response(200, {"items": items[offset : offset + limit], "next_cursor": nxt})


def market_records(world: World, kind: str, day: str, platform: str | None) -> list[MarketRecord]:
    """What a market listing serves, in its order: the day's competitor posts (kind "post") or ad library
    items ("ad"), of one platform or all. /sandbox/truth/market indexes this same list."""
    if kind == "ad":
        return [r for r in world.ad_records(day) if platform is None or r.item.get("platform") == platform]
    platforms = [platform] if platform else list(world.config.platforms)
    return [r for p in platforms for r in world.market_records(day, p)]


MAX_QUERY_CHARS = 200


def search_terms(request: Request) -> list[str]:
    """The query's words, lowercased: a platform's search box, not a query language."""
    raw = query_one(request, "q")
    if raw is None or not raw.strip():
        raise missing("q")
    if len(raw) > MAX_QUERY_CHARS:
        raise bad_request(f"q is longer than {MAX_QUERY_CHARS} characters", field="q", code="invalid_field")
    return [w for w in re.split(r"\s+", raw.strip().lower()) if w]


def matches(item: dict[str, Any], terms: list[str]) -> bool:
    """Every word of the query appears in the caption or the hashtags (as the platforms' keyword search does:
    a "#" in the query is optional)."""
    caption = item.get("caption") if isinstance(item.get("caption"), str) else ""
    tags = item.get("hashtags") if isinstance(item.get("hashtags"), list) else []
    text = " ".join([caption, *[t for t in tags if isinstance(t, str)]]).lower()
    return all(t.lstrip("#") in text for t in terms)


def market_routes(world: World, auth: Auth) -> list[BaseRoute]:
    def listing(kind: str, scope: str):
        def serve(request: Request, body: bytes) -> Response:
            day = date_param(request)
            platform = platform_param(request, world.config.platforms)
            # the cached records' items as they are: the response is only JSON-encoded, never changed
            items = [r.item for r in market_records(world, kind, day, platform)]
            return page(request, items, f"{scope}|{day}|{platform or '*'}")

        return endpoint(serve, guard=auth.api_key)

    def search(request: Request, body: bytes) -> Response:
        day = date_param(request)
        platform = platform_param(request, world.config.platforms)
        terms = search_terms(request)
        items = [r.item for r in market_records(world, "post", day, platform) if matches(r.item, terms)]
        return page(request, items, f"search|{day}|{platform or '*'}|{' '.join(terms)}")

    return [
        route("/sandbox/research/search", {"GET": endpoint(search, guard=auth.api_key)}),
        route("/sandbox/research/trending", {"GET": listing("post", "trending")}),
        route("/sandbox/research/ad_library", {"GET": listing("ad", "ads")}),
    ]
