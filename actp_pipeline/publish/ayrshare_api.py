"""Ayrshare's REST API as ACTP calls it: one request, its transport failures and error answers mapped onto
the publisher's errors (what means "nothing was posted", what means "the post may exist"), and the
x-ratelimit-* headers kept. Apart from the adapter (publish/ayrshare.py) so that this mapping, which
decides whether a retry may post twice, is read in one place.

Errors
------
- 401 (API key) and 403 (Profile-Key, suspended profile): PlatformError, not retryable.
- 429: per User Profile, a number of requests per 5-minute window (x-ratelimit-max/-count headers, no
  Retry-After): in `publish` (the lookup, the upload or POST /api/post itself) SendRefused(reason=
  "rate_limit", wait_s=300), since nothing was created; elsewhere a retryable AyrshareApiError with
  retry_after_s=300 (metrics: the ids are "deferred"). `rate_limit` keeps the last headers seen.
- POST /api/post: a timeout or lost connection after sending, or a 5xx: AmbiguousOutcome. A 400 with
  some networks in postIds and others in errors is a partial success (`publish_to` returns both; the
  single-network `publish` raises PlatformError when its network refused). Per-network errors keep
  Ayrshare's code (AyrshareApiError.code; 156: network not linked).
- Any other 4xx: PlatformError (not retryable); 5xx and transport errors elsewhere: retryable.
"""

from __future__ import annotations

from typing import Any, Self

import httpx

from actp_pipeline.publish.publisher import (
    AmbiguousOutcome,
    PlatformError,
    SendRefused,
)

BASE_URL = "https://api.ayrshare.com"
RATE_WINDOW_S = 300.0  # "requests per 5-minute interval" per User Profile


class AyrshareApiError(PlatformError):
    """An error answer of Ayrshare: `code` is Ayrshare's error code, `errors` the per-network errors."""

    def __init__(self, message: str, *, status: int | None, code: int | None, retryable: bool,
                 retry_after_s: float | None = None, errors: list[dict[str, Any]] | None = None):
        super().__init__(message, status=status, retryable=retryable, retry_after_s=retry_after_s)
        self.code = code
        self.errors = list(errors or [])


def parse_count(value: Any) -> int | None:
    """A whole number from an answer (an int, an integral float or a digit string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isascii() and value.strip().isdigit() and len(value) < 30:
        return int(value)
    return None


class AyrshareApi:
    """The calls of one profile (the client is the publisher's `_http`); `rate_limit` keeps the last
    x-ratelimit-max / x-ratelimit-count seen."""

    _http: httpx.Client
    rate_limit: dict[str, int]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ calls
    def _send(self, method: str, path: str, *, create: bool = False, **kw: Any) -> httpx.Response:
        """One request; transport failures classified (AmbiguousOutcome for a create call that may have
        arrived)."""
        what = f"Ayrshare {method} {path}"
        try:
            resp = self._http.request(method, path, **kw)
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:  # nothing reached Ayrshare
            raise PlatformError(f"{what}: cannot connect ({e})", retryable=True, sent=False) from e
        except httpx.TransportError as e:
            if create:
                raise AmbiguousOutcome(f"{what}: {type(e).__name__} after sending ({e}); the post may exist",
                                       retryable=True) from e
            raise PlatformError(f"{what}: {type(e).__name__} ({e})", retryable=True) from e
        for name in ("x-ratelimit-max", "x-ratelimit-count"):
            value = resp.headers.get(name)
            if value is not None and value.isascii() and value.strip().isdigit() and len(value) < 30:
                self.rate_limit[name] = int(value)
        return resp

    @staticmethod
    def _json(resp: httpx.Response) -> Any:
        try:
            return resp.json()
        except ValueError:
            return None

    def _error(self, what: str, resp: httpx.Response, payload: Any, *, create: bool = False) -> PlatformError:
        status = resp.status_code
        body = payload if isinstance(payload, dict) else {}
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        first = errors[0] if errors else body
        code = parse_count(first.get("code"))
        message = str(first.get("message") or resp.text[:300])
        text = f"{what} -> HTTP {status} code {code}: {message}"
        if status == 429:
            if create:
                return SendRefused(f"Ayrshare's rate limit is reached ({text}); nothing was posted",
                                   reason="rate_limit", wait_s=RATE_WINDOW_S)
            return AyrshareApiError(text, status=status, code=code, retryable=True, retry_after_s=RATE_WINDOW_S,
                                    errors=errors)
        if status >= 500:
            if create:
                return AmbiguousOutcome(f"{text}; the post may exist", status=status, retryable=True)
            return AyrshareApiError(text, status=status, code=code, retryable=True, errors=errors)
        return AyrshareApiError(text, status=status, code=code, retryable=False, errors=errors)

    def _call(self, method: str, path: str, *, check_status: bool = True, **kw: Any) -> Any:
        """A call that must answer 200 with JSON (and, unless check_status is False, not status "error":
        GET /post/:id's status is the post's, not the call's)."""
        resp = self._send(method, path, **kw)
        payload = self._json(resp)
        if resp.status_code != 200 or not isinstance(payload, (dict, list)) or (
                check_status and isinstance(payload, dict) and payload.get("status") == "error"):
            raise self._error(f"Ayrshare {method} {path}", resp, payload)
        return payload
