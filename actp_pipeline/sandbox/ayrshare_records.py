"""The posts the sandbox's Ayrshare keeps per profile: the records in the state's meta table, a post's
status, and how GET /api/post/{id} and GET /api/history show them (the documented shapes). Apart from
creating and deleting posts (ayrshare_posts.py) because every read (history, analytics) goes through it."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from .ayrshare_rules import KNOWN_PLATFORMS, AyrshareCodes, AyrshareError, AyrshareRules, Profile, bad
from .seeding import derive_hex
from .state import SandboxState
from .validation import parse_time

HISTORY_DEFAULT_LIMIT = 25
HISTORY_MAX_LIMIT = 1000
HISTORY_DEFAULT_DAYS = 30
HISTORY_STATUSES = ("success", "error", "processing", "pending", "paused", "deleted", "awaiting approval")


class AyrshareRecords(AyrshareRules):
    """Post records: saved, loaded for a profile, rendered as Ayrshare shows them, listed as history."""

    state: SandboxState

    def ref_id(self, profile_id: str) -> str:
        return derive_hex(self.config.seed, "ayrshare_ref", profile_id, length=32)

    @staticmethod
    def _post_id_entry(e: dict[str, Any]) -> dict[str, Any]:
        return {"status": "deleted" if e.get("deleted") else "success", "id": e["id"], "platform": e["platform"],
                "postUrl": e["postUrl"]}

    # ------------------------------------------------------------------------------- records
    def _save(self, record: dict[str, Any], new: bool = False) -> None:
        self.state.set_meta(f"ayrshare.post.{record['id']}", json.dumps(record, separators=(",", ":")))
        if new:
            key = f"ayrshare.index.{record['profile']}"
            with self._lock:
                ids = json.loads(self.state.get_meta(key) or "[]")
                ids.append(record["id"])
                self.state.set_meta(key, json.dumps(ids))

    def _load(self, profile: Profile, ayr_id: Any) -> dict[str, Any]:
        if not isinstance(ayr_id, str) or not ayr_id:
            raise bad("id is required: the Ayrshare Post ID")
        raw = self.state.get_meta(f"ayrshare.post.{ayr_id}") if len(ayr_id) <= 64 else None
        record = json.loads(raw) if raw else None
        if record is None or record["profile"] != profile.profile_id:
            raise AyrshareError(404, AyrshareCodes.NOT_FOUND, f"Post id {ayr_id[:64]!r} not found for this profile.")
        return record

    def status_of(self, record: dict[str, Any], now: datetime) -> str:
        if record["deleted"]:
            return "deleted"
        if record["type"] == "scheduled" and parse_time(record["scheduleDate"], "scheduleDate") > now:
            return "pending" if record["entries"] else "error"
        return "error" if record["errors"] else "success"

    def render(self, record: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
        """The post as GET /post/:id and /history show it."""
        now = now if now is not None else self.clock.now()
        status = self.status_of(record, now)
        out: dict[str, Any] = {
            "created": record["created"], "errors": record["errors"], "id": record["id"],
            "mediaUrls": record["mediaUrls"], "platforms": record["platforms"], "post": record["post"],
            "postIds": [] if status == "pending" else [self._post_id_entry(e) for e in record["entries"]],
            "profileTitle": record["profileTitle"], "refId": self.ref_id(record["profile"]),
            "scheduleDate": record["scheduleDate"], "status": status, "type": record["type"],
        }
        if record.get("notes") is not None:
            out["notes"] = record["notes"]
        if "shortenLinks" in record:
            out["shortenLinks"] = record["shortenLinks"]
        return out

    def get_post(self, profile: Profile, ayr_id: str) -> dict[str, Any]:
        return self.render(self._load(profile, ayr_id))

    def history(self, profile: Profile, query: dict[str, list[str]]) -> dict[str, Any]:
        def one(name: str) -> str | None:
            values = query.get(name) or []
            return values[0] if values else None

        def number(name: str, default: int, lo: int, hi: int) -> int:
            raw = one(name)
            if raw is None or raw == "":
                return default
            if not (raw.isascii() and raw.strip().isdigit() and len(raw) <= 9) or not lo <= int(raw) <= hi:
                raise bad(f"{name} must be a whole number from {lo} to {hi}", action="history")
            return int(raw)

        status = one("status")
        if status is not None and status not in HISTORY_STATUSES:
            raise bad(f"status must be one of {', '.join(HISTORY_STATUSES)}", action="history")
        kind = one("type")
        if kind is not None and kind not in ("immediate", "scheduled"):
            raise bad("type must be immediate or scheduled", action="history")
        last_days = number("lastDays", HISTORY_DEFAULT_DAYS, 0, 36500)
        limit = number("limit", HISTORY_DEFAULT_LIMIT, 1, HISTORY_MAX_LIMIT)
        wanted: list[str] = []
        for name, values in query.items():
            if name in ("platforms", "platform", "platforms[]") or re.fullmatch(r"platforms\[\d{1,3}\]", name):
                wanted.extend(v for raw in values for v in raw.split(",") if v)
        unknown = [p for p in wanted if p not in KNOWN_PLATFORMS]
        if unknown:
            raise bad(f"unknown platforms: {', '.join(u[:40] for u in unknown[:5])}", action="history")
        now = self.clock.now()
        since = now - timedelta(days=last_days) if last_days else None
        ids = json.loads(self.state.get_meta(f"ayrshare.index.{profile.profile_id}") or "[]")
        items = []
        for ayr_id in reversed(ids):
            raw = self.state.get_meta(f"ayrshare.post.{ayr_id}")
            if raw is None:
                continue
            record = json.loads(raw)
            shown = self.render(record, now)
            if (status is None and shown["status"] == "deleted") or (status is not None and shown["status"] != status):
                continue
            if kind is not None and (record["type"] == "scheduled") != (kind == "scheduled"):
                continue
            if wanted and not set(wanted) & set(record["platforms"]):
                continue
            if since is not None and parse_time(record["scheduleDate"], "scheduleDate") < since:
                continue
            items.append(shown)
            if len(items) >= limit:
                break
        return {"history": items}
