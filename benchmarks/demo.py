"""Wall time, peak memory and outcome of the default `actp demo` (fresh data directory).

Runs the demo as a child process, samples the RSS of its whole process tree (Python, ffmpeg) every
0.2 s, and prints one JSON object as the last line of stdout.
"""

import sys
from pathlib import Path

# benchmarks/ holds a queue.py (the queue benchmark's mandated name): keep it from shadowing the stdlib
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import json  # noqa: E402
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


def main() -> None:
    extra = sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="actp-bench-demo-") as tmp:
        summary = Path(tmp) / "summary.json"
        cmd = [sys.executable, "-m", "actp_pipeline.cli", "--data-dir", f"{tmp}/data", "demo", "--json", str(summary), *extra]
        print(f"running: {' '.join(cmd)}", file=sys.stderr)
        started = time.monotonic()
        child = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
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
    print(json.dumps({
        "demo_wall_s": round(wall, 1),
        "peak_rss_mb": round(peak / 2**20, 1),
        "true_best_in_winners": out["true_best_in_winners"],
        "winners": len(out["winners"]),
        "winner_true_ranks": out["winner_true_ranks"],
        "posted": out["posted"],
        "dagster_runs": out["runs"],
        "cpus": psutil.cpu_count(),
    }))


if __name__ == "__main__":
    main()
