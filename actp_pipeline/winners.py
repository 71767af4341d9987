"""Pick winners: creatives whose evidence, not a lucky number, says they beat their cell.

A creative wins when it passed the exposure gates and its engagement-rate posterior puts at least
`confidence` of its mass above the cell median times (1 + margin). Everything else gets the reason it
did not win, so a user sees "needs 24 h live" rather than silence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from actp_pipeline.scores import CELL


@dataclass(frozen=True)
class WinnerRule:
    min_views: int = 1500  # impressions before judging (original system: $5 spend or 1,500 impressions)
    min_engagements: int = 3  # core events
    min_hours_live: float = 24.0
    margin: float = 0.15  # must beat the cell median by this fraction
    confidence: float = 0.95  # posterior probability of beating it


def decide(scores: pd.DataFrame, rule: WinnerRule = WinnerRule()) -> pd.DataFrame:
    """`scores` plus `decision` (winner | not_yet | insufficient_data) and `reason` for each post."""
    from scipy.stats import beta  # imported here: scipy is slow to import

    df = scores.copy()
    if df.empty:
        return df.assign(decision=pd.Series(dtype=str), reason=pd.Series(dtype=str),
                         cell_median_er=pd.Series(dtype=float), p_beats_median=pd.Series(dtype=float))
    scored = df["status"] == "scored"
    df["cell_median_er"] = df[scored].groupby(CELL)["er_mean"].transform("median")
    df["cell_median_er"] = df.groupby(CELL)["cell_median_er"].transform("max")
    bar = df["cell_median_er"] * (1 + rule.margin)
    df["p_beats_median"] = np.where(bar.notna(), beta.sf(bar.fillna(0.5), df["alpha"], df["beta"]), np.nan)
    reasons = []
    for r in df.itertuples():
        why = []
        if r.status != "scored":
            why.append("insufficient data (learning gate)")
        if r.views < rule.min_views:
            why.append(f"{r.views} views < {rule.min_views}")
        if r.engagements < rule.min_engagements:
            why.append(f"{r.engagements} engagements < {rule.min_engagements}")
        if r.hours_live < rule.min_hours_live:
            why.append(f"live {r.hours_live:.1f} h < {rule.min_hours_live:g} h")
        if not why and not (r.p_beats_median >= rule.confidence):
            why.append(f"P(ER > cell median x {1 + rule.margin:.2f}) = {r.p_beats_median:.2f} < {rule.confidence:.2f}")
        reasons.append("; ".join(why))
    df["reason"] = reasons
    df["decision"] = np.where(df["reason"] == "", "winner",
                              np.where(df["status"] == "scored", "not_yet", "insufficient_data"))
    df.loc[df["decision"] == "winner", "reason"] = [
        f"P(ER > cell median x {1 + rule.margin:.2f}) = {p:.3f}" for p in df.loc[df["decision"] == "winner", "p_beats_median"]]
    return df
