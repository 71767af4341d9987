"""TikTok's open API as ACTP calls it: one JSON POST per endpoint, TikTok's {"data", "error"} envelope
unwrapped, and its error answers mapped onto the publisher's errors (what means "TikTok did nothing", what
means "the post may exist"). Apart from the adapter (publish/tiktok.py) so that this mapping, which decides
whether a retry may post twice, is read in one place.

Limits (TikTok's documents, per user access token): creator_info/query 20 requests a minute, video/init 6,
status/fetch 30; video/query and video/list 600 a minute. Over a limit TikTok answers 429
rate_limit_exceeded without a Retry-After, and the window is one minute, so a refusal waits 60 s. The
daily post cap per creator is not published (spam_risk_too_many_posts): a refusal waits DAILY_CAP_WAIT_S.
Polling status/fetch every `poll_interval_s` (3 s) stays under 30 a minute.

Errors
------
- 429 or spam_risk_too_many_posts on creator info or init: SendRefused(reason="rate_limit", wait_s): TikTok
  did nothing. Other 4xx: PlatformError (not retryable: a bad token, a privacy level the creator does not
  offer, a banned user). 5xx: retryable PlatformError, or AmbiguousOutcome on init.
- A timeout (or a lost connection after sending) on init or on the final chunk is AmbiguousOutcome: the
  post may exist. Before the final chunk nothing can become a post, so a failed earlier chunk (after
  `chunk_attempts` tries) is a retryable PlatformError.
- FAILED with a fail_reason: PlatformError (retryable only for fail_reason "internal").
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from actp_pipeline.publish.publisher import (
    AmbiguousOutcome,
    PlatformError,
    SendRefused,
)

BASE_URL = "https://open.tiktokapis.com"
RATE_WINDOW_S = 60.0  # the per-token request limits are per minute
DAILY_CAP_WAIT_S = 3600.0  # the daily post cap's reset is not published: look again in an hour
VIDEO_FIELDS = "id,create_time,share_url,view_count,like_count,comment_count,share_count"


class TikTokApiError(PlatformError):
    """An answer outside TikTok's "ok": `code` is TikTok's error code (access_token_invalid, ...)."""

    def __init__(self, message: str, *, code: str, status: int | None, retryable: bool,
                 retry_after_s: float | None = None):
        super().__init__(message, status=status, retryable=retryable, retry_after_s=retry_after_s)
        self.code = code


class TikTokApi:
    """The Content Posting and Display API calls of one access token (the client is the publisher's `_http`)."""

    _http: httpx.Client

    def _call(self, path: str, *, body: dict[str, Any] | None = None, params: dict[str, str] | None = None,
              side_effect: bool = False) -> dict[str, Any]:
        """POST a JSON body to an open API path; the envelope's data, or TikTokApiError/AmbiguousOutcome."""
        try:
            resp = self._http.post(path, params=params, content=json.dumps(body or {}).encode("utf-8"),
                                   headers={"Content-Type": "application/json; charset=UTF-8"})
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            raise PlatformError(f"POST {path}: cannot connect ({e})", retryable=True, sent=False) from e
        except httpx.TransportError as e:
            cls = AmbiguousOutcome if side_effect else PlatformError
            raise cls(f"POST {path}: {type(e).__name__} after sending ({e})", retryable=True) from e
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        err = payload.get("error") if isinstance(payload, dict) else None
        code = err.get("code") if isinstance(err, dict) else None
        if resp.status_code >= 400 or code != "ok":
            message = err.get("message", "") if isinstance(err, dict) else resp.text[:300]
            code = code or f"http_{resp.status_code}"
            status = resp.status_code
            text = f"POST {path} -> HTTP {status} {code}: {message}"
            if side_effect and (status >= 500 or status == 408):
                raise AmbiguousOutcome(text, status=status, retryable=True)
            limited = status == 429 or code == "rate_limit_exceeded"
            raise TikTokApiError(text, code=code, status=status, retryable=limited or status >= 500,
                                 retry_after_s=RATE_WINDOW_S if limited else None)
        data = payload.get("data") if isinstance(payload, dict) else None
        return data if isinstance(data, dict) else {}

    def creator_info(self) -> dict[str, Any]:
        return self._call("/v2/post/publish/creator_info/query/")

    def fetch_status(self, publish_id: str) -> dict[str, Any]:
        return self._call("/v2/post/publish/status/fetch/", body={"publish_id": publish_id})

    def query_videos(self, video_ids: list[str], fields: str = VIDEO_FIELDS) -> list[dict[str, Any]]:
        data = self._call("/v2/video/query/", params={"fields": fields}, body={"filters": {"video_ids": video_ids}})
        return list(data.get("videos") or [])

    def list_videos(self, cursor: int | None = None, max_count: int = 20,
                    fields: str = "id,title,create_time,share_url") -> dict[str, Any]:
        body: dict[str, Any] = {"max_count": max_count}
        if cursor is not None:
            body["cursor"] = cursor
        return self._call("/v2/video/list/", params={"fields": fields}, body=body)

    @staticmethod
    def _refusal(e: TikTokApiError) -> PlatformError:
        """A limit TikTok answered before anything was created: the worker waits, nothing was done."""
        if e.code == "spam_risk_too_many_posts":
            return SendRefused(f"TikTok's daily post cap for this creator is reached: {e}", reason="rate_limit",
                               wait_s=DAILY_CAP_WAIT_S)
        if e.status == 429 or e.code == "rate_limit_exceeded":
            return SendRefused(f"TikTok's request limit is reached: {e}", reason="rate_limit", wait_s=RATE_WINDOW_S)
        return e
