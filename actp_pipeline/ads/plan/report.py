"""Presenting and logging a plan: one row per action for display, the run summary, JSON-safe values.

Why apart: the audit log and the assets' metadata both store a plan; they need plain JSON types and a
stable frame, not the planner's dataclasses.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from actp_pipeline.ads.plan.rules import (
    ALERT,
    BLOCKED,
    CREATE_AD_SET,
    CREATE_CAMPAIGN,
    DUPLICATE_AD_SET,
    ERROR,
    PAUSE_AD_SET,
    REFRESH_CREATIVE,
    REFRESH_NEEDED,
    SCALE,
    SET_BUDGET,
    PlannedAction,
)

PLAN_COLUMNS = ["account_id", "goal", "action", "rule", "target_id", "variant_id", "status", "blocked_by",
                "old_budget", "new_budget", "reason", "note", "params", "metrics"]


def json_safe(v: object) -> object:
    """A value made of plain JSON types (numpy scalars, timestamps; non-finite floats become None)."""
    if isinstance(v, Mapping):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return v.isoformat()
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(v) else None
    if v is None or isinstance(v, (str, int, bool)):
        return v
    return str(v)


def _json(d: Mapping) -> str:
    return json.dumps(json_safe(d), sort_keys=True)


def plan_frame(actions: Sequence[PlannedAction]) -> pd.DataFrame:
    """One row per action, for display (params and metrics as JSON text)."""
    rows = []
    for a in actions:
        p = a.params
        rows.append({"account_id": a.account_id, "goal": a.goal, "action": a.action, "rule": a.rule,
                     "target_id": a.target_id, "variant_id": a.variant_id, "status": a.status,
                     "blocked_by": a.blocked_by, "old_budget": p.get("old_budget"),
                     "new_budget": p.get("new_budget", p.get("daily_budget")), "reason": a.reason, "note": a.note,
                     "params": _json(p), "metrics": _json(a.metrics)})
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def plan_summary(actions: Sequence[PlannedAction]) -> dict:
    """Counts of executable actions by kind, as the original run summary had them, plus blocked/errors;
    "alerts" lists the reasons of every alert (an account failing closed, a fatigued creative to refresh)."""
    ok = [a for a in actions if a.executable]
    return {
        "campaigns_created": sum(a.action == CREATE_CAMPAIGN for a in ok),
        "ad_sets_created": sum(a.action == CREATE_AD_SET for a in ok),
        "winners_promoted": sum(a.action == DUPLICATE_AD_SET for a in ok),
        "budgets_scaled": sum(a.rule == SCALE for a in ok),
        "budgets_changed": sum(a.action == SET_BUDGET for a in ok),
        "ad_sets_paused": sum(a.action == PAUSE_AD_SET for a in ok),
        "creatives_refreshed": sum(a.rule == REFRESH_CREATIVE for a in ok),  # fatigued: paused, a candidate in
        "refresh_needed": sum(a.rule == REFRESH_NEEDED for a in actions),  # fatigued, nothing to swap in
        "blocked": sum(a.status == BLOCKED and a.action != ALERT for a in actions),
        "errors": [a.reason for a in actions if a.action == ERROR],
        "alerts": [a.reason for a in actions if a.action == ALERT],
    }
