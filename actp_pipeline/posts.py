"""Publish: work the publish queue, uploading each item once and recording it in the posts ledger.

Order of writes per item: `uploading` (under the claim token) -> platform call -> external id stored ->
`posted` plus the ledger row in one transaction. An item that comes back after a crash or an ambiguous
outcome is looked up by its idempotency key first and only uploaded when the platform has no such post.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.failpoints import failpoint
from actp_pipeline.platforms import AmbiguousOutcome, PlatformError, Publisher, parse_time
from actp_pipeline.store import schema
from actp_pipeline.store.queues import publish_queue
from actp_pipeline.store.schema import utcnow


@dataclass
class PublishReport:
    posted: list[str] = field(default_factory=list)
    reconciled: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    lost_lease: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def handled(self) -> int:
        return len(self.posted) + len(self.reconciled) + len(self.retried) + len(self.dead) + len(self.ambiguous)


def _record_posted(engine: Engine, item: dict[str, Any], token: str, post: dict[str, Any]) -> bool:
    t, ledger = schema.publish_queue, schema.posts
    now = utcnow()
    live_at = parse_time(post["live_at"]) if post.get("live_at") else now
    with engine.begin() as conn:
        res = conn.execute(
            t.update()
            .where(t.c.id == item["id"], t.c.claim_token == token, t.c.status.in_(("claimed", "uploading")))
            .values(status="posted", external_id=post["post_id"], post_url=post.get("url"), lease_expires_at=None,
                    last_error=None, updated_at=now)
        )
        if res.rowcount != 1:
            return False
        exists = conn.execute(sa.select(ledger.c.id).where(ledger.c.idempotency_key == item["idempotency_key"])).first()
        if exists is None:
            conn.execute(ledger.insert().values(
                idempotency_key=item["idempotency_key"], variant_id=item["variant_id"], platform=item["platform"],
                account=item["account"], external_id=post["post_id"], url=post.get("url"), live_at=live_at,
                posted_at=now, publish_item_id=item["id"]))
    return True


def publish_item(engine: Engine, publisher: Publisher, item: dict[str, Any], report: PublishReport) -> None:
    """Carry one claimed item to posted, retry, dead or unknown; never posts what the platform already has."""
    q = publish_queue(engine)
    token, key = item["claim_token"], item["idempotency_key"]
    try:
        if item["attempts"] > 1:  # a retry, or an ambiguous outcome (`unknown`): look before posting
            found = publisher.find_post(key)
            if found is not None:
                if _record_posted(engine, item, token, found):
                    report.reconciled.append(key)
                else:
                    report.lost_lease.append(key)
                return
        payload = item["payload"]
        media_path = Path(payload["media_path"])
        if not media_path.is_file():
            raise PlatformError(f"rendered file {media_path} is missing", retryable=False)
        if not q.set_status(item["id"], token, "uploading"):
            report.lost_lease.append(key)
            return
        failpoint("publish.before_call")
        post = publisher.publish(
            media_path=media_path, platform=item["platform"], account=item["account"],
            caption=payload["caption"], hashtags=list(payload.get("hashtags", [])),
            scheduled_at=item["scheduled_at"], idempotency_key=key)
        failpoint("publish.after_call")
        # the external id is on the item before it counts as posted
        if not q.save(item["id"], token, external_id=post["post_id"], post_url=post.get("url")):
            report.lost_lease.append(key)
            return
        if _record_posted(engine, item, token, post):
            report.posted.append(key)
        else:
            report.lost_lease.append(key)
    except AmbiguousOutcome as e:
        report.errors[key] = str(e)
        t = schema.publish_queue
        with engine.begin() as conn:
            conn.execute(t.update().where(t.c.id == item["id"], t.c.claim_token == token)
                         .values(status="unknown", claim_token=None, lease_expires_at=None, last_error=str(e)[-4000:],
                                 updated_at=utcnow()))
        report.ambiguous.append(key)
    except PlatformError as e:
        report.errors[key] = str(e)
        status = q.fail(item["id"], token, str(e), retryable=e.retryable, backoff_s=e.retry_after_s or 30.0)
        (report.dead if status == "dead" else report.retried).append(key)  # "failed": retried after backoff


def publish_due(engine: Engine, publisher: Publisher, *, worker_id: str, limit: int = 50, lease_s: float = 300,
                upload_ahead: dt.timedelta = dt.timedelta(hours=48), now: dt.datetime | None = None,
                clock=None, heartbeat=None) -> PublishReport:
    """Claim up to `limit` items due within `upload_ahead` of the platform's clock and publish them.

    "Due" is by the platform's clock (`clock`, else the publisher's own `now`, else wall time: the
    sandbox's time is simulated); with a `heartbeat` (worker_health.Heartbeat) the claimed items stay
    leased while they upload."""
    q = publish_queue(engine)
    q.reap()
    clock = clock or getattr(publisher, "now", None) or utcnow
    platform_now = now or clock()
    t = schema.publish_queue
    items = q.claim(worker_id, limit=limit, lease_s=lease_s, statuses=("queued", "failed", "unknown"),
                    where=t.c.scheduled_at <= platform_now + upload_ahead)
    if heartbeat is not None:
        heartbeat.hold(q, items)
    report = PublishReport()
    for item in items:
        before = len(report.posted) + len(report.reconciled)
        publish_item(engine, publisher, item, report)
        if heartbeat is not None:
            heartbeat.drop(q, item["id"], completed=len(report.posted) + len(report.reconciled) > before)
    return report
