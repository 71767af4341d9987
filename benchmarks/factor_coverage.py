"""Coverage and bias of the factor-effect intervals on factorial worlds they did not assume (issue 10, item 8).

Run from the repo root:  .venv/bin/python benchmarks/factor_coverage.py [--worlds 200] [--seed 1] [--quick]

Nothing here re-implements the statistics: every estimate and interval comes from
score.factor_effects.estimate_factor_effects, fed the scored frame it reads in the pipeline (the scores
table's columns joined with the variants' factors).

A world is one round of a factorial test. Grid: base rate {0.01, 0.05, 0.20} x creatives per world {8, 16, 24}:
9 configurations, `worlds` worlds each. In a world:
- factors: 3 or 4 (named like the generation factors), each with 2-4 levels, drawn until the creative-level
  design has at most half as many parameters as creatives (8 creatives: a 2x2x2 factorial); each factor's
  levels are spread evenly over the creatives in a random order, redrawn while the design is aliased;
- true effects on the logit scale: a factor's k levels get k evenly spaced values from -0.25 to +0.25 in a
  random order (so the average level is 0 and the extreme levels are +-0.25);
- a creative random effect N(0, 0.3) on the logit; each creative gets 1-3 posts (uniform);
- views per post log-uniform from 200 to 100,000; every post lands in one of two fair cells (tiktok/main at -0.2, instagram/main at +0.2 on the logit);
- a post's engagements are Binomial(views, clip(expit(logit(base) + cell + effects + creative) x m, 0, 1))
  with m a mean-one lognormal multiplier whose sd of log is drawn per world from U(0, 0.2).
The estimator runs at nominal 90% and at 95%. Figures:
  factor_coverage_min / _mean   share of factor-level effects (all levels of all factors of all worlds of a
                                configuration) whose 90% interval (logit_low, logit_high) holds the true
                                effect on the logit scale (the scale the estimator reports; its effects are
                                relative to the factor's average level, as are the truths), minimum / mean
                                over the configurations; `factor_coverage_min_config` names the worst one and
                                `factor_coverage_min_se` is its standard error (clustered by world).
  factor_coverage95_*           the same for the 95% intervals.
  factor_bias_extreme           mean relative bias of the extreme levels, mean(estimate / truth) - 1 over all
                                levels at +-0.25 (0 = unbiased; the old ridge gave about -0.17).
  factor_bias_extreme_by_size   the same per creatives-per-world.
  factor_coverage_by_config     per configuration: coverage at 90% and 95% (and their standard errors), the
                                mean 90% interval half-width and the relative bias of the extreme levels.
`seconds` is the wall time. Progress goes to stderr, one JSON object is the last line of stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where a sibling module (benchmarks/queue.py) would
# shadow the standard library's; put the repo root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

import os  # noqa: E402

# One core: the matrices are tiny, and BLAS threads only fight the other processes for the CPUs.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from actp_pipeline.score.factor_effects import estimate_factor_effects  # noqa: E402

BASE_RATES = (0.01, 0.05, 0.20)
CREATIVES = (8, 16, 24)
VIEWS = (200, 100_000)  # views per post, log-uniform
FACTOR_NAMES = ("hook_pattern", "angle", "cta_style", "format")
EFFECT_RANGE = 0.25      # extreme levels sit at +-this on the logit
CREATIVE_SD = 0.3        # logit sd of the creative random effect
MAX_POST_NOISE = 0.2     # sd of log of the mean-one lognormal multiplier, drawn per world from U(0, this)
CELLS = {("tiktok", "main"): -0.2, ("instagram", "main"): 0.2}
T0 = pd.Timestamp("2026-01-05T00:00")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def draw_design(rng: np.random.Generator, n_creatives: int) -> tuple[list[int], np.ndarray]:
    """(levels per factor, creative x factor level indices): balanced, not aliased, at most n/2 parameters."""
    while True:
        sizes = [int(k) for k in rng.integers(2, 5, size=int(rng.integers(3, 5)))]
        if 1 + sum(k - 1 for k in sizes) <= n_creatives // 2:
            break
    for _ in range(100):
        design = np.column_stack([rng.permutation(np.resize(np.arange(k), n_creatives)) for k in sizes])
        coded = np.hstack([np.ones((n_creatives, 1))] + [np.eye(k)[design[:, j]][:, 1:] for j, k in enumerate(sizes)])
        if np.linalg.matrix_rank(coded) == coded.shape[1]:
            return sizes, design
    raise RuntimeError("no unaliased design found")  # pragma: no cover (never seen)


def simulate_world(rng: np.random.Generator, base: float, n_creatives: int, views: tuple[int, int] = VIEWS):
    """(scored frame, truth {(factor, level): logit effect}) of one world (see the module docstring)."""
    sizes, design = draw_design(rng, n_creatives)
    names = FACTOR_NAMES[:len(sizes)]
    effects = [rng.permutation(np.linspace(-EFFECT_RANGE, EFFECT_RANGE, k)) for k in sizes]
    truth = {(f, f"l{i}"): float(eff[i]) for f, eff in zip(names, effects) for i in range(len(eff))}
    creative_logit = (np.log(base / (1 - base)) + rng.normal(0, CREATIVE_SD, n_creatives)
                      + sum(eff[design[:, j]] for j, eff in enumerate(effects)))
    n_posts = rng.integers(1, 4, size=n_creatives)
    creative = np.repeat(np.arange(n_creatives), n_posts)
    n = len(creative)
    cell_keys = list(CELLS)
    cell = rng.integers(0, len(cell_keys), size=n)
    lo, hi = views
    views = np.exp(rng.uniform(np.log(lo), np.log(hi), size=n)).astype(np.int64)
    sd = rng.uniform(0, MAX_POST_NOISE)
    noise = np.exp(rng.normal(-sd**2 / 2, sd, size=n))
    logit = creative_logit[creative] + np.array([CELLS[k] for k in cell_keys])[cell]
    rate = np.clip(noise / (1 + np.exp(-logit)), 0, 1)
    eng = rng.binomial(views, rate)
    frame = scored_frame(creative, [cell_keys[c] for c in cell], views, eng)
    for j, f in enumerate(names):
        frame[f] = [f"l{i}" for i in design[creative, j]]
    return frame, truth


def scored_frame(creative: np.ndarray, cells: list[tuple[str, str]], views: np.ndarray, eng: np.ndarray) -> pd.DataFrame:
    """The columns estimate_factor_effects reads from the scores table (ids, cell, counts, live time), the
    engagements counted as likes as in the scorer; the factor columns are added by the caller."""
    n = len(views)
    return pd.DataFrame({
        "post_id": [f"p{i}" for i in range(n)], "variant_id": [f"c{c}" for c in creative],
        "platform": [c[0] for c in cells], "account": [c[1] for c in cells],
        "live_at": T0 + pd.to_timedelta(np.arange(n) * 2, unit="h"),
        "views": views, "likes": eng, "comments": 0, "shares": 0, "saves": 0,
        "engagements": eng, "engagement_rate": eng / views})


def world_rows(frame: pd.DataFrame, truth: dict, level: float) -> pd.DataFrame:
    """One row per factor level: truth, estimate, interval, covered."""
    eff = estimate_factor_effects(frame, factors=tuple(sorted({f for f, _ in truth})), level=level)
    keys = list(zip(eff["factor"], eff["level"]))
    t = np.array([truth[k] for k in keys])
    return pd.DataFrame({"truth": t, "est": eff["logit_effect"].to_numpy(),
                         "half": (eff["logit_high"] - eff["logit_low"]).to_numpy() / 2,
                         "covered": ((eff["logit_low"] <= t) & (t <= eff["logit_high"])).to_numpy()})


def _coverage(rows: pd.DataFrame, col: str) -> tuple[float, float]:
    """Share covered and its standard error clustered by world."""
    per_world = rows.groupby("world")[col].agg(["sum", "count"])
    share = per_world["sum"].sum() / per_world["count"].sum()
    resid = per_world["sum"] - share * per_world["count"]
    m = len(per_world)
    se = np.sqrt(m / max(m - 1, 1) * np.sum(resid**2)) / per_world["count"].sum()
    return float(share), float(se)


def run_factor_coverage(worlds: int = 200, seed: int = 1, level: float = 0.90) -> dict:
    """Run the grid (module docstring); `level` is the nominal level of the `factor_coverage_*` figures
    (the `factor_coverage95_*` ones are always at 95%)."""
    t0 = time.time()
    rng = np.random.default_rng(seed)
    by_config, all_rows = {}, []
    for base, n_creatives in itertools.product(BASE_RATES, CREATIVES):
        parts = []
        for w in range(worlds):
            frame, truth = simulate_world(rng, base, n_creatives)
            r = world_rows(frame, truth, level)
            r95 = world_rows(frame, truth, 0.95)
            parts.append(r.assign(world=w, covered95=r95["covered"].to_numpy(), half95=r95["half"].to_numpy()))
        rows = pd.concat(parts, ignore_index=True)
        name = f"base={base:g} creatives={n_creatives}"
        cov, se = _coverage(rows, "covered")
        cov95, se95 = _coverage(rows, "covered95")
        ext = rows[np.isclose(rows["truth"].abs(), EFFECT_RANGE)]
        by_config[name] = {"coverage": round(cov, 4), "se": round(se, 4), "coverage95": round(cov95, 4),
                           "se95": round(se95, 4), "half_width": round(float(rows["half"].mean()), 4),
                           "bias_extreme": round(float((ext["est"] / ext["truth"]).mean() - 1), 4)}
        all_rows.append(rows.assign(creatives=n_creatives))
        log(f"{name}: coverage {cov:.3f} (95%: {cov95:.3f}), {time.time() - t0:.0f} s")
    rows = pd.concat(all_rows, ignore_index=True)
    extreme = rows[np.isclose(rows["truth"].abs(), EFFECT_RANGE)]
    worst = min(by_config, key=lambda k: by_config[k]["coverage"])
    worst95 = min(by_config, key=lambda k: by_config[k]["coverage95"])
    return {
        "level": level, "worlds_per_config": worlds, "configs": len(by_config), "seed": seed,
        "factor_coverage_min": by_config[worst]["coverage"],
        "factor_coverage_mean": round(float(np.mean([v["coverage"] for v in by_config.values()])), 4),
        "factor_coverage_min_config": worst, "factor_coverage_min_se": by_config[worst]["se"],
        "factor_coverage95_min": by_config[worst95]["coverage95"],
        "factor_coverage95_mean": round(float(np.mean([v["coverage95"] for v in by_config.values()])), 4),
        "factor_coverage95_min_config": worst95,
        "factor_bias_extreme": round(float((extreme["est"] / extreme["truth"]).mean() - 1), 4),
        "factor_bias_extreme_by_size": {int(k): round(float((g["est"] / g["truth"]).mean() - 1), 4)
                                        for k, g in extreme.groupby("creatives")},
        "factor_coverage_by_config": by_config,
        "seconds": round(time.time() - t0, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=200, help="worlds per grid configuration")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--level", type=float, default=0.90, help="nominal level of factor_coverage_*")
    parser.add_argument("--quick", action="store_true", help="40 worlds per configuration")
    args = parser.parse_args(argv)
    print(json.dumps(run_factor_coverage(40 if args.quick else args.worlds, args.seed, args.level)))


if __name__ == "__main__":
    main()
