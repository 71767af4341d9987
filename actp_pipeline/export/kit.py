"""Export a campaign kit: one ZIP per round with the approved, rendered videos, a caption file per post and
`schedule.csv`, for teams that post by hand.

Only a variant that is approved (`approved_variant_ids`, the one place that decides) and has a finished
render whose file is there and unchanged (its checksum) is exported; every other variant of the round is
listed in MANIFEST.json with why it was left out. The kit is reproducible: the same store and warehouse give
a byte-identical ZIP (archive.py), so it can be re-exported and compared safely.

Layout inside the ZIP (under one folder named after the kit):
  MANIFEST.json   campaign, topic, targets, exported videos (with sha256), left_out (with reasons)
  schedule.csv    one row per post: SCHEDULE_COLUMNS (schedule.py)
  videos/<variant_id>.mp4
  captions/<platform>-<account>/<variant_id>.txt
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from actp_pipeline.export.archive import Entry, write_zip
from actp_pipeline.export.schedule import SCHEDULE_COLUMNS, schedule_rows, slots
from actp_pipeline.publish.publish_schedule import SlotRules, Target
from actp_pipeline.renders.checks import sha256_file
from actp_pipeline.store import schema
from actp_pipeline.store.warehouse import Warehouse

RENDER_DONE = "succeeded"  # the render queue's done status (store/queues.py RENDER_STATUSES)


def approved_variant_ids(engine: sa.Engine) -> set[str]:
    """The variants cleared for posting: content approved and its strategy approved (approvals/gate.py, the
    render gate; fail-closed). The ONE place the exporter asks: a change of the approval model changes only
    this function."""
    from actp_pipeline.approvals.gate import is_renderable

    t = schema.approvals
    with engine.connect() as conn:
        content = conn.execute(sa.select(t.c.subject_id).where(t.c.scope == "content", t.c.status == "approved"))
        candidates = sorted(set(content.scalars()))
    return {vid for vid in candidates if is_renderable(engine, vid)}


NOT_APPROVED = "not approved (its content and strategy must both be approved: actp approve list)"


@dataclass
class Kit:
    """What was exported (`path`), for which round, and what was left out and why."""

    path: Path
    campaign: str
    topic: str
    exported: list[str]
    left_out: list[dict[str, str]]
    rows: int
    targets: list[str] = field(default_factory=list)


def round_variants(wh: Warehouse, round_id: str | None) -> tuple[str, pd.DataFrame]:
    """The round's variants (the newest round: the last one the variants table appended, unless named)."""
    if not wh.exists("variants"):
        raise LookupError("no variants yet: materialize variants (a round) before exporting a kit")
    variants = wh.read("variants")
    if "round_id" not in variants or variants.empty:
        raise LookupError("the variants table has no rounds (no round_id column or no rows)")
    rounds = variants["round_id"].astype(str)
    chosen = round_id if round_id is not None else rounds.iloc[-1]
    mine = variants[rounds == chosen]
    if mine.empty:
        known = list(dict.fromkeys(rounds))[-10:]
        raise LookupError(f"no round {chosen!r} in the variants table (newest rounds: {', '.join(known)})")
    return chosen, mine.drop_duplicates("variant_id", keep="last").reset_index(drop=True)


def _renders(engine: sa.Engine, ids: list[str]) -> dict[str, dict]:
    rj = schema.render_jobs
    with engine.connect() as conn:
        rows = conn.execute(sa.select(rj.c.variant_id, rj.c.status, rj.c.output_path, rj.c.checksum, rj.c.updated_at,
                                      rj.c.last_error).where(rj.c.variant_id.in_(ids))).mappings().all()
    return {r["variant_id"]: dict(r) for r in rows}


def _why_not(vid: str, approved: set[str], job: dict | None) -> tuple[str | None, str]:
    """(reason it is left out or None, its file's sha256 when it is exported)."""
    if vid not in approved:
        return NOT_APPROVED, ""
    if job is None:
        return "approved but never queued for rendering (no render job)", ""
    if job["status"] != RENDER_DONE:
        detail = f": {str(job['last_error'])[:160]}" if job.get("last_error") else ""
        return f"render not finished (status {job['status']}{detail})", ""
    path = Path(job["output_path"] or "")
    if not job["output_path"] or not path.is_file():
        return f"render file missing ({job['output_path'] or 'no path recorded'})", ""
    digest = sha256_file(path)
    if job["checksum"] and digest != job["checksum"]:
        return "render file changed since it was rendered (checksum mismatch)", ""
    return None, digest


def _store_state(engine: sa.Engine, ids: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """The publish items of these variants (their slots) and the tracked links (idempotency key -> slug)."""
    pq, lk = schema.publish_queue, schema.links
    with engine.connect() as conn:
        existing = pd.DataFrame(conn.execute(
            sa.select(pq.c.variant_id, pq.c.platform, pq.c.account, pq.c.idempotency_key, pq.c.scheduled_at)
            .where(pq.c.status != "cancelled")).mappings().all(),
            columns=["variant_id", "platform", "account", "idempotency_key", "scheduled_at"])
        links = dict(conn.execute(sa.select(lk.c.idempotency_key, lk.c.slug).where(lk.c.variant_id.in_(ids))).all())
    return existing, links


def _csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=SCHEDULE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _record(v: pd.Series) -> dict:
    """A variant row as plain Python values (hashtags as a list whatever Parquet made of them)."""
    rec = {k: (None if pd.api.types.is_scalar(x) and pd.isna(x) else x) for k, x in v.items()}
    rec["hashtags"] = [str(t) for t in rec.get("hashtags")] if rec.get("hashtags") is not None else []
    return rec


def kit_name(campaign: str) -> str:
    return "actp-kit-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in campaign)


def export_kit(engine: sa.Engine, wh: Warehouse, out: Path, *, targets: list[Target], round_id: str | None = None,
               timezones: dict[str, ZoneInfo] | None = None, hooks_url: str | None = None,
               rules: SlotRules = SlotRules(), start: dt.datetime | None = None) -> Kit:
    """Write the round's kit to `out` (a .zip path, or a folder to put `<kit name>.zip` in)."""
    if not targets:
        raise ValueError("export kit: no targets (platform:account) to schedule the videos for")
    campaign, variants = round_variants(wh, round_id)
    ids = variants["variant_id"].astype(str).tolist()
    approved, renders = approved_variant_ids(engine), _renders(engine, ids)
    exported, left_out, digests = [], [], {}
    for vid in ids:
        reason, digest = _why_not(vid, approved, renders.get(vid))
        if reason:
            left_out.append({"variant_id": vid, "reason": reason})
        else:
            exported.append(vid)
            digests[vid] = digest
    records = {str(r["variant_id"]): {**_record(r), "video": f"videos/{r['variant_id']}.mp4"}
               for _, r in variants.iterrows()}
    existing, links = _store_state(engine, ids)
    if start is None:  # deterministic: right after the newest render of the kit
        done = [renders[v]["updated_at"] for v in exported]
        start = max(done) if done else dt.datetime(1970, 1, 1)
    planned = slots(exported, targets, existing, start, rules)
    rows = schedule_rows(planned, records, links, hooks_url=hooks_url, timezones=timezones or {})
    name = kit_name(campaign)
    topic = str(variants["topic"].iloc[0]) if "topic" in variants else ""
    manifest = {"kit": name, "campaign": campaign, "topic": topic, "targets": [f"{t.platform}:{t.account}" for t in targets],
                "schedule_rows": len(rows), "schedule_start_utc": rows[0]["post_at_utc"] if rows else None,
                "exported": [{"variant_id": v, "video": records[v]["video"], "sha256": digests[v]} for v in exported],
                "left_out": left_out}
    entries = [Entry(f"{name}/MANIFEST.json", json.dumps(manifest, indent=2, sort_keys=True, default=str).encode()),
               Entry(f"{name}/schedule.csv", _csv(rows)),
               *(Entry(f"{name}/{records[v]['video']}", source=Path(renders[v]["output_path"])) for v in exported),
               *(Entry(f"{name}/{r['caption_file']}", (r["caption"] + "\n").encode("utf-8")) for r in rows)]
    out = Path(out)
    path = out if out.suffix.lower() == ".zip" else out / f"{name}.zip"
    write_zip(path, entries)
    return Kit(path, campaign, topic, exported, left_out, len(rows), manifest["targets"])
