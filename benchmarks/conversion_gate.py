"""The learning gate of conversion_effects (clicks per post): coverage, bias and width by gate and by clicks.

Run from the repo root:  .venv/bin/python benchmarks/conversion_gate.py [--worlds 100] [--seed 7] [--quick]

Every estimate comes from attribution.conversion_effects.estimate_conversion_effects, fed the per-post frame
it reads in the pipeline (attribution_posts' columns: clicks and converting clicks per post, event `*`) and
the variants' factors. A world: 40 creatives balanced over cta_style (4 levels), hook_pattern (3) and format
(2), a creative random effect N(0, 0.3), 4 posts per creative in one of two cells (logit baselines -3.3 and
-2.7: 3.6% and 6.3% per click) at a uniform hour (hour_bucket from live_at); clicks per post lognormal with
median `m` in {15, 40, 200} and sd of log 1 (organic posts: most get few clicks, a few many); converting
clicks ~ Binomial(clicks, expit(baseline + effects + creative)). Planted logit effects: CTA link_in_bio +0.5,
follow -0.2, comment -0.1, save -0.2; hook question +0.2, stat 0, story -0.2; format 0; hours 0, -0.1, 0, +0.1.
Figures per (median clicks, gate), the gate in {1, 10, 20, 50}:
  coverage          share of the 95% intervals (logit_low, logit_high) holding the true centred effect;
  link_in_bio       mean estimate of link_in_bio's logit effect (truth 0.5): below 0.5 = pulled toward 0;
  width             mean width of link_in_bio's interval (logit scale);
  posts_kept        mean posts past the gate (of 160).
`seconds` is the wall time; one JSON object is the last line of stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent  # a sibling module (benchmarks/queue.py) would shadow the stdlib's
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from actp_pipeline.attribution.conversion_effects import estimate_conversion_effects  # noqa: E402
from actp_pipeline.score.factor_effects import hour_bucket  # noqa: E402

PLANTED = {"cta_style": {"link_in_bio": 0.5, "follow": -0.2, "comment": -0.1, "save": -0.2},
           "hook_pattern": {"question": 0.2, "stat": 0.0, "story": -0.2},
           "format": {"text_hook": 0.0, "listicle": 0.0},
           "hour_bucket": {"night": 0.0, "morning": -0.1, "afternoon": 0.0, "evening": 0.1}}
BASELINE = {("tiktok", "main"): -3.3, ("instagram", "brand"): -2.7}
TRUTH = {(f, lv): v - np.mean(list(levels.values())) for f, levels in PLANTED.items() for lv, v in levels.items()}


def world(rng, median: float, n_creatives: int = 40, per_creative: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    design = {f: rng.permutation(np.resize(list(PLANTED[f]), n_creatives)) for f in ("cta_style", "hook_pattern",
                                                                                     "format")}
    variants = pd.DataFrame({"variant_id": [f"v{c}" for c in range(n_creatives)], **design})
    n, cells = n_creatives * per_creative, list(BASELINE)
    owner = np.repeat(np.arange(n_creatives), per_creative)
    cell, hours = rng.integers(0, len(cells), n), rng.integers(0, 24, n)
    logit = (np.array([BASELINE[cells[i]] for i in cell]) + rng.normal(0, 0.3, n_creatives)[owner]
             + sum(np.array([PLANTED[f][design[f][c]] for c in owner]) for f in design)
             + np.array([PLANTED["hour_bucket"][hour_bucket(int(h))] for h in hours]))
    clicks = rng.lognormal(np.log(median), 1.0, n).round().astype(int)
    posts = pd.DataFrame({"idempotency_key": [f"k{i}" for i in range(n)], "variant_id": [f"v{c}" for c in owner],
                          "platform": [cells[i][0] for i in cell], "account": [cells[i][1] for i in cell],
                          "live_at": pd.Timestamp("2026-11-02") + pd.to_timedelta(hours, unit="h"), "event": "*",
                          "clicks": clicks, "converting_clicks": rng.binomial(clicks, 1 / (1 + np.exp(-logit)))})
    return posts, variants


def run(worlds: int, seed: int) -> dict:
    started, rows = time.perf_counter(), []
    for median in (15, 40, 200):
        for gate in (1, 10, 20, 50):
            rng = np.random.default_rng(seed)  # the same worlds for every gate
            covered, lib, width, kept = [], [], [], []
            for _ in range(worlds):
                eff = estimate_conversion_effects(*world(rng, median), factors=tuple(PLANTED), min_clicks=gate)
                row = eff[(eff["factor"] == "cta_style") & (eff["level"] == "link_in_bio")]
                if row.empty:
                    continue
                t = np.array([TRUTH[k] for k in zip(eff["factor"], eff["level"])])
                covered += list((eff["logit_low"] <= t) & (t <= eff["logit_high"]))
                lib.append(float(row["logit_effect"].iloc[0]))
                width.append(float((row["logit_high"] - row["logit_low"]).iloc[0]))
                kept.append(eff.attrs["n_posts"])
            rows.append({"median_clicks": median, "gate": gate, "coverage": round(float(np.mean(covered)), 3),
                         "link_in_bio": round(float(np.mean(lib)), 3), "width": round(float(np.mean(width)), 3),
                         "posts_kept": round(float(np.mean(kept)), 1), "worlds": len(lib)})
            print(json.dumps(rows[-1]), file=sys.stderr)
    return {"by_gate": rows, "seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="20 worlds per configuration")
    args = parser.parse_args(argv)
    print(json.dumps(run(20 if args.quick else args.worlds, args.seed)))


if __name__ == "__main__":
    main()
