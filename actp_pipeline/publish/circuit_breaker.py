"""A circuit breaker per (platform, account): stop calling a platform that keeps failing, try again later.

States and rules (all times from an injected clock, epoch seconds):

- closed: calls go through. `failure_threshold` (default 5) CONSECUTIVE failures open the breaker; a
  success resets the count. (Consecutive failures rather than a failure rate: publishing is a few calls
  a minute per account, too few for a rate over a window to mean much.)
- open: every call is rejected at once with the time left, until `open_until` (opened_at + open_s,
  open_s starting at 60 s). At exactly `now == open_until` the next caller is let through as the trial.
- half_open: exactly ONE trial call is out at a time; `allow` hands it out with a token, everybody else
  is rejected. A successful trial counts one success and frees the slot for the next trial;
  `success_threshold` (default 2) successes close the breaker (and reset open_s to 60 s). A failed
  trial reopens it with open_s doubled (x `backoff`), capped at `max_open_s` (default 900 s).
  A trial whose holder never reports (a crashed worker) is given to the next caller after
  `trial_timeout_s` (default 600 s, long enough for a video upload).
- Results without the trial's token while half-open, and any result while open, come from calls let
  through before the breaker opened; they are ignored. Pass the `Permit` from `allow` (or its token)
  to `record_success` / `record_failure`.

Which errors count is the caller's decision: record platform failures (5xx, timeouts, connection
errors), not a refusal of one creative (a 4xx about that video) and not a 429 (Retry-After goes to the
rate limiter).

`CircuitBreaker` keeps the state in memory; `StoreCircuitBreaker` keeps it in the store's
`circuit_breakers` table so every worker process and machine sees the same breaker. Each transition there
is a conditional UPDATE on the row's `version`: of two processes racing to claim the half-open trial,
exactly one changes the row and gets the trial; the other re-reads and is rejected.
"""

from __future__ import annotations

import dataclasses
import math
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.publish.rate_limits import Clock, to_epoch
from actp_pipeline.store import schema
from actp_pipeline.store.engine import insert_ignoring_conflict

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"

T = TypeVar("T")


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5  # consecutive failures that open a closed breaker
    open_s: float = 60.0  # first open period
    success_threshold: int = 2  # trial successes that close a half-open breaker
    backoff: float = 2.0  # a failed trial multiplies the open period by this ...
    max_open_s: float = 900.0  # ... up to this
    trial_timeout_s: float = 600.0  # a trial not reported by then is handed to the next caller
    half_open_poll_s: float = 5.0  # the wait suggested to callers rejected while a trial is out

    def __post_init__(self) -> None:
        for name in ("failure_threshold", "success_threshold"):
            v = getattr(self, name)
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("open_s", "max_open_s", "trial_timeout_s", "half_open_poll_s"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a positive number of seconds, got {v!r}")
        if self.backoff < 1:
            raise ValueError(f"backoff must be at least 1, got {self.backoff!r}")
        if self.max_open_s < self.open_s:
            raise ValueError("max_open_s must not be below open_s")


@dataclass(frozen=True)
class BreakerRecord:
    """The stored state of one breaker (a row of `circuit_breakers`)."""

    state: str = CLOSED
    failures: int = 0  # consecutive failures while closed
    successes: int = 0  # trial successes while half-open
    open_s: float | None = None  # length of the current (or last) open period
    opened_at: float | None = None
    open_until: float | None = None
    trial_token: str | None = None
    trial_started_at: float | None = None
    last_error: str | None = None


class Permit(NamedTuple):
    allowed: bool
    wait_s: float  # 0.0 when allowed; else when to ask again (exact while open, a poll hint half-open)
    state: str  # the breaker's state as this caller found it (half_open + allowed = you hold the trial)
    token: str | None = None  # the trial's token; pass the Permit back to record_success/record_failure


Step = Callable[[BreakerRecord, float], tuple[BreakerRecord, T]]  # (record, now) -> (new record, result)


# -- the pure state machine ---------------------------------------------------------------------------
def effective_state(rec: BreakerRecord, now: float) -> str:
    """The state a caller would meet: an open breaker whose time is up is ready for its trial."""
    if rec.state == OPEN and rec.open_until is not None and now >= rec.open_until:
        return HALF_OPEN
    return rec.state


def _trial_free(policy: BreakerPolicy, rec: BreakerRecord, now: float) -> bool:
    if rec.trial_token is None or rec.trial_started_at is None:
        return True
    return now >= rec.trial_started_at + policy.trial_timeout_s  # the holder went silent: hand it on


def admit(policy: BreakerPolicy, rec: BreakerRecord, now: float, token: str) -> tuple[BreakerRecord, Permit]:
    """A caller asks to make a call; `token` names the trial if it gets one."""
    if rec.state == CLOSED:
        return rec, Permit(True, 0.0, CLOSED)
    if rec.state == OPEN:
        if rec.open_until is not None and now < rec.open_until:
            return rec, Permit(False, rec.open_until - now, OPEN)
        # time is up: this caller takes the first trial
        new = dataclasses.replace(rec, state=HALF_OPEN, successes=0, trial_token=token, trial_started_at=now)
        return new, Permit(True, 0.0, HALF_OPEN, token)
    # half-open
    if _trial_free(policy, rec, now):
        return dataclasses.replace(rec, trial_token=token, trial_started_at=now), Permit(True, 0.0, HALF_OPEN, token)
    lease_left = rec.trial_started_at + policy.trial_timeout_s - now
    return rec, Permit(False, min(policy.half_open_poll_s, lease_left), HALF_OPEN)


def _is_trial(rec: BreakerRecord, token: str | None) -> bool:
    return token is not None and token == rec.trial_token


def on_success(policy: BreakerPolicy, rec: BreakerRecord, now: float, token: str | None) -> BreakerRecord:
    if rec.state == CLOSED:
        return rec if rec.failures == 0 else dataclasses.replace(rec, failures=0)
    if rec.state == HALF_OPEN and _is_trial(rec, token):
        successes = rec.successes + 1
        if successes >= policy.success_threshold:
            return BreakerRecord(last_error=rec.last_error)  # closed, counters and open period reset
        return dataclasses.replace(rec, successes=successes, trial_token=None, trial_started_at=None)
    return rec  # open, or not the trial's result: a call let through before the breaker opened


def on_failure(
    policy: BreakerPolicy, rec: BreakerRecord, now: float, token: str | None, error: str = ""
) -> BreakerRecord:
    error = (error or "")[-4000:] or rec.last_error
    if rec.state == CLOSED:
        failures = rec.failures + 1
        if failures >= policy.failure_threshold:
            return dataclasses.replace(
                rec, state=OPEN, failures=failures, successes=0, open_s=policy.open_s, opened_at=now,
                open_until=now + policy.open_s, trial_token=None, trial_started_at=None, last_error=error,
            )
        return dataclasses.replace(rec, failures=failures, last_error=error)
    if rec.state == HALF_OPEN and _is_trial(rec, token):
        open_s = min((rec.open_s or policy.open_s) * policy.backoff, policy.max_open_s)
        return dataclasses.replace(
            rec, state=OPEN, successes=0, open_s=open_s, opened_at=now, open_until=now + open_s,
            trial_token=None, trial_started_at=None, last_error=error,
        )
    return rec


def _token(permit_or_token: Permit | str | None) -> str | None:
    if isinstance(permit_or_token, Permit):
        return permit_or_token.token
    return permit_or_token


def _error_text(error: BaseException | str | None) -> str:
    if error is None:
        return ""
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)


# -- in memory and in the store -------------------------------------------------------------------------
class _BreakerBase:
    def __init__(self, policy: BreakerPolicy | None = None, clock: Clock = time.time, **thresholds: float):
        if policy is not None and thresholds:
            raise TypeError("pass either a policy or thresholds, not both")
        self.policy = policy or BreakerPolicy(**thresholds)
        self.clock = clock

    def now(self) -> float:
        return to_epoch(self.clock())

    def _transact(self, platform: str, account: str, step: Step[T]) -> T:
        """Apply `step` (the record and the time -> the new record and a result) atomically."""
        raise NotImplementedError

    def snapshot(self, platform: str, account: str) -> BreakerRecord:
        raise NotImplementedError

    def allow(self, platform: str, account: str) -> Permit:
        """May a call to (platform, account) be made now? Rejections cost no platform call."""
        token = secrets.token_hex(16)
        return self._transact(platform, account, lambda rec, now: admit(self.policy, rec, now, token))

    def record_success(self, platform: str, account: str, permit: Permit | str | None = None) -> str:
        """Report a call that worked; returns the breaker's state afterwards."""
        token = _token(permit)

        def step(rec: BreakerRecord, now: float) -> tuple[BreakerRecord, str]:
            new = on_success(self.policy, rec, now, token)
            return new, new.state

        return self._transact(platform, account, step)

    def record_failure(
        self, platform: str, account: str, error: BaseException | str | None = None, permit: Permit | str | None = None
    ) -> str:
        """Report a call that failed at the platform's end; returns the breaker's state afterwards."""
        token, text = _token(permit), _error_text(error)

        def step(rec: BreakerRecord, now: float) -> tuple[BreakerRecord, str]:
            new = on_failure(self.policy, rec, now, token, text)
            return new, new.state

        return self._transact(platform, account, step)

    def state(self, platform: str, account: str) -> str:
        """closed, open or half_open (an open breaker whose time is up reads half_open)."""
        return effective_state(self.snapshot(platform, account), self.now())

    def reset(self, platform: str, account: str) -> None:
        """Close the breaker by hand (an operator knows the platform is back)."""
        self._transact(platform, account, lambda rec, now: (BreakerRecord(last_error=rec.last_error), None))


class CircuitBreaker(_BreakerBase):
    """Breakers kept in this process's memory (thread-safe); for one process and for tests."""

    def __init__(self, policy: BreakerPolicy | None = None, clock: Clock = time.time, **thresholds: float):
        super().__init__(policy, clock, **thresholds)
        self._records: dict[tuple[str, str], BreakerRecord] = {}
        self._lock = threading.Lock()

    def _transact(self, platform, account, step):
        with self._lock:
            new, result = step(self._records.get((platform, account), BreakerRecord()), self.now())
            self._records[(platform, account)] = new
            return result

    def snapshot(self, platform: str, account: str) -> BreakerRecord:
        with self._lock:
            return self._records.get((platform, account), BreakerRecord())


_FIELDS = [f.name for f in dataclasses.fields(BreakerRecord)]


class StoreCircuitBreaker(_BreakerBase):
    """Breakers shared by every process and machine through the store's `circuit_breakers` table."""

    max_attempts = 200  # conflicting writers re-read and retry; each round at least one of them wins

    def __init__(
        self, engine: Engine, policy: BreakerPolicy | None = None, clock: Clock = time.time, **thresholds: float
    ):
        super().__init__(policy, clock, **thresholds)
        self.engine = engine

    @staticmethod
    def _key(platform: str, account: str) -> sa.ColumnElement[bool]:
        c = schema.circuit_breakers.c
        return sa.and_(c.platform == platform, c.account == account)

    def _load(self, platform: str, account: str) -> tuple[BreakerRecord, int | None]:
        t = schema.circuit_breakers
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(self._key(platform, account))).first()
        if row is None:
            return BreakerRecord(), None
        m = row._mapping
        return BreakerRecord(**{f: m[f] for f in _FIELDS}), m["version"]

    def snapshot(self, platform: str, account: str) -> BreakerRecord:
        return self._load(platform, account)[0]

    def _transact(self, platform, account, step):
        t = schema.circuit_breakers
        for attempt in range(self.max_attempts):
            rec, version = self._load(platform, account)
            now = self.now()
            new, result = step(rec, now)
            if new == rec:
                return result  # nothing to write (the common closed-state allow is a single read)
            values = dataclasses.asdict(new)
            with self.engine.begin() as conn:
                if version is None:
                    res = insert_ignoring_conflict(
                        conn, t, {"platform": platform, "account": account, "version": 1, "updated_at": now, **values}
                    )
                else:
                    res = conn.execute(
                        sa.update(t)
                        .where(self._key(platform, account), t.c.version == version)
                        .values(version=version + 1, updated_at=now, **values)
                    )
            if res.rowcount == 1:
                return result
            time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))  # somebody else won this round
        raise RuntimeError(f"circuit breaker ({platform}, {account}) stayed contended for {self.max_attempts} attempts")
