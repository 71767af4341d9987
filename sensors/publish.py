"""Rendered videos get their posting slots as soon as they exist, whoever rendered them.

publish_schedule follows the `renders` asset eagerly, but `renders` is materialized only by local_ops'
render_job runs; a render done by an `actp worker` process (production's way: workers reach only the store
and the platforms) is a row in the store, not a Dagster event, so without this sensor the worker's renders
would wait for publish_schedule's daily cron. One cheap query per tick; a run is requested only for a new
state of the unscheduled renders and only when no publish_schedule_job run is already queued or running."""

import dagster as dg
import sqlalchemy as sa

from actp_pipeline.store import schema
from resources import StoreResource
from sensors.jobs import JOBS, job_in_flight

publish_schedule_job = JOBS["publish_schedule_job"]


def unscheduled_renders(engine: sa.Engine) -> tuple[int, int | None]:
    """(succeeded renders whose variant has no publish item yet, the newest such render's id)."""
    rj, pq = schema.render_jobs, schema.publish_queue
    scheduled = sa.select(pq.c.id).where(pq.c.variant_id == rj.c.variant_id).exists()
    with engine.connect() as conn:
        count, newest = conn.execute(sa.select(sa.func.count(), sa.func.max(rj.c.id))
                                     .where(rj.c.status == "succeeded", ~scheduled)).one()
    return int(count), newest


@dg.sensor(job=publish_schedule_job, minimum_interval_seconds=20, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Runs publish_schedule when the store holds succeeded renders not yet scheduled (renders "
                       "made by worker processes, which Dagster does not see).")
def rendered_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
    count, newest = unscheduled_renders(store.engine())
    if count == 0:
        return dg.SensorResult(skip_reason="every rendered video is scheduled")
    if job_in_flight(context, publish_schedule_job.name):
        return dg.SensorResult(skip_reason=f"{count} rendered, unscheduled; a publish_schedule_job run is working")
    # the key names this state: a render publish_schedule leaves unscheduled (no target takes it) is asked once
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"publish_schedule:{newest}:{count}")])
