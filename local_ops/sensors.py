"""Pull-based triggers: launch render and upload runs when the queues hold due work.

Each tick is one cheap COUNT against the store; a run is requested only when none of the same job is
already queued or running, so a backlog becomes one batched run, never one run per item.
"""


import dagster as dg
import sqlalchemy as sa

from actp_pipeline.publish.posts import UPLOAD_AHEAD, due_filter
from actp_pipeline.publish.publisher import PlatformError
from actp_pipeline.publish.rate_limits import StoreRateLimiter
from actp_pipeline.renders.scratch import sweep
from actp_pipeline.store import schema
from actp_pipeline.store.queues import RENDER_STATUSES
from actp_pipeline.worker.heartbeats import release_offline_workers
from resources import PlatformResource, StoreResource
from sensors.jobs import job_in_flight

render_job = dg.define_asset_job("render_job", selection=dg.AssetSelection.assets("renders"))
publish_job = dg.define_asset_job("publish_job", selection=dg.AssetSelection.assets("posts"))

def _request(context: dg.SensorEvaluationContext, job_name: str, due: int, newest: int | None) -> dg.SensorResult:
    cursor = str(newest or 0)
    if due == 0:
        return dg.SensorResult(skip_reason="queue empty", cursor=cursor)
    if job_in_flight(context, job_name):
        return dg.SensorResult(skip_reason=f"{due} due; a {job_name} run is already working", cursor=cursor)
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"{job_name}:{cursor}:{due}:{context.cursor}")],
                           cursor=cursor)


@dg.sensor(job=render_job, minimum_interval_seconds=20, default_status=dg.DefaultSensorStatus.RUNNING)
def render_queue_sensor(context: dg.SensorEvaluationContext, store: StoreResource) -> dg.SensorResult:
    t = schema.render_jobs
    with store.engine().connect() as conn:
        due, newest = conn.execute(sa.select(sa.func.count(), sa.func.max(t.c.id)).where(
            t.c.status.in_(RENDER_STATUSES.claimable), t.c.available_at <= schema.utcnow())).one()
    return _request(context, "render_job", due, newest)


@dg.sensor(job=publish_job, minimum_interval_seconds=20, default_status=dg.DefaultSensorStatus.RUNNING)
def publish_queue_sensor(context: dg.SensorEvaluationContext, store: StoreResource,
                         platform: PlatformResource) -> dg.SensorResult:
    down = platform.unreachable()
    if down:  # one clear line per tick instead of a traceback; the cursor stays
        return dg.SensorResult(skip_reason=down, cursor=context.cursor)
    t = schema.publish_queue
    with platform.client() as client:
        horizon = client.now() + UPLOAD_AHEAD  # what the posts asset's publish_due takes by default
    engine = store.engine()
    with engine.connect() as conn:
        due, newest = conn.execute(sa.select(sa.func.count(), sa.func.max(t.c.id))
                                   .where(due_filter(horizon, engine.dialect.name))).one()
    return _request(context, "publish_job", due, newest)


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Marks workers offline after 2 minutes without a heartbeat and releases their work; "
                       "removes the temp files killed renders and writes left; sweeps rate-limit events no "
                       "window can see any more.")
def worker_liveness_sensor(context: dg.SensorEvaluationContext, store: StoreResource,
                           platform: PlatformResource) -> dg.SkipReason:
    engine = store.engine()
    moved = release_offline_workers(engine)
    if moved["offline"] or moved["renders"] or moved["uploads"] or moved["reaped"]:
        context.log.warning(f"workers offline: {moved['offline']}; released {moved['renders']} renders, "
                            f"{moved['uploads']} uploads; {moved['reaped']} expired leases returned")
    # and the files killed writers left: render work dirs and .part files, warehouse .tmp files
    left = {**sweep(store.media_dir), "warehouse_tmp_files": store.warehouse().sweep_temp()}
    if any(left.values()):
        context.log.warning(f"removed what killed writers left: {left}")
    # acquire() prunes only the key it takes; this sweeps keys nobody publishes to any more. On the
    # platform's clock, as the posts asset's limiter records them (PublishGuards.for_store).
    down = platform.unreachable()
    if down:  # the platform's clock is unreachable: liveness is checked all the same
        return dg.SkipReason(f"checked liveness: {moved}; rate-limit sweep skipped: {down}")
    try:
        with platform.client() as client:
            pruned = StoreRateLimiter(engine, clock=client.now).prune()
    except PlatformError as e:
        context.log.warning(f"rate-limit sweep skipped: {e}")
        pruned = None
    return dg.SkipReason(f"checked liveness: {moved}; rate events pruned: {pruned}")
