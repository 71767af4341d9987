"""Ayrshare (a posting aggregator) as a `Publisher`: upload the video (POST /api/media/upload), post it to
one or several networks in one call (POST /api/post), look a post up by ACTP's idempotency key
(GET /api/history) and read each network's analytics back (POST /api/analytics/post), over httpx.

The shapes are those of Ayrshare's API reference (ayrshare.com/docs: Post, Get a Post, History, Upload
Media, Analytics on a Post, Delete a Post, HTTP Status Codes, Ayrshare Error Codes).

Pointing it at real Ayrshare
----------------------------
    import os
    publisher = AyrsharePublisher(
        api_key=os.environ["ACTP_AGGREGATOR_API_KEY"],          # an EnvVar (dagster.EnvVar in a resource),
        profile_key=os.environ.get("ACTP_AGGREGATOR_PROFILE_KEY"),  # never a file in git; None = Primary Profile
        base_url="https://api.ayrshare.com",                     # the default
        networks=("tiktok", "instagram", "youtube"),             # what platform "aggregator" posts to
    )
or `AyrsharePublisher.from_env(account)`: ACTP_AGGREGATOR_API_KEY, optional ACTP_AGGREGATOR_BASE_URL,
the account's Profile-Key in ACTP_AGGREGATOR_PROFILE_KEY_<ACCOUNT> (else ACTP_AGGREGATOR_PROFILE_KEY, else
the Primary Profile) and ACTP_AGGREGATOR_NETWORKS (comma-separated; default tiktok,instagram,youtube).
The API key is the Primary Profile's (Ayrshare dashboard, API Key page); with a Business plan each client
is a User Profile, reached by sending its Profile-Key header with the same API key: one publisher per
profile. Posting videos, /media/upload and analytics need a Premium or Business plan. The key is sent
only in the Authorization header, never logged. Against the sandbox: base_url=sandbox.url, api_key one
of its API keys, profile_key from `<the sandbox's Ayrshare dialect>.service.profile_keys()` (or None),
clock=<the sandbox clock>.

What is written by hand, and why httpx
--------------------------------------
Ayrshare's official Python package (`social-post-api` on PyPI, module `ayrshare`, maintained: 1.3.0 is of
2026) is a thin wrapper over `requests` that was not chosen because it cannot carry what ACTP needs to
never post twice: it sends no timeout (a stalled call hangs the worker), returns only `r.json()` (the
HTTP status, which tells a refusal from an unknown outcome, and the x-ratelimit-* headers are lost),
takes its base URL from a module global (pointing it at the sandbox means patching the module), adds
"source": "pypi" to every body and has no multipart upload. The REST API is a few JSON calls, so this
module speaks them itself, in one place.

Wiring it needs (not done here: those files belong to others)
-------------------------------------------------------------
publish/dialects.py registers "aggregator" as pending and builds it with `AyrsharePublisher.from_dialect`;
this class offers `for_dialect(ctx, account)` (same signature) instead, so the pending test of that
module stays true until its owner switches: `register("aggregator", AyrsharePublisher.for_dialect)` (or
rename) and drop "aggregator" from the still-pending names in tests/core/test_publish_dialects.py.
settings.py already has ACTP_AGGREGATOR_API_KEY / ACTP_AGGREGATOR_BASE_URL; the Profile-Keys and the
networks are read from the environment here (ACTP_AGGREGATOR_PROFILE_KEY[_<ACCOUNT>],
ACTP_AGGREGATOR_NETWORKS) until settings carries them.

The parts, one job each: ayrshare_api.py (the calls and the error mapping), ayrshare_records.py (post
records as ACTP posts), ayrshare_lookup.py (not posting twice), ayrshare_metrics.py (post ids and
metrics). This module is the adapter: the media upload, the post, the delete.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import httpx

from actp_pipeline.publish.ayrshare_api import BASE_URL, RATE_WINDOW_S, AyrshareApiError, parse_count
from actp_pipeline.publish.ayrshare_lookup import MARKER_PREFIX, UNCACHED_HISTORY_LIMIT, key_marker
from actp_pipeline.publish.ayrshare_metrics import (
    COMMENT_FIELDS,
    COUNTS,
    LIKE_FIELDS,
    SHARE_FIELDS,
    VIEW_FIELDS,
    AyrshareMetrics,
)
from actp_pipeline.publish.ayrshare_records import AGGREGATOR, iso_utc, split_post_id
from actp_pipeline.publish.publisher import (
    AmbiguousOutcome,
    BeforeSend,
    PlatformError,
    SendRefused,
)

__all__ = [
    "AGGREGATOR", "BASE_URL", "COMMENT_FIELDS", "COUNTS", "DEFAULT_NETWORKS", "LIKE_FIELDS", "MARKER_PREFIX",
    "MAX_UPLOAD_BYTES", "NETWORK_TEXT_LIMITS", "RATE_WINDOW_S", "SHARE_FIELDS", "UNCACHED_HISTORY_LIMIT",
    "VIEW_FIELDS", "YOUTUBE_TITLE_MAX", "AyrshareApiError", "AyrsharePublisher", "key_marker", "networks_from_env",
    "post_text", "profile_key_for", "split_post_id", "youtube_title",
]

MAX_UPLOAD_BYTES = 30 * 1024 * 1024  # /media/upload: "Maximum file size: 30 MB"
YOUTUBE_TITLE_MAX = 100
NETWORK_TEXT_LIMITS = {"tiktok": 2200, "instagram": 2200, "youtube": 5000}
DEFAULT_NETWORKS = ("tiktok", "instagram", "youtube")


def post_text(caption: str, hashtags: list[str]) -> str:
    """The caption and the hashtags it does not already carry."""
    tags = " ".join(f"#{h.lstrip('#')}" for h in hashtags if h.strip() and f"#{h.lstrip('#')}" not in caption)
    return " ".join(p for p in (caption.strip(), tags) if p)


def youtube_title(caption: str) -> str:
    first = (caption.strip().splitlines() or ["Untitled"])[0]
    return first.replace("<", "").replace(">", "")[:YOUTUBE_TITLE_MAX].strip() or "Untitled"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def profile_key_for(account: str) -> str | None:
    """The account's Profile-Key: ACTP_AGGREGATOR_PROFILE_KEY_<ACCOUNT> (upper case, - as _), else
    ACTP_AGGREGATOR_PROFILE_KEY, else None (the Primary Profile)."""
    name = "ACTP_AGGREGATOR_PROFILE_KEY_" + "".join(c if c.isalnum() else "_" for c in account.upper())
    return os.environ.get(name) or os.environ.get("ACTP_AGGREGATOR_PROFILE_KEY") or None


def networks_from_env() -> tuple[str, ...]:
    """ACTP_AGGREGATOR_NETWORKS (comma-separated Ayrshare platform names), else tiktok, instagram, youtube."""
    raw = os.environ.get("ACTP_AGGREGATOR_NETWORKS") or ""
    names = tuple(n.strip().lower() for n in raw.split(",") if n.strip())
    return names or DEFAULT_NETWORKS


class AyrsharePublisher(AyrshareMetrics):
    """Publishing, post lookup and analytics through Ayrshare for one profile (API key + Profile-Key)."""

    platform = "aggregator"

    def __init__(self, api_key: str, *, base_url: str = BASE_URL, profile_key: str | None = None,
                 account: str = "main", networks: tuple[str, ...] | list[str] = DEFAULT_NETWORKS,
                 timeout_s: float = 60.0, upload_timeout_s: float = 300.0,
                 lookup_limit: int = 200, media_url: Callable[[Path], str] | None = None,
                 clock: Callable[[], dt.datetime] | None = None, transport: httpx.BaseTransport | None = None):
        if not api_key:
            raise ValueError("an Ayrshare API key is required")
        self.base_url = base_url.rstrip("/")
        self.account = account
        self.networks = tuple(dict.fromkeys(networks))
        self.upload_timeout_s = upload_timeout_s
        self.lookup_limit = max(UNCACHED_HISTORY_LIMIT, int(lookup_limit))
        self.media_url = media_url
        self._clock = clock or _utcnow
        headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        if profile_key:
            headers["Profile-Key"] = profile_key
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s, transport=transport, headers=headers)
        self.rate_limit: dict[str, int] = {}  # the last x-ratelimit-max / x-ratelimit-count seen

    @classmethod
    def from_env(cls, account: str = "main", **kw: Any) -> Self:
        """ACTP_AGGREGATOR_API_KEY, ACTP_AGGREGATOR_BASE_URL, the account's Profile-Key and the networks
        (see `profile_key_for`, `networks_from_env`)."""
        return cls(os.environ["ACTP_AGGREGATOR_API_KEY"], base_url=os.environ.get("ACTP_AGGREGATOR_BASE_URL", BASE_URL),
                   profile_key=profile_key_for(account), account=account, networks=networks_from_env(), **kw)

    @classmethod
    def for_dialect(cls, ctx: Any, account: str) -> Self:
        """Built like the other native adapters (publish/dialects.py's DialectContext): the aggregator's token
        and base URL from the settings, the account's Profile-Key and the networks from the environment."""
        return cls(ctx.token(AGGREGATOR), base_url=ctx.settings.dialect_url(AGGREGATOR) or BASE_URL,
                   profile_key=profile_key_for(account), account=account, networks=networks_from_env(),
                   clock=ctx.aware_clock())

    # ------------------------------------------------------------------------------------ media
    def upload_media(self, media_path: Path) -> str:
        """The URL Ayrshare gives the uploaded video (multipart /media/upload), or `media_url(path)` for a
        file over 30 MB (host it yourself: Ayrshare takes an https URL in mediaUrls)."""
        path = Path(media_path)
        size = path.stat().st_size
        if size == 0:
            raise PlatformError(f"{path} is empty", retryable=False, sent=False)
        if size > MAX_UPLOAD_BYTES:
            if self.media_url is None:
                raise PlatformError(f"{path} is {size} bytes; /media/upload takes at most {MAX_UPLOAD_BYTES}: give "
                                    "AyrsharePublisher a media_url callable that hosts it", retryable=False, sent=False)
            return self.media_url(path)
        with open(path, "rb") as fh:
            answer = self._call("POST", "/api/media/upload", files={"file": (path.name, fh, "video/mp4")},
                                data={"fileName": path.name}, timeout=self.upload_timeout_s)
        url = answer.get("url") if isinstance(answer, dict) else None
        if not isinstance(url, str) or not url:
            raise PlatformError(f"Ayrshare /media/upload answered no url: {str(answer)[:300]}", retryable=True)
        return url

    # ---------------------------------------------------------------------------------- publish
    def publish(self, *, media_path: Path, platform: str, account: str, caption: str, hashtags: list[str],
                scheduled_at: dt.datetime | None, idempotency_key: str,
                before_send: BeforeSend | None = None) -> dict[str, Any]:
        """Post the video to one network (post_id `<Ayrshare id>:<network>`), or with platform "aggregator" to
        every network of `networks` in one Ayrshare post (post_id: the Ayrshare id; `posts` and `errors` per
        network; PlatformError only when no network took it). Returns post_id, url, live_at, status.
        PlatformError when the named network refused it."""
        networks = list(self.networks) if platform == AGGREGATOR else [platform]
        result = self.publish_to(networks, media_path=media_path, caption=caption, hashtags=hashtags,
                                 scheduled_at=scheduled_at, idempotency_key=idempotency_key, before_send=before_send,
                                 account=account)
        if platform == AGGREGATOR:
            return self._aggregate_post(result, idempotency_key, account)
        if platform not in result["posts"]:
            err = result["errors"].get(platform) or {}
            raise AyrshareApiError(f"Ayrshare: {platform} refused the post: code {err.get('code')}: "
                                   f"{err.get('message')}", status=400, code=parse_count(err.get("code")),
                                   retryable=False, errors=[err] if err else [])
        return {**result["posts"][platform], "posts": result["posts"], "errors": result["errors"]}

    def publish_to(self, networks: list[str], *, media_path: Path, caption: str, hashtags: list[str],
                   scheduled_at: dt.datetime | None, idempotency_key: str, before_send: BeforeSend | None = None,
                   account: str | None = None) -> dict[str, Any]:
        """Post the video to several networks in one Ayrshare post, once per idempotency key.

        Returns {"ayrshare_id", "status", "posts": {network: post}, "errors": {network: error}}: a
        network that refused is in "errors" while the others posted. Raises when nothing was posted."""
        networks = list(dict.fromkeys(networks))
        if not networks:
            raise ValueError("name at least one network")
        try:
            found = self.find_post(idempotency_key)
            if found is not None:
                return found["result"]
            url = self.upload_media(media_path)
        except AyrshareApiError as e:
            if e.status == 429:  # the profile's window is full before anything was created: wait, then retry
                raise SendRefused(f"Ayrshare's rate limit is reached before posting ({e}); nothing was posted",
                                  reason="rate_limit", wait_s=e.retry_after_s or RATE_WINDOW_S) from e
            raise
        text = post_text(caption, hashtags)
        body: dict[str, Any] = {"post": text, "platforms": networks, "mediaUrls": [url], "isVideo": True,
                                "notes": key_marker(idempotency_key)}
        if "youtube" in networks:
            body["youTubeOptions"] = {"title": youtube_title(caption)}
        when = None
        if scheduled_at is not None:
            when = scheduled_at if scheduled_at.tzinfo else scheduled_at.replace(tzinfo=dt.UTC)  # naive = UTC
            if when > self._clock():
                body["scheduleDate"] = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # the documented form
        if before_send is not None:
            before_send()  # the lease fence and the rate-limit stamp, right before the create call
        resp = self._send("POST", "/api/post", create=True, json=body)
        payload = self._json(resp)
        if not isinstance(payload, dict):
            if resp.status_code >= 500 or resp.status_code == 200:
                raise AmbiguousOutcome(f"Ayrshare POST /api/post -> HTTP {resp.status_code} without a JSON answer; "
                                       "the post may exist", status=resp.status_code, retryable=True)
            raise self._error("Ayrshare POST /api/post", resp, payload, create=True)
        post_ids = [p for p in payload.get("postIds") or [] if isinstance(p, dict)]
        scheduled = payload.get("status") == "scheduled"
        if resp.status_code != 200 and not post_ids:
            raise self._error("Ayrshare POST /api/post", resp, payload, create=True)
        record = {"id": payload.get("id"), "status": payload.get("status"), "platforms": networks,
                  "postIds": post_ids, "errors": payload.get("errors") or [],
                  "scheduleDate": payload.get("scheduleDate") or (iso_utc(when) if when and scheduled else None),
                  "created": iso_utc(self._clock())}
        if not isinstance(record["id"], str) or not record["id"]:
            raise AmbiguousOutcome(f"Ayrshare POST /api/post answered no post id: {str(payload)[:300]}",
                                   status=resp.status_code, retryable=True)
        return self._result(record, idempotency_key, account)

    # ------------------------------------------------------------------------------------ delete
    def delete(self, ayrshare_id: str) -> dict[str, Any]:
        """Delete the post at every network that allows it (Ayrshare: not published TikTok/Instagram posts)."""
        resp = self._send("DELETE", "/api/post", json={"id": ayrshare_id})
        payload = self._json(resp)
        if resp.status_code == 200 and isinstance(payload, dict):
            return payload
        raise self._error("Ayrshare DELETE /api/post", resp, payload)
