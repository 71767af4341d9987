"""Pick winners: a creative wins its cell when the evidence says so, and every other creative is told why not.

The rule is `stats.stopping.StoppingRule`, applied to each cell (cells.CELL: creatives are only compared where
reach is comparable). The arms of a cell are its creatives (variant ids); a creative with several posts in
the cell is one arm whose views, engagements and effective views add up (`allocation.arms_from_scores`:
successes = engagement rate x effective views, the post-noise-discounted evidence of scores.py), with the
robust hierarchical prior of stats/hierarchy.py estimated over the whole platform (the posterior scores.py
reports). A creative wins only when all of these hold:

1. it is the most likely best of its cell (Monte Carlo over the posteriors of every creative of the cell);
2. it passed the exposure gates of the original system: `min_views` impressions (organic posts have no
   spend; the "$5 spend or" half of the gate is StoppingRule's, for paid use), `min_engagements` core
   events and `min_hours_live` hours live;
3. P(its rate > (1 + margin) x the best rate among the OTHER creatives) >= `confidence`;
4. it passed the learning gate of scores.py (ScoringRules: 100 views and 5 engagements, on its pooled posts).

So a cell has at most one winner; a near tie, a leader that is not clearly `margin` better than its best
rival, or thin data give no winner, with the reason in words. The rule is the one paid ad sets use
(ads/evidence.py); its false-winner rate in dead heats over 30 looks is measured by benchmarks/calibration.py.

Creatives below the learning gate (`insufficient_data`) are never a winner and never a loser, but they do
take part in P(best): their posterior is wide, and a leader must be likely to beat them too before the
test is over (declaring a winner while part of the cell is unseen would overstate the evidence).

Output: one row per scored row (post), carrying its creative's decision in its cell, so the table keeps
post ids (a promoted post is a post) and every score column; all posts of a creative in a cell share one
decision. Added columns:

    decision            winner | not_yet | insufficient_data
    reason              why, in words: the cell's verdict (StoppingRule.explain) plus this creative's context
    p_best              the rule's P(creative is the best of its cell), pooled over its posts; where the rule
                        stopped at the exposure gates, the same posterior's P(best) (exact integration)
    p_beats_others      for the cell's leader, P(its rate > (1 + margin) x the best other rate) (the rule's
                        Monte Carlo figure); NaN for the other creatives
    cell_code           the cell's verdict: winner | no_clear_best | below_margin | thin_data | no_data
    cell_reason         the cell's verdict in words
    cell_leader         the cell's most likely best creative
    variant_posts, variant_views, variant_engagements, variant_er_mean   the pooled evidence of the creative
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from actp_pipeline.score.allocation import arms_from_scores, cells_by_size
from actp_pipeline.score.cells import CELL
from actp_pipeline.score.scores import ScoringRules
from actp_pipeline.stats import hierarchy
from actp_pipeline.stats.arms import MC_DRAWS, PRIOR_STRENGTH, ArmStats, p_best_exact, posterior
from actp_pipeline.stats.stopping import StoppingRule


@dataclass(frozen=True)
class WinnerRule:
    """The thresholds a creative must pass to win its cell (see the module doc)."""

    min_views: int = 1500  # impressions before judging (original system: $5 spend or 1,500 impressions)
    min_engagements: int = 3  # core events
    min_hours_live: float = 24.0
    margin: float = 0.05  # must beat the best other creative by this fraction
    confidence: float = 0.99  # P(beats the best other by the margin) must reach this

    def stopping_rule(self) -> StoppingRule:
        """The common stopping rule with these thresholds (no spend gate: organic posts spend nothing)."""
        return StoppingRule(confidence=self.confidence, min_impressions=self.min_views, min_spend=None,
                            min_events=self.min_engagements, min_hours_live=self.min_hours_live,
                            margin=self.margin, prior_strength=PRIOR_STRENGTH, draws=MC_DRAWS)


ADDED = {"decision": object, "reason": object, "p_best": float, "p_beats_others": float,
         "cell_code": object, "cell_reason": object, "cell_leader": object, "variant_posts": "int64",
         "variant_views": "int64", "variant_engagements": "int64", "variant_er_mean": float}


def _exposure_gaps(views: float, events: float, hours: float, rule: WinnerRule) -> list[str]:
    why = []
    if views < rule.min_views:
        why.append(f"{views:,.0f} views < {rule.min_views:,}")
    if events < rule.min_engagements:
        why.append(f"{events:,.0f} engagements < {rule.min_engagements}")
    if hours < rule.min_hours_live:
        why.append(f"live {hours:.1f} h < {rule.min_hours_live:g} h")
    return why


def _learning_gaps(views: float, events: float, learning: ScoringRules) -> str:
    why = []
    if views < learning.min_views:
        why.append(f"{views:,.0f} views < {learning.min_views}")
    if events < learning.min_engagements:
        why.append(f"{events:,.0f} engagements < {learning.min_engagements}")
    return "insufficient data: " + " and ".join(why or ["below the learning gate"]) + " (learning gate)"


def decide(scores: pd.DataFrame, rule: WinnerRule = WinnerRule(), *, seed: int = 0,
           learning: ScoringRules = ScoringRules()) -> pd.DataFrame:
    """`scores` plus each creative's decision in its cell (see the module doc for the columns).

    Pure and deterministic for a given `seed` (the Monte Carlo draws of P(best)).
    """
    df = scores.drop(columns=[c for c in ADDED if c in scores.columns]).reset_index(drop=True)
    if df.empty:
        return df.assign(**{c: pd.Series(dtype=t) for c, t in ADDED.items()})
    arms = arms_from_scores(df, min_views=learning.min_views, min_engagements=learning.min_engagements)
    # the learning gate is an exposure gate too: a leader below it is thin data, never a winner
    stopping = dataclasses.replace(rule.stopping_rule(), min_impressions=max(rule.min_views, learning.min_views),
                                   min_events=max(rule.min_engagements, learning.min_engagements))
    cell_id = arms.groupby(CELL, sort=True, dropna=False).ngroup().to_numpy()
    arms["prior_mean"], arms["prior_strength"], _ = hierarchy.creative_priors(
        arms["platform"].astype(str).to_numpy(), cell_id, arms["trials"].to_numpy(dtype=float),
        arms["successes"].to_numpy(dtype=float))
    rng = np.random.default_rng(seed)
    out = []
    for _, members, stats in cells_by_size(arms, CELL):
        stack = [np.vstack([g[c].to_numpy(dtype=float) for _, g in members]) for c in ("prior_mean", "prior_strength")]
        stats = dataclasses.replace(stats, prior_mean=stack[0], prior_strength=stack[1])
        out.extend(_decide_cells(members, stats, stopping, rule, learning, rng))
    per_variant = pd.concat(out, ignore_index=True)
    return df.merge(per_variant, on=[*CELL, "variant_id"], how="left", validate="many_to_one")


def _decide_cells(members: list, stats: ArmStats, stopping: StoppingRule, rule: WinnerRule, learning: ScoringRules,
                  rng: np.random.Generator) -> list[pd.DataFrame]:
    """One frame per cell of the same size: each creative's decision and the cell's verdict."""
    d = stopping.decide_many(stats, rng)
    pb = d.p_best.copy()
    unset = np.isnan(pb).any(axis=1)
    if unset.any():  # the rule stopped at the exposure gates: P(best) of the same posteriors, for display
        pb[unset] = p_best_exact(stats.take(unset), stopping.prior_strength)
    a, b = posterior(stats, stopping.prior_strength)
    p_others = np.full(pb.shape, np.nan)
    out = []
    for i, (_, g) in enumerate(members):
        ids = [str(x) for x in g["arm_id"]]
        leader = int(d.leader[i]) if d.leader[i] >= 0 else int(np.argmax(pb[i]))
        if d.leader[i] >= 0:
            p_others[i, leader] = d.p_beats_others[i]
        code, cell_reason, winner = str(d.code[i]), stopping.explain(d, stats, ids, i), int(d.winner[i])
        decision, reason = _creative_verdicts(ids, g["sufficient"].to_numpy(dtype=bool), stats, i, pb[i], leader,
                                              winner, cell_reason, rule, learning)
        out.append(pd.DataFrame({
            **{c: g[c].to_numpy() for c in CELL}, "variant_id": g["arm_id"].to_numpy(),
            "decision": decision, "reason": reason, "p_best": pb[i], "p_beats_others": p_others[i],
            "cell_code": code,
            "cell_reason": cell_reason, "cell_leader": ids[leader],
            "variant_posts": g["posts"].to_numpy(dtype="int64"),
            "variant_views": np.rint(stats.impressions[i]).astype("int64"),
            "variant_engagements": np.rint(stats.events[i]).astype("int64"), "variant_er_mean": a[i] / (a[i] + b[i])}))
    return out


def _creative_verdicts(ids: list[str], suff: np.ndarray, stats: ArmStats, i: int, pb: np.ndarray, leader: int,
                       winner: int, cell_reason: str, rule: WinnerRule,
                       learning: ScoringRules) -> tuple[list[str], list[str]]:
    """(decision, reason) of every creative of cell i."""
    decision, reason = [], []
    for j in range(len(ids)):
        views, events, hours = stats.impressions[i, j], stats.events[i, j], stats.hours_live[i, j]
        if not suff[j]:
            decision.append("insufficient_data")
            reason.append(f"{_learning_gaps(views, events, learning)}; never a winner or a loser "
                          f"(P(best) {pb[j]:.2f})")
        elif j == winner:
            decision.append("winner")
            reason.append(cell_reason)
        elif j == leader:
            decision.append("not_yet")
            reason.append(cell_reason)
        else:
            decision.append("not_yet")
            ctx = [f"P(best) {pb[j]:.2f}", *_exposure_gaps(views, events, hours, rule)]
            if winner >= 0:
                ctx.append(f"cell winner is {ids[winner]} (P(best) {pb[winner]:.2f})")
            else:
                ctx.append(f"cell: {cell_reason}")
            reason.append("; ".join(ctx))
    return decision, reason
