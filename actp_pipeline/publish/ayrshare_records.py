"""ACTP's view of an Ayrshare post record (a /post answer or a /history item): one ACTP post per network
that took it, keyed `<Ayrshare id>:<network>`, or, for platform "aggregator", one post for all of them
keyed by the bare Ayrshare id. Shared by publishing, the lookup and metrics, which all read post ids."""

from __future__ import annotations

import datetime as dt
from typing import Any

AGGREGATOR = "aggregator"  # ACTP's platform name for "every network of the profile, through Ayrshare"


def iso_utc(t: dt.datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def split_post_id(post_id: str) -> tuple[str, str | None]:
    """(Ayrshare id, network or None) of an ACTP post id."""
    ayr, sep, network = post_id.partition(":")
    return ayr, (network or None) if sep else None


class AyrshareRecords:
    """Ayrshare records -> ACTP posts, for the account of one publisher."""

    account: str

    def _aggregate_post(self, result: dict[str, Any], key: str | None, account: str | None = None) -> dict[str, Any]:
        """The one ACTP post of an Ayrshare post to several networks (post_id: the Ayrshare id)."""
        first = next(iter(result["posts"].values()))
        statuses = {p["status"] for p in result["posts"].values()}
        return {**first, "post_id": result["ayrshare_id"], "platform": AGGREGATOR, "social_id": None,
                "status": "scheduled" if statuses == {"scheduled"} else "live", "account": account or self.account,
                "idempotency_key": key, "posts": result["posts"], "errors": result["errors"]}

    def _result(self, record: dict[str, Any], key: str | None, account: str | None = None) -> dict[str, Any]:
        """ACTP's view of an Ayrshare post record (a /post answer or a /history item)."""
        ayr = record["id"]
        status = record.get("status")
        live_at = record.get("scheduleDate") if isinstance(record.get("scheduleDate"), str) else record.get("created")
        pending = status in ("scheduled", "pending")
        posts: dict[str, Any] = {}
        for p in record.get("postIds") or []:
            network = p.get("platform")
            if not isinstance(network, str) or p.get("status") not in (None, "success"):
                continue
            posts[network] = {"post_id": f"{ayr}:{network}", "ayrshare_id": ayr, "platform": network,
                              "social_id": str(p.get("id")) if p.get("id") is not None else None,
                              "url": p.get("postUrl"), "live_at": live_at, "status": "live",
                              "account": account or self.account, "idempotency_key": key}
        if pending:  # a scheduled post has no network ids until it is sent
            for network in record.get("platforms") or []:
                posts.setdefault(network, {"post_id": f"{ayr}:{network}", "ayrshare_id": ayr, "platform": network,
                                           "social_id": None, "url": None, "live_at": live_at,
                                           "status": "scheduled", "account": account or self.account,
                                           "idempotency_key": key})
        errors = {e.get("platform"): e for e in record.get("errors") or [] if isinstance(e, dict) and e.get("platform")}
        for network in errors:
            posts.pop(network, None)
        return {"ayrshare_id": ayr, "status": status, "posts": posts, "errors": errors}
