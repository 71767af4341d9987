"""Schedules for the heads of the graph and the automation sensor for the rest."""


import datetime as dt

import dagster as dg

research_job = dg.define_asset_job("research_job", selection=dg.AssetSelection.assets("market_items"))
metrics_job = dg.define_asset_job("metrics_job", selection=dg.AssetSelection.assets("post_metrics"))


def _today_partition(context: dg.ScheduleEvaluationContext, job_name: str) -> dg.RunRequest:
    when = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    day = when.astimezone(dt.UTC).date().isoformat()
    return dg.RunRequest(run_key=f"{job_name}:{when.isoformat()}", partition_key=day)


@dg.schedule(job=research_job, cron_schedule="7 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Hourly: collect today's market items (trending posts and ad library).")
def research_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return _today_partition(context, "research")


@dg.schedule(job=metrics_job, cron_schedule="*/5 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every 5 minutes: a metrics snapshot of every post.")
def metrics_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return _today_partition(context, "metrics")


automation_sensor = dg.AutomationConditionSensorDefinition(
    "actp_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Blueprints, variants, publish schedule, scores and winners follow their inputs.",
)
