"""The Meta Ad Library (`GET /<version>/ads_archive`) as a research source, through Meta's official SDK.

Why: competitors' running ads (their copy, how long they ran, how widely they were shown) are the market's
paid evidence of what works; the Ad Library API is Meta's documented way to read them. A sandbox answers
the same endpoint (sandbox/routes/ad_archive.py), so only `graph_url` and the token differ.

Through the SDK: `FacebookSession` with its GRAPH base URL overridden (as actp_pipeline/ads/meta_sdk.py does)
and an API instance of our own, `FacebookAdsApi(session, version).call("GET", ("ads_archive",), params)`:
the SDK encodes array parameters as JSON, builds <graph>/<version>/ads_archive and turns Graph error bodies
into FacebookRequestError. Written by hand, and why:
- paging: facebook-business (26.x) has no ArchivedAd object and no ads_archive edge, and its `Cursor` needs a
  node id plus a typed object class (ads_archive is a root edge) and follows `next` with no page cap or
  repeated-cursor check; so pages are followed here on `paging.cursors.after`, bounded by `max_pages`.
- the token goes in an `Authorization: Bearer` header (Graph accepts it), never the query string where the
  SDK puts it: requests and urllib3 write the URL into exception messages and debug logs. Graph still
  echoes the token inside `ad_snapshot_url` (and `paging.next`): the item's url drops it, `paging.next` is
  never kept, and every error message passes through `_scrub`.
- the mapping to raw market items (`raw_item`): ACTP's own schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookError, FacebookRequestError
from facebook_business.session import FacebookSession

from .base import SourceError

TYPE = "meta_ad_library"
GRAPH_URL = "https://graph.facebook.com"
API_VERSION = "v21.0"
INVALID_TOKEN = 190  # Graph's code for a refused access token
FIELDS = ("id", "ad_creation_time", "ad_delivery_start_time", "ad_delivery_stop_time", "ad_creative_bodies",
          "ad_creative_link_titles", "ad_creative_link_captions", "ad_snapshot_url", "page_id", "page_name",
          "publisher_platforms", "impressions", "spend", "currency", "eu_total_reach", "languages")
SECRET_PARAMS = ("access_token", "appsecret_proof")  # query parameters that must never reach stored data
MAX_LIMIT = 1000
_VERSION = re.compile(r"^v\d+\.\d+$")
_COUNTRY = re.compile(r"^(?:[A-Z]{2}|ALL)$")
_HASHTAG = re.compile(r"#(\w{1,100})")
PUBLISHER_PLATFORMS = ("facebook", "instagram", "audience_network", "messenger", "whatsapp", "oculus", "threads")
SPEC_KEYS = ("type", "name", "token_env", "graph_url", "api_version", "search_terms", "countries", "page_ids",
             "platforms", "limit", "max_pages", "timeout_s")


def strip_secrets(url: str) -> str:
    """The URL without access_token / appsecret_proof query parameters (the rest kept in order)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in SECRET_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _number(value: Any) -> int | None:
    """Graph sends bounds as strings of digits ("1000"); an int is taken too; anything else is unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def midpoint(bounds: Any) -> int | None:
    """The middle of Meta's {lower_bound, upper_bound} band; an open band (no upper bound) is its lower bound."""
    if not isinstance(bounds, Mapping):
        return None
    low, high = _number(bounds.get("lower_bound")), _number(bounds.get("upper_bound"))
    if low is None:
        return None
    return low if high is None or high < low else (low + high) // 2


def _first_text(value: Any) -> str | None:
    return value[0] if isinstance(value, list) and value and isinstance(value[0], str) else None


def _platform(ad: Mapping[str, Any]) -> str:
    """instagram when the ad ran there; otherwise the ad's own platforms (facebook, messenger ...), which the
    validator reports as an unknown platform: ACTP researches tiktok, instagram and youtube only."""
    raw = ad.get("publisher_platforms")
    platforms = [str(p).strip().lower() for p in raw] if isinstance(raw, list) else []
    return "instagram" if "instagram" in platforms else ",".join(platforms)


def raw_item(ad: Any) -> Any:
    """One archived ad as a raw market item (base.RAW_FIELDS). Only what the library says is filled in: no
    duration (unknown) and no engagement counts (the library has none); views are EU reach when Meta
    reports it, else the middle of the impressions band. Not an object: passed on for the validator."""
    if not isinstance(ad, Mapping):
        return ad
    item: dict[str, Any] = {"kind": "ad", "platform": _platform(ad)}
    if isinstance(ad.get("id"), (str, int)) and not isinstance(ad.get("id"), bool):
        item["id"] = str(ad["id"])
    body, title = _first_text(ad.get("ad_creative_bodies")), _first_text(ad.get("ad_creative_link_titles"))
    if body is not None or title is not None:
        item["caption"] = "\n".join(t for t in (body, title) if t and not (t == title and body and t in body))
        item["hashtags"] = sorted({"#" + t.lower() for t in _HASHTAG.findall(item["caption"])})
    for src, dst in (("ad_delivery_start_time", "posted_at"), ("page_name", "author")):
        if ad.get(src) is not None:
            item[dst] = ad[src]
    if isinstance(ad.get("ad_snapshot_url"), str):
        item["url"] = strip_secrets(ad["ad_snapshot_url"])
    shown, reach = midpoint(ad.get("impressions")), _number(ad.get("eu_total_reach"))
    if shown is not None or reach is not None:
        item["impressions"] = shown if shown is not None else reach
        item["views"] = reach if reach is not None else shown
    spend = midpoint(ad.get("spend"))
    if spend is not None and ad.get("currency") == "USD":
        item["spend_usd"] = float(spend)
    return item


class MetaAdLibrarySource:
    """A day's archived ads matching the configured terms (and the queries fetch is given), one call per term."""

    def __init__(self, access_token: str, *, name: str = TYPE, graph_url: str = GRAPH_URL,
                 api_version: str = API_VERSION, search_terms: Sequence[str] = (),
                 countries: Sequence[str] = ("US",), page_ids: Sequence[str] = (), platforms: Sequence[str] = (),
                 limit: int = 250, max_pages: int = 40, timeout_s: float = 30.0):
        self.name = name
        self.graph_url = graph_url.rstrip("/")
        self.search_terms = tuple(search_terms)
        self.countries, self.page_ids, self.platforms = tuple(countries), tuple(page_ids), tuple(platforms)
        self.limit, self.max_pages = limit, max_pages
        self._token = access_token
        session = FacebookSession(timeout=timeout_s)  # no access_token: it would go in every URL's query
        session.GRAPH = self.graph_url  # the only override: the SDK builds <GRAPH>/<version>/ads_archive
        session.requests.headers["Authorization"] = f"Bearer {access_token}"
        self.api = FacebookAdsApi(session, api_version)

    def __repr__(self) -> str:  # never the token
        return f"MetaAdLibrarySource(name={self.name!r}, graph_url={self.graph_url!r})"

    def close(self) -> None:
        self.api._session.requests.close()

    def fetch(self, day: str, queries: Sequence[str] = ()) -> Iterable[dict[str, Any]]:
        """Every archived ad delivered on `day`, deduped by archive id across the terms, as raw items."""
        terms = list(dict.fromkeys(t.strip() for t in (*self.search_terms, *queries) if t and t.strip()))
        seen: set[str] = set()
        items = []
        for term in terms or [None]:
            for ad in self._ads(self._params(day, term)):
                key = str(ad.get("id")) if isinstance(ad, Mapping) else None
                if key is not None and key in seen:
                    continue
                if key is not None:
                    seen.add(key)
                items.append(raw_item(ad))
        return items

    def _params(self, day: str, term: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "ad_reached_countries": list(self.countries), "ad_active_status": "ALL",
            "ad_delivery_date_min": day, "ad_delivery_date_max": day,
            "fields": ",".join(FIELDS), "limit": self.limit}
        if term:
            params["search_terms"] = term[:100]  # Meta's limit on search_terms
        if self.page_ids:
            params["search_page_ids"] = list(self.page_ids)
        if self.platforms:
            params["publisher_platforms"] = [p.upper() for p in self.platforms]
        return params

    def _ads(self, params: dict[str, Any]) -> Iterator[Any]:
        """Every page of one search, following `paging.cursors.after`; a repeated cursor or more than
        max_pages pages fails the source (never a half-read day passed off as complete)."""
        cursors: set[str] = set()
        for _ in range(self.max_pages):
            page = self._call(params)
            data = page.get("data")
            if not isinstance(data, list):
                raise SourceError(self.name, "ads_archive answered without a data list")
            yield from data
            paging = page.get("paging") if isinstance(page.get("paging"), Mapping) else {}
            cursors_of = paging.get("cursors") if isinstance(paging.get("cursors"), Mapping) else {}
            after = cursors_of.get("after")
            if not paging.get("next") or not isinstance(after, str) or not after:
                return
            if after in cursors:
                raise SourceError(self.name, f"ads_archive repeated the cursor {after[:40]!r}; stopped paging")
            cursors.add(after)
            params = {**params, "after": after}
        raise SourceError(self.name, f"ads_archive had more than {self.max_pages} pages for one search; "
                          "narrow the search or raise max_pages")

    def _call(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            body = self.api.call("GET", ("ads_archive",), params=params).json()
        except FacebookRequestError as exc:
            raise self._graph_error(exc) from None
        except requests.Timeout:  # no chaining and no str(exc): the URL in it is the caller's business
            raise SourceError(self.name, "ads_archive timed out", retryable=True) from None
        except requests.RequestException as exc:
            raise SourceError(self.name, f"ads_archive unreachable ({type(exc).__name__})", retryable=True) from None
        except FacebookError as exc:
            raise SourceError(self.name, self._scrub(f"ads_archive: {exc}")[:300]) from None
        if not isinstance(body, dict):
            raise SourceError(self.name, "ads_archive answered with something other than a JSON object")
        return body

    def _graph_error(self, exc: FacebookRequestError) -> SourceError:
        """Graph's error as a SourceError: a refused token is final, 5xx / 429 / transient worth retrying."""
        status = exc.http_status() or 0
        body = exc.body()
        err = body.get("error") if isinstance(body, dict) else None
        err = err if isinstance(err, dict) else {}
        code, message = err.get("code"), self._scrub(str(err.get("message") or "")[:300])
        if code == INVALID_TOKEN:
            return SourceError(self.name, f"the access token was refused (Graph code 190: {message})")
        retryable = status >= 500 or status == 429 or bool(err.get("is_transient"))
        where = f"HTTP {status}" + (f", Graph code {code}" if code is not None else "")
        return SourceError(self.name, f"ads_archive failed ({where}): {message or 'no message'}", retryable=retryable)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "[token]") if self._token else text


def _strings(spec: Mapping[str, Any], key: str, default: Sequence[str] = ()) -> tuple[str, ...]:
    value = spec.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{TYPE} source: {key} must be a list of non-empty strings, got {value!r:.80}")
    return tuple(v.strip() for v in value)


def _int(spec: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{TYPE} source: {key} must be an integer from {low} to {high}, got {value!r:.40}")
    return value


def _text(spec: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = spec.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{TYPE} source: {key} must be a non-empty string, got {value!r:.80}")
    return value.strip()


def from_spec(spec: Mapping[str, Any], *, env: Mapping[str, str]) -> MetaAdLibrarySource:
    """A source from its configuration; a bad field raises ValueError naming it (the token's value never)."""
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"{TYPE} source: unknown field {unknown[0]!r}; fields are {', '.join(SPEC_KEYS[1:])}")
    token_env = _text(spec, "token_env")
    token = env.get(token_env, "")
    if not token.strip():
        raise ValueError(f"{TYPE} source: token_env names ${token_env}, which is not set in the environment")
    graph_url = _text(spec, "graph_url", GRAPH_URL)
    if urlsplit(graph_url).scheme not in ("http", "https") or not urlsplit(graph_url).netloc:
        raise ValueError(f"{TYPE} source: graph_url must be an http(s) URL, got {graph_url!r:.80}")
    version = _text(spec, "api_version", API_VERSION)
    if not _VERSION.match(version):
        raise ValueError(f"{TYPE} source: api_version must look like v21.0, got {version!r:.40}")
    countries = tuple(c.upper() for c in _strings(spec, "countries", ("US",)))
    bad = next((c for c in countries if not _COUNTRY.match(c)), None)
    if bad is not None or not countries:
        raise ValueError(f"{TYPE} source: countries must be ISO 3166 codes such as US (or ALL), got {bad!r}")
    platforms = tuple(p.lower() for p in _strings(spec, "platforms"))
    odd = next((p for p in platforms if p not in PUBLISHER_PLATFORMS), None)
    if odd is not None:
        raise ValueError(f"{TYPE} source: platforms: unknown {odd!r}; one of {', '.join(PUBLISHER_PLATFORMS)}")
    timeout = spec.get("timeout_s", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
        raise ValueError(f"{TYPE} source: timeout_s must be a number of seconds in (0, 600], got {timeout!r:.40}")
    return MetaAdLibrarySource(
        token.strip(), name=_text(spec, "name", TYPE), graph_url=graph_url, api_version=version,
        search_terms=_strings(spec, "search_terms"), countries=countries, page_ids=_strings(spec, "page_ids"),
        platforms=platforms, limit=_int(spec, "limit", 250, 1, MAX_LIMIT),
        max_pages=_int(spec, "max_pages", 40, 1, 1000), timeout_s=float(timeout))
