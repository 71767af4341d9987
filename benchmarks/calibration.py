"""Calibration of ACTP's statistics on worlds they did not assume (issue 10).

Run from the repo root:  .venv/bin/python benchmarks/calibration.py [--worlds 300] [--heat-worlds 200] [--seed 1]

Nothing here re-implements the statistics: every interval and every decision comes from the pipeline's own
code (score.scores.score_posts, score.winners.decide, stats.arms.from_days + ads.evidence.PAID_RULE,
score.factor_effects via benchmarks/factor_coverage.py). The worlds break the old assumptions on purpose:
post noise up to 0.2, views per post from 200 to 100,000, base rates from 1% to 20%.

Part 1, interval coverage. The grid is base rate {0.01, 0.05, 0.20} x post noise {0, 0.05, 0.15, 0.2} (sd of
log of a mean-one lognormal multiplier per post) x creatives per world {1, 2, 8} x views per post {200, 1,000,
10,000, 100,000}: 144 grid cells with `--worlds` x max(8 / k, 4) worlds each (8x `--worlds` creatives at
k = 1 and 2, 32x at k = 8, and at least 4x `--worlds` best creatives per cell, so the minimum over cells of
the best creatives' coverage is not just the noisiest cell). In a world the creatives' true rates are expit(logit(base) + N(0, --spread)) (0.3 = the sandbox's
spread), each creative gets 1-3 posts (uniform), a post's engagements are Binomial(views, clip(true rate x
noise draw, 0, 1)). All posts of a world form ONE fair cell (its own account, live within 10 h); the worlds of
one (base rate, post noise) pair share a platform label, as the accounts of one platform share its rates and
its noise (the scorer pools its spreads per platform). The latest-metrics frame (measure/latest.py's columns;
all engagements counted as likes) goes through score_posts with the default ScoringRules() (95% intervals)
and with ScoringRules(credible_mass=0.90).
  coverage_*           per POST (score_posts reports er_low / er_high per post: its creative's interval): the
                       interval holds the creative's true rate. Per grid cell the share of covered posts;
                       `coverage_min` is the lowest over the 144 grid cells (95% intervals; target 0.93-0.97),
                       `coverage_mean` their mean, `coverage_max` the highest, `coverage_min_cell` where the
                       minimum is, `coverage_min_se` its standard error (clustered by world),
                       `coverage_best_*` the same on the posts of each world's truly best creative only.
                       `coverage90_*`: the same at 90%.
  creative_coverage_*  the same per CREATIVE (one row per creative instead of one per post).
  coverage_worst_cells the five grid cells of lowest per-post 95% coverage, with their figures.
  coverage_by_noise    per-post 95% coverage per post-noise level (mean over the other grid dimensions).

Part 2, dead heats under repeated looks. All k creatives of a world have the same true rate (no spread):
k {2, 8} x base rate {0.01, 0.05, 0.20} x post noise {0, 0.15} = 12 configurations, `--heat-worlds` worlds each;
each world draws its views per batch once from {200, 1,000, 10,000, 100,000}. `--looks` looks (30); any
winner at any look is a false winner (all creatives are equal).
  organic: at look j every creative gets one new post (its own noise draw), live 2 h after the previous
           look's, and the rule looks 24 h after the newest post went live (the first post is 24 + 2(j-1) h
           old; all posts stay in one fair cell). The cumulative frame of posts goes through score_posts
           (default rules) and winners.decide (default WinnerRule()); a winner is decision == "winner".
  paid:    at look j (day j) every arm gets one ad-day batch of impressions (its own noise draw), spend at
           $5 per 1,500 impressions, hours live 24 j; the days go through stats.arms.from_days (what
           ads.evidence.paid_winners builds: day-to-day overdispersion, priors from the other arms) and
           PAID_RULE.
  dead_heat_false_winner_rate_organic / _paid   share of worlds with a winner at any look (target at most
                       0.05), `*_se` the binomial standard error, `dead_heat_worlds` worlds per rule;
  dead_heat_by_config  the two rates per (k, base rate, post noise), and `dead_heat_first_look_*` the median
                       look of the false winners.

Part 3, factor effects: benchmarks/factor_coverage.py at nominal 90% with `--factor-worlds` worlds per
configuration; its keys (factor_coverage_min: target at least 0.88, factor_coverage95_min, factor_bias_extreme)
are copied here.
`seconds` is the wall time of the run. Progress goes to stderr, one JSON object is the last line of stdout.
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

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from actp_pipeline.ads.evidence import PAID_RULE  # noqa: E402
from actp_pipeline.score.cells import CELL  # noqa: E402
from actp_pipeline.score.scores import ScoringRules, score_posts  # noqa: E402
from actp_pipeline.score.winners import WinnerRule, decide  # noqa: E402
from actp_pipeline.stats.arms import from_days  # noqa: E402
from benchmarks.factor_coverage import run_factor_coverage  # noqa: E402

BASE_RATES = (0.01, 0.05, 0.20)
POST_NOISE = (0.0, 0.05, 0.15, 0.2)
CREATIVES = (1, 2, 8)
VIEWS = (200, 1_000, 10_000, 100_000)
HEAT_K = (2, 8)
HEAT_NOISE = (0.0, 0.15)
PRICE_PER_IMPRESSION = 5.0 / 1500.0
T0 = pd.Timestamp("2026-01-05T00:00", tz="UTC")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def noise_draws(rng: np.random.Generator, sd: float, shape) -> np.ndarray:
    """Mean-one lognormal multipliers with sd of log `sd` (1 when sd = 0)."""
    return np.exp(rng.normal(-(sd**2) / 2.0, sd, shape)) if sd > 0 else np.ones(shape)


def latest_frame(world: np.ndarray, creative: np.ndarray, views: np.ndarray, eng: np.ndarray, live_h: np.ndarray,
                 hours_live: np.ndarray, platform="tiktok") -> pd.DataFrame:
    """The frame measure/latest.py returns, one row per post; world w is account "w<w>" (one fair cell when
    its live times are within the comparison window), post i is "p<i>" (its row number)."""
    n = len(views)
    acc = pd.Series(world).astype(str).radd("w")
    post = pd.Series(np.arange(n)).astype(str).radd("p")
    live = T0 + pd.to_timedelta(live_h, unit="h")
    hours = np.asarray(hours_live, dtype=float)
    views = np.asarray(views, dtype=np.int64)
    return pd.DataFrame({
        "post_id": post, "variant_id": acc + "-c" + pd.Series(creative).astype(str), "platform": platform,
        "account": acc, "idempotency_key": post, "live_at": live,
        "last_snapshot_at": live + pd.to_timedelta(hours, unit="h"),
        "hours_live": hours, "snapshots": 1, "views": views, "likes": np.asarray(eng, dtype=np.int64), "comments": 0,
        "shares": 0, "saves": 0, "watch_time_s": 0.0, "velocity": views / np.maximum(hours, 1.0)})


def row_of(post_id: pd.Series) -> np.ndarray:
    return post_id.str[1:].astype(np.int64).to_numpy()


# ------------------------------------------------------------------------------------------ coverage
def coverage_worlds(args, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Posts of every world of every grid cell, as flat arrays (one entry per post)."""
    parts, first_world = [], 0
    grid = list(itertools.product(BASE_RATES, POST_NOISE, CREATIVES, VIEWS))
    for g, (base, sd, k, v) in enumerate(grid):
        W = args.worlds * max(8 // k, 4)  # as many creatives per cell as k = 1 has, and 4x the best creatives
        rates = 1.0 / (1.0 + np.exp(-(math.log(base / (1 - base)) + rng.normal(0.0, args.spread, (W, k)))))
        posts = rng.integers(1, 4, (W, k))
        c_world = np.repeat(np.arange(W), k)
        c_idx = np.tile(np.arange(k), W)
        m = posts.ravel()
        p_world, p_creative = np.repeat(c_world, m), np.repeat(c_idx, m)
        true = rates[p_world, p_creative]
        n = len(true)
        eng = rng.binomial(v, np.clip(true * noise_draws(rng, sd, n), 0.0, 1.0))
        parts.append({"grid": np.full(n, g), "group": np.full(n, f"b{base:g}-sd{sd:g}"), "world": p_world + first_world, "creative": p_creative, "true": true,
                      "best": p_creative == rates.argmax(axis=1)[p_world], "views": np.full(n, v), "eng": eng})
        first_world += W
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    out["live_h"] = rng.uniform(0.0, 10.0, len(out["views"]))
    out["grid_cells"] = np.array(grid, dtype=object)
    return out


def cell_rates(hit: np.ndarray, grid: np.ndarray, world: np.ndarray, n_grid: int) -> tuple[np.ndarray, np.ndarray]:
    """(share of hits, its standard error clustered by world) per grid cell."""
    n = np.bincount(grid, minlength=n_grid).astype(float)
    rate = np.bincount(grid, weights=hit, minlength=n_grid) / np.maximum(n, 1)
    w_hit = np.bincount(world, weights=hit)
    w_n = np.bincount(world).astype(float)
    w_grid = np.zeros(len(w_n), dtype=np.int64)
    w_grid[world] = grid
    resid = (w_hit - rate[w_grid] * w_n) ** 2
    clusters = np.bincount(w_grid, weights=w_n > 0, minlength=n_grid)
    var = np.bincount(w_grid, weights=resid, minlength=n_grid) * clusters / np.maximum(clusters - 1, 1)
    se = np.sqrt(var) / np.maximum(n, 1)
    return rate, se


def summarize_coverage(prefix: str, hit: np.ndarray, mask: np.ndarray, grid: np.ndarray, world: np.ndarray,
                       cells: np.ndarray) -> dict:
    """min / mean / max / argmin cell / se of the per-grid-cell share of `hit` over the rows in `mask`."""
    rate, se = cell_rates(hit[mask].astype(float), grid[mask], world[mask], len(cells))
    i = int(np.argmin(rate))
    b, sd, k, v = cells[i]
    return {f"{prefix}_min": _r(rate[i]), f"{prefix}_mean": _r(rate.mean()), f"{prefix}_max": _r(rate.max()),
            f"{prefix}_min_se": _r(se[i]),
            f"{prefix}_min_cell": {"base_rate": b, "post_noise_sd": sd, "creatives": k, "views_per_post": v}}


def run_coverage(args, rng: np.random.Generator) -> dict:
    w = coverage_worlds(args, rng)
    cells = w["grid_cells"]
    log(f"coverage: {len(cells)} grid cells x {args.worlds} x max(8 / k, 4) worlds, {len(w['views']):,} posts")
    frame = latest_frame(w["world"], w["creative"], w["views"], w["eng"], w["live_h"], np.full(len(w["views"]), 48.0),
                         platform=w["group"])
    out = {}
    for mass, prefix in ((0.95, "coverage"), (0.90, "coverage90")):
        t = time.monotonic()
        rules = ScoringRules() if mass == ScoringRules().credible_mass else ScoringRules(credible_mass=mass)
        scored = score_posts(frame, rules)
        if len(scored[CELL].drop_duplicates()) != w["world"].max() + 1:
            raise RuntimeError("a world was split over several fair cells")
        if not np.allclose(scored["credible_mass"], mass):
            raise RuntimeError(f"score_posts reported intervals at {scored['credible_mass'].iloc[0]}, not {mass}")
        rows = row_of(scored["post_id"])
        true = w["true"][rows]
        hit = ((scored["er_low"].to_numpy() <= true) & (true <= scored["er_high"].to_numpy())).astype(float)
        g, wd, best = w["grid"][rows], w["world"][rows], w["best"][rows]
        out.update(summarize_coverage(prefix, hit, np.ones(len(hit), bool), g, wd, cells))
        out.update(summarize_coverage(prefix + "_best", hit, best, g, wd, cells))
        one = ~scored["variant_id"].duplicated().to_numpy()  # one row per creative: its interval, once
        c_prefix = "creative_" + prefix
        out.update(summarize_coverage(c_prefix, hit, one, g, wd, cells))
        out.update(summarize_coverage(c_prefix + "_best", hit, one & best, g, wd, cells))
        if mass == 0.95:
            rate, se = cell_rates(hit, g, wd, len(cells))
            worst = np.argsort(rate)[:5]
            out["coverage_worst_cells"] = [
                {"base_rate": cells[i][0], "post_noise_sd": cells[i][1], "creatives": cells[i][2],
                 "views_per_post": cells[i][3], "coverage": _r(rate[i]), "se": _r(se[i])} for i in worst]
            sd_of = np.array([c[1] for c in cells])
            out["coverage_by_noise"] = {str(sd): _r(rate[sd_of == sd].mean()) for sd in POST_NOISE}
            out["coverage_posts"] = int(len(hit))
            out["coverage_creatives"] = int(one.sum())
            out["scoring_post_noise_by_platform"] = {k: v for k, v in scored.attrs.get("spread", {}).items()}
        log(f"  score_posts at {mass:.2f}: {time.monotonic() - t:.1f} s, {prefix}_min {out[prefix + '_min']}, "
            f"{prefix}_best_min {out[prefix + '_best_min']}")
    return out


# ----------------------------------------------------------------------------------------- dead heats
def heat_batches(rng: np.random.Generator, W: int, k: int, base: float, sd: float,
                 looks: int) -> tuple[np.ndarray, np.ndarray]:
    """(views, engagements), each (W, k, looks): one batch per creative per look, equal true rates."""
    v = rng.choice(np.array(VIEWS), W)[:, None, None] * np.ones((1, k, looks), dtype=np.int64)
    eng = rng.binomial(v, np.clip(base * noise_draws(rng, sd, v.shape), 0.0, 1.0))
    return v, eng


def organic_false_winners(v: np.ndarray, eng: np.ndarray, seed: int) -> np.ndarray:
    """Per world, the first look (1-based) at which winners.decide names a winner, 0 if never."""
    W, k, looks = v.shape
    first = np.zeros(W, dtype=np.int64)
    for j in range(1, looks + 1):
        active = np.flatnonzero(first == 0)
        if active.size == 0:
            break
        world = np.repeat(active, k * j)
        creative = np.tile(np.repeat(np.arange(k), j), active.size)
        look = np.tile(np.tile(np.arange(j), k), active.size)
        live_h = 2.0 * look
        frame = latest_frame(world, creative, v[world, creative, look], eng[world, creative, look], live_h,
                             24.0 + 2.0 * (j - 1) - live_h)
        decided = decide(score_posts(frame, ScoringRules(), seed=seed + j), WinnerRule(), seed=seed + j)
        won = decided.loc[decided["decision"] == "winner", "account"].unique()
        first[pd.Series(won).str[1:].astype(np.int64).to_numpy()] = j
    return first


def paid_false_winners(v: np.ndarray, eng: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per world, the first look (day) at which PAID_RULE names a winner, 0 if never. Each world's days go
    through stats.arms.from_days (what ads.evidence.paid_winners does per learning campaign), all
    worlds of one look in one decide_many call."""
    W, k, looks = v.shape
    first = np.zeros(W, dtype=np.int64)
    for j in range(1, looks + 1):
        active = np.flatnonzero(first == 0)
        if active.size == 0:
            break
        imp, ev = v[active, :, :j].astype(float), eng[active, :, :j].astype(float)
        stats = from_days(imp, ev, np.full(active.size, 24.0 * j), imp.sum(axis=2) * PRICE_PER_IMPRESSION)
        d = PAID_RULE.decide_many(stats, rng)
        first[active[d.winner >= 0]] = j
    return first


def run_dead_heats(args, rng: np.random.Generator) -> dict:
    configs = list(itertools.product(HEAT_K, BASE_RATES, HEAT_NOISE))
    organic, paid, by_config = [], [], []
    for c, (k, base, sd) in enumerate(configs):
        t = time.monotonic()
        v, eng = heat_batches(rng, args.heat_worlds, k, base, sd, args.looks)
        o = organic_false_winners(v, eng, args.seed * 1000 + c * 50)
        p = paid_false_winners(v, eng, rng)
        organic.append(o)
        paid.append(p)
        by_config.append({"creatives": k, "base_rate": base, "post_noise_sd": sd,
                          "organic": _r((o > 0).mean()), "paid": _r((p > 0).mean())})
        log(f"dead heats {c + 1}/{len(configs)} k={k} base={base} sd={sd}: organic {(o > 0).mean():.3f}, "
            f"paid {(p > 0).mean():.3f} ({time.monotonic() - t:.1f} s)")
    o, p = np.concatenate(organic), np.concatenate(paid)
    out = {"dead_heat_worlds": int(len(o))}
    for name, first in (("organic", o), ("paid", p)):
        rate = float((first > 0).mean())
        out[f"dead_heat_false_winner_rate_{name}"] = _r(rate)
        out[f"dead_heat_false_winner_rate_{name}_se"] = _r(math.sqrt(rate * (1 - rate) / len(first)))
        hits = first[first > 0]
        out[f"dead_heat_first_look_median_{name}"] = _r(float(np.median(hits))) if hits.size else None
    out["dead_heat_by_config"] = by_config
    return out


def _r(x, nd=4):
    return None if x is None or not math.isfinite(float(x)) else round(float(x), nd)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worlds", type=int, default=300, help="worlds x max(8 / k, 4) per coverage grid cell (144 cells)")
    ap.add_argument("--heat-worlds", type=int, default=200, help="worlds per dead-heat configuration (12)")
    ap.add_argument("--looks", type=int, default=30, help="looks per dead-heat world")
    ap.add_argument("--factor-worlds", type=int, default=200, help="worlds per factor-effect configuration (9)")
    ap.add_argument("--spread", type=float, default=0.3, help="logit sd of creatives' true rates around the base")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="tiny run for the test (8 / 6 / 10 worlds, 6 looks)")
    args = ap.parse_args(argv)
    if args.quick:
        args.worlds, args.heat_worlds, args.looks, args.factor_worlds = 8, 6, 6, 10
    started = time.monotonic()
    n_grid = len(BASE_RATES) * len(POST_NOISE) * len(CREATIVES) * len(VIEWS)
    out = {"worlds_per_grid_cell": args.worlds, "grid_cells": n_grid,
           "scoring_default_credible_mass": ScoringRules().credible_mass,
           "scoring_post_noise_cv": ScoringRules().post_noise_cv}
    out.update(run_coverage(args, np.random.default_rng([args.seed, 1])))
    out.update(run_dead_heats(args, np.random.default_rng([args.seed, 2])))
    t = time.monotonic()
    factor = run_factor_coverage(worlds=args.factor_worlds, seed=args.seed, level=0.90)
    log(f"factor effects: {time.monotonic() - t:.1f} s, factor_coverage_min {factor.get('factor_coverage_min')}")
    out.update({k: v for k, v in factor.items() if k.startswith("factor_")})
    out["targets"] = {"coverage_min": [0.93, 0.97], "coverage_best_min": [0.93, 0.97],
                      "dead_heat_false_winner_rate_organic": 0.05, "dead_heat_false_winner_rate_paid": 0.05,
                      "factor_coverage_min": 0.88}
    out["config"] = {"looks": args.looks, "spread": args.spread, "seed": args.seed, "quick": args.quick,
                     "heat_worlds_per_config": args.heat_worlds, "factor_worlds_per_config": args.factor_worlds}
    out["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
