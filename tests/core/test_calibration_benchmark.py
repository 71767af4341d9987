"""benchmarks/calibration.py runs end to end (--quick) and reports every key in range. The quick run is too small
to hold the issue 10 targets to their confidence, so the test asserts the averages a broken interval would miss
(the old fixed prior covered 0.78 on average) and leaves the minima to the full run in the README."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "calibration.py"

RATE_KEYS = ["dead_heat_false_winner_rate_organic", "dead_heat_false_winner_rate_paid"]
COVERAGE_KEYS = [f"{pre}{mid}_{stat}" for pre in ("coverage", "creative_coverage")
                 for mid in ("", "_best", "90", "90_best") for stat in ("min", "mean", "min_se")]
CELL_KEYS = ["base_rate", "post_noise_sd", "creatives", "views_per_post"]


def test_quick_run_reports_every_key():
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    for key in COVERAGE_KEYS:
        assert key in out, key
        assert isinstance(out[key], float) and math.isfinite(out[key]), (key, out[key])
        if not key.endswith("_se"):
            assert 0.0 <= out[key] <= 1.0, (key, out[key])
    for key in ("coverage_min_cell", "coverage_best_min_cell", "coverage90_min_cell", "coverage90_best_min_cell"):
        assert set(out[key]) == set(CELL_KEYS), key
    assert out["coverage_min"] <= out["coverage_mean"] and out["coverage90_min"] <= out["coverage90_mean"]
    assert len(out["coverage_worst_cells"]) == 5 and set(out["coverage_by_noise"]) == {"0.0", "0.05", "0.15", "0.2"}
    assert out["grid_cells"] == 144 and out["coverage_posts"] > out["coverage_creatives"] > 0
    assert out["scoring_default_credible_mass"] == 0.95
    assert 0.91 <= out["coverage_mean"] <= 0.99 and 0.86 <= out["coverage90_mean"] <= 0.95, out["coverage_mean"]
    assert out["coverage_best_mean"] >= 0.88, out["coverage_best_mean"]
    for key in ("factor_coverage_min", "factor_coverage_mean", "factor_coverage95_min"):
        assert 0.0 <= out[key] <= 1.0, (key, out.get(key))
    assert out["factor_coverage_mean"] >= 0.8 and abs(out["factor_bias_extreme"]) < 0.2
    for key in RATE_KEYS:
        assert 0.0 <= out[key] <= 1.0, (key, out[key])
        assert 0.0 <= out[key + "_se"] <= 0.5, key
    assert out["dead_heat_worlds"] == 12 * out["config"]["heat_worlds_per_config"]
    assert len(out["dead_heat_by_config"]) == 12
    assert all(0.0 <= c[r] <= 1.0 for c in out["dead_heat_by_config"] for r in ("organic", "paid"))
    assert out["seconds"] > 0
