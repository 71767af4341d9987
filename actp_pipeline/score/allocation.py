"""Allocate: the next round's posts and ad dollars per creative, for every fair cell of the scored posts.

The frame-level glue between score/ and stats/: scored posts become one arm per creative per cell
(`arms_from_scores`), cells of the same size are stacked so a policy or the stopping rule runs over all of
them at once (`cells_by_size`), and the chosen bandit policy (stats/bandits.py) splits the round
(`allocate_next_round`). By default each cell is in its own mode: *identify* (top-two Thompson) while its
test has no winner, *earn* (Thompson with a decaying floor) once a winner was declared, because a policy
built to find the best keeps half the traffic off it forever and one built to earn finds it slowly.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from actp_pipeline.score.cells import CELL
from actp_pipeline.score.scores import ScoringRules
from actp_pipeline.stats.arms import ArmStats, effective_trials, p_best_exact, posterior
from actp_pipeline.stats.bandits import MODES, POLICY_MODE, POLICY_NAMES, make_policy, split_budget
from actp_pipeline.stats.stopping import StoppingRule


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


def declared_winners(decisions: pd.DataFrame | None) -> dict[tuple, str] | None:
    """cell key -> the declared winner's variant id, from the decisions of winners.py (a `decision` column)
    or from its winners table (every row a winner); None when there is no such frame (nothing is known)."""
    if decisions is None or "variant_id" not in decisions:
        return None
    cell = [c for c in CELL if c in decisions]
    won = decisions[decisions["decision"] == "winner"] if "decision" in decisions else decisions
    return {tuple(_key(r[c]) for c in cell): str(r["variant_id"]) for _, r in won.iterrows()}


def _key(v):
    """A cell key part that compares equal to itself when missing (NaN != NaN)."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def cell_modes(policy: str, members: list, stats: ArmStats, declared: dict[tuple, str] | None, rule: StoppingRule,
               rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """(mode, why) of each cell of `members` (one `cells_by_size` group) for the next round.

    `policy` "auto": earn where a winner was declared (`declared`; when that is None, where the stopping rule
    `rule` finds one in the cell's evidence now), identify otherwise. A mode name forces that mode on every
    cell; a named policy keeps its own (POLICY_MODE) and no switching happens.
    """
    n = len(members)
    if policy in MODES:
        return [policy] * n, [f"{policy}: asked for (policy {policy!r})"] * n
    if policy != "auto":
        return [POLICY_MODE[policy]] * n, [f"{POLICY_MODE[policy]}: policy {policy!r} asked for, no mode switching"] * n
    if declared is not None:
        won = [declared.get(tuple(_key(v) for v in key)) for key, _ in members]
        return (["identify" if w is None else "earn" for w in won],
                ["identify: no winner declared yet" if w is None else f"earn: winner {w} declared" for w in won])
    verdict = rule.decide_many(stats, rng)
    modes, why = [], []
    for i, (_, g) in enumerate(members):
        j = int(verdict.winner[i])
        modes.append("earn" if j >= 0 else "identify")
        why.append(f"earn: winner {g['arm_id'].iloc[j]} by the stopping rule" if j >= 0
                   else f"identify: no winner yet ({verdict.code[i]})")
    return modes, why


def _cell_shares(names: list[str], stats: ArmStats, floor: float, rng: np.random.Generator) -> np.ndarray:
    """(cells, k) shares, cell i split by the policy names[i] (one call per distinct policy)."""
    shares = np.zeros(stats.shape)
    names_a = np.asarray(names, dtype=object)
    for name in dict.fromkeys(names):
        rows = np.flatnonzero(names_a == name)
        s = make_policy(name, floor).shares(stats.take(rows), rng)
        shares[rows] = s / s.sum(axis=1, keepdims=True)
    return shares


def _plan_rows(cell: list[str], members: list, stats: ArmStats, shares: np.ndarray, posts: np.ndarray,
               dollars: np.ndarray, names: list[str], modes: list[str], why: list[str]) -> list[pd.DataFrame]:
    """One frame per cell of a `cells_by_size` group: its creatives' evidence and next-round split."""
    pb = p_best_exact(stats)
    a, b = posterior(stats)
    out = []
    for i, (_, g) in enumerate(members):
        out.append(pd.DataFrame({
            **{c: g[c].to_numpy() for c in cell}, "variant_id": g["arm_id"].to_numpy(),
            "posts": g["posts"].to_numpy(), "views": np.rint(g["impressions"].to_numpy()).astype(np.int64),
            "engagements": np.rint(g["events"].to_numpy()).astype(np.int64), "er_mean": a[i] / (a[i] + b[i]),
            "p_best": pb[i], "sufficient": g["sufficient"].to_numpy(), "share": shares[i],
            "next_round_posts": posts[i], "next_round_ad_budget": np.round(dollars[i], 2), "policy": names[i],
            "mode": modes[i], "mode_reason": why[i]}))
    return out


def allocate_next_round(scores: pd.DataFrame, policy: str = "auto", posts_budget: int = 12,
                        ad_budget: float = 10.0, floor: float = 0.1, seed: int = 0,
                        decisions: pd.DataFrame | None = None, rule: StoppingRule | None = None) -> pd.DataFrame:
    """The next round's posts and ad dollars per creative, for every cell of `scores` (or of the decisions
    of winners.py, which carry the same columns).

    Every cell is its own test and gets the whole `posts_budget` (integer posts, exactly that many) and
    `ad_budget` (dollars, whole cents, never more than the budget) for the round; the shares come from the
    policy named `policy` (POLICY_NAMES) over the creatives' pooled evidence (`arms_from_scores`). "auto"
    (the default) picks each cell's mode (`cell_modes`): earn where a winner was declared (per `decisions`,
    the decisions or winners table of winners.py, or a `decision` column of `scores`; with neither, per the
    stopping rule `rule`, StoppingRule() by default, on the cell's evidence now), identify otherwise;
    "identify" or "earn" forces a mode on every cell. The creatives below the learning gate take part: they
    most need exposure, and the posterior (the cell's rate with little data) and the exploration `floor`
    give it to them. Deterministic for a given `seed` (the Monte Carlo draws).

    Columns: the cell columns, variant_id, posts, views, engagements, er_mean (posterior mean of the pooled
    rate), p_best, sufficient, share, next_round_posts, next_round_ad_budget, policy (the policy that split
    the cell's round), mode (identify | earn), mode_reason (why, in words).
    """
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"exploration floor must be within [0, 1], got {floor}")
    if int(posts_budget) != posts_budget or posts_budget < 0:
        raise ValueError(f"posts_budget must be a whole number >= 0, got {posts_budget}")
    if not (ad_budget >= 0 and math.isfinite(ad_budget)):
        raise ValueError(f"ad_budget must be a finite amount >= 0, got {ad_budget}")
    if policy not in POLICY_NAMES:
        make_policy(policy, floor)  # raises the error that names the choices
    cols = [*CELL, "variant_id", "posts", "views", "engagements", "er_mean", "p_best", "sufficient", "share",
            "next_round_posts", "next_round_ad_budget", "policy", "mode", "mode_reason"]
    arms = arms_from_scores(scores) if scores is not None and len(scores) else pd.DataFrame()
    if arms.empty:
        return pd.DataFrame(columns=cols)
    declared = declared_winners(decisions if decisions is not None else scores if "decision" in scores else None)
    rng = np.random.default_rng(seed)
    rule = rule if rule is not None else StoppingRule()
    cents = int(math.floor(round(ad_budget * 100, 6)))
    out = []
    for _, members, stats in cells_by_size(arms, CELL):
        modes, why = cell_modes(policy, members, stats, declared, rule, rng)
        names = [MODES[m] if policy in ("auto", *MODES) else policy for m in modes]
        shares = _cell_shares(names, stats, floor, rng)
        posts = split_budget(shares, int(posts_budget))
        dollars = split_budget(shares, cents) / 100.0
        out.extend(_plan_rows(CELL, members, stats, shares, posts, dollars, names, modes, why))
    plan = pd.concat(out, ignore_index=True)
    plan = plan.sort_values([*CELL, "share"], ascending=[True] * len(CELL) + [False], kind="stable")
    return plan.reset_index(drop=True)[cols]
