"""Health: workers and their heartbeats, the queues, circuit breakers, open alerts, the last run of each stage and
today's ads spend against each cap. Workers, queues, breakers and runs carry no account's numbers; alerts and spend
rows are shown only for the accounts the user sees (an alert names its account in details.account, when it has one).
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.routing import Route

from actp_pipeline.alerts import open_alerts
from actp_pipeline.alerts.health import spend_today, workers_state
from actp_pipeline.store import schema
from actp_pipeline.store.queues import publish_queue, render_queue
from actp_pipeline.studio.access import Access
from actp_pipeline.studio.web import Studio, page

RUNS_TTL_S = 15.0  # opening the Dagster instance costs ~0.3 s: the last runs are read at most this often
_runs_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def _last_runs(studio: Studio) -> dict[str, Any]:
    key = str(studio.data_dir)
    hit = _runs_cache.get(key)
    if hit and time.monotonic() - hit[0] < RUNS_TTL_S:
        return hit[1]
    from actp_pipeline.definitions import last_stage_runs

    runs = last_stage_runs(studio.data_dir)
    _runs_cache[key] = (time.monotonic(), runs)
    return runs


def _breakers(studio: Studio) -> list[dict[str, Any]]:
    with studio.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(schema.circuit_breakers))]


def _alert_account(alert: dict[str, Any]) -> str | None:
    details = alert.get("details") or {}
    return details.get("account") or details.get("account_id") if isinstance(details, dict) else None


def build(studio: Studio, access: Access, request: Request) -> dict[str, Any]:
    alerts = [a for a in open_alerts(studio.engine) if _alert_account(a) is None or access.sees(_alert_account(a))]
    spend = spend_today(studio.engine)
    spend["rows"] = [r for r in spend["rows"] if r["account_id"] == "*" and access.sees_all
                     or r["account_id"] != "*" and access.sees(r["account_id"])]
    return {"workers": workers_state(studio.engine), "alerts": alerts, "spend": spend,
            "queues": {"renders": render_queue(studio.engine).counts(),
                       "uploads": publish_queue(studio.engine).counts()},
            "breakers": [b for b in _breakers(studio) if access.sees(b["account"])], "runs": _last_runs(studio)}


ROUTES = [Route("/health", page("health.html", build), methods=["GET"])]
