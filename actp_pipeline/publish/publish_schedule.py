"""Publish: put rendered variants into posting slots, one publish item per (variant, platform, account),
then, once a day, the next round the allocation policy asks for (more posts of the leading creatives).

Slots start at the platform's current time, fall on the preferred hours (the timing matrix replaces the
defaults once there is data), keep a minimum gap and a daily cap per account. A next-round post is a
repeat of a live creative; its idempotency key carries the batch day and the repeat number, so a day's
batch is queued once however often scheduling runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass

import pandas as pd

from actp_pipeline.measure.timing_matrix import DEFAULT_HOURS


@dataclass(frozen=True)
class Target:
    platform: str
    account: str

    @classmethod
    def parse(cls, text: str) -> "Target":
        platform, _, account = text.partition(":")
        if not platform or not account:
            raise ValueError(f"publish target {text!r} must look like 'platform:account', e.g. 'tiktok:main'")
        return cls(platform.strip().lower(), account.strip())


@dataclass(frozen=True)
class SlotRules:
    hours: tuple[int, ...] = DEFAULT_HOURS
    max_posts_per_day: int = 6
    min_gap_minutes: int = 30
    lead_minutes: int = 10  # never schedule closer to "now" than this

    def __post_init__(self) -> None:
        if not self.hours or any(not 0 <= h <= 23 for h in self.hours):
            raise ValueError(f"posting hours must be 0-23 and at least one, got {self.hours!r}")
        if self.max_posts_per_day < 1:
            raise ValueError(f"max_posts_per_day must be at least 1, got {self.max_posts_per_day}")


def idempotency_key(variant_id: str, target: Target, repeat: str | None = None) -> str:
    """One key per (variant, platform, account) and repeat (None for the first post): the platform dedupes
    on it, so a retry never posts twice."""
    raw = f"{variant_id}|{target.platform}|{target.account}" + (f"|{repeat}" if repeat else "")
    return f"actp-{variant_id}-{target.platform}-{hashlib.sha256(raw.encode()).hexdigest()[:10]}"


def _slots(now: dt.datetime, taken: list[dt.datetime], rules: SlotRules):
    """Endless sequence of free slots after `now`, honouring per-day caps and the minimum gap."""
    per_day: dict[dt.date, int] = {}
    for t in taken:
        per_day[t.date()] = per_day.get(t.date(), 0) + 1
    busy = sorted(taken)
    gap = dt.timedelta(minutes=rules.min_gap_minutes)
    day = now.date()
    earliest = now + dt.timedelta(minutes=rules.lead_minutes)
    while True:
        hours = sorted(set(rules.hours))
        # several posts can share an hour when the cap exceeds the number of preferred hours
        per_hour = max(1, -(-rules.max_posts_per_day // len(hours)))
        for minute_slot in range(per_hour):
            for h in hours:
                slot = dt.datetime.combine(day, dt.time(h)) + minute_slot * gap
                if slot < earliest or per_day.get(day, 0) >= rules.max_posts_per_day:
                    continue
                if any(abs(slot - b) < gap for b in busy):
                    continue
                busy.append(slot)
                per_day[day] = per_day.get(day, 0) + 1
                yield slot
        day += dt.timedelta(days=1)


LINK_LABEL = "Shop:"  # the caption line that carries a post's tracked link
PLAN_COLUMNS = ["variant_id", "platform", "account", "idempotency_key", "scheduled_at"]
EXISTING_COLUMNS = ["platform", "account", "idempotency_key", "scheduled_at"]


def _place(target: Target, posts, existing: pd.DataFrame, known: set[str], now: dt.datetime,
           rules: SlotRules) -> list[dict]:
    """A slot for each (variant, repeat) of `posts` whose key is not `known` yet (and add it to `known`)."""
    mine = existing[(existing["platform"] == target.platform) & (existing["account"] == target.account)]
    slots = _slots(now, [pd.Timestamp(t).to_pydatetime() for t in mine["scheduled_at"]], rules)
    rows = []
    for vid, repeat in posts:
        key = idempotency_key(vid, target, repeat)
        if key in known:
            continue
        known.add(key)
        rows.append({"variant_id": vid, "platform": target.platform, "account": target.account,
                     "idempotency_key": key, "scheduled_at": next(slots)})
    return rows


def plan_slots(rendered: pd.DataFrame, targets: list[Target], now: dt.datetime, *,
               already_scheduled: pd.DataFrame | None = None, rules: SlotRules = SlotRules()) -> pd.DataFrame:
    """One row per (variant, target) not yet scheduled, with its slot and idempotency key.

    `rendered` needs variant_id (in the order to post them); `already_scheduled` has platform, account,
    idempotency_key and scheduled_at of existing publish items.
    """
    existing = already_scheduled if already_scheduled is not None else pd.DataFrame(columns=EXISTING_COLUMNS)
    known = set(existing["idempotency_key"])
    rows = [row for target in targets
            for row in _place(target, ((vid, None) for vid in rendered["variant_id"]), existing, known, now, rules)]
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def plan_next_round(allocation: pd.DataFrame, targets: list[Target], now: dt.datetime, *,
                    already_scheduled: pd.DataFrame, ready: set[tuple[str, str]],
                    rules: SlotRules = SlotRules()) -> pd.DataFrame:
    """Today's batch of repeat posts: for each ready target, its newest cell's `next_round_posts` per
    creative, keyed by (variant, target, day, repeat number). A target is ready when everything it has
    posted went live before today (a full day of feedback: the batch follows the data, never a part of it)."""
    if allocation is None or allocation.empty or "next_round_posts" not in allocation:
        return pd.DataFrame(columns=PLAN_COLUMNS)
    day = now.date().isoformat()
    known = set(already_scheduled["idempotency_key"])
    rows = []
    for target in targets:
        if (target.platform, target.account) not in ready:
            continue
        mine = allocation[(allocation["platform"] == target.platform) & (allocation["account"] == target.account)]
        if "cell_window" in mine and len(mine):
            mine = mine[mine["cell_window"] == mine["cell_window"].max()]
        posts = ((vid, f"{day}#{i}") for vid, n in zip(mine["variant_id"], mine["next_round_posts"]) for i in range(int(n)))
        rows += _place(target, posts, already_scheduled, known, now, rules)
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def _queue_state(engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(succeeded renders with payload and output, publish items that are not cancelled)."""
    import sqlalchemy as sa

    from actp_pipeline.store import schema

    rj, pq = schema.render_jobs, schema.publish_queue
    with engine.connect() as conn:
        rendered = pd.DataFrame(conn.execute(
            sa.select(rj.c.variant_id, rj.c.payload, rj.c.output_path).where(rj.c.status == "succeeded").order_by(rj.c.id)
        ).mappings().all(), columns=["variant_id", "payload", "output_path"])
        existing = pd.DataFrame(conn.execute(
            sa.select(pq.c.platform, pq.c.account, pq.c.idempotency_key, pq.c.scheduled_at, pq.c.status)
            .where(pq.c.status.not_in(("cancelled",)))).mappings().all(),
            columns=["platform", "account", "idempotency_key", "scheduled_at", "status"])
    return rendered, existing


def _enqueue(engine, plan: pd.DataFrame, rendered: pd.DataFrame, link: dict[str, str] | None = None) -> pd.DataFrame:
    """Queue the plan's items. With `link` ({"destination", "campaign", optional "hooks_url"}) each post's
    tracked link is made first (hooks/links.py), so no click can come before its link exists, and with a
    hooks_url the caption ends with the link's address."""
    from actp_pipeline.hooks.links import check_destination, link_url, slug_for
    from actp_pipeline.store.queues import publish_queue

    if link:
        check_destination(link["destination"])  # a bad landing page stops the schedule, not a post
    if plan.empty:
        return plan
    by_variant = rendered.set_index("variant_id")
    plan = plan[plan["variant_id"].isin(by_variant.index)]  # only what has a video to post
    items = []
    for r in plan.itertuples():
        payload = by_variant.at[r.variant_id, "payload"]
        caption = payload["caption"]
        if link and link.get("hooks_url"):
            caption = f"{caption}\n{LINK_LABEL} {link_url(link['hooks_url'], slug_for(r.idempotency_key))}"
        items.append({
            "variant_id": r.variant_id, "platform": r.platform, "account": r.account,
            "idempotency_key": r.idempotency_key, "scheduled_at": r.scheduled_at,
            "payload": {"media_path": by_variant.at[r.variant_id, "output_path"], "caption": caption,
                        "hashtags": payload.get("hashtags", [])},
        })
    if link:
        _make_links(engine, items, link)
    publish_queue(engine).enqueue(items, unique_column="idempotency_key")
    return plan.reset_index(drop=True)


def _make_links(engine, items: list[dict], link: dict[str, str]) -> None:
    """One tracked link per post (idempotency key), all in one transaction; existing ones are kept."""
    from actp_pipeline.hooks.links import create_link
    from actp_pipeline.store.schema import utcnow

    now = utcnow()
    with engine.begin() as conn:
        for it in items:
            create_link(conn, idempotency_key=it["idempotency_key"], variant_id=it["variant_id"],
                        platform=it["platform"], account=it["account"], campaign=link["campaign"],
                        destination=link["destination"], now=now)


def _target_rules(rules: SlotRules, target: Target, hours_by_platform) -> SlotRules:
    hours = (hours_by_platform or {}).get(target.platform)
    return dataclasses.replace(rules, hours=tuple(hours)) if hours else rules


def schedule_rendered(engine, now: dt.datetime, targets: list[Target], rules: SlotRules = SlotRules(),
                      hours_by_platform: dict[str, tuple[int, ...]] | None = None,
                      link: dict[str, str] | None = None) -> pd.DataFrame:
    """Queue a publish item for every rendered variant and target that has none; returns the new items.

    `hours_by_platform` (from the timing matrix) replaces the preferred hours per platform; `link`: see _enqueue."""
    rendered, existing = _queue_state(engine)
    plans = [plan_slots(rendered, [t], now, already_scheduled=existing, rules=_target_rules(rules, t, hours_by_platform))
             for t in targets]
    plan = pd.concat(plans, ignore_index=True) if plans else pd.DataFrame()
    return _enqueue(engine, plan, rendered, link)


def schedule_next_round(engine, now: dt.datetime, allocation: pd.DataFrame, targets: list[Target],
                        rules: SlotRules = SlotRules(),
                        hours_by_platform: dict[str, tuple[int, ...]] | None = None,
                        link: dict[str, str] | None = None) -> pd.DataFrame:
    """Queue today's batch of the allocation's next round (see `plan_next_round`); returns the new items."""
    rendered, existing = _queue_state(engine)
    start = dt.datetime.combine(now.date(), dt.time())
    ready = set()
    for (platform, account), g in existing.groupby(["platform", "account"]):
        if g["status"].isin(["posted", "dead"]).all() and (pd.to_datetime(g["scheduled_at"]) < start).all():
            ready.add((platform, account))
    plans = [plan_next_round(allocation, [t], now, already_scheduled=existing, ready=ready,
                             rules=_target_rules(rules, t, hours_by_platform)) for t in targets]
    plan = pd.concat(plans, ignore_index=True) if plans else pd.DataFrame()
    return _enqueue(engine, plan, rendered, link)


def publish_items(engine) -> pd.DataFrame:
    """Every publish item with its state, for the schedule table."""
    import sqlalchemy as sa

    from actp_pipeline.store import schema

    pq = schema.publish_queue
    cols = [pq.c.id, pq.c.variant_id, pq.c.platform, pq.c.account, pq.c.idempotency_key, pq.c.scheduled_at,
            pq.c.status, pq.c.attempts, pq.c.external_id, pq.c.post_url, pq.c.last_error]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*cols).order_by(pq.c.scheduled_at)).mappings().all()
    return pd.DataFrame(rows, columns=[c.name for c in cols])
