"""Scoring throughput: seconds to score 10 million metric snapshots of 100,000 posts, against a bare
DuckDB group-by over the same Parquet files in the same run.

Run from the repo root:  .venv/bin/python benchmarks/scoring.py [--posts 100000] [--snapshots 100] [--repeat 3]

The data set (made here, NOT timed) is written with actp_pipeline.store.warehouse.Warehouse in the layout the
`post_metrics` asset writes: <root>/post_metrics/<day>/<run time>.parquet, one immutable file per
collection run (one run an hour), each holding that hour's snapshots. `--posts` posts on 4 platforms x
25 accounts go live spread over 30 days; each gets `--snapshots` snapshots at the collection plan's
pace (hourly for its first 48 h, then every 12 h). Counts are cumulative and monotone: view increments
are Poisson around a saturating curve, engagements are binomial thinnings of the new views. A few
posts stay thin (under the learning gates). With the default 72 h comparison window the 100
(platform, account) pairs split into about 1,000 fair cells of about 100 posts.

Figures (median over --repeat; each repetition times the baseline and the scoring back to back):
  score_10m_s              latest_per_post(warehouse) + score_posts(latest), the two calls the `scores`
                           asset makes, end to end (the DuckDB query over every file, the pandas frame,
                           the posterior, P(best) per cell, percentiles)
  duckdb_groupby_s         bare DuckDB: SELECT post_id, max(views), max(likes), ... GROUP BY post_id over
                           the same files (read_parquet of the same file list), to a pandas frame
  ratio_to_duckdb_groupby  score_10m_s / duckdb_groupby_s, paired per repetition
  latest_s, score_posts_s  the two phases of score_10m_s
  phases                   score_posts' own phases (windows, posterior, intervals, P(best), percentiles)
Progress goes to stderr, one JSON object is the last line of stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where a sibling module (benchmarks/queue.py) would
# shadow the standard library's. Nothing here imports siblings.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actp_pipeline.measure.post_metrics import METRIC_COLUMNS, SNAPSHOT_COLUMNS  # noqa: E402
from actp_pipeline.measure.latest import latest_per_post  # noqa: E402
from actp_pipeline.score.scores import ScoringRules, score_posts  # noqa: E402
from actp_pipeline.store.warehouse import Warehouse  # noqa: E402

PLATFORMS = ("tiktok", "instagram", "youtube", "facebook")
ACCOUNTS_PER_PLATFORM = 25
SPREAD_DAYS = 30
START = pd.Timestamp("2026-10-01 00:00:00")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def snapshot_ages(n: int) -> np.ndarray:
    """Scheduled ages (hours after going live) of n snapshots: hourly for 48 h, then every 12 h."""
    hourly = np.arange(1, min(n, 48) + 1, dtype=float)
    later = 48.0 + 12.0 * np.arange(1, max(n - 48, 0) + 1)
    return np.concatenate([hourly, later])


def generate(wh: Warehouse, posts: int, snapshots: int, seed: int = 0) -> dict:
    """Write `posts` x `snapshots` snapshot rows to the warehouse's post_metrics, one file per run hour."""
    rng = np.random.default_rng(seed)
    pairs = [(p, f"{p[:2]}_acct{a:02d}") for p in PLATFORMS for a in range(ACCOUNTS_PER_PLATFORM)]
    pair = rng.integers(0, len(pairs), posts)
    live_at = START + pd.to_timedelta(rng.uniform(0, SPREAD_DAYS * 24 * 3600, posts).round(), unit="s")
    base_er = rng.uniform(0.02, 0.08, len(pairs))[pair]  # each account has its own engagement level
    er = np.clip(base_er * rng.lognormal(0.0, 0.25, posts), 0.002, 0.5)
    reach = rng.lognormal(np.log(6000), 1.1, posts)
    thin = rng.random(posts) < 0.05  # posts that never get past the learning gates
    reach[thin] = rng.uniform(5, 150, int(thin.sum()))
    tau = rng.uniform(6, 30, posts)  # hours to reach ~63% of the final views
    watch_s = rng.uniform(3, 12, posts)

    ages = snapshot_ages(snapshots)
    live_ns = live_at.to_numpy().astype("datetime64[ns]").astype(np.int64)
    hour_ns = 3_600 * 10**9
    floor_live = live_ns - live_ns % hour_ns
    snap_ns = floor_live[:, None] + (ages[None, :] * hour_ns).astype(np.int64)  # (posts, snapshots), run hours
    age_h = (snap_ns - live_ns[:, None]) / hour_ns
    expected = reach[:, None] * (1.0 - np.exp(-age_h / tau[:, None]))
    inc = np.diff(np.concatenate([np.zeros((posts, 1)), expected], axis=1), axis=1).clip(min=0)
    view_inc = rng.poisson(inc)
    views = np.cumsum(view_inc, axis=1)
    likes = np.cumsum(rng.binomial(view_inc, (er * 0.75)[:, None]), axis=1)
    comments = np.cumsum(rng.binomial(view_inc, (er * 0.10)[:, None]), axis=1)
    shares = np.cumsum(rng.binomial(view_inc, (er * 0.08)[:, None]), axis=1)
    saves = np.cumsum(rng.binomial(view_inc, (er * 0.07)[:, None]), axis=1)
    followers = np.cumsum(rng.binomial(view_inc, 0.002), axis=1)
    watch = views * watch_s[:, None]

    ids = np.array([f"sb_{i:07d}" for i in range(posts)], dtype=object)
    plat = np.array([p for p, _ in pairs], dtype=object)[pair]
    acct = np.array([a for _, a in pairs], dtype=object)[pair]
    order = np.argsort(snap_ns.ravel(), kind="stable")
    post_of_row = np.repeat(np.arange(posts), snapshots)[order]
    flat = {
        "post_id": ids[post_of_row],
        "idempotency_key": np.array([f"k{i:07d}" for i in range(posts)], dtype=object)[post_of_row],
        "variant_id": np.array([f"v{i:07d}" for i in range(posts)], dtype=object)[post_of_row],
        "platform": plat[post_of_row],
        "account": acct[post_of_row],
        "live_at": live_ns[post_of_row].astype("datetime64[ns]"),
        "snapshot_at": snap_ns.ravel()[order].astype("datetime64[ns]"),
        "age_h": age_h.ravel()[order],
        "views": views.ravel()[order], "likes": likes.ravel()[order], "comments": comments.ravel()[order],
        "shares": shares.ravel()[order], "saves": saves.ravel()[order], "watch_time_s": watch.ravel()[order],
        "followers_gained": followers.ravel()[order],
    }
    table = pa.table({c: flat[c] for c in SNAPSHOT_COLUMNS})
    assert set(METRIC_COLUMNS) <= set(table.column_names)
    runs = flat["snapshot_at"]
    cuts = np.flatnonzero(np.diff(runs.astype(np.int64))) + 1
    bounds = [0, *cuts.tolist(), len(runs)]
    for lo, hi in zip(bounds, bounds[1:]):
        at = pd.Timestamp(runs[lo])
        wh.write("post_metrics", table.slice(lo, hi - lo).to_pandas(), partition=at.strftime("%Y-%m-%d"),
                 part=at.strftime("%Y%m%dT%H%M%S"), replace_partition=False)
    return {"rows": int(len(runs)), "posts": posts, "files": len(bounds) - 1,
            "platform_accounts": len(pairs), "bytes": sum(f.stat().st_size for f in wh.files("post_metrics"))}


BASELINE_SQL = ("SELECT post_id, max(views) AS views, max(likes) AS likes, max(comments) AS comments, "
                "max(shares) AS shares, max(saves) AS saves, max(watch_time_s) AS watch_time_s "
                "FROM post_metrics GROUP BY post_id")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--snapshots", type=int, default=100, help="snapshots per post")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", metavar="DIR", help="generate into DIR (reused when it already holds data)")
    args = ap.parse_args()

    load = os.getloadavg()[0]
    log(f"scoring benchmark: {args.posts} posts x {args.snapshots} snapshots, {os.cpu_count()} cpus, "
        f"load {load:.2f}, repeat {args.repeat}")
    with tempfile.TemporaryDirectory(prefix="actp-bench-scoring-") as d:
        root = Path(args.keep) if args.keep else Path(d)
        wh = Warehouse(root / "warehouse")
        t0 = time.perf_counter()
        if wh.exists("post_metrics"):
            files = wh.files("post_metrics")
            info = {"rows": None, "posts": args.posts, "files": len(files), "bytes": sum(f.stat().st_size for f in files)}
            log(f"reusing {len(files)} files under {wh.root}")
        else:
            info = generate(wh, args.posts, args.snapshots)
            log(f"generated {info['rows']} rows in {info['files']} files ({info['bytes'] / 1e6:.0f} MB) "
                f"in {time.perf_counter() - t0:.1f} s (not timed)")
        rules = ScoringRules()
        base_s, latest_s, post_s, total_s, ratio = [], [], [], [], []
        phases: list[dict] = []
        scored = None
        # warm-up: page cache and imports (scipy) on both sides
        wh.query(BASELINE_SQL, tables={"post_metrics": None})
        score_posts(latest_per_post(wh, rules.velocity_window_h).head(1000), rules)
        for rep in range(args.repeat):
            t = time.perf_counter()
            base = wh.query(BASELINE_SQL, tables={"post_metrics": None})
            b = time.perf_counter() - t
            t = time.perf_counter()
            latest = latest_per_post(wh, rules.velocity_window_h)
            t1 = time.perf_counter()
            timing: dict = {}
            scored = score_posts(latest, rules, timings=timing)
            t2 = time.perf_counter()
            base_s.append(b)
            latest_s.append(t1 - t)
            post_s.append(t2 - t1)
            total_s.append(t2 - t)
            ratio.append((t2 - t) / b)
            phases.append(timing)
            log(f"[{rep + 1}/{args.repeat}] score {t2 - t:.2f} s (latest_per_post {t1 - t:.2f} s, score_posts "
                f"{t2 - t1:.2f} s)  bare group-by {b:.2f} s  ratio {(t2 - t) / b:.2f}  phases "
                + ", ".join(f"{k} {v:.2f}" for k, v in timing.items()))
        assert len(base) == len(scored) == args.posts, (len(base), len(scored))
        rows = info["rows"] if info["rows"] is not None else int(latest["snapshots"].sum())

    med = statistics.median
    cells = scored.groupby(["platform", "account", "cell_window"]).size()
    sufficient = scored["status"] == "scored"
    result = {
        "score_10m_s": round(med(total_s), 3),
        "ratio_to_duckdb_groupby": round(med(ratio), 2),
        "duckdb_groupby_s": round(med(base_s), 3),
        "latest_s": round(med(latest_s), 3),
        "score_posts_s": round(med(post_s), 3),
        "phases": {k: round(med(p[k] for p in phases), 3) for k in phases[0]},
        "targets": {"score_10m_s": 10.0, "ratio_to_duckdb_groupby": 5.0},
        "meets_targets": med(total_s) < 10.0 and med(ratio) < 5.0,
        "rows": rows,
        "posts": int(len(scored)),
        "files": info["files"],
        "parquet_mb": round(info["bytes"] / 1e6, 1),
        "cells": int(len(cells)),
        "posts_per_cell_median": float(cells.median()),
        "scored_posts": int(sufficient.sum()),
        "p_best_sum_per_cell_max_error": float(
            (scored.drop_duplicates(["platform", "account", "cell_window", "variant_id"])  # thin creatives count too
             .groupby(["platform", "account", "cell_window"])["p_best"].sum() - 1).abs().max()),
        "repeat": args.repeat,
        "runs_s": [round(x, 3) for x in total_s],
        "duckdb_runs_s": [round(x, 3) for x in base_s],
        "cpus": os.cpu_count(),
        "load_avg_at_start": round(load, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
