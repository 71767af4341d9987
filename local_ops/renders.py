"""Step 4, render: drain the render queue into checked H.264 MP4 files."""


import time

import dagster as dg

from actp_pipeline.renders.queue import render_due
from actp_pipeline.worker.heartbeats import Heartbeat
from actp_pipeline.worker.loop import default_worker_id as worker_id
from resources import StoreResource


class RenderConfig(dg.Config):
    batch: int = 16
    concurrency: int = 2
    preset: str = "veryfast"
    max_seconds: float = 1500.0


@dg.asset(
    deps=[dg.AssetKey("variants")],  # produced by the main code location; work arrives through the queue
    kinds={"python", "ffmpeg"},
    group_name="render",
    owners=["team:growth"],
    pool="render",
    description="Queued variants rendered to 1080x1920 H.264/AAC MP4, each decoded and checked before it counts.",
)
def renders(context: dg.AssetExecutionContext, config: RenderConfig, store: StoreResource) -> dg.MaterializeResult:
    engine, me = store.engine(), worker_id()
    done, failed, seconds, started = [], {}, 0.0, time.monotonic()
    with Heartbeat(engine, me) as hb:  # this run is a worker: heartbeat row, leases kept alive
        while time.monotonic() - started < config.max_seconds:
            report = render_due(engine, store.media_dir, worker_id=me, limit=config.batch,
                                concurrency=config.concurrency, preset=config.preset, heartbeat=hb)
            done += report.succeeded
            failed.update(report.errors)
            seconds += report.seconds_of_video
            if not report.handled:
                break
            context.log.info(f"rendered {len(report.succeeded)} ({len(done)} so far), {len(report.errors)} failed")
    for vid, err in failed.items():
        context.log.error(f"render {vid} failed: {err[-500:]}")
    elapsed = time.monotonic() - started
    return dg.MaterializeResult(metadata={
        "rendered": len(done),
        "failed": len(failed),
        "seconds_of_video": round(seconds, 1),
        "realtime_multiple": round(seconds / elapsed, 2) if done else 0.0,
        "variants": done[:50],
    })
