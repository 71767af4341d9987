"""The approvals sensor: a decision made with `actp approve` moves the loop on without waiting for a clock.

Its cursor is the id of the last row of the approvals audit log (`approval_decisions`) it has seen. When new
decisions approve something, it (a) queues renders for the warehouse's variants whose content and strategy are
approved now and have no render yet (a person approving content, or a strategy that was held), (b) releases
the publish items the publish gate held back so they are posted at once rather than at their next re-check,
and (c) asks for a publish_schedule_job run when a person approved publish slots, so the asset's snapshot and
its "waiting for approval" table show the decision. Auto-rule schedule approvals are taken by the publish
gate at the moment of posting: they need no run (one per post would flood the run queue).

All three steps are idempotent (a render is queued once per variant, a released item is no longer held), so
a tick that repeats work after a crash does no harm; a variant approved before the `variants` asset wrote it
to the warehouse is queued by the next tick that sees any approval, or by the next round's record_round.
"""

import dagster as dg
import pandas as pd

from actp_pipeline.approvals import history, waiting
from actp_pipeline.approvals.states import APPROVED
from resources import LoopSettings, StoreResource
from sensors.jobs import job_in_flight
from sensors.publish import publish_schedule_job


def _renders_for(store: StoreResource, approved: pd.DataFrame, platform: str | None) -> tuple[int, list[str]]:
    """Queue renders for what these approvals made renderable; (queued, approved content ids not in the warehouse)."""
    wh = store.warehouse()
    if not wh.exists("variants"):
        return 0, approved.loc[approved["scope"] == "content", "subject_id"].tolist()
    variants = wh.read("variants")
    content = set(approved.loc[approved["scope"] == "content", "subject_id"])
    if not (approved["scope"] == "strategy").any():  # content decisions only: just those variants
        variants = variants[variants["variant_id"].isin(content)]
    return waiting.queue_approved_renders(store.engine(), variants, platform), \
        sorted(content - set(variants["variant_id"]))


@dg.sensor(job=publish_schedule_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="On new approval decisions (`actp approve ...`): queues renders of newly approved content, "
                       "releases publish items held for approval, runs publish_schedule after schedule approvals "
                       "(cursor: the last audit-log id seen).")
def approvals_sensor(context: dg.SensorEvaluationContext, store: StoreResource,
                     loop: LoopSettings) -> dg.SensorResult:
    after = int(context.cursor or 0)
    fresh = history(store.engine(), after_id=after)
    if fresh.empty:
        return dg.SensorResult(skip_reason="no new approval decisions", cursor=context.cursor)
    cursor = str(int(fresh["id"].max()))
    approved = fresh[fresh["to_status"] == APPROVED]
    if approved.empty:  # rejections and reviews hold things back: nothing moves
        return dg.SensorResult(skip_reason=f"{len(fresh)} new decisions, none an approval", cursor=cursor)
    targets = loop.target_list()
    queued, missing = _renders_for(store, approved, targets[0].platform if targets else None)
    released = waiting.release_held(store.engine())
    if missing:
        context.log.warning(f"approved content not in the warehouse's variants yet (queued later): {missing[:10]}")
    by_person = approved[(approved["scope"] == "schedule") & ~approved["decided_by"].str.startswith("auto:")]
    context.log.info(f"{len(approved)} approvals after #{after}: {queued} renders queued, {released} held "
                     f"publish items released, {len(by_person)} publish slots approved by a person")
    if by_person.empty:
        return dg.SensorResult(skip_reason=f"{queued} renders queued, {released} held items released; no "
                                           "schedule approved by a person", cursor=cursor)
    if job_in_flight(context, publish_schedule_job.name):
        return dg.SensorResult(skip_reason=f"{len(by_person)} slots approved; a publish_schedule_job run is "
                                           "working", cursor=cursor)
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"approvals:{cursor}")], cursor=cursor)
