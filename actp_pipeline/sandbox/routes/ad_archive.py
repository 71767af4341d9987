"""GET /graph/v<major>.<minor>/ads_archive: Meta's Ad Library API as the sandbox serves it.

Why: research reads competitors' ads from the Ad Library (research/sources/ad_library.py, through Meta's SDK
with only its base URL overridden); serving the documented endpoint over the world's own ad-library items
(market.ad_records, the same ones /sandbox/research/ad_library lists) lets that source run unchanged here.

Parameters (Meta's): access_token (required: code 104 when absent, 190 when wrong), ad_reached_countries
(required, a JSON array such as ["US"] or a comma list; code 100 subcode 1001 when absent), search_terms
(at most 100 characters) with search_type KEYWORD_UNORDERED (every word in the body, the default) or
KEYWORD_EXACT_PHRASE, ad_active_status ACTIVE (the default) | INACTIVE | ALL, ad_delivery_date_min/max
(YYYY-MM-DD), search_page_ids (at most 10), publisher_platforms, media_type ALL | IMAGE | MEME | VIDEO | NONE,
ad_type, fields (without it only `id`, as on Meta), limit and after (cursor paging: paging.cursors.after,
paging.next while more follow). The next link repeats the query and ad_snapshot_url ends in the caller's
access_token, both as on Meta: a client must keep the token out of what it stores.

The archive: the ads of every day in [ad_delivery_date_min, ad_delivery_date_max] (the sandbox's today when
neither is given, at most MAX_WINDOW_DAYS). Meta's library holds Meta's ads only: the world's Instagram ads
are served (on facebook+instagram or on instagram alone), its TikTok and YouTube ads are not. An ad listed on
a past day stopped at that day's end; one of today is active. Impressions and spend are Meta's bands
(strings), the currency USD, eu_total_reach present when an EU country is asked for. A malformed world item
is served with what it has (a missing or mistyped text or count is left out, hostile text kept as it is):
the source's validator must cope with what the library returns.
Not modelled: political-ad fields (bylines, demographic_distribution, delivery_by_region), languages other
than "en", estimated_audience_size, unmask_removed_content, search by page name.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, timedelta
from typing import Any, Callable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..clock import SimClock
from ..graph import SUB_MISSING, invalid, param_enum, param_fields, param_str, pick
from ..market import SPEND_BANDS_USD, MarketRecord
from ..transport import Auth, endpoint, json_response, route
from ..world import World
from .ads import Link, authenticate, graph_page, params_of

MAX_WINDOW_DAYS = 31
MAX_SEARCH_TERMS = 100  # characters, Meta's limit
MAX_PAGE_IDS = 10
EU = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())
PUBLISHER_PLATFORMS = ("FACEBOOK", "INSTAGRAM", "AUDIENCE_NETWORK", "MESSENGER", "WHATSAPP", "OCULUS", "THREADS")
MEDIA_TYPES = ("ALL", "IMAGE", "MEME", "VIDEO", "NONE")
AD_TYPES = ("ALL", "EMPLOYMENT_ADS", "FINANCIAL_PRODUCTS_AND_SERVICES_ADS", "HOUSING_ADS",
            "POLITICAL_AND_ISSUE_ADS")
ARCHIVED_AD_FIELDS = ("id", "ad_creation_time", "ad_creative_bodies", "ad_creative_link_captions",
                      "ad_creative_link_titles", "ad_delivery_start_time", "ad_delivery_stop_time",
                      "ad_snapshot_url", "currency", "eu_total_reach", "impressions", "languages", "page_id",
                      "page_name", "publisher_platforms", "spend")
_COUNTRY = re.compile(r"^(?:[A-Z]{2}|ALL)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_IMPRESSION_BANDS = (0, 1000, 5000, 10_000, 50_000, 100_000, 200_000, 500_000, 1_000_000)


def _array(params: dict[str, Any], name: str, *, required: bool = False) -> list[str]:
    """An array parameter as Meta takes it: a JSON array (what the SDK sends; ['US'] with single quotes
    as in Meta's curl examples) or a comma-separated list."""
    raw = params.get(name)
    if raw is None or raw == "" or raw == []:
        if required:
            raise invalid(f"The parameter {name} is required", SUB_MISSING, name)
        return []
    if isinstance(raw, str) and raw.strip().startswith("["):
        try:
            raw = json.loads(raw.strip().replace("'", '"'))
        except ValueError:
            raise invalid(f"{name} is not a valid array: {raw[:60]!r}", field=name) from None
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in raw):
        raise invalid(f"{name} must be an array of strings", field=name)
    values = [str(v).strip() for v in raw if str(v).strip()]
    if required and not values:
        raise invalid(f"The parameter {name} is required", SUB_MISSING, name)
    return values


def _day(params: dict[str, Any], name: str) -> date | None:
    raw = param_str(params, name, max_len=10)
    if raw is None:
        return None
    try:
        if not _DATE.match(raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise invalid(f"{name} must be a date YYYY-MM-DD, got {raw!r}", field=name) from None


def _window(params: dict[str, Any], today: date) -> list[str]:
    low, high = _day(params, "ad_delivery_date_min"), _day(params, "ad_delivery_date_max")
    low, high = low or high or today, high or max(low or today, today)
    if high < low:
        raise invalid("ad_delivery_date_max is before ad_delivery_date_min", field="ad_delivery_date_max")
    if (high - low).days >= MAX_WINDOW_DAYS:
        raise invalid(f"the delivery date window spans more than {MAX_WINDOW_DAYS} days (a sandbox limit)",
                      field="ad_delivery_date_min")
    return [(low + timedelta(days=n)).isoformat() for n in range((high - low).days + 1)]


def _digits(*key: object, length: int = 15) -> str:
    """A Meta-like numeric id (no leading zero) derived from `key`: reproducible, no random draw."""
    digest = int(hashlib.sha256("|".join(map(str, key)).encode()).hexdigest()[:16], 16)
    return str(10 ** (length - 1) + digest % (9 * 10 ** (length - 1)))


def _band(value: int, bands: tuple[int, ...]) -> dict[str, str]:
    lower = max((b for b in bands if b <= value), default=0)
    upper = next((b - 1 for b in bands if b > value), None)
    return {"lower_bound": str(lower)} if upper is None else {"lower_bound": str(lower), "upper_bound": str(upper)}


def _count(item: dict[str, Any], name: str) -> int | None:
    v = item.get(name)
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def archived_ad(record: MarketRecord, day: str, index: int, today: str, eu: bool) -> dict[str, Any] | None:
    """The Ad Library's view of one world ad (None: not a Meta ad). Meta gives bands, not counts."""
    item = record.item
    if item.get("platform") != "instagram":
        return None
    ad_id = _digits("ad_archive", day, index)
    page = str(item.get("page_name") or item.get("author") or "")
    ad: dict[str, Any] = {"id": ad_id, "page_id": _digits("page", page), "page_name": page,
                          "publisher_platforms": ["facebook", "instagram"] if int(ad_id) % 3 else ["instagram"],
                          "languages": ["en"], "currency": "USD",
                          "ad_snapshot_url": f"https://www.facebook.com/ads/archive/render_ad/?id={ad_id}"}
    caption = item.get("caption")
    if isinstance(caption, str):
        body, _, _rest = caption.partition("\n")
        ad["ad_creative_bodies"] = [caption]
        ad["ad_creative_link_titles"] = [body[:80]]
        ad["ad_creative_link_captions"] = ["sandbox.actp.local"]
    started = item.get("posted_at")
    if isinstance(started, str) and _DATE.match(started[:10]):
        ad["ad_delivery_start_time"] = started[:10]
        ad["ad_creation_time"] = started[:10]
    if day < today:
        ad["ad_delivery_stop_time"] = day
    impressions = _count(item, "impressions")
    if impressions is not None:
        ad["impressions"] = _band(impressions, _IMPRESSION_BANDS)
    spend = item.get("spend_usd")
    if isinstance(spend, (int, float)) and not isinstance(spend, bool):
        ad["spend"] = _band(int(spend), tuple(lo for lo, _ in SPEND_BANDS_USD) + (SPEND_BANDS_USD[-1][1],))
    views = _count(item, "views")
    if eu and views is not None:
        ad["eu_total_reach"] = views
    return ad


def _matches(terms: str | None, exact: bool) -> Callable[[dict[str, Any]], bool]:
    if not terms:
        return lambda ad: True
    needle = terms.lower().strip("\"' ")
    words = needle.split()

    def test(ad: dict[str, Any]) -> bool:
        text = " ".join(ad.get("ad_creative_bodies") or []).lower()
        return needle in text if exact else all(w in text for w in words)

    return test


def _wanted(params: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """The filters of the query other than the date window, as one predicate on an archived ad."""
    terms = param_str(params, "search_terms", max_len=MAX_SEARCH_TERMS)
    exact = param_enum(params, "search_type", ("KEYWORD_UNORDERED", "KEYWORD_EXACT_PHRASE"),
                       "KEYWORD_UNORDERED") == "KEYWORD_EXACT_PHRASE"
    status = param_enum(params, "ad_active_status", ("ACTIVE", "INACTIVE", "ALL"), "ACTIVE")
    media = param_enum(params, "media_type", MEDIA_TYPES, "ALL")
    ad_type = param_enum(params, "ad_type", AD_TYPES, "ALL")
    page_ids = set(_array(params, "search_page_ids"))
    if len(page_ids) > MAX_PAGE_IDS:
        raise invalid(f"search_page_ids takes at most {MAX_PAGE_IDS} ids", field="search_page_ids")
    platforms = {p.upper() for p in _array(params, "publisher_platforms")}
    unknown = sorted(platforms - set(PUBLISHER_PLATFORMS))
    if unknown:
        raise invalid(f"publisher_platforms: unknown value {unknown[0]!r}; one of {', '.join(PUBLISHER_PLATFORMS)}",
                      field="publisher_platforms")
    text = _matches(terms, exact)

    def keep(ad: dict[str, Any]) -> bool:
        active = "ad_delivery_stop_time" not in ad
        return (text(ad) and ad_type == "ALL" and media in ("ALL", "VIDEO")  # the world's ads are videos
                and (status == "ALL" or active == (status == "ACTIVE"))
                and (not page_ids or ad["page_id"] in page_ids)
                and (not platforms or bool(platforms & {p.upper() for p in ad["publisher_platforms"]})))

    return keep


def archive(world: World, params: dict[str, Any], today: date) -> list[dict[str, Any]]:
    """The archived ads a query finds, in a stable order (day, then the day's listing order)."""
    countries = [c.upper() for c in _array(params, "ad_reached_countries", required=True)]
    bad = next((c for c in countries if not _COUNTRY.match(c)), None)
    if bad is not None:
        raise invalid(f"ad_reached_countries: {bad!r} is not an ISO 3166 country code (or ALL)",
                      field="ad_reached_countries")
    eu = "ALL" in countries or bool(EU & set(countries))
    keep = _wanted(params)
    found = []
    for day in _window(params, today):
        for i, record in enumerate(world.ad_records(day)):
            ad = archived_ad(record, day, i, today.isoformat(), eu)
            if ad is not None and keep(ad):
                found.append(ad)
    return found


def _signed(ad: dict[str, Any], token: Any) -> dict[str, Any]:
    """Meta's ad_snapshot_url carries the caller's access token (so a browser can open it): so does this."""
    if not isinstance(token, str) or not token:
        return ad
    return {**ad, "ad_snapshot_url": f"{ad['ad_snapshot_url']}&{urlencode({'access_token': token})}"}


def ad_archive_routes(world: World, auth: Auth, clock: SimClock) -> list[BaseRoute]:
    """The ads_archive route; the app puts it ahead of the Graph catch-all (its errors render in Graph's shape
    because the path is under /graph)."""

    def serve(request: Request, body: bytes, version: str) -> Response:
        params = params_of(request, body)
        authenticate(request, params, auth)
        fields = param_fields(params) or {"id"}
        unknown = sorted(fields - set(ARCHIVED_AD_FIELDS))
        if unknown:
            raise invalid(f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (ArchivedAd)",
                          field="fields")
        ads = archive(world, params, clock.now().date())
        link = Link(request.headers.get("Host") or "127.0.0.1", f"/graph/{version}/ads_archive",
                    tuple(request.query_params.multi_items()))
        scheme, _, bearer = (request.headers.get("Authorization") or "").strip().partition(" ")
        token = params.get("access_token") or (bearer.strip() if scheme.lower() in ("bearer", "oauth") else "")
        page = graph_page(link, params, list(range(len(ads))), lambda i: pick(_signed(ads[i], token), fields))
        return json_response(200, page)

    return [route("/graph/{version:graph_version}/ads_archive", {"GET": endpoint(serve)})]
