"""Page views, conversions and webhook deliveries: checked, then written once.

What a page or a server sends is checked field by field and refused with the field's name (a conversion
with a value and no currency is not stored as dollars). A conversion carries a dedupe key: the same sale
reported by the page, by the shop's server and by Stripe under one key (the order id; for Stripe its
metadata.actp_dedupe_key) is one row, the most trusted report's (store_conversion). A webhook delivery is queued with its
provider's event id, so a replay is acknowledged and dropped; `process_webhooks` does the work later, out
of the request (Stripe retries a slow answer, which would itself become a replay).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from actp_pipeline.store import schema
from actp_pipeline.store.engine import insert_ignoring_conflict
from actp_pipeline.store.schema import utcnow

CLICK_ID_RE = re.compile(r"[0-9a-f]{24}")
EVENT_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
CURRENCY_RE = re.compile(r"[A-Z]{3}")
DEDUPE_RE = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII, no spaces
MAX_VALUE = 1e9
# Stripe events that are a paid conversion, and where each keeps ACTP's click id
STRIPE_PAID = {"checkout.session.completed": ("client_reference_id", "amount_total"),
               "payment_intent.succeeded": ("metadata.actp_click_id", "amount_received")}
# currencies Stripe counts in whole units (its "zero-decimal currencies" list)
ZERO_DECIMAL = {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF",
                "XOF", "XPF"}


class BadEvent(ValueError):
    """A page view or conversion that cannot be stored; `field` names the culprit."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def _click_id(body: Mapping[str, Any]) -> str:
    cid = body.get("click_id")
    if not isinstance(cid, str) or not CLICK_ID_RE.fullmatch(cid):
        raise BadEvent("click_id", "must be the 24-hex-digit id the tracked link added as actp_cid")
    return cid


def _at(body: Mapping[str, Any], now: dt.datetime) -> dt.datetime:
    raw = body.get("at")
    if raw is None:
        return now
    try:
        at = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise BadEvent("at", f"{str(raw)[:40]!r} is not an ISO 8601 time") from None
    at = at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo else at
    if at > now + dt.timedelta(minutes=5):
        raise BadEvent("at", "is in the future")
    return at


def check_page_view(body: Mapping[str, Any], now: dt.datetime | None = None) -> dict[str, Any]:
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 2000:
        raise BadEvent("url", "must be the page's http(s) address, at most 2000 characters")
    return {"click_id": _click_id(body), "url": url, "at": now or utcnow()}


def check_conversion(body: Mapping[str, Any], source: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """A conversion row from a page's or a server's JSON; BadEvent names the first wrong field."""
    now = now or utcnow()
    event = body.get("event")
    if not isinstance(event, str) or not EVENT_RE.fullmatch(event):
        raise BadEvent("event", "must be a lower-case name such as lead, signup or purchase")
    key = body.get("dedupe_key")
    if not isinstance(key, str) or not DEDUPE_RE.fullmatch(key):
        raise BadEvent("dedupe_key", "must be 1-200 printable characters without spaces (an order or lead id)")
    value, currency = body.get("value"), body.get("currency")
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_VALUE:
            raise BadEvent("value", f"must be a number from 0 to {MAX_VALUE:.0e}")
        if not isinstance(currency, str) or not CURRENCY_RE.fullmatch(currency):
            raise BadEvent("currency", "a value needs its ISO 4217 currency code, e.g. USD")
    elif currency is not None:
        raise BadEvent("currency", "given without a value")
    return {"click_id": _click_id(body), "event": event, "dedupe_key": key, "value": float(value) if value is not None else None, "currency": currency,
            "source": source, "at": _at(body, now) if source == "server" else now}


def click_exists(conn: Connection, click_id: str) -> bool:
    t = schema.clicks
    return conn.execute(sa.select(t.c.click_id).where(t.c.click_id == click_id)).first() is not None


def store_page_view(engine: Engine, row: dict[str, Any]) -> bool:
    """False when the click id is unknown (nothing stored)."""
    with engine.begin() as conn:
        if not click_exists(conn, row["click_id"]):
            return False
        conn.execute(schema.page_views.insert().values(**row))
    return True


def store_conversion(engine: Engine, row: dict[str, Any]) -> str:
    """"stored", "duplicate" (its dedupe key is known), "corrected" or "unknown_click".

    One sale is one row whoever reports it, as long as they report it under one key (the order id). A page's
    report is the weakest (anyone can send one): a page conversion needs a known click, and a report from the
    shop's server or Stripe replaces a page's row of the same key (its value, event and source), never the
    other way round. A server or Stripe conversion whose click is unknown is kept, unattributed (the sale
    happened; the attribution counts it apart)."""
    with engine.begin() as conn:
        if row["source"] == "page" and not click_exists(conn, row["click_id"]):
            return "unknown_click"
        if insert_ignoring_conflict(conn, schema.conversions, row).rowcount == 1:
            return "stored"
        if row["source"] == "page":
            return "duplicate"
        return "corrected" if _correct_page_row(conn, row) else "duplicate"


# ---------------------------------------------------------------------------------------- webhooks
def queue_webhook(engine: Engine, provider: str, event_id: str, event_type: str | None, payload: bytes) -> bool:
    """Keep a verified delivery once per (provider, event id); False for a replay."""
    row = {"provider": provider, "event_id": event_id[:200], "event_type": (event_type or "")[:100] or None,
           "payload": payload.decode("utf-8"), "status": "pending", "received_at": utcnow()}
    with engine.begin() as conn:
        return insert_ignoring_conflict(conn, schema.webhook_events, row).rowcount == 1


def _dig(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def stripe_conversion(event: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The purchase a Stripe event records, or None and why not."""
    kind = event.get("type")
    if kind not in STRIPE_PAID:
        return None, f"{kind} is not a paid conversion"
    obj = _dig(event, "data.object") or {}
    cid_path, amount_field = STRIPE_PAID[str(kind)]
    cid = _dig(obj, cid_path)
    if not isinstance(cid, str) or not CLICK_ID_RE.fullmatch(cid):
        return None, f"no ACTP click id in {cid_path}"
    amount, currency = obj.get(amount_field), str(obj.get("currency") or "").upper()
    if not isinstance(amount, int) or not CURRENCY_RE.fullmatch(currency):
        return None, f"no {amount_field}/currency"
    value = amount if currency in ZERO_DECIMAL else amount / 100
    paid = obj.get("payment_intent") if kind == "checkout.session.completed" else obj.get("id")
    created = event.get("created")
    at = dt.datetime.fromtimestamp(created, dt.UTC).replace(tzinfo=None) if isinstance(created, int) else utcnow()
    order = _dig(obj, "metadata.actp_dedupe_key")  # the shop's order id, when it passes it: one sale, one key
    key = order if isinstance(order, str) and DEDUPE_RE.fullmatch(order) else f"stripe:{paid or event.get('id')}"
    return {"click_id": cid, "event": "purchase", "dedupe_key": key,
            "value": float(value), "currency": currency, "source": "stripe", "at": at}, "purchase"


def process_webhooks(engine: Engine, limit: int = 500) -> dict[str, int]:
    """Turn pending deliveries into conversions (Stripe payments); the others are kept as received. Each row
    is settled once: its status moves from pending only in the statement that settles it."""
    t = schema.webhook_events
    counts = {"processed": 0, "conversions": 0, "skipped": 0, "failed": 0}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.id, t.c.provider, t.c.payload).where(t.c.status == "pending")
                            .order_by(t.c.id).limit(limit)).all()
    for row_id, provider, payload in rows:
        status, result, conversion = _handle(provider, payload)
        with engine.begin() as conn:
            settled = conn.execute(t.update().where(t.c.id == row_id, t.c.status == "pending").values(
                status=status, result=result, processed_at=utcnow())).rowcount
            if settled and conversion is not None:
                if insert_ignoring_conflict(conn, schema.conversions, conversion).rowcount:  # unknown click: kept,
                    counts["conversions"] += 1  # unattributed
                else:
                    _correct_page_row(conn, conversion)
        if settled:
            counts["processed"] += 1
            if status != "done":
                counts[status] += 1
    return counts


def _correct_page_row(conn: Connection, row: dict[str, Any]) -> bool:
    """A trusted report (server, Stripe) replaces a page's row of the same key; True when it did."""
    t = schema.conversions
    return 1 == conn.execute(t.update().where(t.c.dedupe_key == row["dedupe_key"], t.c.source == "page").values(
        event=row["event"], value=row["value"], currency=row["currency"], source=row["source"])).rowcount


def _handle(provider: str, payload: str) -> tuple[str, str, dict[str, Any] | None]:
    try:
        event = json.loads(payload)
    except ValueError:
        return "failed", "the body is not JSON", None
    if provider != "stripe" or not isinstance(event, dict):
        return "skipped", f"{provider} deliveries are kept as received; none is a conversion yet", None
    conversion, why = stripe_conversion(event)
    return ("done" if conversion else "skipped"), why, conversion
