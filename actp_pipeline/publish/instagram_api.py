"""Instagram's Graph API as ACTP calls it through Meta's SDK: one SDK call, its failures mapped onto the
publisher's errors (what means "nothing is visible", what means "the post may exist"), and the publishing
limit read at run time. Apart from the adapter (publish/instagram.py) so that this mapping, which decides
whether a retry may post twice, is read in one place.

Errors (FacebookRequestError -> publisher errors)
-------------------------------------------------
- media_publish code 9 / subcode 2207042 (the publishing limit): SendRefused(reason="rate_limit", wait_s).
- a timeout or a broken connection after media_publish was sent, or a 5xx answer to it: AmbiguousOutcome
  (find_post settles it). Before media_publish nothing is visible: such failures are retryable PlatformErrors.
- code 4, 17, 32, 613 (call rate limits) and is_transient answers: retryable PlatformError; 9007/2207027
  (not ready) is waited on; a bad token (190), a permission (10, 200) or a bad parameter (100): not retryable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import requests
from facebook_business.adobjects.iguser import IGUser
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError

from actp_pipeline.publish.publisher import (
    AmbiguousOutcome,
    PlatformError,
    SendRefused,
)

GRAPH_URL = "https://graph.facebook.com"
API_VERSION = "v21.0"
LIMIT_CODE, LIMIT_SUBCODE = 9, 2207042
NOT_READY_CODE, NOT_READY_SUBCODE = 9007, 2207027
RATE_CODES = (4, 17, 32, 613, 80002)
UNKNOWN_OBJECT_SUBCODE = 33
DEFAULT_WINDOW_S = 86_400.0


def iso_utc(t: dt.datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def graph_time(value: str | None) -> dt.datetime | None:
    """Graph's "2025-03-01T12:00:00+0000" as an aware datetime (None when absent or unreadable)."""
    if not value:
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None


class InstagramApi:
    """The SDK calls of one IG user (`api` is the publisher's own FacebookAdsApi), and its publishing limit."""

    ig_user_id: str
    api: FacebookAdsApi
    _clock: Callable[[], dt.datetime]

    # ------------------------------------------------------------------------------------ calls
    def _user(self) -> IGUser:
        return IGUser(self.ig_user_id, api=self.api)

    def _call(self, what: str, fn: Callable[[], Any], *, side_effect: bool = False) -> Any:
        """Run one SDK call; its failures as PlatformError (AmbiguousOutcome when `side_effect` may have landed)."""
        try:
            return fn()
        except FacebookRequestError as e:
            raise self._classify(what, e, side_effect) from e
        except (requests.ConnectionError, requests.Timeout) as e:
            never_sent = isinstance(e, requests.ConnectTimeout) or (
                isinstance(e, requests.ConnectionError) and "Connection refused" in str(e))
            if side_effect and not never_sent:
                raise AmbiguousOutcome(f"Instagram {what}: {type(e).__name__} after sending ({e}); the post may "
                                       "exist: look it up with find_post", retryable=True) from e
            raise PlatformError(f"Instagram {what}: {type(e).__name__} ({e})", retryable=True,
                                sent=not never_sent) from e
        except requests.RequestException as e:
            raise PlatformError(f"Instagram {what}: {type(e).__name__} ({e})", retryable=True) from e

    def _classify(self, what: str, e: FacebookRequestError, side_effect: bool) -> PlatformError:
        code, sub, status = e.api_error_code(), e.api_error_subcode(), e.http_status()
        text = f"Instagram {what} -> HTTP {status} code {code}/{sub}: {e.api_error_message()}"
        if code == LIMIT_CODE and sub == LIMIT_SUBCODE:
            wait = self._window_wait()
            return SendRefused(f"{text}; the publishing limit is reached, a slot frees in {wait:.0f} s",
                               reason="rate_limit", wait_s=wait)
        if side_effect and (status is None or status >= 500):
            return AmbiguousOutcome(f"{text}; the post may exist: look it up with find_post", status=status,
                                    retryable=True)
        retryable = bool(e.api_transient_error()) or code in RATE_CODES or code == NOT_READY_CODE or (
            status is not None and status >= 500)
        return PlatformError(text, status=status, retryable=retryable)

    # ---------------------------------------------------------------------------------- limits
    def publishing_limit(self) -> dict[str, Any]:
        """{"quota_usage", "quota_total", "quota_duration"} read from Instagram now."""
        rows = self._call("content_publishing_limit", lambda: self._user().get_content_publishing_limit(
            fields=["config", "quota_usage"]))
        row = rows[0].export_all_data() if len(rows) else {}
        config = row.get("config") or {}
        return {"quota_usage": int(row.get("quota_usage") or 0), "quota_total": config.get("quota_total"),
                "quota_duration": float(config.get("quota_duration") or DEFAULT_WINDOW_S)}

    def _window_wait(self, limit: dict[str, Any] | None = None) -> float:
        """Seconds until the oldest post of the rolling window leaves it (the window's length when unknown)."""
        try:
            limit = limit or self.publishing_limit()
            window = float(limit["quota_duration"])
            usage = int(limit["quota_usage"])
            page = self._call("media", lambda: self._user().get_media(fields=["id", "timestamp"],
                                                                      params={"limit": max(1, usage)}))
            now = self._clock()
            now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
            stamps = [t for t in (graph_time(m.get("timestamp")) for m in list(page)[: max(1, usage)]) if t]
            inside = [t for t in stamps if (now - t).total_seconds() < window]
            if not inside:
                return window
            return max((min(inside) - now).total_seconds() + window + 1.0, 1.0)
        except PlatformError:
            return DEFAULT_WINDOW_S

    def _check_limit(self) -> None:
        limit = self.publishing_limit()
        total = limit["quota_total"]
        if total is not None and limit["quota_usage"] >= int(total):
            wait = self._window_wait(limit)
            raise SendRefused(f"Instagram publishing limit: {limit['quota_usage']} of {total} posts in the last "
                              f"{limit['quota_duration']:.0f} s; a slot frees in {wait:.0f} s; nothing was sent",
                              reason="rate_limit", wait_s=wait)
