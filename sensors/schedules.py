"""Schedules for the heads of the graph and the automation sensor for the rest.

A tick whose platform cannot be reached is skipped with one line saying so, never a failed run. A tick while
the schedule's previous run is still queued or running is skipped too: on a busy host runs would otherwise pile up
behind each other, each one a process per step, and slow the whole loop down further."""


import datetime as dt
import os

import dagster as dg

from assets.automation import DAILY
from resources import PlatformResource
from sensors.jobs import metrics_job, research_job

# A deployment may move the heads' cadence (ACTP_RESEARCH_CRON, ACTP_METRICS_CRON, read when the code location
# loads): research hourly and metrics every 5 minutes are what a real account needs; the production end-to-end
# test runs both every minute.
RESEARCH_CRON = os.environ.get("ACTP_RESEARCH_CRON") or "7 * * * *"  # empty = unset (compose)
METRICS_CRON = os.environ.get("ACTP_METRICS_CRON") or "*/5 * * * *"


def _today_partition(context: dg.ScheduleEvaluationContext, name: str,
                     platform: PlatformResource) -> dg.RunRequest | dg.SkipReason:
    """Today's partition by the platform's clock (the sandbox's simulated day; wall time on a real platform), so
    research and metrics ask for the day the platform is living, not the daemon's."""
    busy = _in_flight(context, f"{name}_schedule")
    if busy:
        return dg.SkipReason(busy)
    down = platform.unreachable()
    if down:
        return dg.SkipReason(down)
    when = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    with platform.client() as client:
        day = client.now().date().isoformat()
    days = DAILY.get_partition_keys()
    if day not in days:
        return dg.SkipReason(f"the platform's day {day} is outside the research days "
                             f"({days[0]} .. {days[-1]}): nothing to collect")
    return dg.RunRequest(run_key=f"{name}:{when.isoformat()}", partition_key=day)


IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]
# A run in flight for longer than this is presumed stuck (its process gone without the instance hearing) and no
# longer holds its schedule back: a research or metrics run takes minutes.
STUCK_AFTER = dt.timedelta(hours=2)


def _in_flight(context: dg.ScheduleEvaluationContext, schedule: str) -> str | None:
    """Why this tick waits, when the schedule's own previous run (not a backfill's or one launched by hand) is
    still queued or running; None otherwise."""
    since = dt.datetime.now(dt.UTC) - STUCK_AFTER
    records = context.instance.get_run_records(dg.RunsFilter(
        statuses=IN_FLIGHT, tags={"dagster/schedule_name": schedule}, created_after=since), limit=1)
    if not records:
        return None
    run = records[0].dagster_run
    return (f"{run.job_name} run {run.run_id} of {schedule} is still {run.status.value.lower()}: this tick waits "
            "for the next one")


@dg.schedule(job=research_job, cron_schedule=RESEARCH_CRON, default_status=dg.DefaultScheduleStatus.RUNNING,
             description=f"{RESEARCH_CRON!r}: collect today's market items (trending posts and ad library).")
def research_schedule(context: dg.ScheduleEvaluationContext, platform: PlatformResource):
    return _today_partition(context, "research", platform)


@dg.schedule(job=metrics_job, cron_schedule=METRICS_CRON, default_status=dg.DefaultScheduleStatus.RUNNING,
             description=f"{METRICS_CRON!r}: a metrics snapshot of every post.")
def metrics_schedule(context: dg.ScheduleEvaluationContext, platform: PlatformResource):
    return _today_partition(context, "metrics", platform)


automation_sensor = dg.AutomationConditionSensorDefinition(
    "actp_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Blueprints, variants, publish schedule, scores, winners and the next round follow their inputs.",
)
