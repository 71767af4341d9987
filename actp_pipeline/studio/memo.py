"""The studio's one cache: a bounded, thread-safe LRU map, and the key that says a warehouse table is unchanged.

Every page keeps what it read or drew until its inputs change: a warehouse table's Parquet files are immutable
and replaced by rename, so their (path, mtime, size) identify its data, and a chart is keyed by a digest of its
numbers. Opening DuckDB costs tens of milliseconds and drawing a chart as much, against a page budget of 200 ms
(benchmarks/studio.py). Callers must not mutate what a cache returns: it is shared by the threads serving pages.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

from actp_pipeline.store.warehouse import Warehouse

T = TypeVar("T")


class Lru(Generic[T]):
    """`make()` once per key while the key stays among the `size` most recently used."""

    def __init__(self, size: int) -> None:
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get_or_make(self, key: Hashable, make: Callable[[], T]) -> T:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = make()  # outside the lock: a slow read must not hold up every other page
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


def files_key(warehouse: Warehouse, tables: Sequence[str]) -> tuple:
    """The identity of these tables' current data (their files' paths, mtimes and sizes)."""
    return (str(warehouse.root), *((str(f), f.stat().st_mtime_ns, f.stat().st_size)
                                   for t in tables for f in warehouse.files(t)))


_reads: Lru = Lru(64)


def memo(warehouse: Warehouse, tables: Sequence[str], what: Hashable, compute: Callable[[], T]) -> T:
    """compute(), kept while `tables`' files stay the same; `what` names the computation and every input beyond
    the tables (the visible creatives' digest, the filters), so an answer is never shared across scopes."""
    return _reads.get_or_make((what, files_key(warehouse, tables)), compute)
