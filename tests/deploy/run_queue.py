"""The run queue of dagster.postgres.yaml under a research-backfill storm, decided by Dagster's own queue code.

Runs are written to the instance's run storage as the webserver and the daemon would write them (with their
dagster/code_location tag, and dagster/backfill for a backfill's runs), then the QueuedRunCoordinator
daemon's selection (`_get_runs_to_dequeue`, the step of `dagster-daemon run` that picks what to launch
next: priority, FIFO, max_concurrent_runs, tag limits, pools) says what it would launch. Used on a SQLite
instance (tests/deploy/test_deploy_files.py) and on PostgreSQL (tests/deploy/test_postgres_instance.py).
"""

from __future__ import annotations

import uuid

import dagster as dg
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

MAIN, LOCAL = "actp_pipeline", "local_ops"  # workspace.yaml's location names
SERVERS = {MAIN: ("code-main", 4000), LOCAL: ("code-local", 4001)}  # deploy/docker/workspace.yaml


def _add(instance: dg.DagsterInstance, job: str, location: str, status: dg.DagsterRunStatus,
         backfill: str | None = None) -> str:
    tags = {"dagster/code_location": location} | ({"dagster/backfill": backfill} if backfill else {})
    host, port = SERVERS[location]
    origin = RemoteJobOrigin(repository_origin=RemoteRepositoryOrigin(
        code_location_origin=GrpcServerCodeLocationOrigin(host=host, port=port, location_name=location),
        repository_name="__repository__"), job_name=job)
    run = dg.DagsterRun(job_name=job, run_id=str(uuid.uuid4()), status=status, tags=tags,
                        remote_job_origin=origin)
    instance.add_run(run)
    return run.run_id


def _next_launched(instance: dg.DagsterInstance) -> list[str]:
    daemon = QueuedRunCoordinatorDaemon(interval_seconds=5)
    return [r.job_name for r in daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None)]


def storm_with_main_at_its_cap(instance: dg.DagsterInstance) -> list[str]:
    """6 main-location runs in progress (2 of them backfill runs), 20 research backfill runs and 8 loop runs
    queued before a render and an upload run: what the daemon launches next."""
    for i in range(6):
        _add(instance, "research_job" if i < 2 else "score_job", MAIN, dg.DagsterRunStatus.STARTED,
             backfill=f"bf{i}" if i < 2 else None)
    for i in range(20):
        _add(instance, "research_job", MAIN, dg.DagsterRunStatus.QUEUED, backfill=f"storm{i}")
    for _ in range(8):
        _add(instance, "metrics_job", MAIN, dg.DagsterRunStatus.QUEUED)
    _add(instance, "render_job", LOCAL, dg.DagsterRunStatus.QUEUED)
    _add(instance, "publish_job", LOCAL, dg.DagsterRunStatus.QUEUED)
    return _next_launched(instance)


def storm_on_an_idle_instance(instance: dg.DagsterInstance) -> list[str]:
    """Nothing in progress; 12 backfill runs queued before 5 loop runs, a render and an upload run."""
    for i in range(12):
        _add(instance, "research_job", MAIN, dg.DagsterRunStatus.QUEUED, backfill=f"storm{i}")
    for _ in range(5):
        _add(instance, "metrics_job", MAIN, dg.DagsterRunStatus.QUEUED)
    _add(instance, "render_job", LOCAL, dg.DagsterRunStatus.QUEUED)
    _add(instance, "publish_job", LOCAL, dg.DagsterRunStatus.QUEUED)
    return _next_launched(instance)


def assert_renders_and_uploads_never_starve(make_instance) -> None:
    """`make_instance()` gives a fresh, empty instance configured by dagster.postgres.yaml."""
    with make_instance() as instance:
        # the main location holds 6 of 8 slots: only the local runs may start, whatever is queued first
        assert storm_with_main_at_its_cap(instance) == ["render_job", "publish_job"]
    with make_instance() as instance:
        launched = storm_on_an_idle_instance(instance)
        # backfills take 2 slots, the loop's runs the rest of the main location's 6, the local runs theirs
        assert launched.count("research_job") == 2, launched
        assert launched.count("metrics_job") == 4, launched
        assert {"render_job", "publish_job"} <= set(launched) and len(launched) == 8, launched
