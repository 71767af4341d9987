"""Step 10, iterate: what this round learned, written as the next round's inputs in one long table.

One `kind` per consumer: research queries from the winners (market_items runs them through
the sources that search), generation weights from the factor effects (variants), posting hours from the
timing matrix and repeat posts from the allocation (publish_schedule). Pure frames in, frames out.
"""

from __future__ import annotations

import pandas as pd

from actp_pipeline.iterate.search_terms import queries_for
from actp_pipeline.measure.timing_matrix import DEFAULT_HOURS, best_hours
from actp_pipeline.score.factor_effects import generation_weights

TABLE = "research_queries"
COLUMNS = ["kind", "platform", "account", "cell_window", "factor", "level", "variant_id", "value", "text"]
QUERY, WEIGHT, HOUR, REPEAT = "research_query", "generation_weight", "posting_hour", "next_round_posts"


def _rows(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(kind=kind).reindex(columns=COLUMNS)


def _queries(winners: pd.DataFrame, topic: str) -> pd.DataFrame:
    """One research query per winner and winning factor level, in search words (iterate.search_terms): the
    next research round searches the market for more of what won."""
    rows = []
    for w in winners.to_dict("records"):
        for factor in ("hook_pattern", "angle"):
            for text in queries_for(topic, {factor: w.get(factor)}):
                rows.append({"platform": w.get("platform"), "account": w.get("account"),
                             "variant_id": w.get("variant_id"), "factor": factor, "level": w.get(factor),
                             "text": text})
    return pd.DataFrame(rows, columns=["platform", "account", "variant_id", "factor", "level", "text"]) \
        .drop_duplicates("text")


def queries_from(rows: pd.DataFrame) -> list[str]:
    """The research queries of the newest round (empty before the first winner)."""
    q = rows[rows["kind"] == QUERY] if len(rows) and "kind" in rows else rows.iloc[0:0]
    return [str(t) for t in q["text"].dropna().drop_duplicates()] if len(q) else []


def next_round(winners: pd.DataFrame, effects: pd.DataFrame, matrix: pd.DataFrame | None, plan: pd.DataFrame | None,
               topic: str, platforms: list[str]) -> pd.DataFrame:
    """The next round's inputs in one long table, one `kind` per consumer."""
    parts = []
    if len(winners):
        parts.append(_rows(QUERY, _queries(winners, topic)))
    if len(effects):
        weights = generation_weights(effects)
        parts.append(_rows(WEIGHT, pd.DataFrame([{"factor": f, "level": lv, "value": w}
                                                 for f, levels in weights.items() for lv, w in levels.items()])))
    if matrix is not None:
        parts.append(_rows(HOUR, pd.DataFrame([{"platform": p, "level": str(h), "value": float(h)} for p in sorted(set(platforms))
                                               for h in best_hours(matrix, p, n=len(DEFAULT_HOURS))])))
    if plan is not None and len(plan) and "next_round_posts" in plan:
        cols = [c for c in ("platform", "account", "cell_window", "variant_id", "next_round_posts") if c in plan]
        parts.append(_rows(REPEAT, plan[cols].rename(columns={"next_round_posts": "value"})))
    parts = [p for p in parts if len(p)]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    return out.astype({"value": float})


def weights_from(rows: pd.DataFrame) -> dict[str, dict[str, float]]:
    """The generation weights per factor and level (empty before the first round was scored)."""
    w = rows[rows["kind"] == WEIGHT] if len(rows) else rows
    out: dict[str, dict[str, float]] = {}
    for r in w.itertuples(index=False):
        out.setdefault(str(r.factor), {})[str(r.level)] = float(r.value)
    return out


def hours_from(rows: pd.DataFrame) -> dict[str, tuple[int, ...]]:
    """The posting hours per platform (empty until a timing matrix exists)."""
    h = rows[rows["kind"] == HOUR] if len(rows) else rows
    return {str(p): tuple(sorted(int(v) for v in g["value"])) for p, g in h.groupby("platform")} if len(h) else {}


def repeats_from(rows: pd.DataFrame) -> pd.DataFrame:
    """The allocation's repeat posts, in the columns `schedule_next_round` reads."""
    r = rows[rows["kind"] == REPEAT] if len(rows) else rows
    out = r[["platform", "account", "cell_window", "variant_id", "value"]].rename(columns={"value": "next_round_posts"})
    return out.astype({"next_round_posts": int}) if len(out) else out
