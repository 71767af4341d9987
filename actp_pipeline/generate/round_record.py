"""Record a generated round in the store: its strategy, each variant's content approval, and its renders.

Moved here from generate/variants.py when approvals became per scope (actp_pipeline/approvals). The round's
strategy is registered first (a new fingerprint sends the account's content, schedule and ads to
needs_review); each new variant gets its content row: a moderation rejection is quarantined (rejected, with
every finding's reason, never auto-approved), a pass is approved by the content rule when the account has it
on, else waits for a person. Renders are queued only for variants whose content AND strategy are approved.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from actp_pipeline.approvals import decisions, strategy as strategies
from actp_pipeline.approvals.rules import RULE_NAMES, AutoRules, load_rules
from actp_pipeline.approvals.states import APPROVED, REJECTED
from actp_pipeline.store import schema
from actp_pipeline.store.queues import render_queue

PALETTES = {"text_hook": ("#111827", "#facc15"), "listicle": ("#1e3a8a", "#f472b6"), "testimonial": ("#3f3f46", "#34d399")}
MODERATION_COLUMNS = ["moderation", "moderation_reason", "moderation_findings"]


def render_jobs(variants: pd.DataFrame, platform: str | None) -> list[dict]:
    """Render-queue rows for these variants (build_matrix's columns): the payload the renderer draws."""
    jobs = []
    chosen = variants.drop(columns=MODERATION_COLUMNS, errors="ignore")
    for payload in json.loads(chosen.to_json(orient="records")):  # JSON-safe: no numpy scalars or arrays
        background, accent = PALETTES.get(payload["format"], PALETTES["text_hook"])
        payload.update(background=background, accent=accent, platform=platform)
        jobs.append({"variant_id": payload["variant_id"], "payload": payload})
    return jobs


def renderable(conn, variant_ids: list[str]) -> set[str]:
    """The variants among `variant_ids` whose content and strategy are both approved."""
    t = schema.approvals
    rows = conn.execute(sa.select(t.c.subject_id, t.c.account).where(
        t.c.scope == "content", t.c.status == APPROVED, t.c.subject_id.in_(variant_ids))).all()
    keys = {a or strategies.ALL_ACCOUNTS for _, a in rows}
    ok = set(conn.execute(sa.select(t.c.subject_id).where(t.c.scope == "strategy", t.c.status == APPROVED,
                                                           t.c.subject_id.in_(keys))).scalars())
    return {vid for vid, a in rows if (a or strategies.ALL_ACCOUNTS) in ok}


def _content_rows(conn, new: pd.DataFrame, key: str, fingerprint: str, rules: AutoRules) -> None:
    """Content rows for new variants: moderation's verdict, then the content rule on what passed."""
    decisions.create(conn, [
        {"scope": "content", "subject_id": r.variant_id, "variant_id": r.variant_id, "account": key,
         "round_id": str(getattr(r, "round_id", "") or ""), "fingerprint": fingerprint,
         "quarantined": r.moderation == REJECTED, "details": {"moderation": r.moderation}}
        for r in new.itertuples()], by="loop", reason="new variant awaits review")
    rows = {r["subject_id"]: r for r in conn.execute(sa.select(schema.approvals).where(
        schema.approvals.c.scope == "content", schema.approvals.c.subject_id.in_(new["variant_id"].tolist()))
    ).mappings()}
    for r in new.itertuples():
        row = dict(rows[r.variant_id])
        if r.moderation == REJECTED:  # quarantined: every finding's reason for the reviewer
            decisions.move(conn, [row], REJECTED, by="moderation-rules", reason=r.moderation_reason)
        elif r.moderation == APPROVED and rules.allows("content", key):
            decisions.move(conn, [row], APPROVED, by=RULE_NAMES["content"], fingerprint=fingerprint,
                           reason=r.moderation_reason or "moderation passed")


def record_round(engine, moderated: pd.DataFrame, *, platform: str | None = None, account: str = strategies.ALL_ACCOUNTS,
                 targets: Sequence[str] = (), blueprints: pd.DataFrame | None = None,
                 rules: AutoRules | None = None) -> dict[str, int]:
    """Register the round's strategy, store each new variant's content decision, queue renders for the
    variants whose content and strategy are approved; returns counts for the asset's metadata.

    Variants already decided keep their decision (a person may have overridden it); only new ids count."""
    rules = rules or load_rules()
    ids = moderated["variant_id"].tolist()
    with engine.begin() as conn:
        if len(moderated):
            plan = strategies.Strategy.from_round(moderated, account=account, targets=targets, platform=platform,
                                                  blueprints=blueprints)
            strategies.register(conn, plan, rules)
        t = schema.approvals
        known = set(conn.execute(sa.select(t.c.subject_id).where(t.c.scope == "content", t.c.subject_id.in_(ids))).scalars())
        new = moderated[~moderated["variant_id"].isin(known)]
        if len(new):
            _content_rows(conn, new, account, plan.fingerprint, rules)
        approved = renderable(conn, ids)
    queued = render_queue(engine).enqueue(render_jobs(moderated[moderated["variant_id"].isin(approved)], platform),
                                          unique_column="variant_id")
    return {"new_variants": len(new), "approved": len(approved), "renders_queued": queued,
            "rejected": int((new["moderation"] == "rejected").sum())}
