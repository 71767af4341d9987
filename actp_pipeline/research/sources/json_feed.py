"""A generic HTTP JSON feed as a research source (httpx): any listing API that answers pages of JSON.

Configured by a spec (see config.py) such as
    {"type": "json_feed", "name": "feed:competitors", "url": "https://api.example.com/v1/posts",
     "items_path": "data.items", "next_cursor_path": "paging.cursor", "cursor_param": "cursor",
     "fields": {"stats.play_count": "views", "text": "caption"}, "defaults": {"platform": "tiktok"},
     "params": {"region": "US"}, "day_param": "date", "query_param": "q",
     "auth_env": "COMPETITOR_FEED_TOKEN", "auth_header": "Authorization", "auth_scheme": "Bearer",
     "timeout_s": 10, "max_retries": 3, "backoff_s": 1, "max_pages": 50}

- `items_path`: dotted path to the list of items in a page ("" = the page is the list);
- next page by cursor (`next_cursor_path` read from the page, sent as `cursor_param`) or by URL
  (`next_url_path`, absolute or relative to the page's); neither = one page;
- `fields`: their field (dotted path) -> our raw field (base.RAW_FIELDS); fields already named in our schema
  pass through; `defaults` fill our fields a feed never sends (e.g. its platform);
- retries: 429, 5xx, timeouts and dropped connections are retried at most `max_retries` times, waiting
  `backoff_s` * 2**attempt, or what Retry-After says (capped at MAX_WAIT_S); then a retryable SourceError;
  any other 4xx or a page that is not the configured shape is a definitive SourceError;
- a cursor or next URL seen before, or more than `max_pages` pages, is a SourceError: a day is whole or
  not stored, never silently truncated;
- auth: the header value comes from the environment variable NAMED by `auth_env`; the secret itself never
  appears in the spec, in errors or in logs.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx

from actp_pipeline.research.sources.base import RAW_FIELDS, SourceError

TYPE = "json_feed"
MAX_WAIT_S = 60.0  # a Retry-After longer than this is not waited out inside a run: the run's own retry is
MISSING = object()


def dig(obj: Any, path: str) -> Any:
    """The value at a dotted path ("a.b.0.c"), MISSING when any step is absent."""
    if path == "":
        return obj
    for step in path.split("."):
        if isinstance(obj, dict) and step in obj:
            obj = obj[step]
        elif isinstance(obj, list) and step.isdigit() and int(step) < len(obj):
            obj = obj[int(step)]
        else:
            return MISSING
    return obj


def retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP-date), None when absent or junk."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time()) if when else None


class JsonFeed:
    """One configured JSON feed. `transport` and `sleep` are for tests (an httpx.MockTransport, a fake clock)."""

    def __init__(self, spec: Mapping[str, Any], *, token: str | None = None,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep):
        self.name = str(spec["name"])
        self.url = str(spec["url"])
        self.spec = dict(spec)
        self._token = token
        self._transport = transport
        self._sleep = sleep
        self.max_pages = int(spec.get("max_pages", 50))
        self.max_retries = int(spec.get("max_retries", 3))
        self.backoff_s = float(spec.get("backoff_s", 1.0))
        self.timeout_s = float(spec.get("timeout_s", 10.0))

    def __repr__(self) -> str:  # never the token
        return f"JsonFeed({self.name!r}, {self.url!r})"

    def _headers(self) -> dict[str, str]:
        env = self.spec.get("auth_env")
        if not env:
            return {}
        if not self._token:
            raise SourceError(self.name, f"the environment variable {env} (auth_env) is not set", retryable=False)
        scheme = self.spec.get("auth_scheme", "Bearer")
        return {self.spec.get("auth_header", "Authorization"): f"{scheme} {self._token}" if scheme else self._token}

    def fetch(self, day: str, queries: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
        """Every item of `day`, page by page; once per query when the feed searches (`query_param`)."""
        headers = {"User-Agent": "actp/0.1", "Accept": "application/json", **self._headers()}
        with httpx.Client(headers=headers, timeout=self.timeout_s, transport=self._transport,
                          follow_redirects=True) as http:
            for query in (queries if self.spec.get("query_param") and queries else [None]):
                for raw in self._pages(http, day, query):
                    yield self._map(raw)

    def _first_params(self, day: str, query: str | None) -> dict[str, Any]:
        params = dict(self.spec.get("params") or {})
        if self.spec.get("day_param", "date"):
            params[self.spec.get("day_param", "date")] = day
        if query is not None:
            params[self.spec["query_param"]] = query
        return params

    def _pages(self, http: httpx.Client, day: str, query: str | None) -> Iterator[Any]:
        url, params = self.url, self._first_params(day, query)
        seen: set[str] = set()
        for n in range(1, self.max_pages + 1):
            page = self._get(http, url, params, n)
            items = dig(page, self.spec.get("items_path", "items"))
            if not isinstance(items, list):
                raise SourceError(self.name, f"page {n}: no list at items_path "
                                  f"{self.spec.get('items_path', 'items')!r} (the feed changed its shape?)")
            yield from items
            step = self._next(page, url, params, n)
            if step is None:
                return
            key = repr(step)
            if key in seen:
                raise SourceError(self.name, f"the feed sent a repeated next page {key:.80} after {n} pages; "
                                  "stopped rather than loop (the day was not stored)")
            seen.add(key)
            url, params = step
        raise SourceError(self.name, f"still paging after {self.max_pages} pages (max_pages); stopped "
                          "(the day was not stored)")

    def _next(self, page: Any, url: str, params: dict, n: int) -> tuple[str, dict] | None:
        """The next request (url, params), or None on the last page."""
        if self.spec.get("next_cursor_path"):
            cursor = dig(page, self.spec["next_cursor_path"])
            if cursor in (MISSING, None, ""):
                return None
            if not isinstance(cursor, (str, int)) or isinstance(cursor, bool):
                raise SourceError(self.name, f"page {n}: a cursor that is not text: {str(cursor)[:80]!r}")
            return url, {**params, self.spec.get("cursor_param", "cursor"): str(cursor)}
        if self.spec.get("next_url_path"):
            nxt = dig(page, self.spec["next_url_path"])
            if nxt in (MISSING, None, ""):
                return None
            if not isinstance(nxt, str):
                raise SourceError(self.name, f"page {n}: a next URL that is not text: {str(nxt)[:80]!r}")
            return str(httpx.URL(url).join(nxt)), {}
        return None

    def _get(self, http: httpx.Client, url: str, params: dict, n: int) -> Any:
        """One page as JSON, retried on 429/5xx/timeouts with backoff (Retry-After when given)."""
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                resp = http.get(url, params=params or None)  # none: keep the query of a next URL
            except httpx.TransportError as e:  # a timeout or a dropped connection: reading again is safe
                if last:
                    raise SourceError(self.name, f"page {n}: {type(e).__name__} after {attempt + 1} attempts",
                                      retryable=True) from None
                self._sleep(self.backoff_s * 2 ** attempt)
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                if last:
                    raise SourceError(self.name, f"page {n}: HTTP {resp.status_code} after {attempt + 1} attempts",
                                      retryable=True)
                wait = retry_after_s(resp.headers.get("Retry-After"))
                self._sleep(min(MAX_WAIT_S, wait if wait is not None else self.backoff_s * 2 ** attempt))
                continue
            if resp.status_code >= 400:
                refused = " (refused: check the key named by auth_env)" if resp.status_code in (401, 403) else ""
                raise SourceError(self.name, f"page {n}: HTTP {resp.status_code}{refused}: {resp.text[:200]!r}")
            try:
                return resp.json()
            except ValueError:
                raise SourceError(self.name, f"page {n}: not JSON: {resp.text[:120]!r}") from None
        raise AssertionError("unreachable")  # the loop returns or raises

    def _map(self, raw: Any) -> Any:
        """Their item in our raw schema: mapped fields renamed, ours passed through, defaults filled."""
        if not isinstance(raw, dict):
            return raw  # validation reports it
        out = {k: v for k, v in raw.items() if k in RAW_FIELDS or k == "page_name"}
        for theirs, ours in (self.spec.get("fields") or {}).items():
            value = dig(raw, theirs)
            if value is not MISSING:
                out[ours] = value
        for ours, value in (self.spec.get("defaults") or {}).items():
            out.setdefault(ours, value)
        return out


def from_spec(spec: Mapping[str, Any], *, env: Mapping[str, str]) -> JsonFeed:
    """A JsonFeed from a checked spec (config.py); its token is read from the variable named by auth_env."""
    return JsonFeed(spec, token=env.get(spec["auth_env"]) if spec.get("auth_env") else None)

