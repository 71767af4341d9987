"""Social platforms behind one small interface, its HTTP adapter, and the choice of publisher.

The HTTP adapter speaks a unified posting API (upload media, create post, look a post up by its
idempotency key, batch metrics, trending and ad-library feeds), the way Blotato/Ayrshare put many
networks behind one API. The sandbox serves the same API, so the pipeline takes one code path to both.
The `Publisher` protocol and the errors every adapter raises live in publisher.py; `make_publisher`
picks the adapter a worker uploads with.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any, Iterator, Protocol

import httpx

from actp_pipeline.publish.publisher import AmbiguousOutcome, BeforeSend, PlatformError, Publisher


class Platform(Protocol):
    def now(self) -> dt.datetime: ...
    def upload_media(self, path: Path) -> dict[str, Any]: ...
    def create_post(self, *, media_id: str, platform: str, account: str, caption: str, hashtags: list[str],
                    scheduled_at: dt.datetime | None, idempotency_key: str) -> dict[str, Any]: ...
    def find_post(self, idempotency_key: str) -> dict[str, Any] | None: ...
    def metrics(self, post_ids: list[str]) -> dict[str, Any]: ...
    def market_feed(self, kind: str, date: str, platform: str | None = None) -> Iterator[Any]: ...


def parse_time(value: str) -> dt.datetime:
    """ISO 8601 -> naive UTC (the store's convention)."""
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


class HttpPlatform:
    """httpx client for the unified posting API (the sandbox, or a real aggregator with this shape)."""

    METRICS_BATCH = 500
    PROCESSING = ("processing", "pending", "in_progress")

    def __init__(self, base_url: str, api_key: str, *, timeout_s: float = 30.0, upload_timeout_s: float = 300.0,
                 processing_timeout_s: float = 600.0):
        self.base_url = base_url.rstrip("/")
        self.upload_timeout_s = upload_timeout_s
        self.processing_timeout_s = processing_timeout_s
        self._clock_at: dt.datetime | None = None  # the platform's time when last read, and its speed
        self._clock_speed = 1.0
        self._clock_read_at = 0.0
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "actp/0.1"},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "HttpPlatform":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, *, side_effect: bool = False, **kw: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, path, **kw)
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            # Nothing reached the platform: safe to retry.
            raise PlatformError(f"{method} {self.base_url}{path}: cannot connect ({e})", retryable=True, sent=False) from e
        except httpx.TransportError as e:
            cls = AmbiguousOutcome if side_effect else PlatformError
            raise cls(f"{method} {self.base_url}{path}: {type(e).__name__} after sending ({e})", retryable=True) from e
        if resp.status_code >= 400:
            try:
                err = resp.json().get("error", {})
                msg = f"{err.get('code', resp.status_code)}: {err.get('message', resp.text[:300])}"
            except ValueError:
                msg = resp.text[:300]
            retry_after = resp.headers.get("Retry-After")
            # a side effect answered 5xx or 408 may have been carried out before it failed: look it up, never
            # retry it blind (a 429 or another 4xx is the platform's refusal: nothing was done)
            cls = AmbiguousOutcome if side_effect and (resp.status_code >= 500 or resp.status_code == 408) else PlatformError
            raise cls(
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
                clock = self._call("GET", "/v1/clock").json()
                self._clock_at, self._clock_speed = parse_time(clock["now"]), float(clock.get("speed", 1.0))
            except PlatformError as e:
                if e.status != 404:
                    raise
                self._clock_at, self._clock_speed = dt.datetime.now(dt.UTC).replace(tzinfo=None), 1.0
            self._clock_read_at = tick
        return self._clock_at + dt.timedelta(seconds=(tick - self._clock_read_at) * self._clock_speed)

    def upload_media(self, path: Path) -> dict[str, Any]:
        with open(path, "rb") as fh:
            return self._call("POST", "/v1/media", side_effect=True, content=fh.read(),
                              headers={"Content-Type": "video/mp4"}, timeout=self.upload_timeout_s).json()

    def create_post(self, *, media_id: str, platform: str, account: str, caption: str, hashtags: list[str],
                    scheduled_at: dt.datetime | None, idempotency_key: str) -> dict[str, Any]:
        body = {
            "media_id": media_id, "platform": platform, "account": account, "caption": caption,
            "hashtags": hashtags, "idempotency_key": idempotency_key,
            "scheduled_at": scheduled_at.replace(tzinfo=dt.UTC).isoformat() if scheduled_at else None,
        }
        return self._call("POST", "/v1/posts", side_effect=True, json=body).json()

    def publish(self, *, media_path: Path, platform: str, account: str, caption: str, hashtags: list[str],
                scheduled_at: dt.datetime | None, idempotency_key: str,
                before_send: BeforeSend | None = None) -> dict[str, Any]:
        """Upload media, create the post, then poll its status while the platform is still processing it."""
        media = self.upload_media(media_path)
        if before_send is not None:
            before_send()  # the lease fence and the rate-limit stamp, right before the create call
        post = self.create_post(media_id=media["media_id"], platform=platform, account=account, caption=caption,
                                hashtags=hashtags, scheduled_at=scheduled_at, idempotency_key=idempotency_key)
        return self.wait_until_processed(post)

    def wait_until_processed(self, post: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + self.processing_timeout_s
        delay = 0.2
        while post.get("status") in self.PROCESSING:
            if time.monotonic() > deadline:
                # the post exists; whether it will go through is not known yet: reconcile later
                raise AmbiguousOutcome(f"post {post.get('post_id')} still {post.get('status')} after "
                                       f"{self.processing_timeout_s:.0f} s", retryable=True)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            try:
                post = self._call("GET", f"/v1/posts/{post['post_id']}").json()
            except PlatformError as e:  # a 429, a 5xx, a lost connection on the poll: the post exists
                raise AmbiguousOutcome(f"post {post.get('post_id')} was created; reading its status failed: {e}",
                                       retryable=True) from e
        if post.get("status") in ("failed", "rejected", "error"):
            raise PlatformError(f"the platform rejected post {post.get('post_id')}: {post.get('error') or post.get('status')}")
        return post

    def find_post(self, idempotency_key: str) -> dict[str, Any] | None:
        items = self._call("GET", "/v1/posts", params={"idempotency_key": idempotency_key}).json()["items"]
        return items[0] if items else None

    def metrics(self, post_ids: list[str]) -> dict[str, Any]:
        """Metrics of many posts, batched; returns {"as_of", "items", "unknown"}."""
        out: dict[str, Any] = {"as_of": None, "items": [], "unknown": []}
        for i in range(0, len(post_ids), self.METRICS_BATCH):
            page = self._call("POST", "/v1/metrics/batch", json={"post_ids": post_ids[i : i + self.METRICS_BATCH]}).json()
            out["as_of"] = page["as_of"]
            out["items"].extend(page["items"])
            out["unknown"].extend(page.get("unknown", []))
        return out

    # A day's feed is a few hundred items (500 a page); a feed still paging after this many pages is broken
    # (a cursor that never ends), and following it would hold a run for hours.
    MAX_PAGES = 200

    def market_feed(self, kind: str, date: str, platform: str | None = None) -> Iterator[Any]:
        """Raw items of the trending (`kind="trending"`) or ad-library (`kind="ads"`) feed for one day.

        Raises PlatformError (never a silent, truncated day) on a page that is not {"items": [...]}, a
        cursor seen before, or more than MAX_PAGES pages: a part of a day must not replace a whole one."""
        path = {"trending": "/v1/trending", "ads": "/v1/ads/library"}[kind]
        cursor, seen = None, set()
        for n in range(1, self.MAX_PAGES + 1):
            params = {"date": date, "limit": 500, **({"platform": platform} if platform else {}),
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


PUBLISHERS = ("api", "browser", "native")


def make_publisher(kind: str, client: HttpPlatform, *, data_dir: Path, settings: Any = None,
                   engine: Any = None) -> Publisher:
    """The publisher a worker uploads with: the posting API itself, the browser uploader (which logs in with
    $ACTP_BROWSER_USER/$ACTP_BROWSER_PASSWORD and looks posts up through the API), or `native`: each post
    through its own platform's API (publish/dialects.py; tokens and hosts from `settings`, default the
    environment), on the platform's clock as `client` reads it."""
    if kind == "api":
        return client
    if kind == "browser":
        import os

        from actp_pipeline.publish.browser import BrowserPublisher

        # ACTP_BROWSER_SITE: generic (the sandbox's upload form) or tiktok | youtube | instagram (their studio
        # pages; "-live" for the real sites). Posts made on a platform's page carry no ACTP key the unified
        # API could find, so those look a post up in the browser by its ref marker, never through /v1.
        site = os.environ.get("ACTP_BROWSER_SITE", "generic")
        return BrowserPublisher.from_env(client.base_url, site=site, lookup=client if site == "generic" else None,
                                         storage_state_path=data_dir / "browser" / (
                                             "session.json" if site == "generic" else f"{site}-session.json"),
                                         screenshot_dir=data_dir / "screenshots")
    if kind == "native":
        from actp_pipeline.publish.dialects import native_publisher

        return native_publisher(data_dir, clock=client.now, settings=settings, engine=engine)
    raise ValueError(f"unknown publisher {kind!r}: choose one of {', '.join(PUBLISHERS)} (ACTP_PUBLISHER)")


def make_metrics_reader(kind: str, client: HttpPlatform, *, data_dir: Path, settings: Any = None,
                        engine: Any = None) -> Any:
    """What post metrics are read through: the posting API for `api` and `browser` (the browser uploads,
    the API reads), each platform's own API for `native` (its reader has `metrics_for(platform, account,
    ids)`)."""
    if kind == "native":
        return make_publisher(kind, client, data_dir=data_dir, settings=settings, engine=engine)
    if kind not in PUBLISHERS:
        raise ValueError(f"unknown publisher {kind!r}: choose one of {', '.join(PUBLISHERS)} (ACTP_PUBLISHER)")
    return client
