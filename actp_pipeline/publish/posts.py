"""Publish: work the publish queue, uploading each item once and recording it in the posts ledger.

Order of writes per item: `uploading` (under the claim token) -> media upload -> the send gate -> the create
call -> external id stored -> `posted` plus the ledger row in one transaction. The send gate runs right
before the create call: it stamps the rate-limit slot at send time and fences the claim (token and lease,
on the database's clock); when either says no, nothing is sent. An item that comes back after a crash or an ambiguous
outcome is looked up by its idempotency key first and only uploaded when the platform has no such post.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.approvals.gate import HELD, publish_refusal
from actp_pipeline.failpoints import failpoint
from actp_pipeline.publish.circuit_breaker import StoreCircuitBreaker
from actp_pipeline.publish.platforms import parse_time
from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError, Publisher, SendRefused
from actp_pipeline.publish.rate_limits import StoreRateLimiter
from actp_pipeline.store import schema
from actp_pipeline.store.clock import now_sql
from actp_pipeline.store.queues import PUBLISH_STATUSES, WorkQueue, publish_queue
from actp_pipeline.store.schema import utcnow
from actp_pipeline.worker.progress import OnDone, notify


@dataclass
class PublishGuards:
    """Rate limits and circuit breakers on publish calls, shared by every worker through the store.

    They run on the platform's clock: a platform counts its limits in its own time (wall time for a real
    network, simulated time in the sandbox)."""

    limiter: StoreRateLimiter
    breaker: StoreCircuitBreaker

    @classmethod
    def for_store(cls, engine: Engine, clock: Callable[[], dt.datetime], limits=None) -> "PublishGuards":
        return cls(StoreRateLimiter(engine, limits=limits, clock=clock), StoreCircuitBreaker(engine, clock=clock))


@dataclass
class PublishReport:
    deferred: dict[str, str] = field(default_factory=dict)  # "platform:account" -> why it waits
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

    def sizes(self) -> dict[str, int]:
        """How long each outcome list is now, to tell afterwards where the next item went."""
        return {name: len(getattr(self, name)) for name in PUBLISH_OUTCOMES if name != "deferred"}

    def outcome_since(self, sizes: dict[str, int]) -> str:
        """The list that grew since `sizes` was taken; "deferred" when none did (the item was put back)."""
        return next((name for name, n in sizes.items() if len(getattr(self, name)) > n), "deferred")


# what became of one publish item: the PublishReport list it went to, or put back for later
PUBLISH_OUTCOMES = ("posted", "reconciled", "retried", "dead", "ambiguous", "lost_lease", "deferred")


def _record_posted(engine: Engine, item: dict[str, Any], token: str, post: dict[str, Any]) -> bool:
    t, ledger = schema.publish_queue, schema.posts
    now = utcnow()
    live_at = parse_time(post["live_at"]) if post.get("live_at") else now
    with engine.begin() as conn:
        res = conn.execute(
            t.update()
            .where(t.c.id == item["id"], t.c.claim_token == token, t.c.status.in_(PUBLISH_STATUSES.held))
            .values(status=PUBLISH_STATUSES.done, external_id=post["post_id"], post_url=post.get("url"),
                    lease_expires_at=None, last_error=None, updated_at=now)
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


def publish_item(engine: Engine, publisher: Publisher, item: dict[str, Any], report: PublishReport,
                 guards: PublishGuards | None = None, grant=None, permit=None, lease_s: float = 300.0) -> None:
    """Carry one claimed item to posted, retry, dead or unknown; never posts what the platform already has.

    With `guards`, the rate-limit `grant` and breaker `permit` taken for this item are settled by the outcome."""
    q = publish_queue(engine)
    gate = SendGate(q, item, guards, grant.ticket if grant is not None else None, lease_s)
    try:
        # a retry, an ambiguous outcome (`unknown`) or an item given fresh attempts after failing (its last
        # error kept): it may have reached the platform before, so look before posting
        tried = item["attempts"] > 1 or bool(item.get("last_error")) and not str(item["last_error"]).startswith(HELD)
        if tried and _reconcile(engine, publisher, item, report, guards, grant, permit):
            return
        if _held_for_approval(engine, q, item, report, guards, grant):
            return
        _upload(engine, q, publisher, item, report, guards, permit, gate)
    except SendRefused as e:
        _settle_refused(q, item, report, e, guards, gate)
    except AmbiguousOutcome as e:
        _settle_ambiguous(q, item, report, e, guards, permit)
    except PlatformError as e:
        _settle_failure(q, item, report, e, guards, gate.ticket, permit)


@dataclass
class SendGate:
    """The last check before the create call, passed to the publisher as `before_send`.

    In this order: the rate-limit slot is stamped at send time (the window full now: refuse), then the
    claim is fenced: this token still holds the item in `uploading` and its lease has not run out on the
    database's clock (the lease is renewed for the call). Anything else refuses and nothing is sent."""

    q: WorkQueue
    item: dict[str, Any]
    guards: PublishGuards | None
    ticket: int | None  # the item's rate-limit slot; replaced by the send-time stamp
    lease_s: float
    refusal: SendRefused | None = None  # the gate's own refusal (any other SendRefused is the platform's)

    def __call__(self) -> None:
        platform, account = self.item["platform"], self.item["account"]
        if self.guards is not None:
            stamped = self.guards.limiter.stamp(platform, account, self.ticket)
            self.ticket = stamped.ticket
            if not stamped.allowed:
                self.refusal = SendRefused(f"rate limit reached at send time: next slot in {stamped.wait_s:.0f} s; "
                                           "nothing was sent", reason="rate_limit", wait_s=stamped.wait_s)
                raise self.refusal
        if not self.q.fence(self.item["id"], self.item["claim_token"], self.lease_s, status="uploading"):
            self.refusal = SendRefused("the claim was lost before the create call (lease expired or taken over); "
                                       "nothing was sent", reason="lease_lost")
            raise self.refusal
        failpoint("publish.before_call")

    def fence(self) -> None:
        """The claim check alone, no rate-limit stamp: for an adapter whose later call makes the post (TikTok's
        final chunk after video/init), so a worker paused past its lease in between sends nothing more."""
        if not self.q.fence(self.item["id"], self.item["claim_token"], self.lease_s, status="uploading"):
            raise SendRefused("the claim was lost before the call that makes the post (lease expired or taken "
                              "over); its last bytes were not sent", reason="lease_lost")


APPROVAL_RECHECK_S = 300.0  # a held item is looked at again after this; the approvals sensor releases it sooner


def _held_for_approval(engine: Engine, q: WorkQueue, item: dict[str, Any], report: PublishReport,
                       guards: PublishGuards | None, grant) -> bool:
    """THE approvals gate of every post (actp_pipeline.approvals.gate): content, strategy and schedule all
    approved, else nothing is sent; the item goes back to the queue, its attempt refunded, with the reason as
    its last_error, until it is approved. Fail-closed: an error reading approvals holds the item too."""
    why = publish_refusal(engine, item)
    if why is None:
        return False
    if guards is not None and grant is not None:
        guards.limiter.release_unused(item["platform"], item["account"], grant.ticket)
    report.errors[item["idempotency_key"]] = why
    q.set_status(item["id"], item["claim_token"], q.s.queued, claim_token=None, lease_expires_at=None,
                 attempts=q.table.c.attempts - 1, last_error=why,
                 available_at=now_sql(q.engine.dialect.name, APPROVAL_RECHECK_S))
    return True


WAITS = ("rate_limit", "quota")  # refusals that put the item back until the platform's window or quota resets


def _settle_refused(q: WorkQueue, item: dict[str, Any], report: PublishReport, e: SendRefused,
                    guards: PublishGuards | None, gate: SendGate) -> None:
    """The send gate (or the platform's adapter, before sending) said no, so the platform never heard of this
    attempt: give the slot back; a full rate window or a spent quota puts the item back with its attempt
    refunded (an adapter's refusal also blocks the key until its wait is over: a spent quota for the whole
    platform), a lost claim leaves it to its new holder. Never a circuit-breaker failure."""
    key, where = item["idempotency_key"], (item["platform"], item["account"])
    if guards is not None:
        guards.limiter.release_unused(*where, gate.ticket)
        if e.reason in WAITS and e is not gate.refusal and e.wait_s > 0:
            guards.limiter.note_retry_after(where[0], None if e.reason == "quota" else where[1], e.wait_s,
                                            reason=f"{e.reason}: {e}"[:200])
    report.errors[key] = str(e)
    if e.reason in WAITS and _put_back(q, item, None if guards is not None else e.wait_s):
        report.deferred.setdefault(f"{where[0]}:{where[1]}", str(e))
    else:
        report.lost_lease.append(key)


def _put_back(q: WorkQueue, item: dict[str, Any], wait_s: float | None) -> bool:
    """Unclaim the item, its attempt refunded; without shared guards to hold its key, not claimable again for
    `wait_s` (on the store's clock)."""
    if not wait_s:
        return q.unclaim(item["id"], item["claim_token"])
    return q.set_status(item["id"], item["claim_token"], q.s.queued, claim_token=None, lease_expires_at=None,
                        attempts=q.table.c.attempts - 1, available_at=now_sql(q.engine.dialect.name, wait_s))


def _quota_wait(e: PlatformError) -> float | None:
    """Seconds until the platform's quota resets when `e` says it is spent (YouTube's 403 quotaExceeded, or any
    adapter error marked `quota_exhausted`); else None."""
    youtube = sys.modules.get("actp_pipeline.publish.youtube")  # loaded whenever one of its errors exists
    if getattr(e, "quota_exhausted", False) or (youtube is not None and isinstance(e, youtube.QuotaExceeded)):
        return float(e.retry_after_s or 3600.0)
    return None


def _find_post(publisher: Publisher, item: dict[str, Any]) -> dict[str, Any] | None:
    """The post of this item's key, asked of its platform's adapter when the publisher routes by platform."""
    find_for = getattr(publisher, "find_post_for", None)
    if find_for is not None:
        return find_for(item["platform"], item["account"], item["idempotency_key"])
    return publisher.find_post(item["idempotency_key"])


def _reconcile(engine: Engine, publisher: Publisher, item: dict[str, Any], report: PublishReport,
               guards: PublishGuards | None, grant, permit) -> bool:
    """Record the post the platform already has for this item's key; False when it has none."""
    key, where = item["idempotency_key"], (item["platform"], item["account"])
    found = _find_post(publisher, item)
    if found is None:
        return False
    if guards:
        guards.limiter.release_unused(*where, grant.ticket)  # a lookup is not a publish call
        guards.breaker.record_success(*where, permit)
    if _record_posted(engine, item, item["claim_token"], found):
        report.reconciled.append(key)
    else:
        report.lost_lease.append(key)
    return True


def _upload(engine: Engine, q: WorkQueue, publisher: Publisher, item: dict[str, Any], report: PublishReport,
            guards: PublishGuards | None, permit, gate: SendGate) -> None:
    """Mark the item uploading, post it, store the external id, then mark it posted with its ledger row."""
    token, key = item["claim_token"], item["idempotency_key"]
    payload = item["payload"]
    media_path = Path(payload["media_path"])
    if not media_path.is_file():
        raise PlatformError(f"rendered file {media_path} is missing", retryable=False, sent=False)
    if not q.set_status(item["id"], token, "uploading"):
        report.lost_lease.append(key)
        return
    post = publisher.publish(
        media_path=media_path, platform=item["platform"], account=item["account"],
        caption=payload["caption"], hashtags=list(payload.get("hashtags", [])),
        scheduled_at=item["scheduled_at"], idempotency_key=key, before_send=gate)
    failpoint("publish.after_call")
    if guards:
        guards.breaker.record_success(item["platform"], item["account"], permit)
    # the external id is on the item before it counts as posted
    if not q.save(item["id"], token, external_id=post["post_id"], post_url=post.get("url")):
        report.lost_lease.append(key)
        return
    if _record_posted(engine, item, token, post):
        report.posted.append(key)
    else:
        report.lost_lease.append(key)


def _settle_ambiguous(q: WorkQueue, item: dict[str, Any], report: PublishReport, e: AmbiguousOutcome,
                      guards: PublishGuards | None, permit) -> None:
    """The post may exist: park the item as `unknown` until it is looked up, never re-uploaded blindly."""
    key, where = item["idempotency_key"], (item["platform"], item["account"])
    report.errors[key] = str(e)
    if guards:
        guards.breaker.record_failure(*where, str(e), permit)
    q.set_status(item["id"], item["claim_token"], q.s.ambiguous, claim_token=None, lease_expires_at=None,
                 last_error=str(e)[-4000:],
                 # give the platform time to settle before the post is looked up
                 available_at=now_sql(q.engine.dialect.name, RECONCILE_AFTER_S))
    report.ambiguous.append(key)


def _settle_failure(q: WorkQueue, item: dict[str, Any], report: PublishReport, e: PlatformError,
                    guards: PublishGuards | None, ticket: int | None, permit) -> None:
    """Nothing was posted: wait out a 429 or a spent quota, else retry after a backoff or give the item up (dead)."""
    token, key, where = item["claim_token"], item["idempotency_key"], (item["platform"], item["account"])
    report.errors[key] = str(e)
    quota_s = _quota_wait(e)
    if quota_s is not None:
        # the platform's daily quota: nothing was done and the platform is well; wait until it resets
        if guards:
            guards.limiter.release_unused(*where, ticket)
            guards.limiter.note_retry_after(where[0], None, quota_s, reason=f"quota: {e}"[:200])
            guards.breaker.record_success(*where, permit)
        _put_back(q, item, None if guards else quota_s)
        report.deferred.setdefault(f"{where[0]}:{where[1]}", f"quota spent: resets in {quota_s:.0f} s")
        return
    if guards and e.status == 429:
        # the platform's own limit: wait as long as it says; the platform answered, and the attempt
        # does not count against the item
        guards.limiter.note_retry_after(*where, e.retry_after, reason=str(e)[:200])
        guards.breaker.record_success(*where, permit)
        q.unclaim(item["id"], token)
        report.deferred.setdefault(f"{where[0]}:{where[1]}", f"platform said 429, Retry-After {e.retry_after}")
        return
    if guards:
        if not e.sent:
            guards.limiter.release_unused(*where, ticket)
        if e.retryable:  # 5xx, timeouts, refused connections: the platform is unwell
            guards.breaker.record_failure(*where, str(e), permit)
        else:  # a clear 4xx answer: the platform is fine, this item is not
            guards.breaker.record_success(*where, permit)
    status = q.fail(item["id"], token, str(e), retryable=e.retryable, backoff_s=e.retry_after_s or 30.0)
    (report.dead if status == q.s.dead else report.retried).append(key)  # else retried after backoff


RECONCILE_AFTER_S = 30.0
UPLOAD_AHEAD = dt.timedelta(hours=48)  # publish_due's default: items due this far ahead are uploaded now


def due_filter(horizon: dt.datetime, dialect: str, now: dt.datetime | None = None) -> sa.ColumnElement[bool]:
    """Publish items a claim can take: claimable, scheduled by `horizon` (platform time) and available by
    `now` (default: the store's own clock). What publish_due works on and local_ops' publish sensor counts."""
    t = schema.publish_queue
    return sa.and_(t.c.status.in_(PUBLISH_STATUSES.claimable), t.c.scheduled_at <= horizon,
                   t.c.available_at <= (now if now is not None else now_sql(dialect)))


# publish_due's claim filter, built once: the claim statement is cached per `where` object
_pq = schema.publish_queue
_KEY_DUE = sa.and_(_pq.c.platform == sa.bindparam("due_platform", type_=_pq.c.platform.type),
                   _pq.c.account == sa.bindparam("due_account", type_=_pq.c.account.type),
                   _pq.c.scheduled_at <= sa.bindparam("due_horizon", type_=_pq.c.scheduled_at.type))


def _due_keys(engine: Engine, horizon: dt.datetime) -> list[tuple[str, str]]:
    t = schema.publish_queue
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(t.c.platform, t.c.account).distinct().where(due_filter(horizon, engine.dialect.name))
            .order_by(t.c.platform, t.c.account))]


def publish_due(engine: Engine, publisher: Publisher, *, worker_id: str, limit: int = 50, lease_s: float = 300,
                upload_ahead: dt.timedelta = UPLOAD_AHEAD, now: dt.datetime | None = None,
                clock: Callable[[], dt.datetime] | None = None, guards: PublishGuards | None = None,
                heartbeat=None, on_publish: OnDone | None = None) -> PublishReport:
    """Publish up to `limit` items due within `upload_ahead` of the platform's clock.

    Per (platform, account) a rate-limit slot is taken before an item is claimed, so nothing is claimed
    that cannot be posted now; an open circuit breaker puts the claimed item back untouched. "Due" is by
    the platform's clock (`clock`, else the publisher's `now`, else wall time). With a `heartbeat`
    (worker_health.Heartbeat) claimed items stay leased while they upload. `on_publish(key, outcome)`
    hears of each item as it is settled (outcome: one of PUBLISH_OUTCOMES), e.g. for a progress bar."""
    q = publish_queue(engine)
    q.reap()
    clock = clock or getattr(publisher, "now", None) or utcnow
    platform_now = now or clock()
    horizon = platform_now + upload_ahead
    report = PublishReport()
    budget = limit
    for platform, account in _due_keys(engine, horizon):
        key_due = {"due_platform": platform, "due_account": account, "due_horizon": horizon}
        while budget > 0:
            grant = permit = None
            if guards:
                grant = guards.limiter.acquire(platform, account)
                if not grant.allowed:
                    report.deferred.setdefault(f"{platform}:{account}", f"rate limit: next slot in {grant.wait_s:.0f} s")
                    break
            items = q.claim(worker_id, limit=1, lease_s=lease_s, where=_KEY_DUE, params=key_due)
            if not items:
                if guards:
                    guards.limiter.release_unused(platform, account, grant.ticket)
                break
            item = items[0]
            if guards:
                permit = guards.breaker.allow(platform, account)
                if not permit.allowed:
                    guards.limiter.release_unused(platform, account, grant.ticket)
                    q.unclaim(item["id"], item["claim_token"])
                    report.deferred.setdefault(f"{platform}:{account}",
                                               f"circuit breaker {permit.state}: retry in {permit.wait_s:.0f} s")
                    break
            budget -= 1
            if heartbeat is not None:
                heartbeat.hold(q, [item])
            before = len(report.posted) + len(report.reconciled)
            sizes = report.sizes()
            publish_item(engine, publisher, item, report, guards, grant, permit, lease_s=lease_s)
            if heartbeat is not None:
                heartbeat.drop(q, item["id"], completed=len(report.posted) + len(report.reconciled) > before)
            notify(on_publish, item["idempotency_key"], report.outcome_since(sizes))
    return report


def public_video_id(engine: Engine, post_id: str) -> str | None:
    """The public id a platform revealed for a post after it went live (TikTok: the video id once moderation
    ends, recorded by measure.post_metrics.record_public_ids), or None while it is not known. Spark Ads need
    it: the ledger keeps the id the platform answered the publish with."""
    q = schema.publish_queue
    with engine.connect() as conn:
        payloads = conn.execute(sa.select(q.c.payload).where(q.c.external_id == str(post_id))).scalars().all()
    found = [str(p["public_id"]) for p in payloads if isinstance(p, dict) and p.get("public_id")]
    return found[0] if found else None
