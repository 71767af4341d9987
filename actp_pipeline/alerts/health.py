"""The system's health as `actp status` and the studio's Health page show it: each worker's liveness as the
liveness sensor decides it, and today's ads spend against each cap."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine


def workers_state(engine: Engine) -> list[dict[str, Any]]:
    """Every worker with its liveness as the liveness sensor decides it (the database's clock)."""
    from actp_pipeline.store.clock import db_now
    from actp_pipeline.worker.heartbeats import OFFLINE_AFTER_S, workers

    now = db_now(engine)
    out = []
    for w in workers(engine):
        silent = (now - w["last_heartbeat"]).total_seconds()
        alive = w["status"] == "online" and silent <= OFFLINE_AFTER_S
        out.append({"worker_id": w["worker_id"], "status": w["status"],
                    "state": "alive" if alive else ("stopped" if w["status"] == "stopped" else "offline"),
                    "last_heartbeat": w["last_heartbeat"], "silent_s": int(silent),
                    "jobs_running": w["jobs_running"], "jobs_completed": w["jobs_completed"]})
    return out


def spend_today(engine: Engine) -> dict[str, Any]:
    """The newest reading of ads spend (the alerts sensor keeps it), else the caps alone."""
    import pandas as pd

    from actp_pipeline.alerts.spend import caps, latest_spend

    rows = latest_spend(engine)
    if rows:
        return {"day": rows[0]["day"], "as_of": max(r["as_of"] for r in rows), "rows": [
            {k: r[k] for k in ("account_id", "goal", "spend", "planned", "cap")} for r in rows]}
    cap_rows = [{"account_id": r["account_id"], "goal": r["goal"], "spend": None, "planned": None,
                 "cap": None if pd.isna(r["cap"]) else float(r["cap"])} for r in caps(engine).to_dict("records")]
    return {"day": None, "as_of": None, "rows": cap_rows,
            "note": "no spend read yet (the alerts sensor reads it from the ad platform)" if cap_rows else
                    "no ad account has an active goal"}
