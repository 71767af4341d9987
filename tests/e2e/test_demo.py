"""End to end: the README's demo command, small, finds the sandbox's true best creative among its winners."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_finds_the_true_best(tmp_path):
    summary = tmp_path / "summary.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ACTP_", "DAGSTER_HOME"))}
    # the default 3x2x2x2 matrix (24 variants, enough spread in appeal to have a best), short clips
    cmd = [sys.executable, "-m", "actp_pipeline.cli", "--data-dir", str(tmp_path / "data"), "demo", "--days", "3",
           "--max-length", "5", "--posts-per-day", "24", "--json", str(summary)]
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-4000:]
    out = json.loads(summary.read_text())
    assert out["posted"] == 24, res.stderr[-3000:]
    assert out["true_best_in_winners"], res.stdout
    # winners are the evidence-backed few, not everybody
    assert 1 <= len(out["winners"]) <= 12, res.stdout
    # the report shows each winner next to its true rank
    assert "true_rank" in res.stdout and "among the winners" in res.stdout
    # progress is shown while it works
    assert "[day 1/3" in res.stderr and "render:" in res.stderr
    # the runs are in the Dagster instance under the data directory
    assert (tmp_path / "data" / "dagster" / "storage").is_dir()
