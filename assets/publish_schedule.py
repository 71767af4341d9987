"""Step 5a, publish: rendered variants get posting slots and publish items in the queue."""


import dagster as dg
import pandas as pd

from actp_pipeline import approvals
from actp_pipeline.publish.publish_schedule import publish_items, schedule_next_round, schedule_rendered
from actp_pipeline.store.invariants import duplicates, missing, negative
from assets.automation import OWNERS
from assets.checks import WARN, verdict
from assets.metadata import as_json, md_table, stamp
from actp_pipeline.iterate.research_queries import TABLE as NEXT_ROUND, hours_from, repeats_from
from assets.research_queries import NEXT_ROUND_FROM
from resources import LoopSettings, PlatformResource, StoreResource


@dg.asset(
    deps=[dg.AssetKey("renders")],  # materialized by the local_ops code location
    kinds={"python", "parquet"},
    group_name="publish",
    owners=OWNERS,
    # new renders at once; the allocation's next round once a day (read through research_queries, not a
    # dependency: posts feed the scores the allocation is made from, and the asset graph has no cycles)
    automation_condition=dg.AutomationCondition.eager() | dg.AutomationCondition.on_cron("0 7 * * *"),
    metadata=NEXT_ROUND_FROM,
    description="Step 5a, publish. Posting slots per (variant, platform, account) from the platform's clock, in the "
                "best hours of the previous round's research_queries; publish items queued once each; once a day, "
                "the allocation's next round (more posts of the leading creatives).",
)
def publish_schedule(context: dg.AssetExecutionContext, store: StoreResource, platform: PlatformResource,
                     loop: LoopSettings) -> dg.MaterializeResult:
    engine = store.engine()
    with platform.client() as client:
        now = client.now()
    wh = store.warehouse()
    nxt = wh.read(NEXT_ROUND)  # the previous round's timing and allocation (empty before the first)
    hours = hours_from(nxt)  # post in the hours that have done best, once there is data
    new = schedule_rendered(engine, now, loop.target_list(), loop.slot_rules(), hours_by_platform=hours,
                            link=loop.post_link())
    repeats = new.iloc[0:0]
    if loop.allocation_next_round_posts and len(nxt):
        repeats = schedule_next_round(engine, now, repeats_from(nxt), loop.target_list(), loop.slot_rules(),
                                      hours_by_platform=hours, link=loop.post_link())
    items = publish_items(engine)
    wh.write("publish_schedule", items)
    context.log.info(f"{len(new)} publish items and {len(repeats)} next-round posts scheduled "
                     f"(platform time {now:%Y-%m-%d %H:%M})")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(items),
        "newly_scheduled": len(new),
        "next_round_scheduled": len(repeats),
        "next_round": md_table(repeats.groupby("variant_id").size().rename("posts").reset_index()
                               .sort_values("posts", ascending=False)) if len(repeats) else "none today",
        "platform_now": stamp(now),
        "hours": as_json({p: list(h) for p, h in hours.items()}) if hours else "preferred defaults",
        "by_status": as_json(items.groupby("status").size().to_dict() if len(items) else {}),
        "new_slots": md_table(new),
        **approvals_metadata(engine),
    })


def approvals_metadata(engine) -> dict[str, dg.MetadataValue]:
    """What waits for a person before it is rendered or posted (the publish gate holds the rest): counts per
    scope, the oldest waiting rows, and the command that approves each (the approvals sensor moves it on)."""
    by_scope = approvals.counts(engine)
    waiting = {scope: {s: by_scope.get(scope, {}).get(s, 0) for s in ("pending", "needs_review")}
               for scope in approvals.SCOPES}
    rows = approvals.pending(engine).head(20)
    reasons = rows["reason"].astype(str).str.slice(0, 80).str.replace("|", "/")  # a pipe would split the cell
    shown = pd.DataFrame({
        "scope": rows["scope"], "id": rows["subject_id"], "status": rows["status"], "account": rows["account"],
        "waiting since": rows["decided_at"], "reason": reasons,
        "approve with": [f"actp approve {s} '{i}' --reason ..." for s, i in zip(rows["scope"], rows["subject_id"])]})
    return {
        "approvals_waiting": as_json(waiting),
        "approvals_waiting_oldest": md_table(shown, limit=20, key=["scope", "id"]),
        "approvals_how_to": dg.MetadataValue.md(
            "Nothing is rendered until its **content** and **strategy** are approved, and nothing is posted until "
            "its **schedule** is approved too (pending and needs_review wait; a strategy change sends its content, "
            "schedules and ads back to needs_review). List them with `actp approve list`; decide with `actp approve "
            "content|strategy|schedule|ads ID --reason ...` or `actp approve reject SCOPE ID --reason ...`. The "
            "approvals sensor then queues the renders and releases held posts within a minute; auto-approve rules "
            "per account come from the file named by ACTP_APPROVAL_RULES."),
    }


# ------------------------------------------------------------------------------------------------ checks
# (scheduled_at is a planned slot, in the future by design: no "no future timestamp" rule applies here)
@dg.asset_check(asset=publish_schedule, description=(
    "One publish item per idempotency key and per queue id (a post is never queued twice). Warns only: the "
    "store's unique key already refuses a second item, so a failure means the store lost that constraint."))
def publish_schedule_keys_unique(store: StoreResource) -> dg.AssetCheckResult:
    items = publish_items(store.engine())
    return verdict({"items": len(items)}, {"duplicates": duplicates(items, ["idempotency_key"]),
                                           "duplicate_queue_ids": duplicates(items, ["id"])}, severity=WARN)


@dg.asset_check(asset=publish_schedule, description=(
    "Every publish item names its variant, platform, account and slot, and its attempts are not negative. "
    "Warns only: the upload worker reports (and dead-letters) an item it cannot post."))
def publish_schedule_items_sane(store: StoreResource) -> dg.AssetCheckResult:
    items = publish_items(store.engine())
    key = ["idempotency_key"]
    return verdict({"items": len(items)}, {
        "missing_fields": missing(items, ["variant_id", "platform", "account", "scheduled_at"], key),
        "negative_attempts": negative(items, ["attempts"], key)}, severity=WARN)
