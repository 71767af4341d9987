"""The strategy scope: what a round of variants is built from, its fingerprint, and the cascade on a change.

A round's strategy, per account key (the strategy's subject; "*" = every target of this loop), is:
the topic, the matrix shape (the levels of each factor that entered the matrix, the number of variants and the
longest length), the publish targets, and the blueprints/design it was built from (a digest of the blueprint
rows, when given). Its fingerprint is the first 16 hex digits of the SHA-256 of those parts as canonical JSON;
the round id is NOT part of it, so a daily round with the same design is the same strategy. A new fingerprint
is a strategy change: the strategy goes to needs_review and content, schedule and ads of that account go to
needs_review too (cascade), as the original's "strategy v2 invalidates its dependents".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from actp_pipeline.approvals import decisions
from actp_pipeline.approvals.rules import RULE_NAMES, AutoRules
from actp_pipeline.approvals.states import (APPROVED, CASCADE_FROM, DEPENDENT_SCOPES, NEEDS_REVIEW, OPEN, PENDING)
from actp_pipeline.store import schema

FACTORS = ("hook_pattern", "angle", "cta_style", "format")
ALL_ACCOUNTS = "*"
BLUEPRINT_COLUMNS = ("blueprint_id", "hook_pattern", "angle", "cta_style", "format", "length_s", "weight")


def blueprints_digest(blueprints: pd.DataFrame | None) -> str | None:
    """A digest of the blueprint rows a round was built from (None when not given)."""
    if blueprints is None:
        return None
    cols = [c for c in BLUEPRINT_COLUMNS if c in blueprints.columns]
    frame = blueprints[cols].astype(str).sort_values(cols).reset_index(drop=True) if cols else pd.DataFrame()
    return hashlib.sha256(frame.to_json(orient="values").encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Strategy:
    """One round's strategy for one account key; `fingerprint` identifies it across rounds."""

    account: str
    topic: str
    levels: dict[str, list[str]]
    variants: int
    max_length_s: int
    targets: tuple[str, ...] = ()
    blueprints: str | None = None
    round_id: str = field(default="", compare=False)

    def parts(self) -> dict[str, Any]:
        return {"topic": self.topic, "levels": self.levels, "variants": self.variants,
                "max_length_s": self.max_length_s, "targets": sorted(self.targets), "blueprints": self.blueprints}

    @property
    def fingerprint(self) -> str:
        canonical = json.dumps(self.parts(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @classmethod
    def from_round(cls, moderated: pd.DataFrame, *, account: str = ALL_ACCOUNTS, targets=(), platform: str | None = None,
                   blueprints: pd.DataFrame | None = None) -> "Strategy":
        """The strategy of a moderated round (build_matrix's columns); `targets` as "platform:account"."""
        if moderated.empty:
            raise ValueError("a round with no variants has no strategy")
        topics = sorted(set(moderated["topic"].astype(str)))
        levels = {f: sorted(set(moderated[f].astype(str))) for f in FACTORS if f in moderated}
        rounds = sorted(set(moderated["round_id"].astype(str))) if "round_id" in moderated else []
        targets = tuple(targets) or ((platform,) if platform else ())
        return cls(account=account or ALL_ACCOUNTS, topic="|".join(topics), levels=levels, variants=len(moderated),
                   max_length_s=int(pd.to_numeric(moderated["length_s"]).max()) if "length_s" in moderated else 0,
                   targets=targets, blueprints=blueprints_digest(blueprints), round_id=rounds[-1] if rounds else "")


def _changed(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    if not old:
        return "its parts were not recorded"
    return ", ".join(k for k in new if old.get(k) != new[k]) or "its fingerprint"


def register(conn: Connection, strategy: Strategy, rules: AutoRules) -> dict[str, Any]:
    """Record this round's strategy; on a new fingerprint invalidate it and cascade; then apply the auto rules.
    Returns {"status", "changed": bool, "invalidated": n dependents left in needs_review after the auto rules}."""
    key, fp = strategy.account, strategy.fingerprint
    row = decisions.get(conn, "strategy", key)
    t, changed, invalidated = schema.approvals, False, 0
    if row is None:
        decisions.create(conn, [{"scope": "strategy", "subject_id": key, "account": key, "fingerprint": fp,
                                 "round_id": strategy.round_id, "details": strategy.parts()}],
                         by="loop", reason=f"strategy of round {strategy.round_id or '?'} awaits approval")
    elif row["fingerprint"] != fp:
        changed = True
        why = f"strategy changed ({_changed(row['details'], strategy.parts())}): {row['fingerprint']} -> {fp}"
        decisions.move(conn, [row], NEEDS_REVIEW, by="cascade:strategy", reason=why, fingerprint=fp, strict=False)
        moved = cascade(conn, key, why, fp)
        invalidated = len(moved) - reapprove(conn, moved, rules, fp)
    conn.execute(t.update().where(t.c.scope == "strategy", t.c.subject_id == key)
                 .values(fingerprint=fp, round_id=strategy.round_id, details=strategy.parts()))
    row = decisions.get(conn, "strategy", key)
    if row["status"] in OPEN and rules.allows("strategy", key):
        decisions.move(conn, [row], APPROVED, by=RULE_NAMES["strategy"], fingerprint=fp,
                       reason=f"auto-approved strategy {fp} (rule: strategy)")
    return {"status": decisions.get(conn, "strategy", key)["status"], "changed": changed, "invalidated": invalidated}


def _of_account(key: str) -> sa.ColumnElement[bool]:
    t = schema.approvals
    return (t.c.account == key) | t.c.account.is_(None) if key == ALL_ACCOUNTS else t.c.account == key


def cascade(conn: Connection, key: str, reason: str, fingerprint: str | None = None) -> list[dict[str, Any]]:
    """Content, schedule and ads of strategy `key` that were decided go back to needs_review (a moderation
    quarantine stays rejected: what it rejected did not change). Returns the rows moved."""
    from actp_pipeline.approvals.ads import mirror_for_cascade

    t = schema.approvals
    mirror_for_cascade(conn, key)  # ad plans approved with `actp ads approve` get their ads-scope row first
    rows = conn.execute(sa.select(t.c.scope, t.c.subject_id, t.c.status, t.c.account, t.c.details).where(
        t.c.scope.in_(DEPENDENT_SCOPES), t.c.status.in_(CASCADE_FROM), ~t.c.quarantined, _of_account(key))
    ).mappings().all()
    moved = decisions.move(conn, [dict(r) for r in rows], NEEDS_REVIEW, by="cascade:strategy", reason=reason,
                           fingerprint=fingerprint, strict=False)
    if any(m["scope"] == "ads" for m in moved):
        from actp_pipeline.approvals.ads import withdraw

        withdraw(conn, [m["subject_id"] for m in moved if m["scope"] == "ads"])
    return moved


def reapprove(conn: Connection, moved: list[dict[str, Any]], rules: AutoRules, fingerprint: str) -> int:
    """After a cascade, what was approved before and whose scope an auto rule covers is approved again (by
    that rule, audited); what a person rejected waits for a person. Ads are never re-approved here."""
    again = [m for m in moved if m["from_status"] == APPROVED and m["scope"] in ("content", "schedule")
             and rules.allows(m["scope"], (m.get("details") or {}).get("account"), m.get("account"))]
    n = 0
    for scope in ("content", "schedule"):
        rows = [{"scope": m["scope"], "subject_id": m["subject_id"], "status": NEEDS_REVIEW} for m in again
                if m["scope"] == scope]
        n += len(decisions.move(conn, rows, APPROVED, by=RULE_NAMES[scope], fingerprint=fingerprint, strict=False,
                                reason=f"auto-approved again under strategy {fingerprint} (rule: {scope})"))
    return n


__all__ = ["ALL_ACCOUNTS", "PENDING", "Strategy", "blueprints_digest", "cascade", "reapprove", "register"]
