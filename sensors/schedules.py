"""Schedules for the heads of the graph and the automation sensor for the rest.

A tick whose platform cannot be reached is skipped with one line saying so, never a failed run."""


import datetime as dt

import dagster as dg

from resources import PlatformResource
from sensors.jobs import metrics_job, research_job


def _today_partition(context: dg.ScheduleEvaluationContext, job_name: str,
                     platform: PlatformResource) -> dg.RunRequest | dg.SkipReason:
    down = platform.unreachable()
    if down:
        return dg.SkipReason(down)
    when = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    day = when.astimezone(dt.UTC).date().isoformat()
    return dg.RunRequest(run_key=f"{job_name}:{when.isoformat()}", partition_key=day)


@dg.schedule(job=research_job, cron_schedule="7 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Hourly: collect today's market items (trending posts and ad library).")
def research_schedule(context: dg.ScheduleEvaluationContext, platform: PlatformResource):
    return _today_partition(context, "research", platform)


@dg.schedule(job=metrics_job, cron_schedule="*/5 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every 5 minutes: a metrics snapshot of every post.")
def metrics_schedule(context: dg.ScheduleEvaluationContext, platform: PlatformResource):
    return _today_partition(context, "metrics", platform)


automation_sensor = dg.AutomationConditionSensorDefinition(
    "actp_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Blueprints, variants, publish schedule, scores, winners and the next round follow their inputs.",
)
