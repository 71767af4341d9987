"""The guard: every planned action passes through `enforce`, which owns every cap, cooldown and limit.

Why one guard: the planner proposes, the guard decides. A violating action is clipped (status
"clipped") or kept but blocked (status "blocked"), with `blocked_by` naming the rule and `note` the
numbers, so a person sees "would promote X, but cooldown until T". Actions are applied in the order that
frees budget first (pauses, cuts, creations, promotions, raises); a failure inside the guard blocks the
action, never lets it through. An account whose ledger has alerts (an ambiguous listing, or the platform
already reporting more than a cap) fails closed: only its pauses and budget cuts pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from actp_pipeline.ads.goals import to_cents, to_dollars
from actp_pipeline.ads.plan.figures import money_cents
from actp_pipeline.ads.plan.inputs import ACTIVE
from actp_pipeline.ads.plan.ledger import Ledger, OverallBudget
from actp_pipeline.ads.plan.rules import (
    ACCOUNT_ISOLATION,
    ACTIONS,
    ALERT,
    BLOCKED,
    CLIPPED,
    CREATE_AD_SET,
    CREATE_CAMPAIGN,
    DEPENDS_ON_BLOCKED,
    DUPLICATE_AD_SET,
    ERROR,
    FAIL_CLOSED,
    GUARD_ERROR,
    NO_CHANGE,
    NOT_ACTIVE,
    PAUSE_AD_SET,
    PLANNED,
    PLATFORM_MIN_BUDGET,
    SCALE,
    SET_BUDGET,
    PlannedAction,
)


def _phase(a: PlannedAction) -> int:
    """Order in which the guard applies actions: what frees budget before what spends it."""
    if a.action == PAUSE_AD_SET:
        return 0
    if a.action == SET_BUDGET:
        try:
            return 1 if float(a.params["new_budget"]) < float(a.params["old_budget"]) else 5
        except (KeyError, TypeError, ValueError):
            return 5
    return {CREATE_CAMPAIGN: 2, CREATE_AD_SET: 3, DUPLICATE_AD_SET: 4}.get(a.action, 9)


def _block(a: PlannedAction, rule: str, note: str) -> PlannedAction:
    return replace(a, status=BLOCKED, blocked_by=rule, note=note)


def _blocked_by(a: PlannedAction, blockers: list[tuple[str, str]]) -> PlannedAction:
    """Blocked by the first of the ledger's (rule, note) blockers, with every blocker's note."""
    return _block(a, blockers[0][0], "; ".join(n for _, n in blockers))


def _apply(a: PlannedAction, led: Ledger, overall: OverallBudget) -> PlannedAction:
    """Let `a` through: the ledger and the overall spend take it."""
    d = led.delta(a)
    led.apply(a)
    overall.spend += d
    return a


def enforce(actions: Sequence[PlannedAction], ledgers: Mapping[str, Ledger],
            overall: OverallBudget | None = None) -> list[PlannedAction]:
    """Pass every action through the caps, cooldowns and limits, in the order that frees budget first.

    Returns the actions in their original order, each planned, clipped or blocked (errors untouched).
    `ledgers` (one per account, mutated: they end as the state after the plan) hold the rules.
    """
    overall = overall or OverallBudget(None, 0)
    out = list(actions)
    for i in sorted(range(len(actions)), key=lambda i: (_phase(actions[i]), i)):
        a = actions[i]
        if a.action in (ERROR, ALERT):
            continue
        try:
            out[i] = _guard_one(a, ledgers.get(a.account_id), overall)
        except Exception as e:  # noqa: BLE001 - a guard failure blocks the action, never lets it through
            out[i] = _block(a, GUARD_ERROR, f"{type(e).__name__}: {e}")
    return out


def _guard_one(a: PlannedAction, led: Ledger | None, overall: OverallBudget) -> PlannedAction:
    blocked = _isolation(a, led)
    if blocked is not None:
        return blocked
    if led.alerts and _spends_more(a, led):  # fail closed: only pauses and cuts while the listing is in doubt
        return _block(a, FAIL_CLOSED, "; ".join(led.alerts))
    if a.action == PAUSE_AD_SET:
        return _guard_pause(a, led, overall)
    if a.action == DUPLICATE_AD_SET:
        return _guard_promotion(a, led, overall)
    if a.action == SET_BUDGET:
        return _guard_budget_change(a, led, overall)
    # create_campaign / create_ad_set
    return _spend_check(a, led, overall, old=0, creation=a.params.get("daily_budget") is not None)


def _isolation(a: PlannedAction, led: Ledger | None) -> PlannedAction | None:
    """Blocked unless every object `a` touches is its account's (or planned earlier for it), and what it
    creates is a fresh placeholder of that account; None = isolated."""
    if led is None or led.account_id != a.account_id:
        return _block(a, ACCOUNT_ISOLATION, f"no state of account {a.account_id} was planned")
    acc = a.account_id
    own_new = f"new:{acc}:"
    if a.action not in ACTIONS:
        return _block(a, GUARD_ERROR, f"unknown action {a.action!r}")
    for ref in a.refs():
        if ref in led.existing or ref in led.created:
            continue
        if ref.startswith(own_new):
            return _block(a, DEPENDS_ON_BLOCKED, f"{ref} would not be created")
        return _block(a, ACCOUNT_ISOLATION, f"{ref} is not an object of account {acc}")
    made = a.creates
    if made is not None and (not made.startswith(own_new) or made in led.existing or made in led.created):
        return _block(a, ACCOUNT_ISOLATION, f"{made} is not a fresh placeholder of account {acc}")
    return None


def _spends_more(a: PlannedAction, led: Ledger) -> bool:
    """Whether `a` creates an object or raises a budget (anything unreadable counts as a raise)."""
    if a.action != SET_BUDGET:
        return a.action != PAUSE_AD_SET
    try:
        return to_cents(a.params["new_budget"]) > (led.budget_of(a.target_id) or 0)
    except (KeyError, TypeError, ValueError):
        return True


def _guard_pause(a: PlannedAction, led: Ledger, overall: OverallBudget) -> PlannedAction:
    if a.target_id not in led.ad_sets:
        return _block(a, ACCOUNT_ISOLATION, f"{a.target_id} is not an ad set of account {a.account_id}")
    if led.status_of(a.target_id) != ACTIVE:
        return _block(a, NOT_ACTIVE, f"ad set {a.target_id} is {led.status_of(a.target_id)}")
    blockers = led.pause_blockers(a.target_id)
    if blockers:
        return _blocked_by(a, blockers)
    return _apply(a, led, overall)


def _guard_promotion(a: PlannedAction, led: Ledger, overall: OverallBudget) -> PlannedAction:
    blockers = led.promote_blockers(a.variant_id)
    if blockers:
        return _blocked_by(a, blockers)
    into = led.campaigns.get(a.params.get("campaign_id"))
    if into is None or into["status"] != ACTIVE:
        return _block(a, NOT_ACTIVE, f"scaling campaign {a.params.get('campaign_id')} is not running")
    return _spend_check(a, led, overall, old=0, creation=a.params.get("daily_budget") is not None)


def _guard_budget_change(a: PlannedAction, led: Ledger, overall: OverallBudget) -> PlannedAction:
    t = a.target_id
    if led.status_of(t) != ACTIVE:
        return _block(a, NOT_ACTIVE, f"{t} is {led.status_of(t)}")
    old = led.budget_of(t)
    if old is None:
        return _block(a, NOT_ACTIVE, f"{t} has no daily budget of its own")
    if a.rule == SCALE:
        blockers = led.scale_blockers(a.goal)
        if blockers:
            return _blocked_by(a, blockers)
    rate = led.rate_blockers(t)
    if rate:
        return _block(a, rate[0][0], rate[0][1])
    if to_cents(a.params.get("old_budget")) != old:  # the plan's picture is stale: use the ledger's
        a = replace(a, params={**a.params, "old_budget": to_dollars(old)})
    return _spend_check(a, led, overall, old=old, creation=False)


def _spending_goal(a: PlannedAction, led: Ledger) -> str | None:
    """The goal whose caps an action's extra spend counts against."""
    if a.action == SET_BUDGET:
        return led.goal_of(a.target_id)
    if a.action == CREATE_CAMPAIGN:
        return a.goal
    return led.goal_of(a.params.get("campaign_id"))  # a new ad set spends for its campaign's goal


def _spend_check(a: PlannedAction, led: Ledger, overall: OverallBudget, old: int, creation: bool) -> PlannedAction:
    """Platform minimum and the three spend caps for an action that sets a budget, then apply it."""
    key = "new_budget" if a.action == SET_BUDGET else "daily_budget"
    if a.action != SET_BUDGET and not creation:  # no budget of its own: nothing to cap
        return _apply(a, led, overall)
    new = to_cents(a.params[key])
    status, rule, note = PLANNED, None, ""
    if new < led.min_cents:
        if a.action == SET_BUDGET and old > led.min_cents:
            new, status, rule = led.min_cents, CLIPPED, PLATFORM_MIN_BUDGET
            note = f"raised to the platform minimum {money_cents(led.min_cents)}/day"
        else:
            return _block(a, PLATFORM_MIN_BUDGET, f"{money_cents(new)}/day is below the platform minimum "
                                                  f"{money_cents(led.min_cents)}/day")
    trial = replace(a, params={**a.params, key: to_dollars(new)})
    d = led.delta(trial)
    if d > 0:
        room, cap_rule, cap_note = led.headroom(_spending_goal(a, led), overall)
        if d > room:
            allowed = new - (d - max(room, 0))
            floor = old + 1 if a.action == SET_BUDGET else led.min_cents
            if allowed < max(floor, led.min_cents):
                return _block(a, cap_rule, f"no room for +{money_cents(d)}/day: {cap_note}")
            new, status, rule = allowed, CLIPPED, cap_rule
            note = (f"asked {money_cents(to_cents(a.params[key]))}/day, clipped to {money_cents(allowed)}/day: "
                    f"{cap_note}")
            trial = replace(a, params={**a.params, key: to_dollars(new)})
            d = led.delta(trial)
    if a.action == SET_BUDGET and new == old:
        return _block(a, rule or NO_CHANGE, note or "budget already at its target")
    out = replace(trial, status=status, blocked_by=rule, note=note)
    if status == CLIPPED:
        out = replace(out, metrics={**out.metrics, "requested_budget": a.params[key], key: to_dollars(new)})
    led.apply(out)
    overall.spend += d
    return out
