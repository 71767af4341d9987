"""Per-platform publish rate limits: sliding windows, Retry-After blocks, shared through the store.

The rules live here and nowhere else. Three layers:

- `decide(now, recent, limits)`: the pure rule. A call made at time `t` occupies every window of length
  `per_s` that contains it, i.e. it counts at `now` while `t + per_s > now`, and it has left the window
  at exactly `now == t + per_s` (a call is allowed again at that instant). When a window is full,
  `wait_s` is exactly the time until the call whose departure brings the window below its limit leaves
  it; with several windows (and a Retry-After block) the wait is the largest of them.
- `RateLimiter`: the same rule kept in one process's memory (tests, single-process tools).
- `StoreRateLimiter`: the rule shared by every worker process and machine through the operational store
  (tables `rate_keys` and `rate_events`, schema version 2). `acquire()` reserves a slot before work is
  claimed; `stamp()` checks again and records the call's time right before it is sent, so the windows
  count what the platform counts (arrivals). Each checks and records in ONE
  transaction that first writes the key's row: on Postgres that UPDATE holds the row lock until commit,
  so concurrent acquirers of one key queue behind each other; on SQLite the first write takes the
  database's single write lock before anything is read. Check-then-insert therefore cannot race.

Times are epoch seconds (floats). A clock is any callable returning epoch seconds or a datetime (naive
means UTC, like the rest of the store); inject a fake one in tests. Machines that share a store must
keep their clocks in sync (NTP): a clock that is s seconds behind sees windows s seconds late.

Keys are (platform, account). A limit with scope "platform" counts the calls of every account of the
platform together (an app- or project-wide quota); `account=None` in `block_until` blocks the whole
platform (stored under the reserved account name "*").
"""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from actp_pipeline.store import schema
from actp_pipeline.store.engine import insert_ignoring_conflict

Clock = Callable[[], "float | dt.datetime"]

ACCOUNT = "account"
PLATFORM = "platform"
ALL_ACCOUNTS = "*"  # the reserved account name of a platform-wide key


@dataclass(frozen=True)
class RateLimit:
    """At most `calls` calls in any window of `per_s` seconds, per account or per platform (`scope`)."""

    calls: int
    per_s: float
    scope: str = ACCOUNT

    def __post_init__(self) -> None:
        if int(self.calls) != self.calls or self.calls < 1:
            raise ValueError(f"calls must be a positive integer, got {self.calls!r}")
        if not (self.per_s > 0 and math.isfinite(self.per_s)):
            raise ValueError(f"per_s must be a positive number of seconds, got {self.per_s!r}")
        if self.scope not in (ACCOUNT, PLATFORM):
            raise ValueError(f"scope must be {ACCOUNT!r} or {PLATFORM!r}, got {self.scope!r}")


MINUTE = 60.0
DAY = 86_400.0

# Publish limits per platform, from the platforms' own documentation (checked for this change):
DEFAULT_LIMITS: dict[str, list[RateLimit]] = {
    # TikTok Content Posting API, /v2/post/publish/video/init/ (Direct Post) and
    # /v2/post/publish/inbox/video/init/ (Upload): "Each user access_token is limited to 6 requests per
    # minute" (developers.tiktok.com/doc/content-posting-api-reference-direct-post); TikTok computes its
    # rate limits over a one-minute sliding window (developers.tiktok.com/doc/tiktok-api-v2-rate-limit).
    # TikTok also has a per-creator daily post cap (error spam_risk_too_many_posts), but does not publish
    # its size (integrators report 15-25 a day), so no daily window is set here: when the platform
    # answers spam_risk_too_many_posts, block the account with `block_until(...)` until the next day.
    "tiktok": [RateLimit(6, MINUTE)],
    # Instagram Graph API, POST /{ig-user-id}/media_publish: "An Instagram professional account can only
    # publish 50 posts within a 24 hour moving period" (Meta's media_publish reference, Limitations;
    # carousels count as one post). The live figure for an account is GET
    # /{ig-user-id}/content_publishing_limit (config.quota_total): prefer it when the adapter can read it.
    "instagram": [RateLimit(50, DAY)],
    # YouTube Data API: "Projects that enable the YouTube Data API have a default quota allocation of ...
    # 100 videos.insert calls ... per day" (developers.google.com/youtube/v3/determine_quota_cost).
    # The real constraint is the API quota, which belongs to the Google Cloud project (so the scope is the
    # whole platform, not one channel), resets at midnight Pacific time rather than sliding, and used to
    # be counted in units (videos.insert cost 1600 of 10,000 units a day, about 6 uploads); a project
    # with a raised or a unit-based quota should set its own figure here.
    "youtube": [RateLimit(100, DAY, scope=PLATFORM)],
}


class Decision(NamedTuple):
    allowed: bool
    wait_s: float  # 0.0 when allowed; otherwise the exact time until a call would be allowed


class Grant(NamedTuple):
    allowed: bool
    wait_s: float
    ticket: int | None  # the recorded call, for release_unused(); None when nothing was recorded


def to_epoch(value: float | int | dt.datetime) -> float:
    """Epoch seconds from a clock reading: a number, or a datetime (naive = UTC)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    return float(value)


def window_wait(now: float, recent: Iterable[float], limit: RateLimit) -> float:
    """Seconds until one more call fits in `limit`'s window (0.0 when it fits now)."""
    live = sorted(t for t in recent if t + limit.per_s > now)
    excess = len(live) - limit.calls
    if excess < 0:
        return 0.0
    # the window holds limit.calls + excess calls: the (excess+1)-th oldest must leave before one more fits
    return live[excess] + limit.per_s - now


def decide(
    now: float,
    recent: Iterable[float],
    limits: Sequence[RateLimit],
    *,
    blocked_until: float | None = None,
    platform_recent: Iterable[float] | None = None,
) -> Decision:
    """May one more call be made at `now`, given the times of recent calls of the key?

    `recent` are the key's (account's) call times; `platform_recent` the times of all accounts of the
    platform, used by limits with scope "platform" (when omitted, `recent` serves every limit).
    A block from Retry-After holds while `now < blocked_until`.
    """
    recent = list(recent)
    platform_recent = recent if platform_recent is None else list(platform_recent)
    wait = 0.0
    if blocked_until is not None and blocked_until > now:
        wait = blocked_until - now
    for limit in limits:
        wait = max(wait, window_wait(now, platform_recent if limit.scope == PLATFORM else recent, limit))
    return Decision(True, 0.0) if wait <= 0.0 else Decision(False, wait)


_DELAY_SECONDS = re.compile(r"\d+(\.\d+)?")


def parse_retry_after(value: str | float | int, now: float) -> float:
    """The epoch time a Retry-After value points at: delay-seconds ("120") or an HTTP-date in any of the
    three forms HTTP allows (IMF-fixdate, RFC 850, asctime; always GMT). Raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a Retry-After value: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        if _DELAY_SECONDS.fullmatch(text):
            seconds = float(text)
        else:
            try:
                when = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError, OverflowError) as e:
                raise ValueError(f"not a Retry-After value: {value!r}") from e
            if when is None:
                raise ValueError(f"not a Retry-After value: {value!r}")
            return to_epoch(when)  # HTTP-dates are GMT; a zone-less (asctime) one comes back naive = UTC
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"Retry-After must be a non-negative number of seconds, got {value!r}")
    return now + seconds


def _retry_after_until(value: str | float | int | None, now: float, default_s: float) -> float:
    if value is None:
        return now + default_s
    try:
        return parse_retry_after(value, now)
    except ValueError:
        return now + default_s


def _check_account(account: str) -> None:
    if account == ALL_ACCOUNTS:
        raise ValueError(f"{ALL_ACCOUNTS!r} is reserved for platform-wide keys")


class _LimiterBase:
    def __init__(self, limits: Mapping[str, Sequence[RateLimit]] | None = None, clock: Clock = time.time):
        self.limits = {p: tuple(ls) for p, ls in (DEFAULT_LIMITS if limits is None else limits).items()}
        self.clock = clock

    def now(self) -> float:
        return to_epoch(self.clock())

    def limits_for(self, platform: str) -> tuple[RateLimit, ...]:
        """The platform's limits; a platform without any is not throttled (Retry-After blocks still hold)."""
        return self.limits.get(platform, ())

    def _horizon(self, limits: Sequence[RateLimit], now: float) -> float:
        """Calls at or before this time can no longer count against `limits` (1 s of slack for rounding)."""
        return now - max((lim.per_s for lim in limits), default=0.0) - 1.0

    def block_until(self, platform: str, account: str | None, until: float | dt.datetime, reason: str = "") -> float:
        raise NotImplementedError

    def note_retry_after(
        self,
        platform: str,
        account: str | None,
        value: str | float | int | None,
        *,
        default_s: float = 60.0,
        reason: str = "429 Retry-After",
    ) -> float:
        """Block the key (account None: the whole platform) until the Retry-After value says; an absent or
        unreadable value blocks for `default_s`. Returns the epoch time the key is blocked until."""
        until = _retry_after_until(value, self.now(), default_s)
        return self.block_until(platform, account, until, reason)


class RateLimiter(_LimiterBase):
    """`decide` over call times kept in this process's memory; thread-safe, not shared between processes."""

    def __init__(self, limits: Mapping[str, Sequence[RateLimit]] | None = None, clock: Clock = time.time):
        super().__init__(limits, clock)
        self._calls: dict[tuple[str, str], dict[int, float]] = {}
        self._blocks: dict[tuple[str, str], float] = {}
        self._tickets = itertools.count(1)
        self._lock = threading.Lock()

    def _decide(self, platform: str, account: str, now: float) -> Decision:
        limits = self.limits_for(platform)
        blocks = [self._blocks.get((platform, a)) for a in (account, ALL_ACCOUNTS)]
        return decide(
            now,
            self._calls.get((platform, account), {}).values(),
            limits,
            blocked_until=max((b for b in blocks if b is not None), default=None),
            platform_recent=[t for (p, _), calls in self._calls.items() if p == platform for t in calls.values()],
        )

    def check(self, platform: str, account: str) -> Decision:
        """Would a call be allowed now? Records nothing."""
        with self._lock:
            return self._decide(platform, account, self.now())

    def acquire(self, platform: str, account: str) -> Grant:
        """Check and, when allowed, record one call for (platform, account)."""
        _check_account(account)
        with self._lock:
            now = self.now()
            decision = self._decide(platform, account, now)
            limits = self.limits_for(platform)
            calls = self._calls.setdefault((platform, account), {})
            horizon = self._horizon(limits, now)
            for ticket in [k for k, t in calls.items() if t <= horizon]:
                del calls[ticket]
            if not decision.allowed or not limits:
                return Grant(decision.allowed, decision.wait_s, None)
            ticket = next(self._tickets)
            calls[ticket] = now
            return Grant(True, 0.0, ticket)

    def release_unused(self, platform: str, account: str, ticket: int | None) -> bool:
        """Give back a granted call that was not made after all."""
        with self._lock:
            return self._calls.get((platform, account), {}).pop(ticket, None) is not None

    def block_until(self, platform: str, account: str | None, until: float | dt.datetime, reason: str = "") -> float:
        """Block the key until `until` (a later block wins over an earlier one); returns the block's end."""
        key = (platform, ALL_ACCOUNTS if account is None else account)
        with self._lock:
            self._blocks[key] = max(self._blocks.get(key, -math.inf), to_epoch(until))
            return self._blocks[key]

    def blocked_until(self, platform: str, account: str | None) -> float | None:
        return self._blocks.get((platform, ALL_ACCOUNTS if account is None else account))


class StoreRateLimiter(_LimiterBase):
    """The limits shared by all processes and machines through the operational store."""

    def __init__(
        self, engine: Engine, limits: Mapping[str, Sequence[RateLimit]] | None = None, clock: Clock = time.time
    ):
        super().__init__(limits, clock)
        self.engine = engine

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _key(platform: str, account: str) -> sa.ColumnElement[bool]:
        k = schema.rate_keys.c
        return sa.and_(k.platform == platform, k.account == account)

    def _lock_key(self, conn: Connection, platform: str, account: str, now: float) -> None:
        """Make sure the key's row exists and write it: the write holds the row lock (Postgres) or the
        database write lock (SQLite) until the transaction ends. Must be the transaction's first statement."""
        insert_ignoring_conflict(conn, schema.rate_keys, {"platform": platform, "account": account, "updated_at": now})
        conn.execute(sa.update(schema.rate_keys).where(self._key(platform, account)).values(updated_at=now))

    def _block(self, conn: Connection, platform: str, account: str) -> float | None:
        k = schema.rate_keys.c
        rows = conn.execute(
            sa.select(k.blocked_until).where(k.platform == platform, k.account.in_([account, ALL_ACCOUNTS]))
        ).scalars()
        return max((b for b in rows if b is not None), default=None)

    def _decide(self, conn: Connection, platform: str, account: str, now: float) -> Decision:
        limits = self.limits_for(platform)
        e = schema.rate_events.c
        horizon = self._horizon(limits, now)
        recent: list[float] = []
        platform_recent: list[float] | None = None
        if limits:
            in_reach = sa.and_(e.platform == platform, e.at > horizon)
            recent = list(conn.execute(sa.select(e.at).where(in_reach, e.account == account)).scalars())
            if any(lim.scope == PLATFORM for lim in limits):
                platform_recent = list(conn.execute(sa.select(e.at).where(in_reach)).scalars())
        blocked = self._block(conn, platform, account)
        return decide(now, recent, limits, blocked_until=blocked, platform_recent=platform_recent)

    # -- the API ------------------------------------------------------------------------------------
    def check(self, platform: str, account: str) -> Decision:
        """Would a call be allowed now? A read without locks: a hint, `acquire` is the authority."""
        with self.engine.connect() as conn:
            return self._decide(conn, platform, account, self.now())

    def acquire(self, platform: str, account: str) -> Grant:
        """Atomically check the limits and, when allowed, record one call for (platform, account).

        Returns Grant(allowed, wait_s, ticket). Not allowed: make no call, come back after `wait_s`.
        Allowed but then not called: `release_unused(platform, account, ticket)`.
        """
        _check_account(account)
        limits = self.limits_for(platform)
        e = schema.rate_events.c
        with self.engine.begin() as conn:
            self._lock_keys(conn, platform, account, limits)
            grant, now = self._grant(conn, platform, account, limits)
            # prune this key's calls that no window can see any more (the key is locked, so it is cheap)
            conn.execute(
                sa.delete(schema.rate_events).where(
                    e.platform == platform, e.account == account, e.at <= self._horizon(limits, now)
                )
            )
        return grant

    def _lock_keys(self, conn: Connection, platform: str, account: str, limits: Sequence[RateLimit]) -> None:
        """Lock order: the platform-wide row (when a limit counts the whole platform), then the account's row,
        the same order everywhere."""
        if any(lim.scope == PLATFORM for lim in limits):
            self._lock_key(conn, platform, ALL_ACCOUNTS, self.now())
        self._lock_key(conn, platform, account, self.now())

    def _grant(self, conn: Connection, platform: str, account: str,
               limits: Sequence[RateLimit]) -> tuple[Grant, float]:
        """Decide at this instant (read once the keys are locked) and record the call when allowed."""
        now = self.now()
        decision = self._decide(conn, platform, account, now)
        if not decision.allowed or not limits:
            return Grant(decision.allowed, decision.wait_s, None), now
        res = conn.execute(sa.insert(schema.rate_events).values(platform=platform, account=account, at=now))
        return Grant(True, 0.0, int(res.inserted_primary_key[0])), now

    def stamp(self, platform: str, account: str, ticket: int | None) -> Grant:
        """The call granted as `ticket` is being sent NOW: check the windows again at this instant and move the
        call's time to it. What the platform counts is when a call arrives, not when a worker got ready to make
        it; a slot taken before a slow media upload would otherwise count at the wrong time, and more calls
        than the limit would reach the platform within one window. Other granted calls still in preparation
        count at their grant time (earlier, so never fewer than the platform will see).

        Returns Grant(allowed, wait_s, ticket): allowed -> send now, `ticket` is the call's new id; not
        allowed -> send nothing (the old ticket is given back)."""
        _check_account(account)
        limits = self.limits_for(platform)
        if not limits:
            return Grant(True, 0.0, None)
        e = schema.rate_events.c
        with self.engine.begin() as conn:
            self._lock_keys(conn, platform, account, limits)
            if ticket is not None:  # gone already when pruned: a call prepared for longer than the window
                conn.execute(sa.delete(schema.rate_events).where(
                    e.id == ticket, e.platform == platform, e.account == account))
            return self._grant(conn, platform, account, limits)[0]

    def release_unused(self, platform: str, account: str, ticket: int | None) -> bool:
        """Give back a granted call that was not made after all (the platform was never contacted)."""
        if ticket is None:
            return False
        e = schema.rate_events.c
        with self.engine.begin() as conn:
            res = conn.execute(
                sa.delete(schema.rate_events).where(e.id == ticket, e.platform == platform, e.account == account)
            )
        return res.rowcount == 1

    def block_until(self, platform: str, account: str | None, until: float | dt.datetime, reason: str = "") -> float:
        """Block the key (account None: the whole platform) until `until`; a later block already in place
        wins. Returns the epoch time the key is blocked until."""
        account = ALL_ACCOUNTS if account is None else account
        until = to_epoch(until)
        k = schema.rate_keys.c
        with self.engine.begin() as conn:
            now = self.now()
            self._lock_key(conn, platform, account, now)
            conn.execute(
                sa.update(schema.rate_keys)
                .where(self._key(platform, account), sa.or_(k.blocked_until.is_(None), k.blocked_until < until))
                .values(blocked_until=until, block_reason=reason[:2000], updated_at=now)
            )
            return conn.execute(sa.select(k.blocked_until).where(self._key(platform, account))).scalar_one()

    def blocked_until(self, platform: str, account: str | None) -> float | None:
        k = schema.rate_keys.c
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(k.blocked_until).where(self._key(platform, ALL_ACCOUNTS if account is None else account))
            ).scalar()

    def prune(self, older_than_s: float | None = None) -> int:
        """Delete calls older than any configured window (or `older_than_s`); returns how many went.
        acquire() already prunes its own key; this sweeps keys nobody acquires any more."""
        now = self.now()
        if older_than_s is None:
            older_than_s = max((lim.per_s for ls in self.limits.values() for lim in ls), default=DAY)
        e = schema.rate_events.c
        with self.engine.begin() as conn:
            return conn.execute(sa.delete(schema.rate_events).where(e.at <= now - older_than_s - 1.0)).rowcount
