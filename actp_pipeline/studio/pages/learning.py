"""Learning: what the loop has learned and how it spends the next round. Factor effects with their intervals
(forest plots), the allocation across cell windows, the timing heat map (weekday x hour) and the test planner.

Scoping. The allocation is per creative, so its rows are filtered to the user's visible creatives. Factor
effects, conversion effects and the timing matrix are fitted over every creative of every account at once: a
pooled number mixes accounts, so it is shown only to users with an all-accounts ("*") grant; nobody else gets a
number that account B's creatives moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from starlette.requests import Request
from starlette.routing import Route

from actp_pipeline.score.factor_effects import UNMEASURED_HALF_WIDTH, level_text
from actp_pipeline.stats.planner import (Plan, PlanInputs, QUANTILE_HEADER, plan_test, quantile_rows, rate_header,
                                         rate_rows, reading)
from actp_pipeline.studio import charts
from actp_pipeline.studio.access import Access
from actp_pipeline.studio.memo import Lru, memo
from actp_pipeline.studio.pages.funnel import read_cached, records, scope_key
from actp_pipeline.studio.scope import keep_visible, visible_variants
from actp_pipeline.studio.web import Studio, page

POOLED_NOTE = ("Factor effects, conversion effects and the timing heat map are fitted over the creatives of every "
               "account together, so they are shown only to users with an all-accounts role.")
# table, outcome wording (as in the labels), heading, trial and success columns
EFFECT_TABLES = (("factor_effects", "engagement", "Engagement per view", "views", "engagements"),
                 ("conversion_effects", "conversion rate per click", "Conversions per click", "clicks",
                  "converting_clicks"))
TOP_SERIES = 8  # creatives drawn by name in an allocation chart; the rest are "other"
TABLE_ROWS = 15  # creatives per cell in the latest allocation table
MAX_WINDOWS = 12  # the latest cell windows drawn per cell
MAX_CELLS = 12  # cells drawn (largest first); the rest are named in a note
MAX_WORLDS = 1_000  # the studio's ceiling on simulated tests per scenario (the CLI allows 20,000)
PLAN_CACHE = 16
PLANNER_DEFAULTS = PlanInputs()
_plans: Lru[Plan] = Lru(PLAN_CACHE)


# --------------------------------------------------------------------------------------------- factor effects
def _effect_groups(df: pd.DataFrame, outcome: str, trials: str, successes: str) -> list[dict[str, Any]]:
    """Per factor: its forest plot and its rows (best level first)."""
    groups = []
    for factor, g in df.groupby("factor", sort=False):
        g = g.sort_values("effect", ascending=False, kind="stable")
        unmeasured = ~((g["high"] - g["low"]) / 2.0 <= UNMEASURED_HALF_WIDTH)
        svg = charts.forest(f"{str(factor).replace('_', ' ')}: {outcome}", g["level"].astype(str).tolist(),
                            g["effect"].tolist(), g["low"].tolist(), g["high"].tolist(),
                            f"effect on {outcome} vs. the factor's average level (%)", unmeasured.tolist())
        rows = [{"level": r["level"], "effect": r["effect"], "low": r["low"], "high": r["high"],
                 "n_posts": r.get("n_posts"), "n_creatives": r.get("n_creatives"), "trials": r.get(trials),
                 "successes": r.get(successes), "label": r.get("label") or "", "unmeasured": bool(u)}
                for r, u in zip(records(g), unmeasured)]
        groups.append({"factor": factor, "svg": svg, "rows": rows})
    return groups


def _effects(studio: Studio) -> list[dict[str, Any]]:
    out = []
    for table, outcome, heading, trials, successes in EFFECT_TABLES:
        item: dict[str, Any] = {"table": table, "heading": heading, "trials": trials, "successes": successes,
                                "groups": [], "level": None, "missing": None}
        df = read_cached(studio, table) if studio.warehouse.exists(table) else pd.DataFrame()
        need = {"factor", "level", "effect", "low", "high"}
        if df.empty or not need <= set(df.columns):
            item["missing"] = (f"No {table} yet: the loop writes it once enough posts have been measured."
                               if df.empty else f"The {table} table lacks the columns {sorted(need - set(df.columns))}.")
        else:
            if "interval_level" in df and df["interval_level"].notna().any():
                item["level"] = level_text(float(df["interval_level"].dropna().iloc[0]))
            item["groups"] = _effect_groups(df, outcome, trials, successes)
        out.append(item)
    return out


# -------------------------------------------------------------------------------------------------- allocation
def _cell_allocation(cell: tuple, g: pd.DataFrame) -> dict[str, Any]:
    """One cell: its shares per window as a chart, and its latest window's rows (largest share first)."""
    every = sorted(g["cell_window"].unique())
    windows, latest = every[-MAX_WINDOWS:], every[-1]
    g = g[g["cell_window"].isin(windows)]
    wide = g.pivot_table(index="variant_id", columns="cell_window", values="share", aggfunc="sum",
                         fill_value=0.0).reindex(columns=windows, fill_value=0.0)
    order = wide[latest].sort_values(ascending=False, kind="stable").index
    named = list(order[:TOP_SERIES])
    series = [(str(v), wide.loc[v].tolist()) for v in named]
    rest = wide.drop(index=named)
    if len(rest):
        series.append(("other", rest.sum(axis=0).tolist()))
    title = " / ".join(str(c) for c in cell)
    now = g[g["cell_window"].astype(str) == latest].sort_values("share", ascending=False, kind="stable")
    return {"cell": title, "windows": len(every), "drawn": len(windows), "latest": latest, "creatives": len(now),
            "svg": charts.shares(f"{title}: share per cell window", windows, series),
            "rows": records(now.head(TABLE_ROWS)), "more": max(len(now) - TABLE_ROWS, 0),
            "policy": str(now["policy"].iloc[0]) if "policy" in now and len(now) else "",
            "mode": str(now["mode"].iloc[0]) if "mode" in now and len(now) else "",
            "mode_reason": str(now["mode_reason"].iloc[0]) if "mode_reason" in now and len(now) else ""}


def _allocation(studio: Studio, visible: set[str] | None) -> dict[str, Any]:
    if not studio.warehouse.exists("allocation"):
        return {"missing": "No allocation yet: the loop writes it after the creatives have scores.", "cells": []}
    df = keep_visible(read_cached(studio, "allocation"), visible)
    if df.empty:
        return {"missing": "No creative you can see has an allocation yet.", "cells": []}
    cell = [c for c in ("platform", "account") if c in df] or ["cell"]
    df = df.assign(cell="all") if cell == ["cell"] else df
    df = df.assign(cell_window=df["cell_window"].astype(str)) if "cell_window" in df else df.assign(cell_window="now")
    groups = {k if isinstance(k, tuple) else (k,): g for k, g in df.groupby(cell, dropna=False, sort=True)}
    order = sorted(groups, key=lambda k: -groups[k]["variant_id"].nunique())
    cells = [_cell_allocation(k, groups[k]) for k in order[:MAX_CELLS]]
    hidden = [" / ".join(map(str, k)) for k in order[MAX_CELLS:]]
    return {"missing": None, "cells": cells, "hidden": hidden}


# ------------------------------------------------------------------------------------------------------ timing
def _timing(studio: Studio) -> dict[str, Any]:
    if not studio.warehouse.exists("timing_matrix"):
        return {"missing": "No timing matrix yet: the loop writes it once posts have gone live.", "platforms": []}
    df = read_cached(studio, "timing_matrix", columns=["platform", "weekday", "hour", "n_posts", "expected",
                                                         "lift", "metric"])
    out = []
    for platform, g in df.groupby("platform", sort=True):
        grid = g.pivot_table(index="weekday", columns="hour", values="lift", aggfunc="mean").reindex(
            index=range(7), columns=range(24))
        posted = g.loc[g["n_posts"] > 0, ["weekday", "hour"]].astype(int).itertuples(index=False, name=None)
        metric = str(g["metric"].iloc[0]) if "metric" in g else "reach"
        best = g[g["n_posts"] > 0].sort_values("lift", ascending=False, kind="stable").head(5)
        out.append({"platform": platform, "metric": metric, "posts": int(g["n_posts"].sum()),
                    "svg": charts.heatmap(f"{platform}: {metric} lift by weekday and hour",
                                          grid.to_numpy().tolist(), list(posted)),
                    "best": [{"weekday": charts.WEEKDAYS[int(r.weekday)], "hour": int(r.hour), "lift": r.lift,
                              "n_posts": int(r.n_posts)} for r in best.itertuples()]})
    return {"missing": None if out else "The timing matrix has no rows.", "platforms": out}


# ----------------------------------------------------------------------------------------------------- planner
_FIELDS: dict[str, type] = {"arms": int, "baseline": float, "lift": float, "confidence": float,
                            "daily_impressions": int, "daily_budget": float, "cpm": float, "max_days": int,
                            "post_noise": float, "worlds": int, "seed": int}


def _field(params: Mapping[str, str], name: str) -> int | float | None:
    raw = str(params.get(name, "") or "").strip().replace(",", "")
    if not raw:
        return None
    kind = _FIELDS[name]
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is not {'a whole number' if kind is int else 'a number'}") from None
    if kind is float and value != value:  # NaN
        raise ValueError(f"{name}: {raw!r} is not a number")
    return value


def plan_inputs(params: Mapping[str, str]) -> PlanInputs:
    """The planner's inputs from the form, as `actp plan-test` reads its options; a bad value is a ValueError
    naming the field."""
    got = {name: _field(params, name) for name in _FIELDS}
    d = PLANNER_DEFAULTS
    if got["daily_impressions"] is not None and got["daily_budget"] is not None:
        raise ValueError("daily_impressions, daily_budget: give one of them, not both")
    cpm = d.cpm if got["cpm"] is None else got["cpm"]
    impressions = d.daily_impressions if got["daily_impressions"] is None else got["daily_impressions"]
    if got["daily_budget"] is not None:
        if not cpm > 0:
            raise ValueError("cpm must be > 0 (dollars per 1,000 impressions)")
        if not got["daily_budget"] > 0:
            raise ValueError("daily_budget must be > 0 dollars a day")
        impressions = int(round(got["daily_budget"] / cpm * 1000.0))
    worlds = d.worlds if got["worlds"] is None else got["worlds"]
    if worlds > MAX_WORLDS:
        raise ValueError(f"worlds: at most {MAX_WORLDS:,} in the studio (run `actp plan-test` for more)")
    values = {k: (getattr(d, k) if got[k] is None else got[k]) for k in ("arms", "baseline", "lift", "confidence",
                                                                          "max_days", "post_noise", "seed")}
    return PlanInputs(**values, daily_impressions=impressions, cpm=cpm, worlds=worlds)


def cached_plan(inputs: PlanInputs) -> Plan:
    """plan_test(inputs), kept for the last PLAN_CACHE inputs (the same inputs and seed give the same plan)."""
    return _plans.get_or_make(inputs, lambda: plan_test(inputs))


def _planner(params: Mapping[str, str]) -> dict[str, Any]:
    asked = any(str(params.get(k, "") or "").strip() for k in _FIELDS)
    form = {k: str(params.get(k, "") or "") for k in _FIELDS}
    defaults = {k: getattr(PLANNER_DEFAULTS, k, "") for k in _FIELDS}
    defaults["daily_budget"] = ""
    if not asked:
        return {"form": {k: str(v) for k, v in defaults.items()}, "result": None}
    plan = cached_plan(plan_inputs(params))
    return {"form": form, "result": {"header": QUANTILE_HEADER, "rows": quantile_rows(plan),
                                     "rate_header": rate_header(plan), "rate_rows": rate_rows(plan),
                                     "reading": reading(plan), "inputs": plan.inputs}}


# ------------------------------------------------------------------------------------------------------- pages
def build(studio: Studio, access: Access, request: Request) -> dict[str, Any]:
    pooled = access.sees_all
    visible = visible_variants(studio.engine, access)
    effects = memo(studio.warehouse, [t[0] for t in EFFECT_TABLES], "effects", lambda: _effects(studio)) if pooled else []
    timing = memo(studio.warehouse, ["timing_matrix"], "timing", lambda: _timing(studio)) if pooled else None
    allocation = memo(studio.warehouse, ["allocation"], ("allocation", scope_key(visible)),
                      lambda: _allocation(studio, visible))
    return {"plan_only": False, "pooled": pooled, "pooled_note": POOLED_NOTE, "effects": effects, "timing": timing,
            "allocation": allocation, "planner": _planner({}), "max_worlds": MAX_WORLDS}


def build_plan(studio: Studio, access: Access, request: Request) -> dict[str, Any]:
    """The planner alone: no account's numbers go in or come out (it simulates worlds from the form)."""
    return {"plan_only": True, "pooled": access.sees_all, "pooled_note": POOLED_NOTE,
            "planner": _planner(request.query_params), "max_worlds": MAX_WORLDS}


ROUTES = [Route("/learning", page("learning.html", build), methods=["GET"]),
          Route("/learning/plan", page("learning.html", build_plan), methods=["GET"])]
