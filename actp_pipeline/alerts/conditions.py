"""The alert conditions, as pure checks: rows and frames in, alert candidates out (no store, no HTTP).

Each check returns the candidates that fire now; the caller raises them and resolves the open alerts of
the same kind that no longer fire (store.sync). Thresholds are `AlertRules` fields; the package doc says
what each compares and why.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from actp_pipeline.publish.circuit_breaker import CLOSED
from actp_pipeline.worker.heartbeats import OFFLINE_AFTER_S

SEVERITIES = ("critical", "warning", "info")  # most severe first
RUN_FAILURE, WORKER_DEAD, CIRCUIT_OPEN = "run_failure", "worker_dead", "circuit_open"
SPEND_PACING, VELOCITY_OUTLIER = "spend_pacing", "velocity_outlier"
KINDS = (RUN_FAILURE, WORKER_DEAD, CIRCUIT_OPEN, SPEND_PACING, VELOCITY_OUTLIER)
MAD_TO_SD = 1.4826  # the MAD of a normal sample times this estimates its standard deviation


@dataclass(frozen=True)
class Candidate:
    """One condition that fires: its key (one open alert per key), kind, severity, message and numbers."""

    key: str
    kind: str
    severity: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertRules:
    """Every threshold of the conditions (see the package doc for the reasoning)."""

    offline_after_s: float = OFFLINE_AFTER_S  # the liveness sensor's: silent this long = dead
    pacing_ratio: float = 1.5  # spend today above this x the plan so far
    pacing_min_elapsed_h: float = 2.0  # the first hours of a day count as this many (a few dollars early is noise)
    pacing_min_spend: float = 1.0  # dollars spent today before pacing is judged at all
    velocity_k: float = 3.5  # modified z-score beyond which a post is far outside its cell
    velocity_min_ratio: float = 2.0  # ... and at least this factor from the cell's median velocity
    velocity_min_posts: int = 5  # posts with a velocity a cell needs before it is judged
    velocity_recent_h: float = 48.0  # only posts live within this of the newest snapshot are judged
    velocity_min_sd: float = 0.05  # floor of the cell's spread in log units (identical velocities)

    def __post_init__(self) -> None:
        for name in ("offline_after_s", "pacing_ratio", "velocity_k", "velocity_min_ratio", "velocity_recent_h",
                     "velocity_min_sd"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a number > 0, got {v!r}")
        if not (self.pacing_min_elapsed_h > 0 and self.pacing_min_spend >= 0):
            raise ValueError("pacing_min_elapsed_h must be > 0 and pacing_min_spend >= 0")
        if not (isinstance(self.velocity_min_posts, int) and self.velocity_min_posts >= 3):
            raise ValueError(f"velocity_min_posts must be an int >= 3, got {self.velocity_min_posts!r}")


DEFAULT_RULES = AlertRules()


def _ago(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s}s" if s < 600 else f"{s // 60}min" if s < 7200 else f"{s / 3600:.1f}h"


def run_failure(job_name: str, run_id: str, error: str, location: str | None = None) -> Candidate:
    """A failed run: keyed by its job (one alert per failing job, however many of its runs fail)."""
    where = f" ({location})" if location else ""
    first = (error.strip().splitlines() or ["no error message"])[0][:300]
    return Candidate(f"{RUN_FAILURE}:{job_name}", RUN_FAILURE, "critical", f"run of {job_name}{where} failed: {first}",
                     {"job": job_name, "run_id": run_id, "location": location, "error": error[:2000]})


def dead_workers(workers: Iterable[Mapping[str, Any]], now: dt.datetime,
                 rules: AlertRules = DEFAULT_RULES) -> list[Candidate]:
    """Workers marked offline, or online and silent for `offline_after_s` at `now` (the database's clock,
    as release_offline_workers decides it); a worker that stopped cleanly ("stopped") is not dead."""
    out = []
    for w in workers:
        silent = (now - w["last_heartbeat"]).total_seconds()
        if w["status"] == "offline" or (w["status"] == "online" and silent > rules.offline_after_s):
            out.append(Candidate(
                f"{WORKER_DEAD}:{w['worker_id']}", WORKER_DEAD, "critical",
                f"worker {w['worker_id']} is dead: no heartbeat for {_ago(silent)} (offline after "
                f"{_ago(rules.offline_after_s)}); jobs it was running: {w.get('jobs_running') or 0}",
                {"worker_id": w["worker_id"], "status": w["status"], "last_heartbeat": w["last_heartbeat"],
                 "silent_s": round(silent, 1), "jobs_running": w.get("jobs_running")}))
    return out


def open_breakers(breakers: Iterable[Mapping[str, Any]]) -> list[Candidate]:
    """Circuit breakers not closed: open (calls rejected) or half_open (a trial call out, not recovered)."""
    out = []
    for b in breakers:
        if b["state"] == CLOSED:
            continue
        where = f"{b['platform']}:{b['account']}"
        error = (b.get("last_error") or "").strip().splitlines()
        out.append(Candidate(
            f"{CIRCUIT_OPEN}:{where}", CIRCUIT_OPEN, "warning",
            f"circuit breaker {where} is {b['state']} after {b.get('failures') or 0} consecutive failures"
            + (f": {error[0][:200]}" if error else ""),
            {"platform": b["platform"], "account": b["account"], "state": b["state"], "failures": b.get("failures"),
             "open_s": b.get("open_s"), "open_until": b.get("open_until"), "last_error": b.get("last_error")}))
    return out


def spend_pacing(spend: pd.DataFrame, now: dt.datetime, rules: AlertRules = DEFAULT_RULES) -> list[Candidate]:
    """Accounts spending faster than 1.5x their plan: spend today / (planned daily budgets x share of the
    UTC day elapsed at `now`, at least `pacing_min_elapsed_h` of it) > `pacing_ratio`.

    `spend`: one row per account total (goal '*'; other rows are ignored) with account_id, spend (dollars
    since UTC midnight) and planned (the day's daily budgets: spend.record_spend). An account with none is not
    judged (nothing to pace against); one that spent under `pacing_min_spend` neither."""
    if spend is None or spend.empty:
        return []
    rows = spend[(spend["goal"] == "*") & (spend["account_id"] != "*")] if "goal" in spend else spend
    elapsed_h = max((now - now.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds() / 3600,
                    rules.pacing_min_elapsed_h)
    out = []
    for r in rows.to_dict("records"):
        planned, spent = float(r.get("planned") or 0.0), float(r.get("spend") or 0.0)
        if not (planned > 0 and spent >= rules.pacing_min_spend):
            continue
        expected = planned * min(elapsed_h, 24.0) / 24.0
        pace = spent / expected
        if pace > rules.pacing_ratio:
            out.append(Candidate(
                f"{SPEND_PACING}:{r['account_id']}", SPEND_PACING, "critical",
                f"ad account {r['account_id']} spent ${spent:,.2f} today by {now:%H:%M} UTC: {pace:.1f}x its plan so "
                f"far (${expected:,.2f} of ${planned:,.2f}/day planned; alert above {rules.pacing_ratio:g}x)",
                {"account_id": r["account_id"], "spend": round(spent, 2), "planned_daily": planned,
                 "expected_so_far": round(expected, 2), "pace": round(pace, 3), "elapsed_h": round(elapsed_h, 2),
                 "cap": r.get("cap"), "as_of": now}))
    return out


def velocity_outliers(scores: pd.DataFrame, rules: AlertRules = DEFAULT_RULES) -> list[Candidate]:
    """Recent posts whose early view velocity is far outside their fair cell (see the package doc)."""
    need = {"post_id", "platform", "account", "cell_window", "velocity"}
    if scores is None or scores.empty or not need <= set(scores.columns):
        return []
    df = scores[list(need | ({"live_at", "last_snapshot_at", "variant_id"} & set(scores.columns)))].copy()
    df["velocity"] = pd.to_numeric(df["velocity"], errors="coerce")
    df = df[np.isfinite(df["velocity"]) & (df["velocity"] >= 0)]
    if df.empty:
        return []
    df["x"] = np.log1p(df["velocity"].to_numpy(dtype=float))
    keys = [df["platform"], df["account"], df["cell_window"]]
    cell = df["x"].groupby(keys)
    df["n"] = cell.transform("size")
    df["median"] = cell.transform("median")
    df["mad"] = (df["x"] - df["median"]).abs().groupby(keys).transform("median")
    df["sd"] = np.maximum(MAD_TO_SD * df["mad"], rules.velocity_min_sd)
    df["z"] = (df["x"] - df["median"]) / df["sd"]
    far = (df["n"] >= rules.velocity_min_posts) & (df["z"].abs() > rules.velocity_k) \
        & ((df["x"] - df["median"]).abs() > math.log(rules.velocity_min_ratio))
    df = df[far & _recent(df, rules.velocity_recent_h)]
    return [_velocity_candidate(r, rules) for r in df.to_dict("records")]


def _recent(df: pd.DataFrame, recent_h: float) -> pd.Series:
    """Posts live within `recent_h` of the data's own newest time (the platform's clock, not this machine's)."""
    if "live_at" not in df:
        return pd.Series(True, index=df.index)
    live = pd.to_datetime(df["live_at"], utc=True, errors="coerce")
    newest = pd.to_datetime(df["last_snapshot_at"], utc=True, errors="coerce").max() if "last_snapshot_at" in df \
        else live.max()
    if pd.isna(newest):
        newest = live.max()
    return live >= newest - pd.Timedelta(hours=recent_h)


def _velocity_candidate(r: Mapping[str, Any], rules: AlertRules) -> Candidate:
    v, median = float(r["velocity"]), float(np.expm1(r["median"]))
    high = r["z"] > 0
    ratio = (1 + v) / (1 + median)
    where = f"{r['platform']}:{r['account']}"
    return Candidate(
        f"{VELOCITY_OUTLIER}:{where}:{r['post_id']}", VELOCITY_OUTLIER, "info" if high else "warning",
        f"post {r['post_id']} ({where}) gets {v:,.0f} views/h, {ratio:.1f}x its cell's median {median:,.0f} "
        f"({'far above' if high else 'far below'} cell {r['cell_window']}: modified z {r['z']:+.1f}, limit "
        f"{rules.velocity_k:g})",
        {"post_id": r["post_id"], "variant_id": r.get("variant_id"), "platform": r["platform"],
         "account": r["account"], "cell_window": r["cell_window"], "velocity": v, "cell_median": median,
         "cell_posts": int(r["n"]), "z": round(float(r["z"]), 2), "ratio": round(ratio, 3)})
