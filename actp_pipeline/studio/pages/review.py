"""Review: the approval queue of the creative front half (actp_pipeline/approvals), scoped to the user's accounts.

What waits (pending, needs_review) per scope, content rows with their video, caption, hashtags and moderation
findings; the state of each scope per account; what a strategy change sent back to review; the decision log.
A decision is written only through `approvals.decide`, so the state machine, the ads bridge and the audit log
(decided_by "studio:<user>") are the same as `actp approve`'s. A row's account is its `account` column, except
in the ads scope, whose subject is "PLAN_ID:AD_ACCOUNT" and whose account is that ad account.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.routing import Route

from actp_pipeline import approvals
from actp_pipeline.approvals.ads import parse_subject
from actp_pipeline.approvals.states import APPROVED, NEEDS_REVIEW, OPEN, REJECTED, SCOPES, ApprovalError
from actp_pipeline.store import schema
from actp_pipeline.studio.access import Access
from actp_pipeline.studio.gallery import snapshot
from actp_pipeline.studio.users import ALL
from actp_pipeline.studio.web import Studio, action, page

T, LOG = schema.approvals, schema.approval_decisions
QUEUE_LIMIT = 40  # rows shown per scope, oldest first (the count says how many wait in all)
LOG_LIMIT = 60
DECISIONS = {"approve": APPROVED, "reject": REJECTED}
VARIANT_COLUMNS = ["variant_id", "caption", "hashtags", "moderation", "moderation_reason", "moderation_findings"]


def row_account(scope: str, subject_id: str, account: str | None) -> str:
    """The account a row belongs to: the ad account of an ads subject, else the row's account ("*" if none)."""
    if scope == "ads":
        try:
            return parse_subject(str(subject_id))[1]
        except ApprovalError:
            return ALL
    return account or ALL


def visible_clause(access: Access, scope_col=T.c.scope, subject_col=T.c.subject_id, account_col=T.c.account):
    """SQL narrowing approval rows to the user's accounts (rechecked row by row with `row_account`)."""
    if access.sees_all:
        return sa.true()
    mine = sorted(access.roles)
    ads = sa.or_(*[subject_col.endswith(f":{a}", autoescape=True) for a in mine]) if mine else sa.false()
    return sa.or_(sa.and_(scope_col != "ads", account_col.in_(mine)), sa.and_(scope_col == "ads", ads))


def _keep(access: Access, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        r["owner"] = row_account(r["scope"], r["subject_id"], r.get("account"))
        if access.sees(r["owner"]):
            out.append(r)
    return out


def _filters(request: Request) -> tuple[str | None, str | None]:
    scope = request.query_params.get("scope") or None
    if scope is not None and scope not in SCOPES:
        raise ValueError(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
    return scope, request.query_params.get("account") or None


def waiting(studio: Studio, access: Access, scope: str | None, account: str | None) -> dict[str, Any]:
    """The open rows per scope (at most QUEUE_LIMIT shown each, oldest first) and how many wait in all."""
    cols = [T.c[c] for c in approvals.decisions.LIST_COLUMNS] + [T.c.quarantined, T.c.details]
    where = [T.c.status.in_(OPEN), visible_clause(access)]
    if scope:
        where.append(T.c.scope == scope)
    out: dict[str, Any] = {}
    with studio.engine.connect() as conn:
        totals = dict(conn.execute(sa.select(T.c.scope, sa.func.count()).where(*where).group_by(T.c.scope)).all())
        for s in [scope] if scope else SCOPES:
            q = sa.select(*cols).where(*where, T.c.scope == s)
            if account and s != "ads":
                q = q.where(T.c.account == account)
            rows = conn.execute(q.order_by(T.c.decided_at, T.c.subject_id).limit(QUEUE_LIMIT)).mappings().all()
            kept = [r for r in _keep(access, [dict(r) for r in rows]) if not account or r["owner"] == account]
            for r in kept:
                r["can_decide"] = access.can(r["owner"], "approver")
            out[s] = {"rows": kept, "total": int(totals.get(s, 0))}
    return out


def _hashtags(value: Any) -> list[str]:
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value]
    return str(value).split() if value is not None else []


def _findings(value: Any) -> list[dict[str, str]]:
    """Moderation findings as the variants asset stores them (a JSON list of {category, text, field, reason})."""
    if value is None or value == "":
        return []
    try:
        found = json.loads(value) if isinstance(value, str) else list(value)
    except (TypeError, ValueError):
        return [{"category": "unreadable", "text": str(value)[:200], "field": "", "reason": "findings not JSON"}]
    return [f for f in found if isinstance(f, dict)]


def creatives(studio: Studio, variant_ids: list[str]) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Caption, hashtags and moderation of these variants from the warehouse (a note when it has none yet)."""
    if not variant_ids:
        return {}, None
    if not studio.warehouse.exists("variants"):
        return {}, "the warehouse has no variants table yet: captions and moderation show once the loop made them"
    table = snapshot(studio.warehouse, "variants", VARIANT_COLUMNS)  # cached: a DuckDB connection costs ~50 ms
    out = {}
    for r in table.filter(pc.is_in(table["variant_id"], pa.array(variant_ids, pa.string()))).to_pylist():
        out[str(r["variant_id"])] = {"caption": r.get("caption") or "", "hashtags": _hashtags(r.get("hashtags")),
                                     "moderation": r.get("moderation") or "", "moderation_reason":
                                     r.get("moderation_reason") or "", "findings": _findings(r.get("moderation_findings"))}
    return out, None


def scope_states(studio: Studio, access: Access) -> dict[str, dict[str, dict[str, int]]]:
    """account -> scope -> status -> rows, for the user's accounts."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    with studio.engine.connect() as conn:
        grouped = conn.execute(sa.select(T.c.scope, T.c.account, T.c.status, sa.func.count()).where(
            T.c.scope != "ads", visible_clause(access)).group_by(T.c.scope, T.c.account, T.c.status)).all()
        ads = conn.execute(sa.select(T.c.scope, T.c.subject_id, T.c.status).where(
            T.c.scope == "ads", visible_clause(access))).all()
    for scope, account, status, n in grouped:
        owner = account or ALL
        if access.sees(owner):
            cell = out.setdefault(owner, {}).setdefault(scope, {})
            cell[status] = cell.get(status, 0) + int(n)
    for scope, subject_id, status in ads:
        owner = row_account(scope, subject_id, None)
        if access.sees(owner):
            cell = out.setdefault(owner, {}).setdefault("ads", {})
            cell[status] = cell.get(status, 0) + 1
    return dict(sorted(out.items()))


def strategies(studio: Studio, access: Access) -> list[dict[str, Any]]:
    """Each visible strategy with its fingerprint, parts and its decision history (approvals.history)."""
    with studio.engine.connect() as conn:
        rows = conn.execute(sa.select(T).where(T.c.scope == "strategy", visible_clause(access))
                            .order_by(T.c.subject_id)).mappings().all()
    out = []
    for r in _keep(access, [dict(r) for r in rows]):
        log = approvals.history(studio.engine, "strategy", r["subject_id"], limit=20)
        r["history"] = log.iloc[::-1].to_dict("records")
        out.append(r)
    return out


def sent_back(studio: Studio, access: Access) -> list[dict[str, Any]]:
    """Rows waiting in needs_review, with the decision that sent them there (its reason and who)."""
    with studio.engine.connect() as conn:
        rows = conn.execute(sa.select(T.c.scope, T.c.subject_id, T.c.account, T.c.reason, T.c.decided_by,
                                      T.c.decided_at, T.c.fingerprint).where(
            T.c.status == NEEDS_REVIEW, visible_clause(access)).order_by(T.c.decided_at.desc()).limit(QUEUE_LIMIT)
        ).mappings().all()
    return _keep(access, [dict(r) for r in rows])


def recent(studio: Studio, access: Access, limit: int = LOG_LIMIT) -> list[dict[str, Any]]:
    """The newest decisions of the approvals audit log on the user's accounts: who, why, from and to."""
    j = LOG.join(T, sa.and_(T.c.scope == LOG.c.scope, T.c.subject_id == LOG.c.subject_id))
    q = (sa.select(LOG.c.id, LOG.c.scope, LOG.c.subject_id, LOG.c.from_status, LOG.c.to_status, LOG.c.decided_by,
                   LOG.c.reason, LOG.c.decided_at, T.c.account).select_from(j)
         .where(visible_clause(access, LOG.c.scope, LOG.c.subject_id, T.c.account))
         .order_by(LOG.c.id.desc()).limit(limit))
    with studio.engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return _keep(access, [dict(r) for r in rows])


def build(studio: Studio, access: Access, request: Request) -> dict[str, Any]:
    scope, account = _filters(request)
    queue = waiting(studio, access, scope, account)
    content_ids = [r["subject_id"] for r in queue.get("content", {}).get("rows", [])]
    found, note = creatives(studio, content_ids)
    for r in queue.get("content", {}).get("rows", []):
        r["creative"] = found.get(r["subject_id"])
    return {"queue": queue, "variants_note": note, "states": scope_states(studio, access),
            "strategies": strategies(studio, access), "sent_back": sent_back(studio, access),
            "recent": recent(studio, access), "scopes": SCOPES, "scope": scope, "account": account,
            "limit": QUEUE_LIMIT}


def _subject_account(studio: Studio, scope: str, subject_id: str) -> str:
    """The account a decision acts on; an unknown subject is a 400 naming it."""
    if scope == "ads":
        return parse_subject(subject_id)[1]
    with studio.engine.connect() as conn:
        row = approvals.decisions.get(conn, scope, subject_id)
    if row is None:
        raise ApprovalError(f"no {scope} approval for {subject_id!r}")
    return row["account"] or ALL


def decide(studio: Studio, access: Access, form: FormData) -> tuple[str, str]:
    """Approve or reject one row with a reason, as the logged-in user (approver of the row's account)."""
    scope = str(form.get("scope") or "")
    subject_id = str(form.get("subject_id") or "").strip()
    verb = str(form.get("decision") or "")
    reason = " ".join(str(form.get("reason") or "").split())
    if scope not in SCOPES:
        raise ValueError(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
    if not subject_id:
        raise ValueError("the form names no subject_id to decide on")
    if verb not in DECISIONS:
        raise ValueError(f"decision {verb!r}: use approve or reject")
    account = _subject_account(studio, scope, subject_id)
    access.require(account, "approver")
    if not reason:
        raise ValueError(f"a reason is required to {verb} {scope} {subject_id}: say why in the reason field")
    if len(reason) > 2000:
        raise ValueError(f"the reason is {len(reason)} characters: keep it under 2000")
    row = approvals.decide(studio.engine, scope, subject_id, DECISIONS[verb], by=f"studio:{access.username}",
                           reason=reason)
    return "/review", f"{scope} {subject_id}: {row['status']} ({reason})"


ROUTES = [Route("/review", page("review.html", build), methods=["GET"]),
          Route("/review/decide", action(decide), methods=["POST"])]
