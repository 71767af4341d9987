"""The sandbox's simulated clock: a start, an offset moved by /sandbox/clock/advance, and an optional speed.

This module is the sandbox's one reader of real time (`wall_time`, `monotonic`), so what real time can
change is easy to see (and to fake in a test): a running clock (speed > 0) advances with real seconds,
web login sessions expire in wall-clock seconds, and `processing_s` holds a new post in `processing` for
real seconds. Nothing the world serves (market items, dates, ids, metrics) reads the real calendar: the
simulated clock starts at an explicit instant, DEFAULT_START unless one is given.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Callable

# where a sandbox's simulated clock starts unless told otherwise (a Monday, 00:00 UTC): a fixed instant,
# so the same seed serves the same world whatever the real date is
DEFAULT_START = datetime(2025, 1, 6, tzinfo=UTC)
# the range of simulated time and of every timestamp a client sends: wide enough for any rehearsal, and
# far enough inside datetime's years 1..9999 that adding days, weeks or a 400-day report cannot overflow
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def wall_time() -> float:
    """Real epoch seconds (web session expiry only)."""
    return time.time()


def monotonic() -> float:
    """Real seconds for durations (a running clock, post processing)."""
    return time.monotonic()


def iso(dt: datetime) -> str:
    """ISO 8601 in UTC with a trailing Z (what every sandbox response uses)."""
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


class SimClock:
    """now = start + offset + speed x (real seconds since the clock was created).

    The offset is the part that survives a restart: advance() and checkpoint() fold the real-time
    part into it and hand it to `on_change` (the state store persists it). When the clock runs
    (speed > 0), now() also checkpoints at most every `persist_every_s` real seconds, so a sandbox
    that is killed hard restarts at most that much real time behind what clients last saw.
    """

    def __init__(
        self,
        start: datetime,
        speed: float = 0.0,
        offset_s: float = 0.0,
        on_change: Callable[[float], None] | None = None,
        monotonic: Callable[[], float] | None = None,
        persist_every_s: float = 1.0,
    ):
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self.start = start.astimezone(UTC)
        self.speed = float(speed)
        self._offset_s = float(offset_s)
        self._on_change = on_change
        self._monotonic = monotonic or _module_monotonic
        self._anchor = self._monotonic()
        self._persist_every_s = persist_every_s
        self._last_persist = self._anchor
        self._lock = threading.Lock()

    def _offset_locked(self) -> float:
        return self._offset_s + self.speed * (self._monotonic() - self._anchor)

    @property
    def offset_s(self) -> float:
        with self._lock:
            return self._offset_locked()

    def now(self) -> datetime:
        if self.speed > 0 and self._on_change is not None:
            if self._monotonic() - self._last_persist >= self._persist_every_s:
                return self.advance(0.0)
        return self.start + timedelta(seconds=self.offset_s)

    def advance(self, hours: float) -> datetime:
        if not math.isfinite(hours) or hours < 0:
            raise ValueError("hours must be a finite number >= 0")
        with self._lock:
            offset = self._offset_locked() + hours * 3600.0
            if (LATEST - self.start).total_seconds() < offset:  # checked before any datetime is built
                raise ValueError(f"the simulated clock cannot go past {LATEST.date()}")
            self._offset_s = offset
            self._anchor = self._monotonic()
            offset = self._offset_s
            if self._on_change is not None:
                self._on_change(offset)
                self._last_persist = self._anchor
        return self.start + timedelta(seconds=offset)

    def checkpoint(self) -> None:
        """Persist the current offset (used on shutdown when speed > 0)."""
        self.advance(0.0)


def _module_monotonic() -> float:
    return monotonic()  # looked up at call time, so a test can replace this module's monotonic
