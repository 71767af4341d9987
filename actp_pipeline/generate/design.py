"""The experiment design of one round: which factor combinations are tested, in which arm, and why.

Three arms, in shares that sum to 1 (60/25/15 by default, `DesignShares`):

- control: combinations made only of the *core* levels of each factor (the levels ranked first by our own
  measured effects, then by the market's blueprint weight: `ranked_levels`); a combination that is a
  blueprint's own is taken first. With no blueprints yet, the core is the vocabulary's first levels and
  every control row says so in its `design_note`.
- moderate: one or two factors changed from the core to a level outside it.
- aggressive: a market blueprint outside the core (a new blueprint), or three or more factors changed.

The round has exactly min(product of the shape's level counts, max_variants) rows: the core grid alone
holds that many, so an arm short of candidates hands its rows to the next arm and the round never shrinks.

Balance, and its trade-off: scoring separates factor effects by comparing levels across rows, so the
control arm is chosen greedily to spread every core level as evenly as the row count allows (a balanced
fraction of the core grid, not its best-scoring corner). The exploration arms spread their rows in
proportion to the generation weights instead: levels with a measured positive effect get more rows,
clearly negative ones fewer, untested ones an average share. That tilts the exploration rows toward
promising levels at the price of some balance; each of them still differs from the control in known
factors, so the control rows remain the baseline their effects are measured against.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

ARMS = ("control", "moderate", "aggressive")
DESIGN_FACTORS = ("hook_pattern", "angle", "cta_style", "format")
DESIGN_COLUMNS = [*DESIGN_FACTORS, "arm", "blueprint_id", "design_note"]


@dataclass(frozen=True)
class DesignShares:
    """The share of a round's rows per arm (control, moderate, aggressive); they must sum to 1."""

    control: float = 0.60
    moderate: float = 0.25
    aggressive: float = 0.15

    def __post_init__(self) -> None:
        values = {arm: getattr(self, arm) for arm in ARMS}
        bad = {k: v for k, v in values.items() if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v <= 1)}
        if bad:
            raise ValueError(f"design shares must be numbers within [0, 1]; got {bad}")
        total = sum(values.values())
        if abs(total - 1.0) > 1e-6:
            parts = " + ".join(f"{k} {v:g}" for k, v in values.items())
            raise ValueError(f"design shares must sum to 1: {parts} = {total:g}")

    def counts(self, n: int) -> dict[str, int]:
        """Rows per arm for a round of n (largest remainder, so the counts sum to n exactly)."""
        exact = [getattr(self, arm) * n for arm in ARMS]
        floors = [int(math.floor(x + 1e-9)) for x in exact]
        order = sorted(range(len(ARMS)), key=lambda i: (-(exact[i] - floors[i]), i))
        for i in order[: n - sum(floors)]:
            floors[i] += 1
        return dict(zip(ARMS, floors))


@dataclass(frozen=True)
class Design:
    """The chosen combinations (n rows, arm order), the reserve in preference order (what replaces a
    chosen row that turns out to be a near-duplicate) and the counts asked per arm."""

    chosen: pd.DataFrame
    reserve: pd.DataFrame
    asked: dict[str, int]
    core: dict[str, list[str]]


def ranked_levels(blueprints: pd.DataFrame, factor: str, vocabulary: Sequence[str],
                  weights: Mapping[str, float] | None = None) -> list[str]:
    """Every level of a factor, best first: by our own measured effect where there is one (`weights`, from
    factor_effects.generation_weights: untested levels count as average, so they keep their chance), then by
    blueprint weight in the market, then in vocabulary order."""
    ranked: list[str] = []
    if not blueprints.empty and factor in blueprints and "weight" in blueprints:
        w = blueprints.groupby(factor)["weight"].sum().sort_values(ascending=False, kind="stable")
        ranked = [lvl for lvl in w.index if lvl in vocabulary]
    ranked += [lvl for lvl in vocabulary if lvl not in ranked]
    if weights:
        average = 1.0 / len(weights)
        ranked = sorted(ranked, key=lambda lvl: -weights.get(lvl, average))  # stable: market order breaks ties
    return ranked


def _level_weights(blueprints: pd.DataFrame, factor: str, ranked: list[str],
                   weights: Mapping[str, float] | None) -> np.ndarray:
    """A positive weight per ranked level, summing to 1: the generation weights where given, else the
    market's blueprint weight with a floor (a level no blueprint uses still counts), else uniform."""
    k = len(ranked)
    if weights:
        average = 1.0 / max(len(weights), 1)
        w = np.array([max(weights.get(lvl, average), 1e-6) for lvl in ranked])
    elif not blueprints.empty and factor in blueprints and "weight" in blueprints:
        market = blueprints.groupby(factor)["weight"].sum()
        w = np.array([float(market.get(lvl, 0.0)) for lvl in ranked]) + 0.5 / k
    else:
        w = np.ones(k)
    return w / w.sum()


def _candidates(levels: dict[str, list[str]], core_k: dict[str, int], level_w: dict[str, np.ndarray],
                blueprints: pd.DataFrame) -> pd.DataFrame:
    """Every combination of the vocabulary with its arm, score and closest blueprint."""
    idx = np.array(list(itertools.product(*(range(len(levels[f])) for f in DESIGN_FACTORS))), dtype=int)
    outside = np.stack([idx[:, j] >= core_k[f] for j, f in enumerate(DESIGN_FACTORS)], axis=1)
    n_out = outside.sum(axis=1)
    score = np.prod([level_w[f][idx[:, j]] for j, f in enumerate(DESIGN_FACTORS)], axis=0)
    frame = pd.DataFrame({f: np.array(levels[f], dtype=object)[idx[:, j]] for j, f in enumerate(DESIGN_FACTORS)})
    frame["n_out"], frame["score"], frame["grid"] = n_out, score, np.arange(len(idx))
    bp_id, shared = _nearest_blueprint(frame, blueprints)
    exact = shared == len(DESIGN_FACTORS)
    frame["exact"], frame["near_bp"] = exact, bp_id
    frame["arm"] = np.where(n_out == 0, "control", np.where(exact | (n_out >= 3), "aggressive", "moderate"))
    frame["blueprint_id"] = np.where(frame["arm"] == "aggressive", np.where(exact, bp_id, None), bp_id)
    for j, f in enumerate(DESIGN_FACTORS):
        frame[f"_i{j}"] = idx[:, j]
    return frame.sort_values(["exact", "score", "grid"], ascending=[False, False, True], kind="stable")


def _nearest_blueprint(frame: pd.DataFrame, blueprints: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per combination: the blueprint sharing the most factor levels with it (the strongest on ties) and
    how many it shares; None and 0 when there are no blueprints."""
    none = np.full(len(frame), None, dtype=object), np.zeros(len(frame), dtype=int)
    if blueprints.empty or "blueprint_id" not in blueprints or not set(DESIGN_FACTORS) <= set(blueprints):
        return none
    bp = blueprints.sort_values("weight", ascending=False, kind="stable") if "weight" in blueprints else blueprints
    bp = bp.dropna(subset=[*DESIGN_FACTORS, "blueprint_id"])
    if bp.empty:
        return none
    shared = sum((frame[f].to_numpy(dtype=object)[:, None] == bp[f].to_numpy(dtype=object)[None, :]).astype(int)
                 for f in DESIGN_FACTORS)
    best = shared.argmax(axis=1)  # first maximum: the strongest blueprint among the closest
    return bp["blueprint_id"].to_numpy(dtype=object)[best], shared[np.arange(len(frame)), best]


def _pick(pool: pd.DataFrame, n: int, shares: dict[str, np.ndarray]) -> pd.DataFrame:
    """n rows of `pool` (already in preference order), each step the row whose levels, and pairs of levels,
    are furthest below their target share: key = sum over factors of (times used + 1) / share plus the
    same over each pair of factors with the product of shares. The pair terms keep two factors from
    moving together (aliased, their effects could not be told apart). Ties go to the preferred row."""
    if n >= len(pool):  # every candidate goes in: balance is what it is, keep the preference order
        return pool
    idx = pool[[f"_i{j}" for j in range(len(DESIGN_FACTORS))]].to_numpy()
    inv = [1.0 / np.maximum(shares[f], 1e-9) for f in DESIGN_FACTORS]
    pairs = list(itertools.combinations(range(len(DESIGN_FACTORS)), 2))
    counts = [np.zeros(len(shares[f])) for f in DESIGN_FACTORS]
    pair_counts = {(a, b): np.zeros((len(inv[a]), len(inv[b]))) for a, b in pairs}
    free = np.ones(len(pool), dtype=bool)
    chosen: list[int] = []
    seeded = np.flatnonzero(pool["exact"].to_numpy(dtype=bool))[:n].tolist()  # blueprints' own combinations first
    for step in range(n):
        if step < len(seeded):
            at = seeded[step]
        else:
            key = sum((counts[j][idx[:, j]] + 1) * inv[j][idx[:, j]] for j in range(len(DESIGN_FACTORS)))
            key = key + sum((pair_counts[a, b][idx[:, a], idx[:, b]] + 1) * inv[a][idx[:, a]] * inv[b][idx[:, b]]
                            for a, b in pairs)
            at = int(np.argmin(np.where(free, key, np.inf)))
        free[at] = False
        chosen.append(at)
        for j in range(len(DESIGN_FACTORS)):
            counts[j][idx[at, j]] += 1
        for a, b in pairs:
            pair_counts[a, b][idx[at, a], idx[at, b]] += 1
    return pool.iloc[chosen]


def _quotas(asked: dict[str, int], available: dict[str, int]) -> dict[str, int]:
    """The asked rows per arm, an arm short of candidates handing the rest to the next arm with room."""
    take = {arm: min(asked[arm], available[arm]) for arm in ARMS}
    short = sum(asked.values()) - sum(take.values())
    for arm in ARMS:
        extra = min(short, available[arm] - take[arm])
        take[arm] += extra
        short -= extra
    return take


def _note(row, core: dict[str, list[str]], no_blueprints: bool, by_effect: bool) -> str:
    """Why this row is in the round, in words a reviewer reads in the metadata."""
    if row.arm == "control":
        if no_blueprints:
            first = "the levels ranked first by measured effect, then " if by_effect else ""
            levels = "; ".join(f"{f} {'|'.join(core[f])}" for f in DESIGN_FACTORS)
            return f"control: no blueprints yet, so the control is {first}the vocabulary's first levels ({levels})"
        return f"control: blueprint {row.blueprint_id}" if row.exact else \
            f"control: proven levels, closest blueprint {row.blueprint_id}"
    changed = ", ".join(f"{f}={getattr(row, f)}" for f in DESIGN_FACTORS if getattr(row, f) not in core[f])
    if row.arm == "moderate":
        return f"moderate: {changed} changed from the control levels"
    if row.exact:
        return f"aggressive: new blueprint {row.blueprint_id} ({changed or 'outside the control'})"
    return f"aggressive: untested direction, {changed} outside the control levels"


def plan_round(blueprints: pd.DataFrame, *, vocabulary: Mapping[str, Sequence[str]], core_levels: Mapping[str, int],
               max_variants: int, shares: DesignShares = DesignShares(),
               weights: Mapping[str, Mapping[str, float]] | None = None) -> Design:
    """The round's design: min(product of `core_levels`, max_variants) combinations split over the arms.
    `vocabulary` holds each design factor's levels, `core_levels` how many of each enter the control."""
    weights = weights or {}
    blueprints = blueprints if blueprints is not None else pd.DataFrame()
    levels = {f: ranked_levels(blueprints, f, tuple(vocabulary[f]), weights.get(f)) for f in DESIGN_FACTORS}
    core_k = {f: max(1, min(int(core_levels[f]), len(levels[f]))) for f in DESIGN_FACTORS}
    core = {f: levels[f][:core_k[f]] for f in DESIGN_FACTORS}
    n = min(math.prod(core_k.values()), max(int(max_variants), 0))
    level_w = {f: _level_weights(blueprints, f, levels[f], weights.get(f)) for f in DESIGN_FACTORS}
    pool = _candidates(levels, core_k, level_w, blueprints)
    asked = shares.counts(n)
    quota = _quotas(asked, {arm: int((pool["arm"] == arm).sum()) for arm in ARMS})
    uniform_core = {f: np.where(np.arange(len(levels[f])) < core_k[f], 1.0 / core_k[f], 0.0) for f in DESIGN_FACTORS}
    picked = []
    for arm in ARMS:
        arm_pool = pool[pool["arm"] == arm]
        picked.append(_pick(arm_pool, quota[arm], uniform_core if arm == "control" else level_w))
    chosen = pd.concat(picked)
    reserve = pool.drop(index=chosen.index)
    reserve = reserve.assign(_arm=reserve["arm"].map({a: i for i, a in enumerate(ARMS)})).sort_values(
        "_arm", kind="stable").drop(columns="_arm")
    no_bp, by_effect = bool(blueprints.empty), bool(weights)
    out = [frame.assign(design_note=[_note(r, core, no_bp, by_effect) for r in frame.itertuples()])[DESIGN_COLUMNS]
           .reset_index(drop=True) for frame in (chosen, reserve)]
    return Design(chosen=out[0], reserve=out[1], asked=asked, core=core)


def design_summary(design: Design, final: pd.DataFrame, shares: DesignShares) -> dict[str, object]:
    """Arms asked and achieved (counts and shares) for the round's metadata."""
    n = max(len(final), 1)
    achieved = {arm: int((final["arm"] == arm).sum()) for arm in ARMS} if len(final) else dict.fromkeys(ARMS, 0)
    return {
        "shares_asked": {arm: getattr(shares, arm) for arm in ARMS},
        "rows_asked": design.asked,
        "rows_achieved": achieved,
        "shares_achieved": {arm: round(achieved[arm] / n, 3) for arm in ARMS},
        "control_levels": design.core,
    }
