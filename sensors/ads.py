"""The approvals sensor: a plan approved with `actp ads approve` is executed without a click in the UI."""


import dagster as dg
import sqlalchemy as sa

from actp_pipeline.store import schema
from resources import PlatformResource, StoreResource
from sensors.jobs import ad_actions_job


@dg.sensor(job=ad_actions_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Runs ad_actions for each newly approved ads plan (cursor: the last approval seen).")
def ad_plan_approvals_sensor(context: dg.SensorEvaluationContext, store: StoreResource,
                             platform: PlatformResource) -> dg.SensorResult:
    t = schema.ad_plan_approvals
    last = context.cursor or ""
    with store.engine().connect() as conn:
        rows = conn.execute(sa.select(t.c.plan_id, sa.func.max(t.c.approved_at).label("at"))
                            .group_by(t.c.plan_id).order_by("at")).all()
    fresh = [(plan_id, at.isoformat()) for plan_id, at in rows if at.isoformat() > last]
    down = platform.unreachable() if fresh else None  # execution reads the platform's clock
    if down:  # the cursor stays: the approvals run once the platform is back
        return dg.SensorResult(skip_reason=down, cursor=context.cursor)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"approved:{plan_id}:{at}",
                                    run_config={"ops": {"ad_actions": {"config": {"plan_id": plan_id}}}})
                      for plan_id, at in fresh],
        cursor=max([at for _, at in fresh], default=last) or None)
