"""Queue claim throughput: WorkQueue.claim/complete with several worker processes, on Postgres and SQLite.

Run from the repo root:  .venv/bin/python benchmarks/queue.py [--repeat 3] [--skip-postgres]

Each run fills a fresh `render_jobs` table through WorkQueue.enqueue, then starts worker PROCESSES
(spawn) that each build their own engine with make_engine() and loop `claim(worker_id, limit=L)` then
`complete(id, token)` for every item, until a claim comes back empty. Workers first take a few warm-up
items each, wait on a barrier, and only then start the clock. After the run every claimed id is checked:
no id handed to two workers (duplicates_found), every row `succeeded` with attempts == 1, none queued.

Prints progress to stderr and one JSON object as the last line of stdout:
  postgres_claims_per_s   items claimed per second of wall time, 8 worker processes, limit=1, each item
                          completed before the next claim (the claim + complete loop a worker runs; the
                          clock runs from the barrier to the last worker's empty claim)
  sqlite_claims_per_s     the same with 2 worker processes on a SQLite WAL file
  *_batch10_claims_per_s  the same with limit=10 (items, not claim calls, per second)
  *_claim_capacity_per_s  sum over workers of items / seconds spent inside claim(): the rate the claim
                          path alone sustained while the completes ran beside it
  *_claim_p50_ms/_p99_ms  latency of one claim() call (limit=1), all workers pooled
  *_baseline_txn_per_s    the same number of worker processes, the same engine (make_engine: pool,
                          pre-ping, driver), each running `UPDATE bench_counter SET n = n + 1 WHERE id =
                          :own_row RETURNING n` in its own transaction for --baseline-s seconds: what the
                          database does at all on this machine, measured in the same repetition. One queue
                          item costs two such transactions (claim, complete), so claims_vs_baseline (the
                          per-repetition ratio of claims_per_s to it) tops out near 0.5.
  *_raw_baseline_txn_per_s the same trivial transaction on the bare DBAPI connection (no SQLAlchemy)
  *_cpu_ms_per_item       CPU per item: worker processes (Python + driver) and, on Postgres, the server
  duplicates_found        ids claimed more than once over all runs (must be 0)
Every figure is the median over --repeat repetitions. On a shared machine the wall-clock rates move with
the neighbours' load; the CPU per item and the ratio to the baseline move much less. The throwaway
Postgres cluster (tests/pg.py) runs with fsync=off, so commits do not wait for the disk, and each filled
queue gets the VACUUM ANALYZE autovacuum would give it; SQLite runs as the project configures it (WAL,
synchronous=NORMAL, busy_timeout 30 s).
"""

from __future__ import annotations

import os
import sys

# This file is named queue.py: drop its directory from sys.path before anything imports the stdlib `queue`
# (multiprocessing does), and put the repo root there instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
ROOT = os.path.dirname(_HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import resource  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402
from queue import Empty  # noqa: E402  (the stdlib's, see above)

import psutil  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from actp_pipeline.store.engine import connect_store, make_engine  # noqa: E402
from actp_pipeline.store.queues import render_queue  # noqa: E402

COUNTER_SQL = "UPDATE bench_counter SET n = n + 1 WHERE id = :id RETURNING n"
COUNTER_SQL_RAW = {"postgresql": "UPDATE bench_counter SET n = n + 1 WHERE id = %s RETURNING n",
                   "sqlite": "UPDATE bench_counter SET n = n + 1 WHERE id = ? RETURNING n"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------
# worker processes
# ----------------------------------------------------------------------------------------------------
def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _claim_worker(spec: dict, barrier) -> dict:
    engine = make_engine(spec["url"])
    q = render_queue(engine)
    wid, limit = spec["worker_id"], spec["limit"]
    warm_ids: list[int] = []
    while len(warm_ids) < spec["warmup"]:
        items = q.claim(wid, limit=min(limit, spec["warmup"] - len(warm_ids)))
        if not items:
            raise RuntimeError("queue ran dry during warm-up")
        for it in items:
            warm_ids.append(it["id"])
            if not q.complete(it["id"], it["claim_token"]):
                raise RuntimeError(f"warm-up complete refused for {it['id']}")
    barrier.wait(timeout=300)

    ids: list[int] = []
    lat: list[float] = []
    claim_s = complete_s = 0.0
    refused = 0
    cpu0, t0 = _cpu_s(), time.perf_counter()
    while True:
        c0 = time.perf_counter()
        items = q.claim(wid, limit=limit)
        c1 = time.perf_counter()
        if not items:
            break
        lat.append(c1 - c0)
        claim_s += c1 - c0
        for it in items:
            ids.append(it["id"])
            if not q.complete(it["id"], it["claim_token"]):
                refused += 1
        complete_s += time.perf_counter() - c1
    t1, cpu1 = time.perf_counter(), _cpu_s()
    engine.dispose()
    return {"worker_id": wid, "ids": ids, "warm_ids": warm_ids, "lat": lat, "claim_s": claim_s,
            "complete_s": complete_s, "refused": refused, "t0": t0, "t1": t1, "cpu_s": cpu1 - cpu0}


def _baseline_worker(spec: dict, barrier) -> dict:
    engine = make_engine(spec["url"])
    row, duration, raw = spec["row"], spec["duration_s"], spec["mode"] == "raw"
    if raw:
        dbapi = engine.raw_connection()  # a DBAPI connection (SQLite pragmas applied), no SQLAlchemy per call
        sql = COUNTER_SQL_RAW[engine.dialect.name]

        def txn() -> None:
            cur = dbapi.cursor()
            cur.execute(sql, (row,))
            cur.fetchone()
            cur.close()
            dbapi.commit()
    else:
        stmt = sa.text(COUNTER_SQL)

        def txn() -> None:
            with engine.begin() as conn:
                conn.execute(stmt, {"id": row}).scalar_one()

    for _ in range(spec["warmup"]):
        txn()
    barrier.wait(timeout=300)
    lat: list[float] = []
    cpu0, t0 = _cpu_s(), time.perf_counter()
    end = t0 + duration
    c1 = t0
    while c1 < end:  # a fixed duration, not a fixed count: a descheduled worker must not stretch the wall
        c0 = c1
        txn()
        c1 = time.perf_counter()
        lat.append(c1 - c0)
    t1, cpu1 = c1, _cpu_s()
    if raw:
        dbapi.close()
    engine.dispose()
    return {"worker_id": spec["worker_id"], "lat": lat, "t0": t0, "t1": t1, "cpu_s": cpu1 - cpu0, "n": len(lat)}


def _worker(spec: dict, barrier, out) -> None:
    try:
        fn = _claim_worker if spec["mode"] == "claim" else _baseline_worker
        out.put(fn(spec, barrier))
    except BaseException:
        out.put({"worker_id": spec["worker_id"], "error": traceback.format_exc()})
        barrier.abort()


def run_workers(specs: list[dict]) -> list[dict]:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(len(specs)), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(s, barrier, out), daemon=True) for s in specs]
    for p in procs:
        p.start()
    results: list[dict] = []
    try:
        while len(results) < len(procs):
            try:
                results.append(out.get(timeout=1.0))
            except Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"a worker process exited with code {dead[0].exitcode} without a result")
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
                p.join()
    errors = [r for r in results if "error" in r]
    if errors:
        raise RuntimeError(f"worker {errors[0]['worker_id']} failed:\n{errors[0]['error']}")
    return results


# ----------------------------------------------------------------------------------------------------
# Postgres server CPU (postmaster, its live children, and the backends it has reaped)
# ----------------------------------------------------------------------------------------------------
class ServerCpu:
    def __init__(self, data_dir: Path | None):
        self.pm = None
        if data_dir is not None:
            try:
                self.pm = psutil.Process(int((data_dir / "postmaster.pid").read_text().split()[0]))
            except (OSError, ValueError, psutil.Error):
                self.pm = None

    def _aux(self) -> dict[int, float]:
        out = {}
        for c in self.pm.children():
            try:
                t = c.cpu_times()
                out[c.pid] = t.user + t.system
            except psutil.Error:
                pass
        return out

    def snapshot(self, settle_s: float = 5.0) -> tuple[float, dict[int, float]] | None:
        """Wait until the benchmark's backends have exited, then read the CPU counters."""
        if self.pm is None:
            return None
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            names = []
            for c in self.pm.children():
                try:
                    names.append(" ".join(c.cmdline()))
                except psutil.Error:
                    pass
            if not any("bench_" in n for n in names):  # backends show their database in the title
                break
            time.sleep(0.05)
        t = self.pm.cpu_times()
        return t.user + t.system + t.children_user + t.children_system, self._aux()

    @staticmethod
    def delta(a, b) -> float | None:
        if a is None or b is None:
            return None
        aux = sum(v - a[1].get(pid, 0.0) for pid, v in b[1].items())
        return (b[0] - a[0]) + aux


# ----------------------------------------------------------------------------------------------------
# one run
# ----------------------------------------------------------------------------------------------------
def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def fill(url: str, items: int, *, analyze: bool) -> float:
    """A migrated store with `items` queued render jobs; returns enqueue items/s."""
    engine = connect_store(url)
    q = render_queue(engine)
    t0 = time.perf_counter()
    for i in range(0, items, 1000):
        rows = [{"variant_id": f"bench-{j:07d}", "payload": {"i": j}} for j in range(i, min(items, i + 1000))]
        q.enqueue(rows, unique_column="variant_id")
    rate = items / (time.perf_counter() - t0)
    if analyze:  # what autovacuum does to a freshly filled table; keeps the plan steady during the run
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE render_jobs")
    engine.dispose()
    return rate


def verify(url: str, results: list[dict], total: int) -> dict:
    every = [i for r in results for i in (*r["warm_ids"], *r["ids"])]
    dups = len(every) - len(set(every))
    engine = make_engine(url)
    t = render_queue(engine).table
    with engine.connect() as conn:
        counts = dict(conn.execute(sa.select(t.c.status, sa.func.count()).group_by(t.c.status)).all())
        not_once = conn.execute(sa.select(sa.func.count()).where(t.c.attempts != 1)).scalar_one()
    engine.dispose()
    ok = dups == 0 and len(every) == total and counts == {"succeeded": total} and not_once == 0
    return {"duplicates": dups, "claimed": len(every), "counts": counts, "attempts_not_1": not_once, "ok": ok}


def claim_run(url: str, *, workers: int, limit: int, items: int, warmup: int, cpu: ServerCpu) -> dict:
    specs = [{"mode": "claim", "url": url, "worker_id": f"bench-w{w}", "limit": limit, "warmup": warmup}
             for w in range(workers)]
    s0 = cpu.snapshot()
    res = run_workers(specs)
    s1 = cpu.snapshot()
    check = verify(url, res, items + warmup * workers)
    if not check["ok"]:
        raise RuntimeError(f"queue check failed: {check}")
    wall = max(r["t1"] for r in res) - min(r["t0"] for r in res)
    n = sum(len(r["ids"]) for r in res)
    calls = sum(len(r["lat"]) for r in res)
    lat = [x for r in res for x in r["lat"]]
    claim_s = sum(r["claim_s"] for r in res)
    complete_s = sum(r["complete_s"] for r in res)
    server = ServerCpu.delta(s0, s1)
    return {
        "items": n,
        "wall_s": wall,
        "claims_per_s": n / wall,
        "claim_calls_per_s": calls / wall,
        "claim_capacity_per_s": sum(len(r["ids"]) / r["claim_s"] for r in res if r["claim_s"] > 0),
        "claim_time_share": claim_s / (claim_s + complete_s),
        "txn_per_s": (calls + n) / wall,
        "p50_ms": pct(lat, 0.50) * 1000,
        "p99_ms": pct(lat, 0.99) * 1000,
        "client_cpu_ms_per_item": sum(r["cpu_s"] for r in res) / n * 1000,
        "server_cpu_ms_per_item": None if server is None else server / n * 1000,
        "per_worker_items": sorted(len(r["ids"]) for r in res),
        "duplicates": check["duplicates"],
        "refused_completes": sum(r["refused"] for r in res),
    }


def baseline_run(url: str, *, mode: str, workers: int, duration_s: float, warmup: int, cpu: ServerCpu) -> dict:
    specs = [{"mode": mode, "url": url, "worker_id": f"bench-b{w}", "row": w + 1, "duration_s": duration_s,
              "warmup": warmup} for w in range(workers)]
    s0 = cpu.snapshot()
    res = run_workers(specs)
    s1 = cpu.snapshot()
    n = sum(r["n"] for r in res)
    lat = [x for r in res for x in r["lat"]]
    server = ServerCpu.delta(s0, s1)
    return {"txn_per_s": sum(r["n"] / (r["t1"] - r["t0"]) for r in res), "p50_ms": pct(lat, 0.5) * 1000, "p99_ms": pct(lat, 0.99) * 1000,
            "client_cpu_ms_per_txn": sum(r["cpu_s"] for r in res) / n * 1000,
            "server_cpu_ms_per_txn": None if server is None else server / n * 1000}


def make_counter(url: str, workers: int) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bench_counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)")
        conn.execute(sa.text("INSERT INTO bench_counter (id, n) VALUES (:id, 0)"),
                     [{"id": w + 1} for w in range(workers)])
    engine.dispose()


# ----------------------------------------------------------------------------------------------------
# one backend, --repeat times
# ----------------------------------------------------------------------------------------------------
def bench_backend(name: str, new_url, *, workers: int, items: int, limits: list[int], repeat: int,
                  warmup: int, baseline_s: float, cpu: ServerCpu) -> dict:
    runs: dict[str, list[dict]] = {f"limit{lim}": [] for lim in limits}
    runs["baseline"], runs["raw_baseline"], ratio, enq = [], [], [], []
    for rep in range(repeat):
        tag = f"[{name} {rep + 1}/{repeat}]"
        url = new_url(f"bench_base_{rep}")
        make_counter(url, workers)
        for mode, key in (("engine", "baseline"), ("raw", "raw_baseline")):
            b = baseline_run(url, mode=mode, workers=workers, duration_s=baseline_s, warmup=warmup, cpu=cpu)
            runs[key].append(b)
            log(f"{tag} {key:12s} {b['txn_per_s']:8.0f} txn/s   p50 {b['p50_ms']:.2f} ms  p99 {b['p99_ms']:.2f} ms")
        for lim in limits:
            url = new_url(f"bench_claim_{rep}_l{lim}")
            enq.append(fill(url, items + warmup * workers, analyze=name == "postgres"))
            r = claim_run(url, workers=workers, limit=lim, items=items, warmup=warmup, cpu=cpu)
            runs[f"limit{lim}"].append(r)
            srv = r["server_cpu_ms_per_item"]
            log(f"{tag} limit={lim:<3d}    {r['claims_per_s']:8.0f} items/s ({r['wall_s']:.2f} s, "
                f"capacity of claim() {r['claim_capacity_per_s']:.0f}/s, claim share {r['claim_time_share']:.0%})  "
                f"p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  cpu/item client {r['client_cpu_ms_per_item']:.2f} ms"
                + ("" if srv is None else f" server {srv:.2f} ms")
                + f"  dups {r['duplicates']}")
        ratio.append(runs[f"limit{limits[0]}"][-1]["claims_per_s"] / runs["baseline"][-1]["txn_per_s"])

    def med(key: str, field: str, nd: int = 1):
        vals = [r[field] for r in runs[key] if r[field] is not None]
        return round(statistics.median(vals), nd) if vals else None

    first = f"limit{limits[0]}"
    out = {
        f"{name}_claims_per_s": med(first, "claims_per_s", 0),
        f"{name}_claim_capacity_per_s": med(first, "claim_capacity_per_s", 0),
        f"{name}_claim_p50_ms": med(first, "p50_ms", 3),
        f"{name}_claim_p99_ms": med(first, "p99_ms", 3),
        f"{name}_claim_time_share": med(first, "claim_time_share", 3),
        f"{name}_queue_txn_per_s": med(first, "txn_per_s", 0),
        f"{name}_baseline_txn_per_s": med("baseline", "txn_per_s", 0),
        f"{name}_baseline_p50_ms": med("baseline", "p50_ms", 3),
        f"{name}_raw_baseline_txn_per_s": med("raw_baseline", "txn_per_s", 0),
        f"{name}_claims_vs_baseline": round(statistics.median(ratio), 3),
        f"{name}_client_cpu_ms_per_item": med(first, "client_cpu_ms_per_item", 3),
        f"{name}_server_cpu_ms_per_item": med(first, "server_cpu_ms_per_item", 3),
        f"{name}_baseline_client_cpu_ms_per_txn": med("baseline", "client_cpu_ms_per_txn", 3),
        f"{name}_baseline_server_cpu_ms_per_txn": med("baseline", "server_cpu_ms_per_txn", 3),
    }
    for lim in limits[1:]:
        k = f"limit{lim}"
        out.update({
            f"{name}_batch{lim}_claims_per_s": med(k, "claims_per_s", 0),
            f"{name}_batch{lim}_claim_capacity_per_s": med(k, "claim_capacity_per_s", 0),
            f"{name}_batch{lim}_claim_p50_ms": med(k, "p50_ms", 3),
            f"{name}_batch{lim}_claim_p99_ms": med(k, "p99_ms", 3),
            f"{name}_batch{lim}_claim_time_share": med(k, "claim_time_share", 3),
        })
    out.update({
        f"{name}_items": items,
        f"{name}_workers": workers,
        f"{name}_claim_batch_sizes": limits,
        f"{name}_enqueue_items_per_s": round(statistics.median(enq)),
        f"{name}_wall_s": [round(r["wall_s"], 2) for r in runs[first]],
        f"{name}_claims_per_s_runs": [round(r["claims_per_s"]) for r in runs[first]],
        f"{name}_per_worker_items": runs[first][0]["per_worker_items"],
        f"{name}_duplicates": sum(r["duplicates"] for k in runs if k.startswith("limit") for r in runs[k]),
    })
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pg-items", type=int, default=20_000)
    ap.add_argument("--pg-workers", type=int, default=8)
    ap.add_argument("--sqlite-items", type=int, default=5_000)
    ap.add_argument("--sqlite-workers", type=int, default=2)
    ap.add_argument("--limits", default="1,10", help="claim batch sizes; the first is the headline")
    ap.add_argument("--warmup", type=int, default=20, help="items each worker claims before the clock starts")
    ap.add_argument("--baseline-s", type=float, default=5.0, help="seconds each baseline run lasts")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true")
    args = ap.parse_args()
    limits = [int(x) for x in args.limits.split(",")]

    started = time.perf_counter()
    load = os.getloadavg()[0]
    log(f"queue benchmark: {os.cpu_count()} cpus, load {load:.2f}, repeat {args.repeat}, limits {limits}")
    result: dict = {}

    if not args.skip_postgres:
        from tests.pg import ThrowawayPostgres

        pg = ThrowawayPostgres()
        try:
            pg.start()
            eng = sa.create_engine(pg.url().replace("postgresql://", "postgresql+psycopg2://"))
            with eng.connect() as c:
                version = c.exec_driver_sql("SHOW server_version").scalar()
                settings = {k: c.exec_driver_sql(f"SHOW {k}").scalar()
                            for k in ("fsync", "synchronous_commit", "shared_buffers")}
            eng.dispose()
            log(f"postgres {version} on port {pg.port}: {settings}; {args.pg_items} items, {args.pg_workers} workers")
            result.update(bench_backend(
                "postgres", pg.create_database, workers=args.pg_workers, items=args.pg_items, limits=limits,
                repeat=args.repeat, warmup=args.warmup, baseline_s=args.baseline_s, cpu=ServerCpu(pg.data)))
            result["postgres_version"] = version
            result["postgres_settings"] = settings
        finally:
            pg.stop()

    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory(prefix="actp-bench-queue-") as d:
            log(f"sqlite {sqlite3.sqlite_version} (WAL) in {d}; "
                f"{args.sqlite_items} items, {args.sqlite_workers} workers")
            result.update(bench_backend(
                "sqlite", lambda n: f"sqlite:///{d}/{n}.db", workers=args.sqlite_workers, items=args.sqlite_items,
                limits=limits, repeat=args.repeat, warmup=args.warmup, baseline_s=args.baseline_s, cpu=ServerCpu(None)))
            result["sqlite_version"] = sqlite3.sqlite_version

    result["duplicates_found"] = result.pop("postgres_duplicates", 0) + result.pop("sqlite_duplicates", 0)
    if "postgres_claims_per_s" in result:
        result["postgres_target_claims_per_s"] = 1000
        result["postgres_meets_target"] = result["postgres_claims_per_s"] >= 1000
    result["headline"] = (f"items claimed per wall second at limit={limits[0]}, each worker completing every "
                          "item before its next claim; median of --repeat runs")
    result.update({"repeat": args.repeat, "warmup_items_per_worker": args.warmup, "cpus": os.cpu_count(),
                   "load_avg_at_start": round(load, 2), "wall_seconds": round(time.perf_counter() - started, 1)})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
