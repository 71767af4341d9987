"""Whether an account's listing can be trusted, and the daily budgets the platform reports as running.

Why: the plan counts spend from the objects it keeps, and drops ambiguous rows. Dropping fails open: a
campaign listed twice vanished from the count and was created again, every plan. So the listing is
checked here (duplicate ids, ad sets outside the listed campaigns, objects named like the plan's that it
cannot account for), and the budgets are summed from every row the platform gave, each id once, so no
dropped row is missing from the count. Any reason found fails the account closed (`guard`).
"""

from __future__ import annotations

from collections import Counter

from actp_pipeline.ads.plan.inputs import ACTIVE, CBO, LEARNING, SCALING, AccountView

KINDS = (LEARNING, SCALING)
MAX_REASONS = 5  # an alert names the first few reasons and counts the rest


def _repeated(records: list[dict], what: str) -> list[str]:
    """Ids the listing gave more than once for this account."""
    counts = Counter(r["id"] for r in records)
    return [f"{what} {i} is listed {n} times" for i, n in sorted(counts.items(), key=str) if n > 1]


def _left_out(view: AccountView) -> list[str]:
    """Objects listed once for this account that the plan still had to drop: their id is claimed by another
    account too, or (an ad set) its campaign is not one of this account's listed ones."""
    out = []
    counts = Counter(r["id"] for r in view.listed_campaigns)
    kept = {r["id"] for r in view.campaigns}
    out += [f"campaign {i} is also listed under another account" for i, n in counts.items()
            if n == 1 and i not in kept]
    counts = Counter(r["id"] for r in view.listed_ad_sets)
    kept = {r["id"] for r in view.ad_sets}
    out += [f"ad set {r['id']} cannot be placed: its id is listed under another account too, or its campaign "
            f"{r['campaign_id']} is not one of the account's (uniquely) listed campaigns"
            for r in view.listed_ad_sets if counts[r["id"]] == 1 and r["id"] not in kept]
    return out


def _unaccounted(view: AccountView) -> list[str]:
    """Campaigns named like the plan's (a goal and kind) that the plan cannot tell apart or place."""
    out = []
    active = Counter((c["goal"], c["kind"]) for c in view.campaigns
                     if c["goal"] is not None and c["status"] == ACTIVE)
    for (goal, kind), n in sorted(active.items(), key=str):
        if n > 1 and kind in KINDS:
            out.append(f"{n} active {kind} campaigns for goal {goal} (the plan makes one)")
    for c in view.campaigns:
        if c["goal"] is not None and c["kind"] not in KINDS:
            out.append(f"campaign {c['id']} is named for goal {c['goal']} but its kind {c['kind']!r} is unknown")
    return out


def listing_alerts(view: AccountView) -> list[str]:
    """Why this account's listing is ambiguous (empty = consistent)."""
    out = (_repeated(view.listed_campaigns, "campaign") + _repeated(view.listed_ad_sets, "ad set")
           + _left_out(view) + _unaccounted(view))
    if len(out) > MAX_REASONS:
        out = out[:MAX_REASONS] + [f"and {len(out) - MAX_REASONS} more inconsistencies in the listing"]
    return out


def reported_budgets(view: AccountView) -> list[tuple[str | None, float]]:
    """(goal, dollars) of each daily budget the platform reports as running, each id once at its largest.

    ACTIVE CBO campaigns' budgets and ACTIVE ad sets' own budgets, unless every listed row of their
    campaign says it is not ACTIVE: an ad set whose campaign is missing counts (failing closed)."""
    camps: dict[str, dict] = {}
    for c in view.listed_campaigns:  # rows of one id merge to the most spending reading of them
        m = camps.setdefault(c["id"], {"goal": c["goal"], "status": c["status"], "budget_mode": c["budget_mode"],
                                       "daily_budget": 0.0})
        m["status"] = ACTIVE if ACTIVE in (m["status"], c["status"]) else c["status"]
        m["budget_mode"] = CBO if CBO in (m["budget_mode"], c["budget_mode"]) else c["budget_mode"]
        m["daily_budget"] = max(m["daily_budget"], c["daily_budget"] or 0.0)
    sets: dict[str, dict] = {}
    for s in view.listed_ad_sets:
        if s["status"] == ACTIVE and s["daily_budget"] is not None:
            prev = sets.get(s["id"], {}).get("daily_budget") or 0.0
            sets[s["id"]] = {**s, "daily_budget": max(s["daily_budget"], prev)}
    out = [(c["goal"], c["daily_budget"]) for c in camps.values()
           if c["status"] == ACTIVE and c["budget_mode"] == CBO and c["daily_budget"]]
    for s in sets.values():
        camp = camps.get(s["campaign_id"])
        if camp is None or camp["status"] == ACTIVE:
            out.append((None if camp is None else camp["goal"], s["daily_budget"]))
    return out
