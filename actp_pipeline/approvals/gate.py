"""The gates: what may be rendered and what may be posted.

A variant is rendered only when its content and its strategy are approved; a publish item is posted only when
its content, its strategy and its schedule are all approved. The gate is fail-closed: a missing row, an
unknown state or an error reading the store means "not approved", with the reason.

Schedule rows are made here when a publish item first reaches the gate (one per item, subject = the publish
item's id), auto-approved when the account's schedule rule says so: the decision is taken, and audited, when
the post is due, whoever queued the item.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection, Engine

from actp_pipeline.approvals import decisions
from actp_pipeline.approvals.rules import RULE_NAMES, AutoRules, load_rules
from actp_pipeline.approvals.states import APPROVED, PENDING
from actp_pipeline.approvals.strategy import ALL_ACCOUNTS

HELD = "awaiting approval"  # how a publish item's last_error starts while the gate holds it


def _strategy_row(conn: Connection, key: str | None) -> dict[str, Any] | None:
    row = decisions.get(conn, "strategy", key or ALL_ACCOUNTS)
    return row if row is not None or not key or key == ALL_ACCOUNTS else decisions.get(conn, "strategy", ALL_ACCOUNTS)


def states(conn: Connection, variant_id: str, item_id: int | str | None = None) -> dict[str, str | None]:
    """The state of each scope a post of `variant_id` (as publish item `item_id`) needs; None = no row."""
    content = decisions.get(conn, "content", variant_id)
    strategy = _strategy_row(conn, content["account"] if content else None)
    out = {"content": content["status"] if content else None, "strategy": strategy["status"] if strategy else None}
    if item_id is not None:
        schedule = decisions.get(conn, "schedule", str(item_id))
        out["schedule"] = schedule["status"] if schedule else None
    return out


def refusal(found: dict[str, str | None]) -> str | None:
    """Why these scope states do not allow the step, or None when every one is approved."""
    missing = [f"{scope} {state or 'not requested'}" for scope, state in found.items() if state != APPROVED]
    return ", ".join(missing) or None


def is_publishable(engine: Engine, variant_id: str, item_id: int | str | None = None) -> bool:
    """Content, strategy (and, for a publish item, its schedule) approved; read only, fail-closed."""
    try:
        with engine.connect() as conn:
            return refusal(states(conn, variant_id, item_id)) is None
    except Exception:  # noqa: BLE001 - an unreadable approval is not an approval
        return False


def is_renderable(engine: Engine, variant_id: str) -> bool:
    """Content and strategy of the variant approved (fail-closed): a post's gate without its schedule."""
    return is_publishable(engine, variant_id)


def ensure_schedule(conn: Connection, item: dict[str, Any], rules: AutoRules) -> dict[str, Any]:
    """The schedule row of a publish item, made (and auto-approved when the rule says so) if it has none."""
    sid = str(item["id"])
    row = decisions.get(conn, "schedule", sid)
    if row is not None:
        return row
    content = decisions.get(conn, "content", item["variant_id"])
    key = (content or {}).get("account") or ALL_ACCOUNTS
    details = {"platform": item.get("platform"), "account": item.get("account"),
               "idempotency_key": item.get("idempotency_key"),
               "scheduled_at": str(item.get("scheduled_at")) if item.get("scheduled_at") else None}
    decisions.create(conn, [{"scope": "schedule", "subject_id": sid, "variant_id": item["variant_id"], "account": key,
                             "details": details}], by="loop", reason="publish slot awaits approval")
    row = decisions.get(conn, "schedule", sid)
    if rules.allows("schedule", item.get("account"), key):
        decisions.move(conn, [row], APPROVED, by=RULE_NAMES["schedule"],
                       reason=f"auto-approved slot {details['scheduled_at']} on {item.get('platform')}:"
                              f"{item.get('account')} (rule: schedule)")
        row = decisions.get(conn, "schedule", sid)
    return row


def register_schedules(engine: Engine, items: list[dict[str, Any]], rules: AutoRules | None = None) -> int:
    """Schedule rows for publish items that have none (id, variant_id, platform, account, ...); returns how many
    were still open (pending) afterwards."""
    rules = rules or load_rules()
    with engine.begin() as conn:
        return sum(ensure_schedule(conn, it, rules)["status"] == PENDING for it in items)


def publish_refusal(engine: Engine, item: dict[str, Any], rules: AutoRules | None = None) -> str | None:
    """Why a publish item must not be posted now, or None when content, strategy and schedule are approved.

    Fail-closed: any error (the store, a malformed rules file) is a refusal that names it."""
    try:
        rules = rules or load_rules()
        with engine.begin() as conn:
            ensure_schedule(conn, item, rules)
            why = refusal(states(conn, item["variant_id"], item["id"]))
    except Exception as e:  # noqa: BLE001 - an unreadable approval is not an approval
        return f"{HELD}: approvals could not be read ({type(e).__name__}: {str(e)[:200]})"
    return f"{HELD}: {why}" if why else None
