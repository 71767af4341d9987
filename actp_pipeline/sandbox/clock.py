"""The sandbox's simulated clock: a start, an offset moved by /v1/clock/advance, and an optional speed."""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Callable


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
        monotonic: Callable[[], float] = time.monotonic,
        persist_every_s: float = 1.0,
    ):
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self.start = start.astimezone(UTC)
        self.speed = float(speed)
        self._offset_s = float(offset_s)
        self._on_change = on_change
        self._monotonic = monotonic
        self._anchor = monotonic()
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
            self._offset_s = self._offset_locked() + hours * 3600.0
            self._anchor = self._monotonic()
            offset = self._offset_s
            if self._on_change is not None:
                self._on_change(offset)
                self._last_persist = self._anchor
        return self.start + timedelta(seconds=offset)

    def checkpoint(self) -> None:
        """Persist the current offset (used on shutdown when speed > 0)."""
        self.advance(0.0)
