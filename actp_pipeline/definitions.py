"""The main code location: research, generate, schedule, measure, score, graduate."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from assets import LOOP_ASSETS, LOOP_CHECKS
from resources import LoopSettings
from resources.defaults import default_resources
from sensors import (STAGE_JOBS, STAGES, ad_plan_approvals_sensor, automation_sensor, metrics_schedule, rendered_sensor,
                     research_schedule)
from sensors.alerts import alerts_sensor, run_failure_alerts
from sensors.approvals import approvals_sensor
from sensors.plan_test import plan_test_job

defs = dg.Definitions(
    assets=LOOP_ASSETS,
    asset_checks=LOOP_CHECKS,
    jobs=[*STAGE_JOBS, plan_test_job],
    schedules=[research_schedule, metrics_schedule],
    # run_failure_alerts watches both code locations (monitor_all_code_locations): local_ops needs none of its own
    sensors=[automation_sensor, rendered_sensor, ad_plan_approvals_sensor, approvals_sensor, alerts_sensor,
             run_failure_alerts],
    resources=default_resources(),
)


INSTANCE_YAML = """\
# Written by ACTP for `actp demo` and `actp ui` (DAGSTER_HOME={home}).
storage:
  sqlite:
    base_dir: {home}/storage
local_artifact_storage:
  module: dagster._core.storage.root
  class: LocalArtifactStorage
  config:
    base_dir: {home}
concurrency:
  runs:
    max_concurrent_runs: 4
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def instance_home(data_dir) -> Path:
    """DAGSTER_HOME under the data directory, with its dagster.yaml (same layout as the repo's dagster.yaml)."""
    home = Path(data_dir).resolve() / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(INSTANCE_YAML.format(home=home))
    return home


def run_instance_home(data_dir) -> Path:
    """Where `actp demo` and `actp research backfill` record their runs: DAGSTER_HOME when it is set and holds a
    dagster.yaml (a team's instance, e.g. dagster.postgres.yaml), else the SQLite instance under the data directory."""
    configured = os.environ.get("DAGSTER_HOME")
    if configured and (Path(configured) / "dagster.yaml").exists():
        return Path(configured)
    return instance_home(data_dir)


@dg.logger(config_schema={"path": str, "log_level": dg.Field(str, default_value="INFO")},
           description="Writes a run's Dagster log lines to a file (the demo's <data_dir>/logs/dagster.log).")
def file_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    path = Path(init_context.logger_config["path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    log = logging.getLogger(f"actp.dagster.{path}")
    log.setLevel(init_context.logger_config["log_level"])
    log.propagate = False
    if not log.handlers:
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
    return log


def demo_definitions(settings, loop: LoopSettings) -> dg.Definitions:
    """Both code locations' assets and named jobs in one Definitions, with the demo's resources; its
    runs log to a file, not the console (the demo prints its own progress)."""
    from actp_pipeline.settings import SANDBOX_API_KEY
    from local_ops.definitions import LOCAL_CHECKS
    from local_ops.posts import posts
    from local_ops.renders import renders
    from local_ops.sensors import publish_job, render_job

    res = default_resources(settings, loop)
    if not res["ads"].access_token:  # the demo always talks to its own embedded sandbox: its public key
        res["ads"] = type(res["ads"])(base_url=settings.ads_base_url, access_token=SANDBOX_API_KEY)
    return dg.Definitions(assets=[*LOOP_ASSETS, renders, posts], asset_checks=[*LOOP_CHECKS, *LOCAL_CHECKS],
                          jobs=[*STAGE_JOBS, render_job, publish_job], resources=res, loggers={"file": file_logger})


JOB_OF = {key: job for job, keys in STAGES.items() for key in keys} | {"renders": "render_job", "posts": "publish_job"}
JOB_ORDER = ["research_job", "extract_job", "generate_job", "render_job", "publish_schedule_job", "publish_job",
             "metrics_job", "score_job", "graduate_job", "iterate_job", "ad_plan_job", "ad_actions_job",
             "attribute_job"]
FEEDBACK = {"winners", "factor_effects", "timing_matrix", "allocation"}  # research_queries follows these
MULTI_ASSETS = [{"factor_lifts", "blueprints"}, {"decisions", "winners"}, {"paid_winners", "ad_plan"},
                {"attribution", "attribution_factors", "attribution_posts"}]


def demo_runs(names: list[str]) -> list[tuple[str, list[str]]]:
    """The named jobs (in loop order) and asset keys that materialize `names`: a multi-asset's sibling keys
    come along, and research_queries follows a scoring step as the automation makes it follow in `dagster dev`."""
    keys = set(names) | ({"research_queries"} if FEEDBACK & set(names) else set())
    keys |= {k for group in MULTI_ASSETS if group & keys for k in group}
    return [(job, [k for k, j in JOB_OF.items() if j == job and k in keys])
            for job in JOB_ORDER if any(JOB_OF[k] == job for k in keys)]


class RunFailed(RuntimeError):
    """A Dagster run failed; the message names the job and its first failure (the full log is in the instance)."""


def demo_materializer(settings, loop_overrides: dict, render_concurrency: int = 2):
    """A `materialize(asset_names, partition_key)` callable over both code locations' assets. Each call runs
    the named stage jobs that hold `asset_names` (one run per stage, in loop order), recorded in the
    instance under the data directory so `dagster dev` shows them afterwards; Dagster's log lines go to
    <data_dir>/logs/dagster.log."""
    instance = dg.DagsterInstance.from_config(str(run_instance_home(settings.data_dir)))
    all_defs = demo_definitions(settings, LoopSettings(**loop_overrides))
    loggers = {"file": {"config": {"path": str(Path(settings.data_dir).resolve() / "logs" / "dagster.log")}}}

    def materialize(names: list[str], partition_key: str | None) -> dict[str, dict]:
        out = {}
        for job_name, keys in demo_runs(names):
            job = all_defs.resolve_job_def(job_name)
            ops = {"renders": {"config": {"concurrency": render_concurrency}}} if "renders" in keys else {}
            try:
                result = job.execute_in_process(
                    instance=instance, asset_selection=[dg.AssetKey(k) for k in keys],
                    partition_key=partition_key if job.partitions_def else None,
                    run_config={"ops": ops, "loggers": loggers}, tags={"actp/source": "demo"})
            except (dg.DagsterError, dg.Failure) as e:
                cause = e.__cause__ or e
                first = (str(cause).strip().splitlines() or [""])[0]
                raise RunFailed(f"{job_name}: {type(cause).__name__}: {first}") from None
            for event in result.get_asset_materialization_events():
                mat = event.materialization
                out[mat.asset_key.to_user_string()] = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        return out

    return materialize


RESEARCH_JOB = "research_job"  # the named job over market_items, the research partitions
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def research_partition_keys() -> list[str]:
    """Every research partition (one per day from ACTP_RESEARCH_START to today)."""
    return defs.resolve_job_def(RESEARCH_JOB).partitions_def.get_partition_keys()


def research_backfill(data_dir, keys: list[str], run_id: str, on_progress: Callable[[int], None]) -> int:
    """Collect the research partitions `keys` (a contiguous range) as ONE run of the research job (its
    single-run backfill policy), recorded in the instance under the data directory; `on_progress` gets the
    count of partitions materialized so far. Returns the market items collected; raises RunFailed."""
    instance = dg.DagsterInstance.from_config(str(run_instance_home(data_dir)))
    job, outcome = defs.resolve_job_def(RESEARCH_JOB), {}

    def materialized() -> int:
        return len(instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records)

    def execute() -> None:
        outcome["result"] = job.execute_in_process(
            instance=instance, run_id=run_id, raise_on_error=False, tags=dict(zip(RANGE_TAGS, (keys[0], keys[-1]))),
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})

    worker = threading.Thread(target=execute, name="research-backfill", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.5)
        on_progress(materialized())
    on_progress(materialized())
    result = outcome.get("result")
    if result is None or not result.success:
        failures = result.get_step_failure_events() if result is not None else []
        why = failures[0].step_failure_data.error.message.strip().splitlines()[0] if failures else "see the run's logs"
        raise RunFailed(f"run {run_id} failed: {why}")
    return sum(int(getattr(m.metadata.get("dagster/row_count"), "value", 0) or 0)
               for m in result.asset_materializations_for_node("market_items"))


def _stamp(t) -> str | None:
    import datetime as dt

    if t is None:
        return None
    t = t if isinstance(t, dt.datetime) else dt.datetime.fromtimestamp(t, dt.UTC)
    return t.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")


RECENT_RUNS = 500  # runs read to find each stage's newest (the automation's runs are not under a stage job)


def newest_stage_runs(instance: dg.DagsterInstance) -> dict[str, dg.RunRecord]:
    """{stage job: its newest run record}. A run counts for a stage when it ran the stage's job or materialized
    one of its assets: the automation sensor's runs (production's blueprints, variants, scores ...) carry
    Dagster's internal asset job name, not the stage's."""
    newest: dict[str, dg.RunRecord] = {}
    for record in instance.get_run_records(limit=RECENT_RUNS):  # newest first
        run = record.dagster_run
        jobs = {run.job_name} if run.job_name in JOB_ORDER else \
            {JOB_OF[k.to_user_string()] for k in (run.asset_selection or []) if k.to_user_string() in JOB_OF}
        for job in jobs:
            newest.setdefault(job, record)
    for job in set(JOB_ORDER) - set(newest):  # older than the recent runs: its own job's newest
        records = instance.get_run_records(filters=dg.RunsFilter(job_name=job), limit=1)
        if records:
            newest[job] = records[0]
    return newest


def last_stage_runs(data_dir) -> dict:
    """The newest run of each stage job (JOB_ORDER) in the Dagster instance `actp ui` and `actp demo` record to
    (DAGSTER_HOME when set, else <data_dir>/dagster), for `actp status`: {"instance", "found", "runs", "note"}."""
    home = Path(os.environ["DAGSTER_HOME"]) if os.environ.get("DAGSTER_HOME") else Path(data_dir).resolve() / "dagster"
    if not (home / "dagster.yaml").exists() and not (home / "storage").is_dir():
        return {"instance": str(home), "found": False, "runs": [], "note": f"no Dagster instance at {home} yet"}
    try:
        instance = dg.DagsterInstance.from_config(str(run_instance_home(data_dir)))
        try:
            newest = newest_stage_runs(instance)
            runs = []
            for job in JOB_ORDER:
                r = newest.get(job)
                runs.append({"job": job, "status": r.dagster_run.status.value if r else None,
                             "run_id": r.dagster_run.run_id if r else None,
                             "created": _stamp(r.create_timestamp) if r else None,
                             "ended": _stamp(r.end_time) if r else None})
        finally:
            instance.dispose()
    except Exception as e:  # noqa: BLE001 - a Postgres instance that does not answer: said, not raised
        return {"instance": str(home), "found": False, "runs": [], "note": f"Dagster instance at {home} unreadable: "
                f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    return {"instance": str(home), "found": True, "runs": runs, "note": None}
