"""The kit's schedule.csv: when and where each exported video is posted, with its caption and link.

A (variant, account) that the loop already scheduled (a publish item with the first post's idempotency key)
keeps that slot; the others get slots from the same slot rules publish_schedule uses, starting at `start`
(by default the newest render of the kit: the same store gives the same schedule, so the kit is
reproducible). Times are UTC; `post_at_local` is the account's local time when its time zone is known.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from actp_pipeline.publish.publish_schedule import (EXISTING_COLUMNS, LINK_LABEL, SlotRules, Target, idempotency_key,
                                                    plan_slots)

SCHEDULE_COLUMNS = ["post_at_utc", "post_at_local", "timezone", "platform", "account", "variant_id", "video",
                    "caption_file", "caption", "hashtags", "tracked_link", "link_slug", "arm", "factors"]
FACTORS = ("hook_pattern", "angle", "cta_style", "format", "length_s")


def parse_timezones(pairs: list[str] | tuple[str, ...]) -> dict[str, ZoneInfo]:
    """'platform:account=Area/City' pairs as {"platform:account": zone}; a bad pair is an error naming it."""
    out = {}
    for pair in pairs:
        key, sep, name = pair.partition("=")
        try:
            target = Target.parse(key)
            if not sep:
                raise ValueError("no '='")
        except ValueError:
            raise ValueError(f"time zone {pair!r} must look like 'platform:account=Area/City', e.g. "
                             "'tiktok:main=Europe/Berlin'") from None
        try:
            out[f"{target.platform}:{target.account}"] = ZoneInfo(name.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time zone {pair!r}: {name.strip()!r} is not an IANA time zone name") from None
    return out


def _utc_text(t: dt.datetime) -> str:
    return pd.Timestamp(t).to_pydatetime().replace(tzinfo=dt.UTC, microsecond=0).isoformat().replace("+00:00", "Z")


def _local_text(t: dt.datetime, zone: ZoneInfo | None) -> str:
    if zone is None:
        return ""
    return pd.Timestamp(t).to_pydatetime().replace(tzinfo=dt.UTC, microsecond=0).astimezone(zone).isoformat()


def slots(variant_ids: list[str], targets: list[Target], existing: pd.DataFrame, start: dt.datetime,
          rules: SlotRules) -> pd.DataFrame:
    """variant_id, platform, account, idempotency_key, scheduled_at: the loop's own slot where it has one,
    else a new one from `rules` after `start` (avoiding the account's scheduled posts)."""
    existing = existing.reindex(columns=[*EXISTING_COLUMNS, "variant_id"])
    rows = []
    for target in targets:
        keys = {idempotency_key(v, target): v for v in variant_ids}
        mine = existing[existing["idempotency_key"].isin(keys)]
        rows.append(mine.assign(variant_id=mine["idempotency_key"].map(keys))[
            ["variant_id", "platform", "account", "idempotency_key", "scheduled_at"]])
        todo = [v for k, v in keys.items() if k not in set(mine["idempotency_key"])]
        rows.append(plan_slots(pd.DataFrame({"variant_id": todo}), [target], start,
                               already_scheduled=existing[EXISTING_COLUMNS], rules=rules))
    frames = [r for r in rows if len(r)]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["variant_id", "platform", "account",
                                                                                  "idempotency_key", "scheduled_at"])
    out["scheduled_at"] = pd.to_datetime(out["scheduled_at"])
    return out.sort_values(["scheduled_at", "platform", "account", "variant_id"], kind="stable").reset_index(drop=True)


def caption_text(variant: dict, link: str) -> str:
    """What is pasted under the video: the caption, the hashtags, and the tracked link (when there is one)."""
    tags = " ".join(str(t) for t in variant.get("hashtags") or [])
    parts = [str(variant.get("caption") or "").strip(), tags, f"{LINK_LABEL} {link}" if link else ""]
    return "\n\n".join(p for p in parts if p) + "\n"


def factors_text(variant: dict) -> str:
    return ";".join(f"{f}={variant[f]}" for f in FACTORS if f in variant and variant[f] is not None)


def schedule_rows(planned: pd.DataFrame, variants: dict[str, dict], links: dict[str, str], *,
                  hooks_url: str | None, timezones: dict[str, ZoneInfo]) -> list[dict]:
    """One schedule.csv row per planned post (`links`: idempotency key -> slug of its tracked link)."""
    from actp_pipeline.hooks.links import link_url

    rows = []
    for r in planned.itertuples(index=False):
        v = variants[r.variant_id]
        slug = links.get(r.idempotency_key, "")
        link = link_url(hooks_url, slug) if slug and hooks_url else ""
        zone = timezones.get(f"{r.platform}:{r.account}")
        rows.append({
            "post_at_utc": _utc_text(r.scheduled_at), "post_at_local": _local_text(r.scheduled_at, zone),
            "timezone": str(zone.key) if zone else "", "platform": r.platform, "account": r.account,
            "variant_id": r.variant_id, "video": v["video"], "caption_file": caption_file(r.platform, r.account, r.variant_id),
            "caption": caption_text(v, link).strip(), "hashtags": " ".join(str(t) for t in v.get("hashtags") or []),
            "tracked_link": link, "link_slug": slug, "arm": str(v.get("arm") or ""), "factors": factors_text(v),
        })
    return rows


def caption_file(platform: str, account: str, variant_id: str) -> str:
    """Where a post's caption sits inside the kit (one folder per account: links differ per account)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{platform}-{account}")
    return f"captions/{safe}/{variant_id}.txt"
