"""Allocate: the next round's posts and ad dollars per creative, for every fair cell of the scored posts.

The frame-level glue between score/ and stats/: scored posts become one arm per creative per cell
(`arms_from_scores`), cells of the same size are stacked so a policy or the stopping rule runs over all of
them at once (`cells_by_size`), and the chosen bandit policy (stats/bandits.py) splits the round
(`allocate_next_round`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from actp_pipeline.score.cells import CELL
from actp_pipeline.score.scores import ScoringRules
from actp_pipeline.stats.arms import ArmStats, effective_trials, p_best_exact, posterior
from actp_pipeline.stats.bandits import make_policy, split_budget


def arms_from_scores(scores: pd.DataFrame, *, min_views: float | None = None,
                     min_engagements: float | None = None) -> pd.DataFrame:
    """One row per creative per cell from scored posts (scores.py): the state the policies and the stopping
    rule read, plus the cell columns.

    A creative with several posts in a cell is one arm: views, engagements and effective trials add up,
    successes are sum(engagement_rate x effective_views) (the post-noise-discounted evidence of scores.py),
    hours_live is the longest any of its posts has been live. `sufficient` is the learning gate
    (ScoringRules: `min_views` views and `min_engagements` engagements) applied to the pooled figures, so
    a creative whose every post is thin can still pass it in total.
    Columns: the cell columns (cells.CELL present in `scores`), arm_id (= variant_id), posts, successes,
    trials, impressions, events, hours_live, sufficient. Cells and arms are sorted.
    """
    learning = ScoringRules()
    min_views = learning.min_views if min_views is None else min_views
    min_engagements = learning.min_engagements if min_engagements is None else min_engagements
    scores = pd.DataFrame() if scores is None else scores
    cell = CELL
    out_cols = [*cell, "arm_id", "posts", "successes", "trials", "impressions", "events", "hours_live", "sufficient"]
    if len(scores) == 0:
        return pd.DataFrame(columns=out_cols)
    df = scores.copy()
    views = df["views"].astype(float).fillna(0.0)
    if "engagements" not in df:
        df["engagements"] = df[[c for c in ("likes", "comments", "shares", "saves") if c in df]].sum(axis=1)
    eng = df["engagements"].astype(float).fillna(0.0)
    if "effective_views" in df:
        n_eff = df["effective_views"].astype(float).fillna(0.0).to_numpy()
    else:
        n_eff, _ = effective_trials(views.to_numpy(), eng.to_numpy())
    rate = (df["engagement_rate"].astype(float).fillna(0.0).to_numpy() if "engagement_rate" in df
            else np.where(views > 0, eng / views.clip(lower=1.0), 0.0))
    df = df.assign(_trials=n_eff, _succ=rate * n_eff, _views=views, _eng=eng,
                   _hours=df["hours_live"].astype(float).fillna(0.0) if "hours_live" in df else np.inf)
    arms = (df.groupby([*cell, "variant_id"], sort=True, dropna=False)
              .agg(posts=("variant_id", "size"), successes=("_succ", "sum"), trials=("_trials", "sum"),
                   impressions=("_views", "sum"), events=("_eng", "sum"), hours_live=("_hours", "max"))
              .reset_index().rename(columns={"variant_id": "arm_id"}))
    arms["successes"] = arms["successes"].clip(lower=0.0, upper=arms["trials"])
    arms["sufficient"] = (arms["impressions"] >= min_views) & (arms["events"] >= min_engagements)
    return arms[out_cols]


def cells_by_size(arms: pd.DataFrame, cell: list[str]):
    """Yield (k, [(cell key, arms of that cell)], ArmStats of shape (cells, k)) for the cells with k arms,
    so a rule or policy runs vectorised over all cells of the same size (no padding: a padded arm would
    take part in P(best))."""
    groups = list(arms.groupby(cell, sort=True, dropna=False))
    by_k: dict[int, list] = {}
    for key, g in groups:
        by_k.setdefault(len(g), []).append((key if isinstance(key, tuple) else (key,), g))
    for k in sorted(by_k):
        members = by_k[k]

        def stack(col):
            return np.vstack([g[col].to_numpy(dtype=float) for _, g in members])

        stats = ArmStats.from_arrays(stack("successes"), stack("trials"), stack("impressions"), stack("events"),
                                     stack("hours_live"))
        yield k, members, stats


def allocate_next_round(scores: pd.DataFrame, policy: str = "top_two_thompson", posts_budget: int = 12,
                        ad_budget: float = 10.0, floor: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """The next round's posts and ad dollars per creative, for every cell of `scores` (or of the decisions
    of winners.py, which carry the same columns).

    Every cell is its own test and gets the whole `posts_budget` (integer posts, exactly that many) and
    `ad_budget` (dollars, whole cents, never more than the budget) for the round; the shares come from the
    policy named `policy` (POLICY_NAMES) over the creatives' pooled evidence (`arms_from_scores`). The
    creatives below the learning gate take part: they are the ones that most need exposure, and the
    bandits' posterior (the cell's rate with little data) and the exploration `floor` give it to them.
    Deterministic for a given `seed` (the Monte Carlo draws of the bandits).

    Columns: the cell columns, variant_id, posts, views, engagements, er_mean (posterior mean of the pooled
    rate), p_best, sufficient, share, next_round_posts, next_round_ad_budget, policy.
    """
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"exploration floor must be within [0, 1], got {floor}")
    if int(posts_budget) != posts_budget or posts_budget < 0:
        raise ValueError(f"posts_budget must be a whole number >= 0, got {posts_budget}")
    if not (ad_budget >= 0 and math.isfinite(ad_budget)):
        raise ValueError(f"ad_budget must be a finite amount >= 0, got {ad_budget}")
    pol = make_policy(policy, floor)
    cell = CELL
    cols = [*cell, "variant_id", "posts", "views", "engagements", "er_mean", "p_best", "sufficient", "share",
            "next_round_posts", "next_round_ad_budget", "policy"]
    arms = arms_from_scores(scores) if scores is not None and len(scores) else pd.DataFrame()
    if arms.empty:
        return pd.DataFrame(columns=cols)
    rng = np.random.default_rng(seed)
    cents = int(math.floor(round(ad_budget * 100, 6)))
    out = []
    for _, members, stats in cells_by_size(arms, cell):
        shares = pol.shares(stats, rng)
        shares = shares / shares.sum(axis=1, keepdims=True)
        posts = split_budget(shares, int(posts_budget))
        dollars = split_budget(shares, cents) / 100.0
        pb = p_best_exact(stats)
        a, b = posterior(stats)
        for i, (_, g) in enumerate(members):
            out.append(pd.DataFrame({
                **{c: g[c].to_numpy() for c in cell}, "variant_id": g["arm_id"].to_numpy(),
                "posts": g["posts"].to_numpy(), "views": np.rint(g["impressions"].to_numpy()).astype(np.int64),
                "engagements": np.rint(g["events"].to_numpy()).astype(np.int64), "er_mean": a[i] / (a[i] + b[i]),
                "p_best": pb[i],
                "sufficient": g["sufficient"].to_numpy(), "share": shares[i], "next_round_posts": posts[i],
                "next_round_ad_budget": np.round(dollars[i], 2), "policy": policy}))
    plan = pd.concat(out, ignore_index=True)
    plan = plan.sort_values([*cell, "share"], ascending=[True] * len(cell) + [False], kind="stable")
    return plan.reset_index(drop=True)[cols]
