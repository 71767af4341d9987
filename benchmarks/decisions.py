"""Decision quality of the allocation policies on sandbox worlds with known truth.

Run from the repo root:  .venv/bin/python benchmarks/decisions.py [--worlds 200] [--jobs 2]

For each seed s (the same seeds for every policy) the sandbox world `World(WorldConfig(seed=s))` is built
and k = 8 creatives are picked the way the factorial matrix would: 2 hook patterns x 2 angles x 2 CTA
styles (levels drawn per world) in one format, each with its own variant id (so each carries the world's
creative-level random effect). Each creative's TRUE engagement rate on TikTok comes from
`World.true_appeal` (evaluation code may read the truth; the policies never do).

A test runs in daily batches of `--daily-budget` impressions (default 15,000: the original system's
$50/day budget cap at its "$5 = 1,500 impressions" price). The policy splits the day over the 8 creatives
(actp_pipeline.stats, the same code the pipeline runs); each creative's impressions of the day go
out as posts (ad-days) of at most `--post-impressions` views, each with its own noise draw; a post's engagement rate is the true rate times the world's
mean-one lognormal post noise (sd world.POST_ER_NOISE_SD), engagements are binomial. The day's results
are added to the state as effective trials (arms.effective_trials, the scores.py discount for post
noise) and the common stopping rule (stopping.StoppingRule defaults: P(best) >= 0.95, 1,500 impressions,
3 core events, 24 h, beats the cell median by 15%) is applied once per day. A world stops at its first
winner or after `--max-days` days.

Figures, per policy (`policies`) and headline keys for ours (top-two Thompson, chosen before any run as
the policy meant for best-arm identification):
  worlds                  number of seeded worlds (each policy runs on all of them)
  p_correct_winner        among worlds where a winner was declared: share where it is the true best
  p_correct_all_worlds    share of ALL worlds with a correct winner (no decision counts as a miss)
  no_decision_rate        share of worlds without a winner within the horizon
  p_correct_*_gap_ge_5pct the same two among worlds whose true best beats the true runner-up by >= 5%
  regret_ratio_vs_fixed_rule  mean cumulative regret of ours / of the fixed rule. Regret is counted over the
                          same horizon for every policy (max_days x daily_budget impressions): sum over
                          impressions of (true best rate - true rate of the arm shown), in engagements; after
                          a decision every impression goes to the declared winner (the test is over and the
                          winner is scaled), so a wrong winner keeps costing.
  budget_ratio_vs_fixed_horizon_ab  per world, the impressions ours spent up to its decision divided by the
                          total of a fixed-horizon A/B/n test at 80% power for that world's true gap:
                          8 x fixed_horizon_ab_sample_size(p_runner_up, p_best/p_runner_up - 1, alpha=0.05,
                          power=0.8, arms=8) (two-proportion z-test, Bonferroni over the 7 comparisons of the
                          best with the others). The headline is the MEDIAN over ALL worlds, where a world
                          without a correct decision counts as infinitely expensive (so failures are not
                          dropped); `budget_ratio_median_over_correct_decisions` is the median over the worlds
                          decided correctly only. The A/B figure is the textbook binomial size: it ignores post
                          noise, which would make a real A/B test larger (`ab_post_noise_factor` says by how
                          much), and at 80% power it picks the true best less often than the bandit's 95% rule;
                          both make the comparison conservative for the bandit.
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
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing as mp  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402

import numpy as np  # noqa: E402

from actp_pipeline import creative  # noqa: E402
from actp_pipeline.stats.arms import ArmStats, effective_trials  # noqa: E402
from actp_pipeline.stats.bandits import FixedRule, make_policy  # noqa: E402
from actp_pipeline.stats.power import fixed_horizon_ab_sample_size  # noqa: E402
from actp_pipeline.stats.stopping import StoppingRule  # noqa: E402

OURS = "top_two_thompson"
BASELINE = "fixed_rule"
POLICIES = ("top_two_thompson", "thompson", "fixed_rule", "uniform")
PLATFORM = "tiktok"
MEANINGFUL_GAP = 0.05


def world_arms(seed: int, k: int) -> tuple[np.ndarray, list[dict]]:
    """True engagement rates of k creatives of one world, picked like a 2 x 2 x 2 (x formats) matrix."""
    from actp_pipeline.sandbox.world import World, WorldConfig

    world = World(WorldConfig(seed=seed))
    rng = np.random.default_rng([seed, 20260101])
    hooks = list(rng.choice(creative.HOOK_PATTERNS, 2, replace=False))
    angles = list(rng.choice(creative.ANGLES, 2, replace=False))
    ctas = list(rng.choice(creative.CTA_STYLES, 2, replace=False))
    formats = list(rng.permutation(creative.FORMATS))
    combos = [(h, a, c, f) for f, h, a, c in itertools.product(formats, hooks, angles, ctas)][:k]
    if len(combos) < k:
        raise ValueError(f"at most {len(formats) * 8} creatives per world")
    rates, descriptors = [], []
    for h, a, c, f in combos:
        length_s = creative.DEFAULT_LENGTH_S["medium"]
        d = {"hook_pattern": str(h), "angle": str(a), "cta_style": str(c), "format": str(f), "length_s": length_s,
             "variant_id": creative.variant_id(str(h), str(a), str(c), str(f), length_s, world.config.topic)}
        rates.append(world.true_appeal(d, PLATFORM)["true_er"])
        descriptors.append(d)
    return np.array(rates), descriptors


def simulate(task: tuple) -> dict:
    """Run one policy on a chunk of worlds; every array is per world of the chunk."""
    name, p, args_dict, seed = task
    args = argparse.Namespace(**args_dict)
    from actp_pipeline.sandbox.world import POST_ER_NOISE_SD

    W, k = p.shape
    policy = make_policy(name, args.floor)
    rule = StoppingRule(confidence=args.confidence)
    original = FixedRule()
    sim_rng = np.random.default_rng([seed, 1])
    pol_rng = np.random.default_rng([seed, 2])
    stop_rng = np.random.default_rng([seed, 3])
    S, T, IMP, EV = (np.zeros((W, k)) for _ in range(4))
    first_day = np.full((W, k), -1)
    hours = np.zeros((W, k))
    gap = p.max(axis=1, keepdims=True) - p
    active = np.ones(W, dtype=bool)
    winner = np.full(W, -1)
    day_of = np.full(W, -1)
    spent = np.zeros(W)
    regret = np.zeros(W)
    last_code = np.full(W, "", dtype=object)
    orig_pick = np.full(W, -1)
    orig_spent = np.zeros(W)
    sd = POST_ER_NOISE_SD
    started = time.monotonic()
    for day in range(1, args.max_days + 1):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        stats = ArmStats(S[idx], T[idx], IMP[idx], EV[idx], hours[idx])
        n = policy.allocate_many(stats, args.daily_budget, pol_rng)
        posts = np.maximum(np.ceil(n / args.post_impressions), 1.0)
        s = sd / np.sqrt(posts)  # the mean of m mean-one lognormal post effects, as one lognormal
        mult = np.exp(sim_rng.normal(-(s**2) / 2.0, s))
        e = sim_rng.binomial(n, np.clip(p[idx] * mult, 0.0, 0.9))
        n_eff, s_eff = effective_trials(n, e, posts, post_noise_cv=sd)
        S[idx] += s_eff
        T[idx] += n_eff
        IMP[idx] += n
        EV[idx] += e
        fd = first_day[idx]
        fd[(fd < 0) & (n > 0)] = day
        first_day[idx] = fd
        hours[idx] = np.where(fd > 0, 24.0 * (day - fd + 1), 0.0)
        regret[idx] += (n * gap[idx]).sum(axis=1)
        stats = ArmStats(S[idx], T[idx], IMP[idx], EV[idx], hours[idx])
        d = rule.decide_many(stats, stop_rng)
        last_code[idx] = d.code
        new = d.winner >= 0
        winner[idx[new]] = d.winner[new]
        day_of[idx[new]] = day
        spent[idx[new]] = IMP[idx[new]].sum(axis=1)
        active[idx[new]] = False
        if name == BASELINE:  # the original system's own winner pick, on its own data
            undecided = orig_pick[idx] < 0
            if undecided.any():
                chosen = original.winners(stats)
                with np.errstate(divide="ignore", invalid="ignore"):
                    cost = np.where(chosen, IMP[idx] / np.maximum(EV[idx], 1e-12), np.inf)
                top = np.where(chosen.any(axis=1), cost.argmin(axis=1), -1)
                take = undecided & (top >= 0)
                orig_pick[idx[take]] = top[take]
                orig_spent[idx[take]] = IMP[idx[take]].sum(axis=1)
        if day % 10 == 0 or not active.any():
            print(f"  {name} seed-chunk {seed}: day {day}, {int(active.sum())}/{W} undecided, "
                  f"{time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    horizon = args.max_days * args.daily_budget
    rows = np.arange(W)
    decided = winner >= 0
    regret_test = regret.copy()
    regret[decided] += (horizon - spent[decided]) * gap[rows[decided], winner[decided]]
    spent[~decided] = horizon
    return {"name": name, "seed": seed, "winner": winner, "day": day_of, "spent": spent, "regret": regret,
            "regret_test": regret_test, "last_code": last_code, "orig_pick": orig_pick, "orig_spent": orig_spent}


def _median(x) -> float | None:
    x = np.asarray(x, dtype=float)
    return None if x.size == 0 else float(np.median(x))


def _r(x, nd=4):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else round(float(x), nd)


def summarize(res: dict, p: np.ndarray, ab_total: np.ndarray) -> dict:
    best = p.argmax(axis=1)
    srt = np.sort(p, axis=1)[:, ::-1]
    meaningful = srt[:, 0] / srt[:, 1] - 1.0 >= MEANINGFUL_GAP
    winner, spent = res["winner"], res["spent"]
    decided = winner >= 0
    correct = winner == best
    ratio = np.where(correct, spent / ab_total, np.inf)
    codes, counts = np.unique(res["last_code"][~decided].astype(str), return_counts=True)
    return {
        "p_correct_winner": _r(correct.sum() / max(decided.sum(), 1)),
        "p_correct_all_worlds": _r(correct.mean()),
        "no_decision_rate": _r(1.0 - decided.mean()),
        "p_correct_winner_gap_ge_5pct": _r(correct[meaningful].sum() / max(decided[meaningful].sum(), 1)),
        "p_correct_all_worlds_gap_ge_5pct": _r(correct[meaningful].mean()),
        "wrong_winner_rate": _r((decided & ~correct).mean()),
        "median_impressions_to_decision": _median(spent[decided]),
        "median_impressions_to_correct_decision": _median(spent[correct]),
        "median_days_to_decision": _median(res["day"][decided]),
        "mean_regret_engagements": _r(res["regret"].mean(), 1),
        "mean_regret_during_test_engagements": _r(res["regret_test"].mean(), 1),
        "budget_ratio_vs_fixed_horizon_ab": _r(float(np.median(ratio))),
        "budget_ratio_median_over_correct_decisions": _r(_median(ratio[correct])),
        "undecided_last_reason": {str(c): int(n) for c, n in zip(codes, counts)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worlds", type=int, default=200)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--arms", type=int, default=8)
    ap.add_argument("--daily-budget", type=int, default=15_000, help="impressions per daily batch, all arms")
    ap.add_argument("--post-impressions", type=int, default=5_000, help="views per post (one post-noise draw)")
    ap.add_argument("--max-days", type=int, default=90)
    ap.add_argument("--confidence", type=float, default=0.95)
    ap.add_argument("--floor", type=float, default=0.05, help="exploration floor of the bandit policies")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--chunks", type=int, default=2, help="world chunks per policy (tasks = policies x chunks)")
    ap.add_argument("--sim-seed", type=int, default=12345)
    args = ap.parse_args()
    started = time.monotonic()
    seeds = list(range(args.first_seed, args.first_seed + args.worlds))
    print(f"building {len(seeds)} worlds x {args.arms} creatives", file=sys.stderr, flush=True)
    p = np.array([world_arms(s, args.arms)[0] for s in seeds])
    srt = np.sort(p, axis=1)[:, ::-1]
    true_gap = srt[:, 0] / srt[:, 1] - 1.0
    ab_per_arm = np.array([fixed_horizon_ab_sample_size(srt[i, 1], true_gap[i], alpha=0.05, power=0.8, arms=args.arms)
                           for i in range(len(seeds))], dtype=float)
    ab_total = ab_per_arm * args.arms
    pbar = srt[:, :2].mean(axis=1)
    from actp_pipeline.sandbox.world import POST_ER_NOISE_SD

    ab_noise = 1.0 + args.post_impressions * pbar * POST_ER_NOISE_SD**2 / (1.0 - pbar)  # design effect of posts
    chunks = np.array_split(np.arange(len(seeds)), max(1, args.chunks))
    tasks = [(name, p[c], vars(args), args.sim_seed + j) for name in POLICIES for j, c in enumerate(chunks)]
    print(f"running {len(POLICIES)} policies x {len(chunks)} chunks on {args.jobs} processes", file=sys.stderr, flush=True)
    results: dict[str, list[dict]] = {n: [None] * len(chunks) for n in POLICIES}  # type: ignore[list-item]
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as ex:
            for r in ex.map(simulate, tasks):
                results[r["name"]][r["seed"] - args.sim_seed] = r
    else:
        for t in tasks:
            r = simulate(t)
            results[r["name"]][r["seed"] - args.sim_seed] = r
    merged = {n: {key: np.concatenate([r[key] for r in rs]) for key in rs[0] if key not in ("name", "seed")}
              for n, rs in results.items()}
    per_policy = {n: summarize(m, p, ab_total) for n, m in merged.items()}
    fixed = merged[BASELINE]
    orig_decided = fixed["orig_pick"] >= 0
    orig_correct = fixed["orig_pick"] == p.argmax(axis=1)
    ours = per_policy[OURS]
    out = {
        "worlds": len(seeds),
        "policy": OURS,
        "p_correct_winner": ours["p_correct_winner"],
        "p_correct_all_worlds": ours["p_correct_all_worlds"],
        "no_decision_rate": ours["no_decision_rate"],
        "regret_ratio_vs_fixed_rule": _r(merged[OURS]["regret"].mean() / merged[BASELINE]["regret"].mean()),
        "regret_ratio_vs_uniform": _r(merged[OURS]["regret"].mean() / merged["uniform"]["regret"].mean()),
        "budget_ratio_vs_fixed_horizon_ab": ours["budget_ratio_vs_fixed_horizon_ab"],
        "targets": {"p_correct_winner": 0.95, "regret_ratio_vs_fixed_rule": 0.5, "budget_ratio_vs_fixed_horizon_ab": 0.5},
        "policies": per_policy,
        "original_rule_own_winner": {  # the original system picking its top ad set as soon as the gates pass
            "p_correct_winner": _r(orig_correct.sum() / max(orig_decided.sum(), 1)),
            "no_decision_rate": _r(1.0 - orig_decided.mean()),
            "median_impressions_to_decision": _median(fixed["orig_spent"][orig_decided]),
        },
        "worlds_detail": {
            "true_gap_best_vs_runner_up_quantiles": {q: _r(float(np.quantile(true_gap, float(q)))) for q in ("0.1", "0.25", "0.5", "0.75")},
            "share_gap_ge_5pct": _r((true_gap >= MEANINGFUL_GAP).mean()),
            "share_best_below_median_margin": _r((srt[:, 0] < np.median(p, axis=1) * 1.15).mean()),
            "median_ab_total_impressions": _median(ab_total),
            "share_ab_total_beyond_horizon": _r((ab_total > args.max_days * args.daily_budget).mean()),
            "ab_post_noise_factor_median": _r(float(np.median(ab_noise))),
        },
        "config": {"arms": args.arms, "daily_budget": args.daily_budget, "post_impressions": args.post_impressions,
                   "max_days": args.max_days, "horizon_impressions": args.max_days * args.daily_budget,
                   "confidence": args.confidence, "floor": args.floor, "seeds": [seeds[0], seeds[-1]],
                   "stopping_rule": "P(best)>=conf, 1500 impressions or $5, 3 core events, 24 h, P(ER > median x 1.15)>=conf"},
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
