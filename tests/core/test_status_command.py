"""`actp status` on a SQLite data directory: workers, queues, last run per stage, open alerts, spend today
against each cap; `--json` parses; a store that cannot be opened is one line and exit 1."""

import datetime as dt
import json
import os

import pandas as pd
import pytest

from actp_pipeline.alerts import raise_alert
from actp_pipeline.cli import main
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.queues import publish_queue, render_queue


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("ACTP_") or n == "DAGSTER_HOME"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "240")  # rich wraps a table at the terminal's width (80 when captured)
    d = tmp_path / "data"
    engine = connect_store(f"sqlite:///{d / 'store.db'}")
    now, old = schema.utcnow(), schema.utcnow() - dt.timedelta(hours=3)
    with engine.begin() as c:
        c.execute(schema.worker_heartbeats.insert(), [
            {"worker_id": "laptop-1", "status": "online", "started_at": old, "last_heartbeat": now, "jobs_running": 2,
             "jobs_completed": 7},
            {"worker_id": "laptop-2", "status": "offline", "started_at": old, "last_heartbeat": old, "jobs_running": 0,
             "jobs_completed": 1}])
    render_queue(engine).enqueue([{"variant_id": f"v{i}", "payload": {}} for i in range(3)], unique_column="variant_id")
    publish_queue(engine).enqueue([{"variant_id": "v0", "platform": "tiktok", "account": "main", "idempotency_key": "k0",
                                    "scheduled_at": now, "payload": {}}], unique_column="idempotency_key")
    raise_alert(engine, "worker_dead:laptop-2", "worker_dead", "critical", "worker laptop-2 is dead")
    return d


def test_status_prints_workers_queues_alerts_and_caps(data_dir, capsys):
    from actp_pipeline.ads import accounts as ad_accounts

    ad_accounts.set_goal(connect_store(f"sqlite:///{data_dir / 'store.db'}"), "acc1", "streams", budget_cap=8.0)
    assert main(["--data-dir", str(data_dir), "status"]) == 0
    out = capsys.readouterr().out
    for text in ("laptop-1", "alive", "laptop-2", "offline", "renders", "queued 3", "uploads", "queued 1",
                 "worker laptop-2 is dead", "critical", "acc1", "streams", "8.00", "10.00",
                 "no spend read yet", f"no Dagster instance at {data_dir.resolve() / 'dagster'} yet"):
        assert text in out, text


def test_status_json_with_spend_and_the_last_run_of_each_stage(data_dir, capsys):
    import dagster as dg

    from actp_pipeline.alerts.spend import record_spend
    from actp_pipeline.definitions import JOB_ORDER, instance_home

    @dg.op
    def nothing():
        return None

    @dg.job(name="score_job")
    def score_job():
        nothing()

    instance = dg.DagsterInstance.from_config(str(instance_home(data_dir)))
    run = score_job.execute_in_process(instance=instance)
    instance.dispose()
    spend = pd.DataFrame([{"account_id": "acc1", "goal": "*", "spend": 4.5, "planned": 10.0, "cap": 10.0}])
    record_spend(connect_store(f"sqlite:///{data_dir / 'store.db'}"), spend, dt.datetime(2026, 11, 10, 12))

    assert main(["--data-dir", str(data_dir), "status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {w["worker_id"]: w["state"] for w in report["workers"]} == {"laptop-1": "alive", "laptop-2": "offline"}
    assert report["queues"] == {"renders": {"queued": 3}, "uploads": {"queued": 1}}
    assert [a["key"] for a in report["alerts"]] == ["worker_dead:laptop-2"]
    assert report["spend"]["day"] == "2026-11-10" and report["spend"]["rows"] == [
        {"account_id": "acc1", "goal": "*", "spend": 4.5, "planned": 10.0, "cap": 10.0}]
    runs = {r["job"]: r for r in report["runs"]["runs"]}
    assert report["runs"]["found"] and list(runs) == JOB_ORDER
    assert runs["score_job"]["status"] == "SUCCESS" and runs["score_job"]["run_id"] == run.run_id
    assert runs["research_job"]["status"] is None

    assert main(["--data-dir", str(data_dir), "status"]) == 0  # and as tables
    out = capsys.readouterr().out
    assert "ads spend on 2026-11-10" in out and "45%" in out and "SUCCESS" in out and "never run" in out


def test_a_store_that_cannot_be_opened_is_one_line(data_dir, capsys, monkeypatch):
    monkeypatch.setenv("ACTP_DATABASE_URL", "postgresql://actp:hunter2-secret@127.0.0.1:1/actp")
    assert main(["--data-dir", str(data_dir), "status", "--no-runs"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("actp status: OperationalError") and err.count("\n") == 1 and "hunter2" not in err
