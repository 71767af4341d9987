"""Login throttling of the sandbox's web site: failed logins per username and per client address.

It counts real monotonic seconds, not simulated time: a guesser must not be able to clear the throttle by
advancing the simulated clock (POST /sandbox/clock/advance needs no key), and a paused or frozen simulated clock
must not lock a user out for good. Monotonic, so a change of the wall clock cannot reset it either.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import Callable

from . import clock as real_time

MAX_FAILURES_PER_USER = 5  # a person mistypes a few times; a sixth failure within the window is guessing
MAX_FAILURES_PER_ADDRESS = 20  # higher: one address may front several users (a shared office NAT)
WINDOW_S = 60.0


class LoginThrottle:
    """Failed logins in the last WINDOW_S real seconds, by username and by client address."""

    def __init__(self, monotonic: Callable[[], float] | None = None):
        self._monotonic = monotonic or real_time.monotonic
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - WINDOW_S:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until a login attempt for `username` from `address` is allowed again (0 = now)."""
        now = self._monotonic()
        wait = 0.0
        with self._lock:
            for key, limit in ((("user", username), MAX_FAILURES_PER_USER),
                               (("addr", address), MAX_FAILURES_PER_ADDRESS)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait = max(wait, times[-limit] + WINDOW_S - now)
        return max(1, math.ceil(wait)) if wait > 0 else 0

    def failed(self, username: str, address: str) -> None:
        now = self._monotonic()
        with self._lock:
            for key in (("user", username), ("addr", address)):
                self._failures.setdefault(key, deque()).append(now)
                if len(self._failures) > 100_000:  # a flood of distinct usernames must not grow memory without end
                    self._failures.pop(next(iter(self._failures)))
