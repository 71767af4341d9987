"""Approvals as the original campaign platform had them: scopes strategy, content, schedule and ads, each
pending -> approved | rejected -> needs_review, a strategy change cascading to its dependents, auto-approve rules
per account, every decision in the audit log, and the gates that render and post only what is approved.

Modules: states (the machine), decisions (rows and audit log), rules (auto-approve), strategy (fingerprint and
cascade), ads (bridge to ad_plan_approvals), gate (render and publish gates), waiting (what moves on approval).
"""

from typing import Any

from sqlalchemy.engine import Engine

from actp_pipeline.approvals.ads import decide_ads
from actp_pipeline.approvals.decisions import counts, decide_scope, history, pending
from actp_pipeline.approvals.gate import is_publishable, is_renderable, publish_refusal
from actp_pipeline.approvals.rules import AutoRules, ScopeRules, load_rules
from actp_pipeline.approvals.states import (SCOPES, STATUSES, TRANSITIONS, ApprovalError, IllegalTransition,
                                            check_scope, check_transition)
from actp_pipeline.approvals.strategy import Strategy, cascade

__all__ = ["SCOPES", "STATUSES", "TRANSITIONS", "ApprovalError", "AutoRules", "IllegalTransition", "ScopeRules",
           "Strategy", "cascade", "check_transition", "counts", "decide", "history", "is_publishable",
           "is_renderable", "load_rules", "pending", "publish_refusal"]


def decide(engine: Engine, scope: str, subject_id: str, to_status: str, *, by: str, reason: str) -> dict[str, Any]:
    """A person's decision (who, why) on one subject of a scope, audited; the ads scope is bridged to the ad
    plan approvals. Raises ApprovalError (unknown scope or subject) or IllegalTransition."""
    check_scope(scope)
    if not by or not str(by).strip():
        raise ApprovalError("a decision needs who made it (--by)")
    if scope == "ads":
        return decide_ads(engine, str(subject_id), to_status, by=by, reason=reason)
    return decide_scope(engine, scope, str(subject_id), to_status, by=by, reason=reason)
