"""The platform host's own endpoints, and the choice of publisher.

`HttpPlatform` reads what no social platform's API serves but the loop needs from the host it runs against:
its clock (the sandbox's simulated time at /sandbox/clock; wall time on a host without one) and the
research feeds (/sandbox/research/*, served by the sandbox until real research sources replace them). Posts
never go through it: every post goes through its own platform's API (`native`, publish/dialects.py) or
through that platform's upload page (`browser`). The `Publisher` protocol and the errors every adapter
raises live in publisher.py; `make_publisher` picks the adapter a worker uploads with.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any, Iterator, Protocol

import httpx

from actp_pipeline.publish.publisher import PlatformError, Publisher


class Platform(Protocol):
    def now(self) -> dt.datetime: ...
    def market_feed(self, kind: str, date: str, platform: str | None = None,
                    query: str | None = None) -> Iterator[Any]: ...


def parse_time(value: str) -> dt.datetime:
    """ISO 8601 -> naive UTC (the store's convention)."""
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


class HttpPlatform:
    """httpx client for the host's clock and research feeds (the sandbox's own endpoints)."""

    def __init__(self, base_url: str, api_key: str | None, *, timeout_s: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self._clock_at: dt.datetime | None = None  # the platform's time when last read, and its speed
        self._clock_speed = 1.0
        self._clock_read_at = 0.0
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"User-Agent": "actp/0.1", **({"Authorization": f"Bearer {api_key}"} if api_key else {})},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "HttpPlatform":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, path, **kw)
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            # Nothing reached the platform: safe to retry.
            raise PlatformError(f"{method} {self.base_url}{path}: cannot connect ({e})", retryable=True, sent=False) from e
        except httpx.TransportError as e:  # a read: nothing to reconcile, reading again is safe
            raise PlatformError(f"{method} {self.base_url}{path}: {type(e).__name__} after sending ({e})",
                                retryable=True) from e
        if resp.status_code >= 400:
            try:
                err = resp.json().get("error", {})
                msg = f"{err.get('code', resp.status_code)}: {err.get('message', resp.text[:300])}"
            except ValueError:
                msg = resp.text[:300]
            retry_after = resp.headers.get("Retry-After")
            raise PlatformError(
                f"{method} {path} -> HTTP {resp.status_code} {msg}",
                status=resp.status_code,
                retryable=resp.status_code in (408, 425, 429) or resp.status_code >= 500,
                retry_after_s=float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None,
                retry_after=retry_after,
            )
        return resp

    def now(self) -> dt.datetime:
        """The platform's clock: the sandbox's simulated time, or wall time for a platform without a clock
        endpoint. The clock is re-read at most once a second (limiters ask often); in between it runs at the
        clock's own speed, so a paused sandbox (speed 0) reads the same instant on any machine, any day."""
        tick = time.monotonic()
        if self._clock_at is None or tick - self._clock_read_at > 1.0:
            try:
                clock = self._call("GET", "/sandbox/clock").json()
                self._clock_at, self._clock_speed = parse_time(clock["now"]), float(clock.get("speed", 1.0))
            except PlatformError as e:
                if e.status != 404:
                    raise
                self._clock_at, self._clock_speed = dt.datetime.now(dt.UTC).replace(tzinfo=None), 1.0
            self._clock_read_at = tick
        return self._clock_at + dt.timedelta(seconds=(tick - self._clock_read_at) * self._clock_speed)

    # A day's feed is a few hundred items (500 a page); a feed still paging after this many pages is broken
    # (a cursor that never ends), and following it would hold a run for hours.
    MAX_PAGES = 200

    def market_feed(self, kind: str, date: str, platform: str | None = None, query: str | None = None) -> Iterator[Any]:
        """Raw items of the trending (`kind="trending"`), ad-library (`kind="ads"`) or keyword search
        (`kind="search"`, with `query`) feed for one day.

        Raises PlatformError (never a silent, truncated day) on a page that is not {"items": [...]}, a
        cursor seen before, or more than MAX_PAGES pages: a part of a day must not replace a whole one."""
        path = {"trending": "/sandbox/research/trending", "ads": "/sandbox/research/ad_library",
                "search": "/sandbox/research/search"}[kind]
        cursor, seen = None, set()
        for n in range(1, self.MAX_PAGES + 1):
            params = {"date": date, "limit": 500, **({"platform": platform} if platform else {}),
                      **({"q": query} if kind == "search" else {}),
                      **({"cursor": cursor} if cursor else {})}
            resp = self._call("GET", path, params=params)
            try:
                page = json.loads(resp.content, parse_int=_feed_int)
            except ValueError:
                page = None
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise PlatformError(f"GET {path} {date} page {n}: not a feed page ({{\"items\": [...]}}): "
                                    f"{resp.text[:200]!r}")
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return
            if not isinstance(cursor, str) or cursor in seen:
                why = "a cursor that is not text," if not isinstance(cursor, str) else "repeated cursor"
                raise PlatformError(f"GET {path} {date}: the feed sent {why} {cursor!r:.80} after {n} pages; "
                                    "stopped rather than loop (the day was not stored)")
            seen.add(cursor)
        raise PlatformError(f"GET {path} {date}: still paging after {self.MAX_PAGES} pages (MAX_PAGES); "
                            "stopped (the day was not stored)")


def _feed_int(digits: str) -> int | float:
    """A JSON integer of a feed: Python refuses to convert one of more than 4,300 digits (and a whole page
    would fail on one hostile number), so such a number becomes an infinity, which validation rejects as
    absurd in that row only."""
    if len(digits.lstrip("-")) > 4000:
        return float("-inf") if digits.startswith("-") else float("inf")
    return int(digits)


PUBLISHERS = ("native", "browser")


def make_publisher(kind: str, client: HttpPlatform, *, data_dir: Path, settings: Any = None,
                   engine: Any = None) -> Publisher:
    """The publisher a worker uploads with: `native`, each post through its own platform's API
    (publish/dialects.py; tokens and hosts from `settings`, default the environment) on the platform's clock
    as `client` reads it; or `browser`, the upload page of ACTP_BROWSER_SITE, logged in with
    $ACTP_BROWSER_USER/$ACTP_BROWSER_PASSWORD (off by default: the platforms' terms, see the README)."""
    if kind == "browser":
        import os

        from actp_pipeline.publish.browser import BrowserPublisher

        # ACTP_BROWSER_SITE: tiktok | youtube | instagram (their studio pages; "-live" for the real sites), or
        # generic (the sandbox's plain form). Every site finds a post it made by its own page, never an API.
        site = os.environ.get("ACTP_BROWSER_SITE", "generic")
        return BrowserPublisher.from_env(client.base_url, site=site,
                                         storage_state_path=data_dir / "browser" / (
                                             "session.json" if site == "generic" else f"{site}-session.json"),
                                         screenshot_dir=data_dir / "screenshots")
    if kind == "native":
        from actp_pipeline.publish.dialects import native_publisher

        return native_publisher(data_dir, clock=client.now, settings=settings, engine=engine)
    raise ValueError(f"unknown publisher {kind!r}: choose one of {', '.join(PUBLISHERS)} (ACTP_PUBLISHER)")


def make_metrics_reader(kind: str, client: HttpPlatform, *, data_dir: Path, settings: Any = None,
                        engine: Any = None) -> Any:
    """What post metrics are read through: each platform's own API, whoever uploaded (its reader has
    `metrics_for(platform, account, ids)`). A post uploaded through a browser is read by the id its page
    showed."""
    if kind not in PUBLISHERS:
        raise ValueError(f"unknown publisher {kind!r}: choose one of {', '.join(PUBLISHERS)} (ACTP_PUBLISHER)")
    return make_publisher("native", client, data_dir=data_dir, settings=settings, engine=engine)
