"""End to end: the README's demo command, small: organic test, paid learning test, the true best creative
promoted to scaling."""

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
    # after a full day of feedback the allocation's next round reposts the leading creatives
    assert out["posts"] > 24 and "next-round posts of the leaders" in res.stderr, res.stderr[-3000:]
    # the organic test sends its leading contenders to a paid learning test, whose winner is promoted:
    # the decided winners are the evidence-backed few, and the true best is among them
    assert out["true_best_in_winners"], res.stdout
    assert 1 <= len(out["winners"]) <= 2 and set(out["winner_true_ranks"]) == {1}, res.stdout
    assert 1 in out["contender_true_ranks"], res.stdout
    assert out["promoted"] == [out["true_best_variant"]], res.stdout
    assert out["audit"].get("duplicate_ad_set:success") == 1 and out["audit"].get("create_campaign:success") == 2
    assert not any(k.endswith(":failed") for k in out["audit"]), res.stdout
    # the report shows the decisions next to the true ranks, and the verdicts in words
    assert "true_rank" in res.stdout and "among the winners" in res.stdout and "paid verdict" in res.stdout
    # progress is shown while it works
    assert "[day 1/3" in res.stderr and "render:" in res.stderr and "[paid +96 h]" in res.stderr
    # the runs are in the Dagster instance under the data directory
    assert (tmp_path / "data" / "dagster" / "storage").is_dir()
