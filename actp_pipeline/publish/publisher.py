"""What every publisher shares: the `Publisher` protocol the publish worker calls, and the errors it classifies.

Its own module so that the adapters (the dialects of publish/dialects.py, browser.BrowserPublisher) and their callers
(posts, the worker) import the interface without importing each other.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable, Protocol


class PlatformError(Exception):
    """The platform refused or failed a call; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False,
                 retry_after_s: float | None = None, retry_after: str | None = None, sent: bool = True):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.retry_after = retry_after  # the raw Retry-After header (seconds or an HTTP-date)
        self.sent = sent  # False when the request never reached the platform


class AmbiguousOutcome(PlatformError):
    """The request may have reached the platform (e.g. a timeout after sending): look up, never blindly retry."""


class SendRefused(PlatformError):
    """The last check before the create call said no: nothing was sent. `reason` is "lease_lost" (the claim
    is no longer this worker's) or "rate_limit" (the platform's window is full now; `wait_s` until a slot)."""

    def __init__(self, message: str, *, reason: str, wait_s: float = 0.0):
        super().__init__(message, retryable=True, sent=False)
        self.reason = reason
        self.wait_s = wait_s


BeforeSend = Callable[[], None]  # raises SendRefused when the call must not be made


class PostLookup(Protocol):
    """Looks a post up by its idempotency key (how a publish with an unknown outcome is reconciled)."""

    def find_post(self, idempotency_key: str) -> dict[str, Any] | None: ...


class Publisher(PostLookup, Protocol):
    """What the publish worker needs: post a file once per idempotency key, and look a post up by it.

    Adapters: each platform's own API (publish/dialects.py) and the Playwright browser uploader.
    """

    def publish(self, *, media_path: Path, platform: str, account: str, caption: str, hashtags: list[str],
                scheduled_at: dt.datetime | None, idempotency_key: str,
                before_send: BeforeSend | None = None) -> dict[str, Any]:
        """Returns the platform's post: at least post_id, url and live_at (ISO 8601).

        `before_send()` is called immediately before the request that creates the post (after media uploads
        and form filling, which create nothing visible): the worker fences its lease and stamps its rate
        limit slot there. When it raises SendRefused, send nothing and let the error propagate."""
        ...
