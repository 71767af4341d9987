"""Deliver alerts to a Slack-compatible incoming webhook: one message per tick, retried, never a storm.

Each call of `deliver` takes the open alerts that are due (never sent, or still firing and last sent more
than `repeat_s` ago: store.due) and POSTs ONE JSON message {"text": ...}: the alert itself when one is
due, else a digest (the first `max_lines` alerts, most severe first, and a count of the rest). A 5xx, a
429 (its Retry-After honoured up to `max_wait_s`) or a timeout / connection error is retried with
exponential backoff, `attempts` times at most; any other answer is final. The rows record what happened:
notified_at on success, notify_attempts and last_notify_error either way.

The URL (ACTP_ALERT_WEBHOOK_URL) is a secret (Slack's carries its token in the path): it never reaches a
row, an error text or a log line (httpx's own request log line is redacted while it is in use). No URL =
rows only: nothing is sent and nothing is marked, so the alerts go out once a URL is set.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine

from actp_pipeline.alerts.store import due, record_delivery
from actp_pipeline.store import schema

REDACTED = "[webhook]"


@dataclass(frozen=True)
class WebhookPolicy:
    attempts: int = 3  # per message, per tick: 3 x timeout_s + waits stays well under a sensor tick's 60 s
    backoff_s: float = 0.5  # waits 0.5 s, 1 s, 2 s ... between attempts
    max_wait_s: float = 5.0  # the longest wait, a Retry-After included
    timeout_s: float = 5.0
    repeat_s: float = 3600.0  # an alert still firing is sent again at most once per this
    max_lines: int = 20  # alerts listed in a digest; the rest are counted

    def __post_init__(self) -> None:
        if not (isinstance(self.attempts, int) and 1 <= self.attempts <= 10):
            raise ValueError(f"attempts must be an int within 1..10, got {self.attempts!r}")
        for name in ("backoff_s", "max_wait_s", "timeout_s", "repeat_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0")


@dataclass(frozen=True)
class Outcome:
    due: int  # alerts the message carried (or would have)
    sent: bool
    attempts: int
    error: str | None = None


class _Redact(logging.Filter):
    """Rewrites log records that quote a secret (httpx logs every request's URL at INFO)."""

    def __init__(self, secrets: Sequence[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            record.msg, record.args = redact(message, self.secrets), ()
        return True


def _secrets(url: str) -> list[str]:
    """The URL as given and as httpx prints it, and its path and query (where webhooks keep their token)."""
    import httpx

    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    out = {url, str(httpx.URL(url))}
    if len(tail) > 1:
        out.add(tail)
    return sorted(out, key=len, reverse=True)


def redact(text: str, secrets: Sequence[str]) -> str:
    for s in secrets:
        text = text.replace(s, REDACTED)
    return text


def message_text(alerts: Sequence[dict[str, Any]], max_lines: int = 20) -> str:
    """The message: one alert as itself, several as a digest (most severe first)."""
    def line(a: dict[str, Any]) -> str:
        times = f" (x{a['count']} since {a['first_seen']:%Y-%m-%d %H:%M} UTC)" if a.get("count", 1) > 1 else ""
        return f"[{a['severity']}] {a['message']}{times}"

    if len(alerts) == 1:
        return f"ACTP alert {line(alerts[0])}"
    lines = [f"ACTP: {len(alerts)} alerts"] + [f"- {line(a)}" for a in alerts[:max_lines]]
    if len(alerts) > max_lines:
        lines.append(f"... and {len(alerts) - max_lines} more (`actp status`)")
    return "\n".join(lines)


def _wait(response, attempt: int, policy: WebhookPolicy) -> float:
    wait = policy.backoff_s * 2 ** (attempt - 1)
    if response is not None and response.status_code == 429:
        try:
            wait = float(response.headers.get("retry-after", wait))
        except ValueError:
            pass
    return max(0.0, min(wait, policy.max_wait_s))


def post(url: str, text: str, policy: WebhookPolicy = WebhookPolicy(), *, transport=None,
         sleep: Callable[[float], None] = time.sleep) -> tuple[bool, int, str | None]:
    """POST {"text": text} to `url`, retrying 5xx, 429 and timeouts; (delivered, attempts, error)."""
    import httpx

    secrets = _secrets(url)
    guard = _Redact(secrets)
    loggers = [logging.getLogger(n) for n in ("httpx", "httpcore")]
    for lg in loggers:
        lg.addFilter(guard)
    error, attempt = None, 0
    try:
        with httpx.Client(timeout=policy.timeout_s, transport=transport, follow_redirects=False) as client:
            for attempt in range(1, policy.attempts + 1):
                response = None
                try:
                    response = client.post(url, json={"text": text})
                except httpx.TransportError as e:  # timeouts and connection errors
                    error, retry = f"{type(e).__name__}: {e}", True
                else:
                    if 200 <= response.status_code < 300:
                        return True, attempt, None
                    error = f"HTTP {response.status_code}: {response.text.strip()[:200]}"
                    retry = response.status_code == 429 or response.status_code >= 500
                if not retry or attempt == policy.attempts:
                    break
                sleep(_wait(response, attempt, policy))
    finally:
        for lg in loggers:
            lg.removeFilter(guard)
    return False, attempt, redact(error or "not sent", secrets)


def deliver(engine: Engine, url: str | None, policy: WebhookPolicy = WebhookPolicy(), *,
            now: dt.datetime | None = None, transport=None, sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Send the due alerts as one message (see the module doc); rows only when `url` is unset."""
    now = now or schema.utcnow()
    alerts = due(engine, now, policy.repeat_s)
    if not alerts:
        return Outcome(0, False, 0)
    if not url:
        return Outcome(len(alerts), False, 0, "no webhook: set ACTP_ALERT_WEBHOOK_URL (alerts stay rows only)")
    ok, attempts, error = post(url, message_text(alerts, policy.max_lines), policy, transport=transport, sleep=sleep)
    record_delivery(engine, [a["id"] for a in alerts], sent_at=now if ok else None, attempts=attempts,
                    error=error)
    return Outcome(len(alerts), ok, attempts, error)
