"""Step 5b, publish: upload due publish items once each and record them in the posts ledger."""


import dagster as dg

from actp_pipeline.publish.platforms import make_publisher
from actp_pipeline.publish.posts import PublishGuards, publish_due
from actp_pipeline.worker.heartbeats import Heartbeat
from actp_pipeline.worker.loop import default_worker_id as worker_id
from resources import PlatformResource, StoreResource


class PostsConfig(dg.Config):
    batch: int = 50
    max_batches: int = 20


@dg.asset(
    deps=[dg.AssetKey("publish_schedule")],  # produced by the main code location; work arrives through the queue
    kinds={"python"},
    group_name="publish",
    owners=["team:growth"],
    pool="upload",
    description="Publish items uploaded to their platform once each (idempotency key per variant, platform, account).",
)
def posts(context: dg.AssetExecutionContext, config: PostsConfig, store: StoreResource,
          platform: PlatformResource) -> dg.MaterializeResult:
    engine, me = store.engine(), worker_id()
    totals: dict[str, int] = {}
    errors: dict[str, str] = {}
    with platform.client() as client, Heartbeat(engine, me) as hb:
        publisher = make_publisher(platform.publisher, client, data_dir=store.root, engine=engine)
        guards = PublishGuards.for_store(engine, client.now)  # rate limits and breakers, shared via the store
        deferred: dict[str, str] = {}
        try:
            for _ in range(config.max_batches):
                report = publish_due(engine, publisher, worker_id=me, limit=config.batch, clock=client.now,
                                     guards=guards, heartbeat=hb)
                deferred.update(report.deferred)
                for name in ("posted", "reconciled", "retried", "dead", "ambiguous", "lost_lease"):
                    totals[name] = totals.get(name, 0) + len(getattr(report, name))
                errors.update(report.errors)
                if report.handled == 0:
                    break
        finally:
            publisher.close()
    for key, err in errors.items():
        context.log.error(f"publish {key}: {err}")
    for key, why in deferred.items():
        context.log.info(f"publish {key} waits: {why}")
    return dg.MaterializeResult(metadata={**totals, "deferred": dg.MetadataValue.json(deferred) if deferred else "none",
                                          "errors": dg.MetadataValue.json(errors) if errors else "none"})
