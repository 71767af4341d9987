"""Decision quality of the allocation modes on a grid of worlds with known truth, and earn-mode regret.

Run from the repo root:  .venv/bin/python benchmarks/decisions.py [--quick] [--worlds-per-cell 25] [--jobs 2]

Part 1, decisions (identify mode). The worlds come from a grid the estimator is not told about: base rate
{1%, 5%, 20%} x post noise {0, 0.05, 0.15, 0.2} (sd of log of a mean-one lognormal multiplier per post),
`--worlds-per-cell` worlds per grid cell. A world has `--arms` creatives (8) with true rates
expit(logit(base) + N(0, `--spread`)) (0.3). `--sandbox` adds the sandbox's own worlds (World(seed).true_appeal
of a 2 x 2 x 2 matrix, the sandbox's post noise) as one more grid cell.
A test runs in daily batches of `--daily-budget` impressions (15,000: the original system's $50/day cap at
"$5 = 1,500 impressions"). The policy (actp_pipeline.stats, the code the pipeline runs) splits the day over
the creatives; each creative's impressions of the day go out as ceil(n / `--post-impressions`) equal posts,
each with its own noise draw: engagements ~ Binomial(views, clip(rate x multiplier, 0, 0.9)). The estimator
is not told the world's noise: each day the state is built as the paid test builds it
(stats.arms.from_days, as ads.evidence.paid_winners does: the arm-days are the units whose spread beyond
binomial noise is estimated and discounts the evidence; each arm's prior comes from the other arms). The common stopping rule
(StoppingRule(confidence=--confidence).decide_many) is applied once per day; a world stops at its first
winner or after `--max-days` days.

Keys (ours = identify mode, top-two Thompson; `policies` has the same figures for every policy):
  p_correct_winner        among decided worlds: share whose winner is the true best (target >= 0.95)
  p_correct_all_worlds    share of ALL worlds with a correct winner (no decision counts as a miss)
  no_decision_rate        share of worlds without a winner within the horizon
  wrong_winner_rate_noise_015   share of the worlds at post noise 0.15 with a wrong winner (target <= 0.02)
  budget_ratio_vs_equal_accuracy_fixed   mean impressions to decision over ours' decided worlds / N, where N
                          is the smallest fixed horizon (whole days of the same daily budget, uniform split,
                          the highest observed rate at N is picked) whose accuracy on the same decided worlds
                          (same true rates, `--fixed-reps` replicate paths) reaches ours' accuracy there
                          (target <= 0.6). If no N up to `--fixed-max-days` gets there, the figure is the
                          bound over that horizon and `fixed_horizon_reached` is false.
  regret_ratio_vs_fixed_rule (+ `_median` of per-world ratios)  cumulative regret over the same horizon
                          (max_days x daily_budget impressions; after a decision every impression goes to the
                          declared winner, so a wrong winner keeps costing), ours / the original fixed rule
  by_grid_cell            ours' figures per (base rate, post noise)
Part 2, earn mode vs plain Thompson sampling on standard Bernoulli bandits (no stopping, no post noise):
  `--bandit-worlds` runs per setting, `--bandit-batches` batches of `--bandit-batch` impressions; settings are
  2, 5 and 10 arms at 5% vs 4.5% (and a spread of 10 arms from 5% down). Regret = sum of impressions x gap.
  Earn mode is make_policy("earn", --earn-floor): Thompson sampling whose floor decays as
  floor / (1 + t)^--earn-decay (1: the pipeline's default); plain Thompson has no floor.
  regret_ratio_vs_thompson        earn mode's mean regret / plain Thompson's (floor 0), pooled over settings
                                  as the mean of the per-setting ratios (target <= 1.1)
  regret_ratio_vs_thompson_median median over all runs of the per-run ratios (run i of both policies shares
                                  its simulation seed)
  bandit_settings                 per setting: both ratios, and top-two Thompson's (identify mode kept on
                                  after a decision) for comparison.
Progress goes to stderr, one JSON object is the last line of stdout.
"""

from __future__ import annotations

import os
import sys

# benchmarks/ holds a queue.py: drop this directory from sys.path before multiprocessing imports the
# stdlib `queue`, and put the repo root there instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
ROOT = os.path.dirname(_HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing as mp  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402

import numpy as np  # noqa: E402

from actp_pipeline import creative  # noqa: E402
from actp_pipeline.stats.arms import ArmStats, from_days  # noqa: E402
from actp_pipeline.stats.bandits import FixedRule, Thompson, make_policy  # noqa: E402
from actp_pipeline.stats.stopping import StoppingRule  # noqa: E402

OURS = "identify"
BASELINE = "fixed_rule"
POLICIES = ("identify", "thompson", "fixed_rule", "uniform")
PLATFORM = "tiktok"
PRICE_PER_IMPRESSION = 5.0 / 1500.0  # the original system's "$5 = 1,500 impressions"
BASE_RATES = (0.01, 0.05, 0.20)
POST_NOISE = (0.0, 0.05, 0.15, 0.2)
SANDBOX = -1.0  # the post-noise label of the sandbox's worlds
BANDIT_SETTINGS = {  # standard Bernoulli settings: best 5% against close rivals
    "k2_5.0_vs_4.5": [0.05, 0.045],
    "k5_5.0_vs_4.5": [0.05] + [0.045] * 4,
    "k10_5.0_vs_4.5": [0.05] + [0.045] * 9,
    "k10_5.0_down_to_3.2": list(np.round(np.linspace(0.05, 0.032, 10), 4)),
}


# ------------------------------------------------------------------------------------------ worlds
def grid_worlds(args) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true rates (W, k), post noise sd (W,), base rate (W,)) of the grid's worlds, seeded."""
    rng = np.random.default_rng([args.world_seed, 1])
    rates, noise, base = [], [], []
    for b, s in itertools.product(args.base_rates, args.post_noise):
        z = math.log(b / (1 - b)) + rng.normal(0.0, args.spread, (args.worlds_per_cell, args.arms))
        rates.append(1.0 / (1.0 + np.exp(-z)))
        noise += [s] * args.worlds_per_cell
        base += [b] * args.worlds_per_cell
    if args.sandbox:
        from actp_pipeline.sandbox.world import POST_ER_NOISE_SD

        seeds = range(args.world_seed, args.world_seed + args.worlds_per_cell)
        rates.append(np.array([sandbox_arms(s, args.arms) for s in seeds]))
        noise += [POST_ER_NOISE_SD] * args.worlds_per_cell
        base += [SANDBOX] * args.worlds_per_cell
    return np.vstack(rates), np.array(noise), np.array(base)


def sandbox_arms(seed: int, k: int) -> np.ndarray:
    """True engagement rates of k creatives of one sandbox world, picked like a 2 x 2 x 2 (x formats) matrix."""
    from actp_pipeline.sandbox.world import World, WorldConfig

    world = World(WorldConfig(seed=seed))
    rng = np.random.default_rng([seed, 20260101])
    hooks = list(rng.choice(creative.HOOK_PATTERNS, 2, replace=False))
    angles = list(rng.choice(creative.ANGLES, 2, replace=False))
    ctas = list(rng.choice(creative.CTA_STYLES, 2, replace=False))
    formats = list(rng.permutation(creative.FORMATS))
    combos = [(h, a, c, f) for f, h, a, c in itertools.product(formats, hooks, angles, ctas)][:k]
    out = []
    for h, a, c, f in combos:
        length_s = creative.DEFAULT_LENGTH_S["medium"]
        d = {"hook_pattern": str(h), "angle": str(a), "cta_style": str(c), "format": str(f), "length_s": length_s,
             "variant_id": creative.variant_id(str(h), str(a), str(c), str(f), length_s, world.config.topic)}
        out.append(world.true_appeal(d, PLATFORM)["true_er"])
    return np.array(out)


def observe(n: np.ndarray, p: np.ndarray, sd: np.ndarray, post_impressions: int, rng: np.random.Generator) -> np.ndarray:
    """Engagements of one day: each arm's n impressions as ceil(n / post_impressions) equal posts, each with
    its own mean-one lognormal multiplier (sd per world), binomial engagements per post."""
    posts = np.maximum(np.ceil(n / post_impressions), 1).astype(np.int64)
    m = int(posts.max()) if posts.size else 1
    j = np.arange(m)
    size = np.where(j < posts[..., None], (n[..., None] // posts[..., None]) + (j < n[..., None] % posts[..., None]), 0)
    s = sd[:, None, None]
    mult = np.exp(rng.normal(0.0, 1.0, (*n.shape, m)) * s - s**2 / 2.0)
    return rng.binomial(size, np.clip(p[..., None] * mult, 0.0, 0.9)).sum(axis=-1)


def evidence_stats(day_imp: np.ndarray, day_ev: np.ndarray, hours: np.ndarray) -> ArmStats:
    """The state of each world from its arm-days (W, k, days), as the paid test builds it (arms.from_days):
    overdispersion estimated per world, priors from the world's other arms."""
    return from_days(day_imp, day_ev, hours, day_imp.sum(axis=2) * PRICE_PER_IMPRESSION)


# -------------------------------------------------------------------------------- part 1: decisions
def simulate(task: tuple) -> dict:
    """One policy on a chunk of worlds under the stopping rule; every array is per world of the chunk."""
    _, name, p, sd, args_dict, seed = task
    args = argparse.Namespace(**args_dict)
    W, k = p.shape
    policy = make_policy(name, args.floor)
    rule, original = StoppingRule(confidence=args.confidence, margin=args.margin), FixedRule()
    sim_rng, pol_rng, stop_rng = (np.random.default_rng([seed, i]) for i in (1, 2, 3))
    IMP, EV, hours = np.zeros((W, k)), np.zeros((W, k)), np.zeros((W, k))
    DAY_IMP, DAY_EV = np.zeros((W, k, args.max_days)), np.zeros((W, k, args.max_days))
    first_day = np.full((W, k), -1)
    gap = p.max(axis=1, keepdims=True) - p
    active = np.ones(W, dtype=bool)
    winner, day_of, orig_pick = np.full(W, -1), np.full(W, -1), np.full(W, -1)
    spent, regret, orig_spent = np.zeros(W), np.zeros(W), np.zeros(W)
    last_code = np.full(W, "", dtype=object)
    for day in range(1, args.max_days + 1):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        state = (evidence_stats(DAY_IMP[idx, :, :day - 1], DAY_EV[idx, :, :day - 1], hours[idx]) if day > 1
                 else ArmStats.from_arrays(EV[idx], IMP[idx], IMP[idx], EV[idx], hours[idx]))
        n = policy.allocate_many(state, args.daily_budget, pol_rng)
        got = observe(n, p[idx], sd[idx], args.post_impressions, sim_rng)
        DAY_IMP[idx, :, day - 1], DAY_EV[idx, :, day - 1] = n, got
        EV[idx] += got
        IMP[idx] += n
        fd = first_day[idx]
        fd[(fd < 0) & (n > 0)] = day
        first_day[idx] = fd
        hours[idx] = np.where(fd > 0, 24.0 * (day - fd + 1), 0.0)
        regret[idx] += (n * gap[idx]).sum(axis=1)
        stats = evidence_stats(DAY_IMP[idx, :, :day], DAY_EV[idx, :, :day], hours[idx])
        d = rule.decide_many(stats, stop_rng)
        last_code[idx] = d.code
        new = np.asarray(d.winner) >= 0
        winner[idx[new]] = np.asarray(d.winner)[new]
        day_of[idx[new]] = day
        spent[idx[new]] = IMP[idx[new]].sum(axis=1)
        active[idx[new]] = False
        if name == BASELINE:  # the original system's own winner pick, on its own data
            chosen = original.winners(stats)
            take = (orig_pick[idx] < 0) & chosen.any(axis=1)
            cost = np.where(chosen, IMP[idx] / np.maximum(EV[idx], 1e-12), np.inf)
            orig_pick[idx[take]] = cost.argmin(axis=1)[take]
            orig_spent[idx[take]] = IMP[idx[take]].sum(axis=1)
    horizon = args.max_days * args.daily_budget
    decided = winner >= 0
    regret[decided] += (horizon - spent[decided]) * gap[np.flatnonzero(decided), winner[decided]]
    spent[~decided] = horizon
    return {"kind": "decide", "name": name, "seed": seed, "winner": winner, "day": day_of, "spent": spent,
            "regret": regret, "last_code": last_code, "orig_pick": orig_pick, "orig_spent": orig_spent}


def fixed_horizon(task: tuple) -> dict:
    """Uniform split every day, no stopping: (reps, W, days) whether the highest observed rate is the true best."""
    _, p, sd, args_dict, seed = task
    args = argparse.Namespace(**args_dict)
    W, k = p.shape
    rng = np.random.default_rng([seed, 7])
    best = p.argmax(axis=1)
    n = np.tile(np.full(k, args.daily_budget // k) + (np.arange(k) < args.daily_budget % k), (W, 1))
    correct = np.zeros((args.fixed_reps, W, args.fixed_max_days), dtype=bool)
    for r in range(args.fixed_reps):
        imp, ev = np.zeros((W, k)), np.zeros((W, k))
        perm = np.argsort(rng.random((W, k)), axis=1)  # who gets the remainder impression: random, fixed per path
        n_r = np.take_along_axis(n, perm, axis=1)
        for day in range(args.fixed_max_days):
            ev += observe(n_r, p, sd, args.post_impressions, rng)
            imp += n_r
            rate = ev / imp + rng.random((W, k)) * 1e-12  # random tie-break
            correct[r, :, day] = rate.argmax(axis=1) == best
    return {"kind": "fixed", "seed": seed, "correct": correct}


# ------------------------------------------------------------------------------ part 2: earn regret
def bandit(task: tuple) -> dict:
    """Regret of one policy on `worlds` runs of one Bernoulli setting; run i's simulation seed is shared by
    every policy (common random numbers as far as the allocations agree)."""
    _, setting, name, rates, args_dict, seed = task
    args = argparse.Namespace(**args_dict)
    p = np.tile(np.asarray(rates, dtype=float), (args.bandit_worlds, 1))
    if name == "thompson":
        policy = Thompson(floor=0.0)
    elif name == "earn":
        policy = dataclasses.replace(make_policy("earn", args.earn_floor), decay=args.earn_decay)
    else:
        policy = make_policy(name, args.floor)
    sim_rng, pol_rng = np.random.default_rng([seed, 11]), np.random.default_rng([seed, 12])
    succ, trials = np.zeros_like(p), np.zeros_like(p)
    gap = p.max(axis=1, keepdims=True) - p
    regret = np.zeros(p.shape[0])
    for _ in range(args.bandit_batches):
        n = policy.allocate_many(ArmStats.from_arrays(succ, trials), args.bandit_batch, pol_rng)
        succ += sim_rng.binomial(n, p)
        trials += n
        regret += (n * gap).sum(axis=1)
    return {"kind": "bandit", "setting": setting, "name": name, "regret": regret}


def run(task: tuple) -> dict:
    return {"decide": simulate, "fixed": fixed_horizon, "bandit": bandit}[task[0]](task)


# ------------------------------------------------------------------------------------------ summary
def _median(x) -> float | None:
    x = np.asarray(x, dtype=float)
    return None if x.size == 0 else float(np.median(x))


def _r(x, nd=4):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else round(float(x), nd)


def _ratio_median(num: np.ndarray, den: np.ndarray) -> float | None:
    ok = den > 0
    return _r(_median(num[ok] / den[ok])) if ok.any() else None


def summarize(res: dict, p: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """Decision figures of one policy, over the worlds of `mask` (all by default)."""
    mask = np.ones(len(p), dtype=bool) if mask is None else mask
    best = p[mask].argmax(axis=1)
    winner, spent = res["winner"][mask], res["spent"][mask]
    decided = winner >= 0
    correct = winner == best
    codes, counts = np.unique(res["last_code"][mask][~decided].astype(str), return_counts=True)
    return {
        "worlds": int(mask.sum()),
        "p_correct_winner": _r(correct.sum() / max(decided.sum(), 1)),
        "p_correct_all_worlds": _r(correct.mean()),
        "no_decision_rate": _r(1.0 - decided.mean()),
        "wrong_winner_rate": _r((decided & ~correct).mean()),
        "mean_impressions_to_decision": _r(spent[decided].mean(), 0) if decided.any() else None,
        "median_impressions_to_decision": _median(spent[decided]),
        "median_days_to_decision": _median(res["day"][mask][decided]),
        "mean_regret_engagements": _r(res["regret"][mask].mean(), 1),
        "median_regret_engagements": _r(_median(res["regret"][mask]), 1),
        "undecided_last_reason": {str(c): int(n) for c, n in zip(codes, counts)},
    }


def equal_accuracy_fixed(ours: dict, p: np.ndarray, correct: np.ndarray, daily_budget: int) -> dict:
    """The smallest fixed horizon (whole days, uniform) as accurate as ours on ours' decided worlds."""
    decided = ours["winner"] >= 0
    if not decided.any():
        return {"budget_ratio_vs_equal_accuracy_fixed": None, "fixed_horizon_reached": False}
    target = float((ours["winner"][decided] == p[decided].argmax(axis=1)).mean())
    acc = correct[:, decided, :].mean(axis=(0, 1))
    hit = np.flatnonzero(acc >= target - 1e-12)
    days = int(hit[0]) + 1 if hit.size else correct.shape[2]
    mean_spent = float(ours["spent"][decided].mean())
    return {"budget_ratio_vs_equal_accuracy_fixed": _r(mean_spent / (days * daily_budget)),
            "fixed_horizon_reached": bool(hit.size), "fixed_horizon_days": days,
            "fixed_horizon_impressions": days * daily_budget, "accuracy_to_match": _r(target),
            "fixed_accuracy_at_horizon_days": {str(d): _r(float(acc[d - 1])) for d in (1, 3, 7, 14, 30, 60, 90, 180, 270)
                                               if d <= len(acc)},
            "identify_mean_impressions_to_decision": _r(mean_spent, 0)}


def bandit_summary(bandits: dict) -> dict:
    """Earn (and identify kept on) regret against plain Thompson, per setting and pooled."""
    per, ratios_mean, all_ratios = {}, [], []
    for setting in BANDIT_SETTINGS:
        ts = bandits[(setting, "thompson")]
        row = {"thompson_mean_regret": _r(ts.mean(), 1)}
        for name in ("earn", "identify"):
            r = bandits[(setting, name)]
            row[f"{name}_mean_regret"] = _r(r.mean(), 1)
            row[f"{name}_regret_ratio_vs_thompson"] = _r(r.mean() / ts.mean())
            row[f"{name}_regret_ratio_vs_thompson_median"] = _ratio_median(r, ts)
        per[setting] = row
        ratios_mean.append(bandits[(setting, "earn")].mean() / ts.mean())
        ok = ts > 0
        all_ratios.append(bandits[(setting, "earn")][ok] / ts[ok])
    return {"regret_ratio_vs_thompson": _r(float(np.mean(ratios_mean))),
            "regret_ratio_vs_thompson_worst_setting": _r(float(np.max(ratios_mean))),
            "regret_ratio_vs_thompson_median": _r(_median(np.concatenate(all_ratios))),
            "bandit_settings": per}


# --------------------------------------------------------------------------------------------- main
def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smaller run (< 60 s): fewer worlds, shorter horizons")
    ap.add_argument("--worlds-per-cell", type=int, default=25)
    ap.add_argument("--base-rates", type=lambda s: [float(x) for x in s.split(",")], default=list(BASE_RATES))
    ap.add_argument("--post-noise", type=lambda s: [float(x) for x in s.split(",")], default=list(POST_NOISE))
    ap.add_argument("--spread", type=float, default=0.3, help="sd of the creatives' logit rates around the base")
    ap.add_argument("--arms", type=int, default=8)
    ap.add_argument("--sandbox", action="store_true", help="add the sandbox's own worlds as one more grid cell")
    ap.add_argument("--daily-budget", type=int, default=15_000, help="impressions per daily batch, all arms")
    ap.add_argument("--post-impressions", type=int, default=5_000, help="views per post (one post-noise draw)")
    ap.add_argument("--max-days", type=int, default=90)
    ap.add_argument("--fixed-max-days", type=int, default=None, help="fixed-horizon search limit (3 x max-days)")
    ap.add_argument("--fixed-reps", type=int, default=2, help="replicate uniform paths per world for the search")
    ap.add_argument("--confidence", type=float, default=StoppingRule().confidence, help="the stopping rule's (default: the pipeline's)")
    ap.add_argument("--margin", type=float, default=StoppingRule().margin, help="the stopping rule's practical margin (default: the pipeline's)")
    ap.add_argument("--floor", type=float, default=0.05, help="exploration floor of the identify-mode policies")
    ap.add_argument("--earn-floor", type=float, default=0.1, help="initial floor of earn mode (decays)")
    ap.add_argument("--earn-decay", type=float, default=1.0, help="earn floor = floor / (1 + t)^decay")
    ap.add_argument("--bandit-worlds", type=int, default=150)
    ap.add_argument("--bandit-batches", type=int, default=300)
    ap.add_argument("--bandit-batch", type=int, default=2_000)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--chunks", type=int, default=2, help="world chunks per policy")
    ap.add_argument("--world-seed", type=int, default=1)
    ap.add_argument("--sim-seed", type=int, default=12345)
    if ap.parse_known_args()[0].quick:  # smaller defaults; flags given explicitly still win
        ap.set_defaults(worlds_per_cell=6, max_days=45, bandit_worlds=48, bandit_batches=150)
    args = ap.parse_args()
    args.fixed_max_days = args.fixed_max_days or 3 * args.max_days
    return args


def tasks_for(args, p: np.ndarray, sd: np.ndarray) -> list[tuple]:
    """Every simulation of the run: the slow ones first so the pool's tail is short."""
    conf = {k: v for k, v in vars(args).items()}
    chunks = np.array_split(np.arange(len(p)), max(1, args.chunks))
    tasks = [("decide", name, p[c], sd[c], conf, args.sim_seed + j) for name in POLICIES for j, c in enumerate(chunks)]
    tasks += [("bandit", s, name, rates, conf, args.sim_seed + i) for i, (s, rates) in enumerate(BANDIT_SETTINGS.items())
              for name in ("thompson", "earn", "identify")]
    tasks.append(("fixed", p, sd, conf, args.sim_seed))
    return tasks


def execute(args, tasks: list[tuple]) -> list[dict]:
    started = time.monotonic()
    out = []
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as ex:
            for r in ex.map(run, tasks):
                out.append(r)
                print(f"  done {r['kind']} {r.get('name', '')} {r.get('setting', '')} "
                      f"{time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    else:
        out = [run(t) for t in tasks]
    return out


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    p, sd, base = grid_worlds(args)
    print(f"{len(p)} worlds x {args.arms} creatives; {len(BANDIT_SETTINGS)} bandit settings", file=sys.stderr, flush=True)
    results = execute(args, tasks_for(args, p, sd))
    by_name: dict[str, list[dict]] = {}
    for r in sorted((r for r in results if r["kind"] == "decide"), key=lambda r: r["seed"]):
        by_name.setdefault(r["name"], []).append(r)
    merged = {n: {key: np.concatenate([r[key] for r in rs]) for key in rs[0] if key not in ("kind", "name", "seed")}
              for n, rs in by_name.items()}
    correct = next(r["correct"] for r in results if r["kind"] == "fixed")
    bandits = {(r["setting"], r["name"]): r["regret"] for r in results if r["kind"] == "bandit"}
    per_policy = {n: summarize(m, p) for n, m in merged.items()}
    ours, fixed = merged[OURS], merged[BASELINE]
    noisy = np.isclose(sd, 0.15) & (base != SANDBOX)
    by_cell = {f"base={b:g},noise={s:g}" if b != SANDBOX else f"sandbox,noise={s:g}":
               summarize(ours, p, (base == b) & (sd == s)) for b, s in dict.fromkeys(zip(base, sd))}
    orig_decided, orig_correct = fixed["orig_pick"] >= 0, fixed["orig_pick"] == p.argmax(axis=1)
    srt = np.sort(p, axis=1)[:, ::-1]
    out = {
        "worlds": len(p), "policy": OURS,
        "p_correct_winner": per_policy[OURS]["p_correct_winner"],
        "wrong_winner_rate_noise_015": _r((((ours["winner"] >= 0) & (ours["winner"] != p.argmax(axis=1)))[noisy]).mean())
        if noisy.any() else None,
        **equal_accuracy_fixed(ours, p, correct, args.daily_budget),
        **bandit_summary(bandits),
        "p_correct_all_worlds": per_policy[OURS]["p_correct_all_worlds"],
        "no_decision_rate": per_policy[OURS]["no_decision_rate"],
        "regret_ratio_vs_fixed_rule": _r(ours["regret"].mean() / fixed["regret"].mean()),
        "regret_ratio_vs_fixed_rule_median": _ratio_median(ours["regret"], fixed["regret"]),
        "regret_ratio_vs_uniform": _r(ours["regret"].mean() / merged["uniform"]["regret"].mean()),
        "regret_ratio_vs_uniform_median": _ratio_median(ours["regret"], merged["uniform"]["regret"]),
        "targets": {"p_correct_winner": ">= 0.95", "wrong_winner_rate_noise_015": "<= 0.02",
                    "budget_ratio_vs_equal_accuracy_fixed": "<= 0.6", "regret_ratio_vs_thompson": "<= 1.1"},
        "policies": per_policy,
        "by_grid_cell": by_cell,
        "original_rule_own_winner": {  # the original system picking its top ad set as soon as the gates pass
            "p_correct_winner": _r(orig_correct.sum() / max(orig_decided.sum(), 1)),
            "no_decision_rate": _r(1.0 - orig_decided.mean()),
            "median_impressions_to_decision": _median(fixed["orig_spent"][orig_decided])},
        "worlds_detail": {"true_gap_best_vs_runner_up_quantiles": {
            q: _r(float(np.quantile(srt[:, 0] / srt[:, 1] - 1.0, float(q)))) for q in ("0.1", "0.25", "0.5", "0.75")}},
        "config": {k: v for k, v in vars(args).items() if k not in ("jobs", "chunks")}
        | {"estimator": "stats.arms.from_days: arm-days as units, day-to-day overdispersion estimated per world",
           "stopping_rule": "StoppingRule(confidence, margin), the other thresholds the pipeline's defaults",
           "bandit_settings": BANDIT_SETTINGS},
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
