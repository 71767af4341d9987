"""What changed since the last round, and why: the new research_queries table against the stored one.

- Research queries (per platform and account) that are new, and those that were dropped.
- Generation weights that moved by more than WEIGHT_MOVE (absolute share of the factor's draws), with the
  factor effect behind the move (effect and its interval from factor_effects).
- Levels that entered or left the weights.

A first round (nothing stored) is all new; an unchanged round gives an empty table. Pure frames in, frame out.
"""

from __future__ import annotations

import pandas as pd

from actp_pipeline.iterate.research_queries import QUERY, WEIGHT

# A weight is a level's share of the factor's draws. With the default temperature and floor of
# generation_weights one more post of a level moves its weight by a few points, so only a move of more than
# five percentage points is reported as a change of direction rather than the noise of another post.
WEIGHT_MOVE = 0.05
CHANGE_COLUMNS = ["change", "factor", "level", "platform", "account", "text", "before", "after", "delta", "why"]
NEW_QUERY, DROPPED_QUERY = "new_query", "dropped_query"
WEIGHT_UP, WEIGHT_DOWN, NEW_LEVEL, DROPPED_LEVEL = "weight_up", "weight_down", "new_level", "dropped_level"


def _of(rows: pd.DataFrame | None, kind: str) -> pd.DataFrame:
    if rows is None or rows.empty or "kind" not in rows:
        return pd.DataFrame(columns=["kind", "platform", "account", "factor", "level", "variant_id", "value", "text"])
    return rows[rows["kind"] == kind]


def _key(frame: pd.DataFrame, cols: list[str]) -> pd.Series:
    return frame[cols].astype(str).agg("|".join, axis=1) if len(frame) else pd.Series(dtype=str)


def _query_changes(previous: pd.DataFrame, current: pd.DataFrame) -> list[dict]:
    cols = ["platform", "account", "text"]
    before, after = _of(previous, QUERY), _of(current, QUERY)
    old, new = set(_key(before, cols)), set(_key(after, cols))
    rows = []
    for frame, change, other in ((after, NEW_QUERY, old), (before, DROPPED_QUERY, new)):
        seen = set(other)
        for r, k in zip(frame.to_dict("records"), _key(frame, cols)):
            if k in seen:
                continue
            seen.add(k)  # a repeated query is reported once
            level = f" ({r['factor']} = {r['level']})" if _given(r.get("factor")) and _given(r.get("level")) else ""
            winner = f"winner {r['variant_id']}" if _given(r.get("variant_id")) else "a winner"
            why = f"{winner} of this round{level}" if change == NEW_QUERY else \
                f"{winner} of the last round{level} no longer leads"
            rows.append({"change": change, "factor": r.get("factor"), "level": r.get("level"),
                         "platform": r.get("platform"), "account": r.get("account"), "text": r.get("text"), "why": why})
    return rows


def _given(v) -> bool:
    return isinstance(v, str) and bool(v)


def _effect_text(effects: pd.DataFrame | None, factor: str, level: str) -> str:
    """The factor effect behind a weight, e.g. 'effect +18% (95%: +6% .. +30%), 40 posts'."""
    if effects is None or effects.empty or not {"factor", "level", "effect"} <= set(effects.columns):
        return "no factor effect measured yet (the level counts as average)"
    row = effects[(effects["factor"].astype(str) == factor) & (effects["level"].astype(str) == level)]
    if row.empty:
        return "not tested yet: counts as an average level"
    r = row.iloc[0]
    interval = (f" ({float(r['interval_level']):.0%}: {float(r['low']):+.0%} .. {float(r['high']):+.0%})"
                if {"low", "high", "interval_level"} <= set(row.columns) else "")
    posts = f", {int(r['n_posts'])} posts" if "n_posts" in row.columns and pd.notna(r["n_posts"]) else ""
    return f"effect {float(r['effect']):+.0%}{interval}{posts}"


def _weight_changes(previous: pd.DataFrame, current: pd.DataFrame, effects: pd.DataFrame | None,
                    min_move: float) -> list[dict]:
    def weights(frame: pd.DataFrame) -> dict[tuple[str, str], float]:
        w = _of(frame, WEIGHT)
        return {(str(f), str(lv)): float(v) for f, lv, v in zip(w["factor"], w["level"], w["value"])}

    old, new = weights(previous), weights(current)
    rows = []
    for factor, level in sorted(old.keys() | new.keys()):
        before, after = old.get((factor, level)), new.get((factor, level))
        if before is not None and after is not None and abs(after - before) <= min_move:
            continue
        change = (NEW_LEVEL if before is None else DROPPED_LEVEL if after is None
                  else WEIGHT_UP if after > before else WEIGHT_DOWN)
        why = "no longer in the vocabulary or the effects" if change == DROPPED_LEVEL else \
            _effect_text(effects, factor, level)
        rows.append({"change": change, "factor": factor, "level": level, "before": before, "after": after,
                     "delta": None if before is None or after is None else after - before, "why": why})
    return rows


def round_changes(previous: pd.DataFrame | None, current: pd.DataFrame, effects: pd.DataFrame | None = None, *,
                  min_move: float = WEIGHT_MOVE) -> pd.DataFrame:
    """The changes from the stored research_queries (`previous`) to the new ones (`current`): CHANGE_COLUMNS,
    queries first, then weights by factor and level. `effects`: factor_effects, for the why of a weight."""
    if min_move < 0:
        raise ValueError(f"min_move must be >= 0, got {min_move}")
    previous = previous if previous is not None else pd.DataFrame()
    rows = _query_changes(previous, current) + _weight_changes(previous, current, effects, min_move)
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def changes_summary(changes: pd.DataFrame, *, first_round: bool) -> str:
    """One line for the asset's metadata: how many of each change, or why there are none."""
    if first_round:
        return f"first round: nothing stored to compare with ({len(changes)} inputs are new)"
    if changes.empty:
        return f"no new or dropped queries and no weight moved by more than {WEIGHT_MOVE:.0%}"
    counts = changes["change"].value_counts()
    return ", ".join(f"{int(n)} {name.replace('_', ' ')}" for name, n in counts.sort_index().items())
