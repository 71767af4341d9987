"""Clicks written before the redirect is answered, in group commits.

A redirect may only be answered once its click is committed (a click lost to a crash is revenue the
report never ties back). One transaction per click would cap the service at the store's commit rate, so
one writer thread takes every click that arrived while the previous commit ran and commits them together;
each request waits for the commit that holds its click. Under load a commit carries hundreds of clicks;
alone, a click waits for its own. Written by hand because no kept library batches asyncio writers into
SQLAlchemy transactions; it is a queue, a thread and a future per click.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from actp_pipeline.store import schema

MAX_BATCH = 1000
_STOP = object()


class ClickLog:
    """`await record(row)` returns once the row is committed; raises what the commit raised."""

    def __init__(self, engine: Engine, max_batch: int = MAX_BATCH):
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="click-log", daemon=True)
        self.commits = 0
        self.rows = 0
        self._thread.start()

    async def record(self, row: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._queue.put((row, done, loop))
        await done

    def close(self, timeout_s: float = 10.0) -> None:
        """Commit what is queued, then stop the writer."""
        self._queue.put(_STOP)
        self._thread.join(timeout_s)

    # --------------------------------------------------------------------------- the writer thread
    def _take(self) -> tuple[list[tuple], bool]:
        first = self._queue.get()
        if first is _STOP:
            return [], True
        batch, stop = [first], False
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                stop = True
                break
            batch.append(item)
        return batch, stop

    def _run(self) -> None:
        while True:
            batch, stop = self._take()
            if batch:
                error: BaseException | None = None
                try:
                    with self.engine.begin() as conn:
                        conn.execute(schema.clicks.insert(), [row for row, _, _ in batch])
                    self.commits += 1
                    self.rows += len(batch)
                except Exception as e:  # every waiter learns it; the service answers 503 and the visitor retries
                    error = e
                _settle(batch, error)
            if stop:
                return


def _settle(batch: list[tuple], error: BaseException | None) -> None:
    """Resolve the batch's futures with one wake-up per event loop (not one per click)."""
    by_loop: dict[Any, list[asyncio.Future]] = {}
    for _, done, loop in batch:
        by_loop.setdefault(loop, []).append(done)
    for loop, futures in by_loop.items():
        loop.call_soon_threadsafe(_resolver(futures, error))


def _resolver(futures: list[asyncio.Future], error: BaseException | None) -> Callable[[], None]:
    def resolve() -> None:
        for f in futures:
            if f.done():  # the request was cancelled (the visitor left)
                continue
            if error is None:
                f.set_result(None)
            else:
                f.set_exception(error)
    return resolve
