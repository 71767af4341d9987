"""Auto-approve rules per account: which scopes an account lets the loop approve by itself.

Defaults keep the demo loop moving: content is approved when moderation passed, schedules and strategies
are approved as they come; ads are never auto-approved here (they keep requiring `actp ads approve` or the ad
account's own auto_execute switch). A JSON file overrides them, named by ACTP_APPROVAL_RULES:

    {"default": {"content": true, "schedule": true, "strategy": true, "ads": false},
     "accounts": {"main": {"schedule": false}}}

An account's entry overrides the default scope by scope. An auto decision is recorded with decided_by
"auto:<rule>" (the rule names below). A moderation rejection is never auto-approved, whatever the file says.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from actp_pipeline.approvals.states import ApprovalError

RULES_ENV = "ACTP_APPROVAL_RULES"
RULE_NAMES = {"content": "auto:content_moderation_passed", "schedule": "auto:schedule", "strategy": "auto:strategy",
              "ads": "auto:ads"}


@dataclass(frozen=True)
class ScopeRules:
    """Which scopes one account auto-approves."""

    content: bool = True
    schedule: bool = True
    strategy: bool = True
    ads: bool = False

    def allows(self, scope: str) -> bool:
        return bool(getattr(self, scope))


@dataclass(frozen=True)
class AutoRules:
    """The default rules and per-account overrides (account: the strategy key, or a publishing account)."""

    default: ScopeRules = ScopeRules()
    accounts: dict[str, ScopeRules] = field(default_factory=dict)

    def for_account(self, *keys: str | None) -> ScopeRules:
        """The rules of the first key with an entry (a publishing account, then the strategy key), else default."""
        return next((self.accounts[k] for k in keys if k and k in self.accounts), self.default)

    def allows(self, scope: str, *keys: str | None) -> bool:
        return self.for_account(*keys).allows(scope)


def _scope_rules(raw: Any, base: ScopeRules, where: str) -> ScopeRules:
    if not isinstance(raw, dict):
        raise ApprovalError(f"{where}: expected an object of scope -> true/false, got {type(raw).__name__}")
    known = {f.name for f in fields(ScopeRules)}
    for key, value in raw.items():
        if key not in known:
            raise ApprovalError(f"{where}: unknown scope {key!r}; one of: {', '.join(sorted(known))}")
        if not isinstance(value, bool):
            raise ApprovalError(f"{where}.{key}: expected true or false, got {value!r}")
    return replace(base, **raw)


def parse_rules(raw: Any, where: str = "approval rules") -> AutoRules:
    """AutoRules from the JSON document's value; a clear error naming the bad key otherwise."""
    if not isinstance(raw, dict):
        raise ApprovalError(f"{where}: expected a JSON object with 'default' and/or 'accounts'")
    extra = set(raw) - {"default", "accounts"}
    if extra:
        raise ApprovalError(f"{where}: unknown key(s) {', '.join(sorted(extra))}; expected 'default', 'accounts'")
    default = _scope_rules(raw.get("default", {}), ScopeRules(), f"{where}: default")
    accounts = raw.get("accounts", {})
    if not isinstance(accounts, dict):
        raise ApprovalError(f"{where}: 'accounts' must be an object of account -> scopes")
    return AutoRules(default, {str(a): _scope_rules(r, default, f"{where}: accounts.{a}") for a, r in accounts.items()})


def load_rules(path: str | Path | None = None) -> AutoRules:
    """The rules from `path`, else from the file ACTP_APPROVAL_RULES names, else the defaults."""
    path = path or os.environ.get(RULES_ENV) or None
    if path is None:
        return AutoRules()
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ApprovalError(f"approval rules file {p} does not exist (from {RULES_ENV} or the caller)") from None
    except json.JSONDecodeError as e:
        raise ApprovalError(f"approval rules file {p}: not JSON ({e.msg} at line {e.lineno})") from None
    return parse_rules(raw, where=str(p))
