"""Research: market items (competitor posts and ads) of a day, from every configured source, as one table.

Each source (actp_pipeline.research.sources) hands over raw dicts; validation (research/validation.py) turns
the good ones into typed rows and reports each bad one. Here the sources' rows become the day:

- every row keeps its `source`, its `fetched_at` (naive UTC, when its source answered) and its `content_hash`;
- dedupe across sources: the same (platform, item_id), or the same content_hash (the same creative re-posted
  under another id or seen by another source), is one row. The row with MORE VIEWS is kept (ties: the
  earlier source in the account's list): view counts only grow, so the larger one is the later, fuller read,
  and its engagement rate rests on more views. `merged` counts the rows folded away;
- engagement relative to the author's own baseline (`author_baseline_er`, `engagement_lift`, see `PRIOR_ITEMS`);
- re-running a day is idempotent: the same answers give identical rows, and an item already stored for the
  day keeps its first `fetched_at`;
- a day's new answer that is empty or much smaller than what is stored does not replace it unless asked
  (`keep_previous`); stored rows of a source that did not answer this time (it failed, or it is an import
  from `actp research import`) are carried over, so a partial day never silently drops them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

import numpy as np
import pandas as pd

from actp_pipeline.research.sources.base import Source, SourceError
from actp_pipeline.research.validation import (  # noqa: F401 - the research API, re-exported
    COLUMNS as RAW_COLUMNS, EARLIEST_POST, LATEST_POST, MEDIA_TYPES, TIME_UNIT, UNEXPECTED, Rejected,
    Unparseable, content_hash, safe_text,
)
from actp_pipeline.research.validation_fast import validate_items  # noqa: F401 - re-exported too
from actp_pipeline.research.validation_sql import JsonLines
from actp_pipeline.store.warehouse import Warehouse

# a day's new answer smaller than this share of the rows already stored for it is suspect (an empty page,
# a changed schema, a truncated feed): the stored version stays unless the run asks to replace it
SHRINK_LIMIT = 0.5
TABLE = "market_items"
# The author baseline is the author's mean engagement rate shrunk toward the platform's mean rate as if the
# platform had contributed PRIOR_ITEMS posts at its mean: baseline = (n * author_mean + K * platform_mean) /
# (n + K). A one-post author gets (er + 5 * platform) / 6, so one lucky post is not its own baseline (which
# would make every single-post lift exactly 1); an author with 50 posts is judged almost on its own mean.
PRIOR_ITEMS = 5.0
COLUMNS = [*RAW_COLUMNS, "fetched_at", "author_baseline_er", "engagement_lift"]


@dataclass
class Collected:
    """The sources' answers for one day, validated and merged."""

    items: pd.DataFrame  # deduped rows with baselines (COLUMNS)
    rejected: list[Rejected]
    counts: dict[str, int]  # valid rows per source that answered, before dedupe
    merged: int  # rows folded into another (same id or same content), across and within sources
    errors: dict[str, SourceError] = field(default_factory=dict)  # per source that failed


def now_utc() -> dt.datetime:
    """Naive UTC to the second (the store's convention)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def empty_items() -> pd.DataFrame:
    return _EMPTY.copy()  # typed once at import (a fresh typed frame costs more than a whole small day)


_TIMES = ("posted_at", "fetched_at")
_REALS = ("duration_s", "engagement_rate", "author_baseline_er", "engagement_lift", "spend_usd")
_INTS = ("views", "likes", "comments", "shares", "saves", "impressions", "engagements")


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """The stored dtypes; only the columns not already of theirs are converted (no copy when none is)."""
    wrong = [c for c in (*_TIMES, *_REALS, *_INTS)
             if df[c].dtype != (TIME_UNIT if c in _TIMES else "float64" if c in _REALS else "int64")]
    if not wrong:
        return df
    df = df.copy(deep=False)
    for col in wrong:
        if col in _TIMES:
            df[col] = pd.to_datetime(df[col]).astype(TIME_UNIT)
        else:
            df[col] = df[col].astype(float if col in _REALS else "int64")
    return df


_EMPTY = _typed(pd.DataFrame(columns=COLUMNS))


def dedupe(items: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One row per (platform, item_id) and per content_hash, keeping the one with the most views (ties: the
    earlier row); returns the rows in a canonical order (platform, item_id) and how many were merged away."""
    if items.empty:
        return items.reset_index(drop=True), 0
    by_views = np.lexsort((np.arange(len(items)), -items["views"].to_numpy(dtype=np.int64)))
    keys = items[["platform", "item_id", "content_hash"]].take(by_views)
    kept = by_views[~keys.duplicated(["platform", "item_id"]).to_numpy()]
    kept = kept[~items["content_hash"].take(kept).duplicated().to_numpy()]
    chosen = items[["platform", "item_id"]].take(kept).reset_index(drop=True)
    canonical = chosen.sort_values(["platform", "item_id"], kind="mergesort").index.to_numpy()
    return items.take(kept[canonical]).reset_index(drop=True), len(items) - len(kept)


def with_baseline(items: pd.DataFrame, prior_items: float = PRIOR_ITEMS) -> pd.DataFrame:
    """`author_baseline_er` (the author's engagement rate on that platform over these items, shrunk toward the
    platform's mean, see PRIOR_ITEMS) and `engagement_lift` = engagement_rate / baseline. An item without an
    author is judged against the platform mean; an item without views (an ad) has no rate, so no lift."""
    if items.empty:
        return items.assign(author_baseline_er=pd.Series(dtype=float), engagement_lift=pd.Series(dtype=float))
    er = items["engagement_rate"].astype(float)
    known = er.where(np.isfinite(er))
    platform = pd.factorize(items["platform"])[0].astype(np.int64)  # integer keys group fast
    platform_mean = known.groupby(platform).transform("mean")
    anonymous = (items["author"] == "").to_numpy()
    author = pd.factorize(items["author"].where(~anonymous, "\x00" + items["item_id"]))[0]  # anonymous: alone
    group = platform * (int(author.max()) + 1) + author  # one integer per (platform, author)
    n = known.notna().groupby(group).transform("sum").astype(float)
    total = known.fillna(0.0).groupby(group).transform("sum")
    baseline = (total + prior_items * platform_mean) / (n + prior_items)
    baseline = baseline.where(~anonymous, platform_mean).astype(float)
    return items.assign(author_baseline_er=baseline, engagement_lift=(known / baseline.where(baseline > 0)).astype(float))


def _failure(errors: dict[str, SourceError]) -> SourceError:
    """The error to raise when every source failed: retryable if any was (trying again may recover some)."""
    retryable = [e for e in errors.values() if e.retryable]
    first = (retryable or list(errors.values()))[0]
    names = ", ".join(errors)
    return SourceError(names, "; ".join(str(e) for e in errors.values()) if len(errors) > 1
                       else str(first).removeprefix(f"{first.source}: "), retryable=bool(retryable))


@dataclass
class Fetched:
    """One day's raw answers, before validation: (source name, raw items, when it answered) per source."""

    day: str
    answers: list[tuple[str, Any, dt.datetime]]
    errors: dict[str, SourceError]


def fetch(sources: Sequence[Source], day: str, *, queries: Sequence[str] = (), now: dt.datetime | None = None) -> Fetched:
    """Ask each source for one day, one after another. A source that fails is recorded in `errors` while the
    others still count; when every source fails, the failure is raised (SourceError)."""
    if not sources:
        raise SourceError("research", f"{day}: no research sources configured", retryable=False)
    # a source that only searches has nothing to ask before the first round's queries: skipped, it neither
    # answers (an empty answer would count as a day) nor fails
    sources = [s for s in sources if queries or not getattr(s, "searches", False)]
    if not sources:
        raise SourceError("research", f"{day}: only search sources are configured and there are no research "
                          "queries yet (research_queries writes them after the first scored round)", retryable=False)
    answers, errors = [], {}
    for source in sources:
        fetched_at = now or now_utc()
        try:
            raw = source.fetch(day, tuple(queries))
            # a JSONL answer stays its lines (DuckDB reads them); anything else is listed here, inside the try,
            # since a paging source fails while it is iterated
            answers.append((source.name, raw if isinstance(raw, JsonLines) else list(raw), fetched_at))
        except SourceError as e:
            errors[source.name] = e
    if not answers:
        raise _failure(errors)
    return Fetched(day, answers, errors)


def validate(fetched: Fetched) -> Collected:
    """Validate, stamp and merge one day's answers."""
    frames, rejected, counts = [], [], {}
    for name, raw, fetched_at in fetched.answers:
        df, bad = validate_items(raw, source=name, collected_for=fetched.day)
        counts[name] = len(df)
        rejected.extend(bad)
        if len(df):
            frames.append(df.assign(fetched_at=pd.Timestamp(fetched_at)))
    items, merged = finish(frames)
    return Collected(items, rejected, counts, merged, fetched.errors)


def collect(sources: Sequence[Source], day: str, *, queries: Sequence[str] = (),
            now: dt.datetime | None = None) -> Collected:
    """Fetch one day from each source, validate, stamp and merge (`fetch`, then `validate`)."""
    return validate(fetch(sources, day, queries=queries, now=now))


def finish(frames: list[pd.DataFrame]) -> tuple[pd.DataFrame, int]:
    """Rows of several frames as one deduped, baselined, typed table (and how many rows were merged)."""
    filled = [f for f in frames if not f.empty]
    if not filled:
        return empty_items(), 0
    items, merged = dedupe(pd.concat([f[[*RAW_COLUMNS, "fetched_at"]] for f in filled], ignore_index=True))
    return _typed(with_baseline(items)[COLUMNS]), merged


def keep_previous(previous_rows: int, new_rows: int, *, replace_smaller: bool = False) -> bool:
    """True when a day's new answer must not replace the stored one: it is empty or smaller than
    SHRINK_LIMIT of what is stored (a broken page looks like a quiet day), and the run did not ask to."""
    if replace_smaller or previous_rows <= 0:
        return False
    return new_rows == 0 or new_rows < previous_rows * SHRINK_LIMIT


def stored_rows(wh: Warehouse, day: str, table: str = TABLE) -> int:
    """Rows the warehouse already holds for `day` (0 when the partition was never written)."""
    if not wh.files(table, [day]):
        return 0
    return int(wh.query(f"SELECT count(*) AS n FROM {table}", tables={table: [day]})["n"].iloc[0])


def stored_day(wh: Warehouse, day: str) -> pd.DataFrame:
    """The rows stored for `day` (none when never written)."""
    return wh.read(TABLE, partitions=[day]) if wh.files(TABLE, [day]) else empty_items()


@dataclass
class DayResult:
    """One day of a run: what came, what was rejected, and whether the stored version was kept instead."""

    day: str
    items: pd.DataFrame  # the day's new rows from the sources that answered (deduped)
    rejected: list[Rejected]
    previous_rows: int
    kept_previous: bool
    path: Path | None
    counts: dict[str, int] = field(default_factory=dict)
    merged: int = 0
    errors: dict[str, SourceError] = field(default_factory=dict)
    carried: int = 0  # stored rows of sources that did not answer, kept in the day
    written: pd.DataFrame | None = None  # the partition as written (None when the stored one was kept)

    @property
    def stored_rows(self) -> int:
        return self.previous_rows if self.kept_previous else len(self.written if self.written is not None
                                                                  else self.items)

    def warning(self) -> str | None:
        if not self.kept_previous:
            return None
        return (f"{self.day}: kept the stored {self.previous_rows} market items; the new answer had only "
                f"{len(self.items)} (less than {SHRINK_LIMIT:.0%}); set replace_smaller to replace them")

    def failed_sources(self) -> str | None:
        """A loud line naming every source that failed while others answered (a partial day)."""
        if not self.errors:
            return None
        return (f"{self.day}: PARTIAL DAY, source(s) failed: " + "; ".join(str(e) for e in self.errors.values())
                + f" (their stored rows were kept: {self.carried})")


def _merge_stored(new: pd.DataFrame, stored: pd.DataFrame, answered: set[str]) -> tuple[pd.DataFrame, int, int]:
    """The day to write: new rows plus stored rows of sources that did not answer; an item already stored
    keeps its first fetched_at (so a re-run writes identical rows). Returns rows, carried, merged."""
    current = stored if set(COLUMNS) <= set(stored.columns) else empty_items()  # a day stored before sources
    carried = current[~current["source"].isin(answered)]
    if len(carried):
        rows, merged = finish([f for f in (new, carried) if len(f)])
    else:  # `new` is finish's output already: finishing it again would change nothing
        rows, merged = (new.copy(deep=False) if len(new) else empty_items()), 0
    if len(current) and len(rows):
        first = current.groupby(["platform", "item_id"])["fetched_at"].min()
        keys = pd.MultiIndex.from_frame(rows[["platform", "item_id"]])
        before = pd.Series(first.reindex(keys).to_numpy(), index=rows.index)
        rows["fetched_at"] = before.where(before.notna(), rows["fetched_at"]).astype(TIME_UNIT)
    return rows, len(carried), merged


def store_day(wh: Warehouse, sources: Sequence[Source], day: str, *, replace_smaller: bool = False,
              queries: Sequence[str] = (), now: dt.datetime | None = None) -> DayResult:
    """Collect one day from `sources` and write its partition, unless `keep_previous` says the stored one is
    better. Raises SourceError only when every source failed."""
    return _store(wh, fetch(sources, day, queries=queries, now=now), replace_smaller)


def _store(wh: Warehouse, fetched: Fetched, replace_smaller: bool) -> DayResult:
    got, day = validate(fetched), fetched.day
    stored = stored_day(wh, day)
    answered = set(got.counts)
    previous_same = int(stored["source"].isin(answered).sum()) if "source" in stored else 0
    result = DayResult(day, got.items, got.rejected, len(stored), False, None, got.counts, got.merged, got.errors)
    if keep_previous(previous_same, len(got.items), replace_smaller=replace_smaller):
        result.kept_previous = True
        return result
    rows, result.carried, merged = _merge_stored(got.items, stored, answered)
    result.merged += merged
    result.written = rows
    result.path = wh.write(TABLE, rows, partition=day)
    return result


WORKERS = min(os.cpu_count() or 1, 4)


def store_days(wh: Warehouse, sources: Sequence[Source], days: Sequence[str], *, replace_smaller: bool = False,
               queries: Sequence[str] = (), workers: int = WORKERS) -> Iterator[DayResult]:
    """`store_day` for several days (a backfill's range), each DayResult in the days' order. The sources are
    asked in this thread, one day after another, so their pacing and rate limits hold as with store_day; the
    checking and writing of up to `workers` days runs at once in threads (DuckDB's queries and Parquet's
    writes release the GIL). When a day's sources all fail, the days before it are finished and yielded first,
    then its SourceError is raised, as the same days one by one would do."""
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="market_items") as pool:
        pending: deque[Future] = deque()
        for day in days:
            try:
                fetched = fetch(sources, day, queries=queries)
            except SourceError:
                while pending:
                    yield pending.popleft().result()
                raise
            pending.append(pool.submit(_store, wh, fetched, replace_smaller))
            while len(pending) > max(1, workers) or (pending and pending[0].done()):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
