"""The YouTube dialect's quota: what each method costs and how much of it a token has spent today. Apart
from the domain (sandbox/youtube.py) because the cost model is a policy a test or a rehearsal swaps
(QuotaPolicy.legacy()), and the counting is the same for every method.

Quota (https://developers.google.com/youtube/data/determine_quota_cost, as stored in the docs corpus
consulted when this was written): every request, invalid ones included, costs its method's units; the
current page gives videos.insert and search.list their own buckets of 100 calls a day at 1 unit a call
and every other method a shared bucket of 10,000 units a day, reset at midnight Pacific Time. Older
editions of the same page priced videos.insert at 1600 units of the shared bucket: QuotaPolicy.legacy().
The sandbox counts per token (not per Google Cloud project) and per sandbox day (midnight in
America/Los_Angeles on the simulated clock). A call that would exceed its bucket is refused with 403
reason quotaExceeded, domain youtube.quota, and costs nothing.

Differences from real YouTube: quota is counted per token and sandbox day, not per project; the
per-channel daily upload limit (400 uploadLimitExceeded) is not simulated.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from .publishing import Publishing
from .youtube_errors import YouTubeError

PACIFIC = ZoneInfo("America/Los_Angeles")  # YouTube's quota day ends at midnight Pacific Time


@dataclass
class QuotaPolicy:
    """Units per method (bucket, cost) and each bucket's daily limit."""

    costs: dict[str, tuple[str, int]] = field(default_factory=lambda: {
        "videos.insert": ("videos.insert", 1), "search.list": ("search.list", 1),
        "videos.list": ("default", 1), "channels.list": ("default", 1), "playlistItems.list": ("default", 1),
        "videos.update": ("default", 50), "videos.delete": ("default", 50),
    })
    limits: dict[str, int] = field(default_factory=lambda: {"default": 10_000, "videos.insert": 100,
                                                            "search.list": 100})

    @classmethod
    def legacy(cls) -> QuotaPolicy:
        """The older cost model: one bucket of 10,000 units; videos.insert 1600, search.list 100."""
        p = cls()
        p.costs.update({"videos.insert": ("default", 1600), "search.list": ("default", 100)})
        p.limits = {"default": 10_000}
        return p

    def cost(self, method: str) -> tuple[str, int]:
        return self.costs.get(method, ("default", 1))


def quota_day(now: datetime) -> str:
    """The quota day of an instant: its date at Pacific Time (quota resets at midnight PT)."""
    return now.astimezone(PACIFIC).date().isoformat()


def next_reset(now: datetime) -> datetime:
    local = now.astimezone(PACIFIC)
    midnight = datetime(local.year, local.month, local.day, tzinfo=PACIFIC) + timedelta(days=1)
    return midnight.astimezone(UTC)


class Quota:
    """Units spent per token, quota day and bucket, kept in the state's meta table (survives restarts)."""

    def __init__(self, publishing: Publishing, policy: QuotaPolicy | None = None):
        self.state = publishing.state
        self.clock = publishing.clock
        self.policy = policy or QuotaPolicy()
        self._lock = threading.Lock()

    @staticmethod
    def token_id(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()[:16]

    def _key(self, token: str, day: str, bucket: str) -> str:
        return f"youtube.quota.{self.token_id(token)}.{day}.{bucket}"

    def spent(self, token: str, bucket: str = "default", now: datetime | None = None) -> int:
        day = quota_day(now or self.clock.now())
        return int(self.state.get_meta(self._key(token, day, bucket)) or 0)

    def charge(self, token: str, method: str) -> None:
        """Spend the method's units, or refuse (403 quotaExceeded) if that would pass the bucket's limit."""
        bucket, cost = self.policy.cost(method)
        limit = self.policy.limits.get(bucket)
        day = quota_day(self.clock.now())
        key = self._key(token, day, bucket)
        with self._lock:
            spent = int(self.state.get_meta(key) or 0)
            if limit is not None and spent + cost > limit:
                raise YouTubeError(403, "quotaExceeded",
                                   f"The request cannot be completed: the daily quota of {limit} units for "
                                   f"{'this method' if bucket != 'default' else 'this token'} is used up; "
                                   "it resets at midnight Pacific Time.", domain="youtube.quota")
            self.state.increment_meta(key, cost)
