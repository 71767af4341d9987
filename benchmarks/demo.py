"""Wall time, peak memory and outcome of the default `actp demo` (fresh data directory).

`--postgres`: the same demo twice in this run, first on the embedded default (SQLite instance and store), then
with the Dagster instance and the operational store on a throwaway PostgreSQL (the README's production
variables); prints both wall times, their ratio and whether the two made the same decisions.

Runs the demo as a child process, samples the RSS of its whole process tree (Python, ffmpeg) every
0.2 s, and prints one JSON object as the last line of stdout.
"""

import sys
from pathlib import Path

# benchmarks/ holds a queue.py (the queue benchmark's mandated name): keep it from shadowing the stdlib
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import psutil  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_demo(extra: list[str], env: dict[str, str] | None = None) -> dict:
    """One `actp demo` in a fresh data directory: wall time, peak RSS of its process tree, its summary."""
    with tempfile.TemporaryDirectory(prefix="actp-bench-demo-") as tmp:
        summary = Path(tmp) / "summary.json"
        cmd = [sys.executable, "-m", "actp_pipeline.cli", "--data-dir", f"{tmp}/data", "demo", "--json", str(summary), *extra]
        print(f"running: {' '.join(cmd)}", file=sys.stderr)
        started = time.monotonic()
        child = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
        peak = 0
        done = threading.Event()

        def sample():
            nonlocal peak
            ps = psutil.Process(child.pid)
            while not done.is_set():
                try:
                    peak = max(peak, tree_rss(ps))
                except psutil.Error:
                    return
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        report, _ = child.communicate()
        wall = time.monotonic() - started
        done.set()
        sampler.join()
        print(report, file=sys.stderr)
        if child.returncode != 0:
            raise SystemExit(f"demo failed with exit code {child.returncode}")
        out = json.loads(summary.read_text())
    return {"demo_wall_s": round(wall, 1), "peak_rss_mb": round(peak / 2**20, 1),
            "true_best_in_winners": out["true_best_in_winners"], "winners": len(out["winners"]),
            "winner_ids": sorted(out["winners"]), "winner_true_ranks": out["winner_true_ranks"],
            "posted": out["posted"], "dagster_runs": out["runs"]}


def postgres_env(pg, home: Path) -> dict[str, str]:
    """The README's production variables: the Dagster instance (dagster.postgres.yaml, in DAGSTER_HOME `home`)
    and the store on one PostgreSQL server, in two databases."""
    shutil.copy(ROOT / "dagster.postgres.yaml", home / "dagster.yaml")
    pg.create_database("dagster_bench")
    return {**os.environ, "DAGSTER_HOME": str(home), "ACTP_DATABASE_URL": pg.create_database("actp_bench"),
            "ACTP_DAGSTER_PG_HOST": "127.0.0.1", "ACTP_DAGSTER_PG_PORT": str(pg.port),
            "ACTP_DAGSTER_PG_USER": pg.user, "ACTP_DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
            "ACTP_DAGSTER_PG_DB": "dagster_bench"}


def main() -> None:
    extra = [a for a in sys.argv[1:] if a != "--postgres"]
    if "--postgres" not in sys.argv[1:]:
        print(json.dumps({**run_demo(extra), "cpus": psutil.cpu_count()}))
        return
    # the baseline (the embedded default: SQLite instance and store) and the Postgres run, in the same run of
    # this script on the same machine, so the ratio holds on a noisy shared machine where absolute times do not
    sys.path.insert(0, str(ROOT))
    from tests.pg import ThrowawayPostgres

    base = run_demo(extra, {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "ACTP_DATABASE_URL")})
    pg = ThrowawayPostgres().start()
    try:
        with tempfile.TemporaryDirectory(prefix="actp-bench-dagster-home-") as home:
            on_pg = run_demo(extra, postgres_env(pg, Path(home)))
    finally:
        pg.stop()
    print(json.dumps({"embedded_wall_s": base["demo_wall_s"], "postgres_wall_s": on_pg["demo_wall_s"],
                      "ratio_postgres_to_embedded": round(on_pg["demo_wall_s"] / base["demo_wall_s"], 3),
                      "embedded_peak_rss_mb": base["peak_rss_mb"], "postgres_peak_rss_mb": on_pg["peak_rss_mb"],
                      "same_decisions": base["winner_ids"] == on_pg["winner_ids"]
                      and base["winner_true_ranks"] == on_pg["winner_true_ranks"] and base["posted"] == on_pg["posted"],
                      "winners": on_pg["winners"], "posted": on_pg["posted"], "dagster_runs": on_pg["dagster_runs"],
                      "cpus": psutil.cpu_count()}))


if __name__ == "__main__":
    main()
