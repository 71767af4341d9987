"""The creative front half at scale (issue 13): research -> blueprints -> variants over 100,000 market items.

Run from the repo root:  .venv/bin/python benchmarks/front.py [--items 100000] [--days 7] [--repeat 1] [--workers N]

The items are the sandbox world's competitor posts (its caption writer, engagement model and a share of
malformed rows), written as one JSONL file per day before anything is timed. The timed path is the one a
research backfill and the next round take, in one process. A backfill's range of days is one run of
market_items (market_items.store_days: each day's sources asked in turn, while up to --workers days are checked
and written at once in threads; default: the asset's, the machine's cores up to 4); the same days are also
timed with one day at a time (`research_one_worker_s`):
  research     each day's file read by the file source (research/sources/file_import.py), every row
               validated (a malformed one reported and skipped), content-hashed, deduped, its engagement
               lift over the author's baseline computed, and the day's partition written to Parquet;
  blueprints   every stored day read back, each caption's factors predicted by the learned models
               (extract/learned.py; trained once per process before timing, its time reported apart),
               blueprints ranked with their evidence;
  variants     the round's experiment design and copy (generate/variants.py build_matrix) and brand-safety
               moderation (generate/moderation.py).
The baseline, measured in the same run on the same files: DuckDB alone reading the JSONL files into a pandas
frame (read_json_auto(...).df()), the least any path through these items must do.

Prints progress to stderr and one JSON object as the last line of stdout:
  items                   raw items written (malformed included); stored: rows that passed validation
  items_per_s             items / wall seconds of research + blueprints + variants (target at least 20,000)
  workers                 days checked and written at once (threads of store_days)
  research_one_worker_s   wall seconds of the research stage with one day at a time
  stage_s                 wall seconds per stage
  ratio_to_duckdb_read    that wall time / DuckDB's read of the same files (how many reads the work costs)
  duckdb_read_s           DuckDB's time
  train_s                 fitting the factor models (once per process, cached after)
  peak_rss_mb             peak resident memory of this process (generation included)
  extraction_macro_f1     held-out macro-F1 per factor of the models used (extract/labelled/)
Every figure is the median over --repeat repetitions (each on a fresh warehouse).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where a sibling module (benchmarks/queue.py) would
# shadow the standard library's. Nothing here imports siblings.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from actp_pipeline.extract.blueprints import extract_blueprints, market  # noqa: E402
from actp_pipeline.extract.learned import factor_models  # noqa: E402
from actp_pipeline.generate.variants import build_matrix, moderate  # noqa: E402
from actp_pipeline.research import market_items as mi  # noqa: E402
from actp_pipeline.research.sources.file_import import FileSource  # noqa: E402
from actp_pipeline.sandbox.model import WorldConfig  # noqa: E402
from actp_pipeline.sandbox.world import World  # noqa: E402
from actp_pipeline.store.warehouse import Warehouse  # noqa: E402

FIRST_DAY = dt.date(2025, 3, 1)
TOPIC = "skincare"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def write_items(folder: Path, n_items: int, days: int) -> tuple[list[str], int]:
    """One JSONL file per day of the sandbox world's posts, about n_items in all."""
    platforms = WorldConfig().platforms
    per_day = math.ceil(n_items / (days * len(platforms)))
    world = World(WorldConfig(seed=11, market_items_per_day=per_day, malformed_rate=0.02, topic=TOPIC))
    names, written = [], 0
    for d in range(days):
        day = (FIRST_DAY + dt.timedelta(days=d)).isoformat()
        with open(folder / f"{day}.jsonl", "w", encoding="utf-8") as f:
            for p in platforms:
                for record in world.market_records(day, p):
                    if written >= n_items:
                        break
                    f.write(json.dumps(record.item, ensure_ascii=False) + "\n")
                    written += 1
        names.append(day)
    return names, written


def duckdb_read(folder: Path) -> float:
    t0 = time.perf_counter()
    frame = duckdb.sql(f"SELECT * FROM read_json_auto('{folder}/*.jsonl', format='newline_delimited', "
                       "union_by_name=true, ignore_errors=true)").df()
    elapsed = time.perf_counter() - t0
    assert len(frame) > 0
    return elapsed


def research(folder: Path, days: list[str], wh_root: Path, workers: int) -> int:
    """The days' partitions of market_items as the asset's backfill run writes them; returns the rows rejected."""
    source = FileSource(str(folder / "{day}.jsonl"), name="file:bench")
    return sum(len(day.rejected) for day in mi.store_days(Warehouse(wh_root), [source], days, workers=workers))


def pipeline(folder: Path, days: list[str], wh_root: Path, workers: int) -> tuple[dict[str, float], dict]:
    wh = Warehouse(wh_root)
    stages, t0 = {}, time.perf_counter()
    rejected = research(folder, days, wh_root, workers)
    stages["research"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    items = market(wh, wh.partitions("market_items"))
    bp, _lifts = extract_blueprints(items)
    stages["blueprints"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    matrix = build_matrix(bp, topic=TOPIC)
    moderated = moderate(matrix)
    stages["variants"] = time.perf_counter() - t2
    return stages, {"stored": len(items), "rejected": rejected, "blueprints": len(bp), "variants": len(moderated)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--workers", type=int, default=mi.WORKERS,
                    help="days checked and written at once by market_items.store_days (default: as the asset)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="actp-front-") as tmp:
        folder = Path(tmp) / "market"
        folder.mkdir()
        t = time.perf_counter()
        days, written = write_items(folder, args.items, args.days)
        log(f"wrote {written} items over {len(days)} days in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        models = factor_models()
        train_s = time.perf_counter() - t
        log(f"factor models ready in {train_s:.2f} s: macro-F1 {models.report.macro_f1}")
        runs, reads, serial, counts = [], [], [], {}
        for r in range(args.repeat):
            reads.append(duckdb_read(folder))
            stages, counts = pipeline(folder, days, Path(tmp) / f"wh{r}", args.workers)
            runs.append(stages)
            t = time.perf_counter()
            research(folder, days, Path(tmp) / f"serial{r}", 1)
            serial.append(time.perf_counter() - t)
            log(f"run {r + 1}: {', '.join(f'{k} {v:.2f} s' for k, v in stages.items())}; research with one "
                f"worker {serial[-1]:.2f} s; duckdb read {reads[-1]:.2f} s; {counts}")
    total = statistics.median(sum(s.values()) for s in runs)
    read = statistics.median(reads)
    print(json.dumps({
        "items": written, **counts,
        "items_per_s": round(written / total),
        "workers": args.workers,
        "research_one_worker_s": round(statistics.median(serial), 2),
        "stage_s": {k: round(statistics.median(s[k] for s in runs), 2) for k in runs[0]},
        "ratio_to_duckdb_read": round(total / read, 2),
        "duckdb_read_s": round(read, 2),
        "train_s": round(train_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "extraction_macro_f1": {k: round(v, 3) for k, v in models.report.macro_f1.items()},
    }))


if __name__ == "__main__":
    main()
