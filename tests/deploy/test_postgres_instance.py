"""The production recipe on a real PostgreSQL (a throwaway cluster, tests/pg.py): the compose initdb script
makes the store's database beside Dagster's, dagster.postgres.yaml runs a job and keeps its runs there, its
run queue holds under a backfill storm, the operational store migrates in the other database of the same
server, and the KEDA query of deploy/helm/actp-workers.yaml counts what the workers' own code would take."""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import itertools
import os
import shutil
import subprocess

import dagster as dg
import pytest
import sqlalchemy as sa

from tests.deploy import recipe
from tests.deploy.run_queue import assert_renders_and_uploads_never_starve

pytestmark = pytest.mark.postgres
_names = itertools.count()


def _sa_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


@contextlib.contextmanager
def _instance(postgres_server, tmp_path, monkeypatch, db: str):
    """A Dagster instance from dagster.postgres.yaml (DAGSTER_HOME holding a copy), on database `db`."""
    home = tmp_path / f"dagster_home_{db}"
    home.mkdir()
    shutil.copy(recipe.INSTANCE_YAML, home / "dagster.yaml")
    for key, value in {"HOST": "127.0.0.1", "PORT": str(postgres_server.port), "USER": postgres_server.user,
                       "PASSWORD": "unused-with-trust-auth", "DB": db}.items():
        monkeypatch.setenv(f"ACTP_DAGSTER_PG_{key}", value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def _psql() -> str | None:
    return shutil.which("psql") or next(reversed(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))), None)


def test_initdb_script_creates_the_store_database(postgres_server):
    psql = _psql()
    if psql is None:
        pytest.skip("no psql client")
    store_db = f"actp_store_{os.getpid()}_{next(_names)}"
    env = {**os.environ, "PATH": f"{os.path.dirname(psql)}:{os.environ['PATH']}", "PGHOST": "127.0.0.1",
           "PGPORT": str(postgres_server.port), "POSTGRES_USER": postgres_server.user, "POSTGRES_DB": "postgres",
           "ACTP_STORE_DB": store_db}
    res = subprocess.run(["sh", str(recipe.DOCKER / "initdb" / "10-actp-store.sh")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    from actp_pipeline.store.engine import connect_store

    engine = connect_store(postgres_server.url(store_db))  # the store migrates in it, as compose will use it
    with engine.connect() as conn:
        owner = conn.execute(sa.text("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :d"),
                             {"d": store_db}).scalar_one()
        assert owner == postgres_server.user
        assert sa.inspect(conn).has_table("render_jobs")
    engine.dispose()


def test_instance_file_runs_a_job_on_postgres_beside_the_store(postgres_server, tmp_path, monkeypatch):
    from actp_pipeline.store.engine import connect_store

    dagster_db = f"dagster_{os.getpid()}_{next(_names)}"
    postgres_server.create_database(dagster_db)
    store_url = postgres_server.create_database(f"actp_{os.getpid()}_{next(_names)}")

    @dg.asset(pool="render")
    def one_render() -> int:
        return 1

    with _instance(postgres_server, tmp_path, monkeypatch, dagster_db) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == recipe.instance_concurrency()["runs"]["max_concurrent_runs"]
        assert instance.global_op_concurrency_default_limit == 1
        result = dg.materialize([one_render], instance=instance)
        assert result.success
        (record,) = instance.get_run_records()
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert instance.get_latest_materialization_event(dg.AssetKey("one_render")) is not None
    # the run is a row of Dagster's database on the server; the store migrates beside it, in its own database
    engine = sa.create_engine(_sa_url(postgres_server.url(dagster_db)))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar_one() == 1
    engine.dispose()
    store = connect_store(store_url)
    with store.connect() as conn:
        assert sa.inspect(conn).has_table("publish_queue") and not sa.inspect(conn).has_table("runs")
    store.dispose()


def test_run_queue_keeps_slots_for_renders_and_uploads_on_postgres(postgres_server, tmp_path, monkeypatch):
    @contextlib.contextmanager
    def make():
        db = f"dagster_queue_{os.getpid()}_{next(_names)}"
        postgres_server.create_database(db)
        with _instance(postgres_server, tmp_path, monkeypatch, db) as instance:
            yield instance

    assert_renders_and_uploads_never_starve(make)


def _queue_rows(now: dt.datetime) -> tuple[list[dict], list[dict]]:
    """Render and upload rows in every status, due and not yet due."""
    past, future, hour = now - dt.timedelta(minutes=5), now + dt.timedelta(minutes=30), dt.timedelta(hours=1)
    renders = [dict(status=s, available_at=at) for s in ("queued", "running", "succeeded", "failed", "cancelled")
               for at in (past, future)]
    uploads = [dict(status=s, available_at=at, scheduled_at=when)
               for s in ("queued", "claimed", "uploading", "posted", "failed", "unknown", "dead", "cancelled")
               for at in (past, future) for when in (now + hour, now + 47 * hour, now + 49 * hour)]
    common = dict(payload={}, created_at=now, updated_at=now)
    return ([{**common, **r, "variant_id": f"v{i}"} for i, r in enumerate(renders)],
            [{**common, **u, "variant_id": f"v{i}", "platform": "tiktok", "account": "main",
              "idempotency_key": f"k{i}"} for i, u in enumerate(uploads)])


def test_keda_query_counts_what_the_workers_would_take(postgres_url):
    """The ScaledObject's query against a store holding items in every state equals the count of the
    workers' own filters: claimable and due (publish: due_filter over the 48 h upload horizon) plus held."""
    from actp_pipeline.publish.posts import UPLOAD_AHEAD, due_filter
    from actp_pipeline.store import schema
    from actp_pipeline.store.engine import connect_store
    from actp_pipeline.store.queues import PUBLISH_STATUSES, RENDER_STATUSES

    scaled = next(d for d in recipe.load_all(recipe.HELM / "actp-workers.yaml") if d["kind"] == "ScaledObject")
    query = scaled["spec"]["triggers"][0]["metadata"]["query"]
    engine = connect_store(postgres_url)
    with engine.begin() as conn:
        now = conn.execute(sa.text("SELECT timezone('UTC', now())")).scalar_one()
        renders, uploads = _queue_rows(now)
        conn.execute(sa.insert(schema.render_jobs), renders)
        conn.execute(sa.insert(schema.publish_queue), uploads)
    r, p = schema.render_jobs, schema.publish_queue
    with engine.connect() as conn:
        db_now = conn.execute(sa.text("SELECT timezone('UTC', now())")).scalar_one()
        expected = conn.execute(sa.select(sa.func.count()).select_from(r).where(sa.or_(
            sa.and_(r.c.status.in_(RENDER_STATUSES.claimable), r.c.available_at <= db_now),
            r.c.status.in_(RENDER_STATUSES.held)))).scalar_one()
        expected += conn.execute(sa.select(sa.func.count()).select_from(p).where(sa.or_(
            due_filter(db_now + UPLOAD_AHEAD, "postgresql", now=db_now),
            p.c.status.in_(PUBLISH_STATUSES.held)))).scalar_one()
        counted = conn.execute(sa.text(query)).scalar_one()
    engine.dispose()
    assert expected > 0 and counted == expected
