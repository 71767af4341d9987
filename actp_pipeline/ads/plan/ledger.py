"""The ledger: one account's state as the plan's actions are applied, the single home of caps, cooldowns
and limits.

Why one home: the guard asks the ledger whether each action may pass and applies the ones it allows;
the planner asks the same predicates only to predict what will pass, so the two can never disagree.
Money is in whole cents here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from actp_pipeline.ads.goals import AccountBudget, Goal, OrchestratorConfig, to_cents
from actp_pipeline.ads.plan.figures import money, money_cents
from actp_pipeline.ads.plan.inputs import (
    ABO,
    ACTIVE,
    CBO,
    PAUSED,
    SCALING,
    AccountView,
    hours,
    is_missing,
    utc,
)
from actp_pipeline.ads.plan.listing import listing_alerts, reported_budgets
from actp_pipeline.ads.plan.rules import (
    ACCOUNT_CAP,
    AUTO_PAUSE_OFF,
    AUTO_SCALE_OFF,
    BUDGET_CHANGE_LIMIT,
    CREATE_AD_SET,
    CREATE_CAMPAIGN,
    DUPLICATE_AD_SET,
    GOAL_CAP,
    NO_COOLDOWN,
    NOT_SENT,
    OVERALL_CAP,
    PAUSE_AD_SET,
    PAUSE_MIN_AGE,
    PAUSE_MIN_BUDGET,
    PROMOTE,
    PROMOTE_COOLDOWN,
    SCALE,
    SCALE_COOLDOWN,
    SET_BUDGET,
    PlannedAction,
)


def cents_or_none(v) -> int | None:
    return None if is_missing(v) else to_cents(v)


@dataclass
class OverallBudget:
    """The cap across every account planned together, and the planned daily spend counted against it."""

    cap: int | None  # cents, None = no overall cap
    spend: int = 0


class Ledger:
    """What an account would look like as the plan's actions are applied, and what each action may do.

    Built from an `AccountView` (with the audit log); `enforce` asks it about every action and applies
    the ones it allows; the rules ask the same predicates only to predict.
    """

    def __init__(self, view: AccountView, budget: AccountBudget, goals: Iterable[Goal],
                 config: OrchestratorConfig, now):
        self.account_id = view.account_id
        self.budget = budget
        self.config = config
        self.now = utc(now)
        self.min_cents = to_cents(config.platform_min_daily_budget)
        self.account_cap = to_cents(budget.global_daily_budget)
        self.goal_caps = {g.name: to_cents(budget.goal_cap(g)) for g in goals}
        self.default_goal_cap = to_cents(budget.max_daily_budget)
        self.campaigns: dict[str, dict] = {
            r["id"]: {"goal": r["goal"], "kind": r["kind"], "status": r["status"], "budget_mode": r["budget_mode"],
                      "budget": cents_or_none(r["daily_budget"])} for r in view.campaigns}
        self.ad_sets: dict[str, dict] = {
            r["id"]: {"campaign_id": r["campaign_id"], "status": r["status"], "created_at": r["created_at"],
                      "budget": cents_or_none(r["daily_budget"]), "variant_id": r["variant_id"]}
            for r in view.ad_sets}
        self.existing = frozenset(self.campaigns) | frozenset(self.ad_sets)
        self.created: set[str] = set()
        self.changes: dict[str, list[pd.Timestamp]] = {}
        self.last_promotion: dict[str, pd.Timestamp] = {}
        self.last_scale: dict[str, pd.Timestamp] = {}
        for r in view.ad_sets:
            if r["promoted_from"] and r["variant_id"]:
                self._later(self.last_promotion, r["variant_id"], r["created_at"])
        for r in view.history:
            self._read_history(r)
        self.unseen, self.unseen_goal = 0, {}  # cents the platform reports beyond the objects kept here
        self.alerts: list[str] = listing_alerts(view)
        self._count_reported(view)

    def _count_reported(self, view: AccountView) -> None:
        """Caps count what the platform reports running where it is more than the plan's own objects, and
        an account already over a cap by the platform's count fails closed (an alert)."""
        total, by_goal = 0, {}
        for goal, dollars in reported_budgets(view):
            total += to_cents(dollars)
            by_goal[goal] = by_goal.get(goal, 0) + to_cents(dollars)
        self.unseen = max(total - self.account_spend(), 0)
        for goal, cents in by_goal.items():
            self.unseen_goal[goal] = max(cents - self.goal_spend(goal), 0)
        if total > self.account_cap:
            self.alerts.append(f"the platform reports {money_cents(total)}/day of active budgets, above account "
                               f"{self.account_id}'s global daily budget {money_cents(self.account_cap)}")
        for goal, cap in sorted(self.goal_caps.items()):
            if by_goal.get(goal, 0) > cap:
                self.alerts.append(f"the platform reports {money_cents(by_goal[goal])}/day of active budgets for "
                                   f"goal {goal}, above its cap {money_cents(cap)}/day")

    # history
    @staticmethod
    def _later(d: dict, key, t) -> None:
        if key is not None and not is_missing(t) and (key not in d or t > d[key]):
            d[key] = t

    def _read_history(self, r: dict) -> None:
        status = (r.get("status") or "success").lower()
        action, rule, target, at = r["action"], r.get("rule"), r.get("target_id"), r["at"]
        if is_missing(at):
            return
        if action in (SET_BUDGET, "update_budget") and status not in NOT_SENT and target is not None:
            self.changes.setdefault(target, []).append(at)
        if status in NO_COOLDOWN:
            return
        if rule == PROMOTE or action in (DUPLICATE_AD_SET, "promote_winner"):
            variant = r.get("variant_id") or self.ad_sets.get(target, {}).get("variant_id")
            self._later(self.last_promotion, variant, at)
        target_campaign = self.campaigns.get(target, {})
        if rule == SCALE or (rule is None and action in (SET_BUDGET, "update_budget")
                             and target_campaign.get("kind") == SCALING):
            self._later(self.last_scale, r.get("goal") or target_campaign.get("goal"), at)

    # spend
    def runs(self, obj_id: str) -> bool:
        """Whether this object's own daily budget would be spent: an ACTIVE CBO campaign, or an ACTIVE ad
        set inside an ACTIVE campaign."""
        if obj_id in self.campaigns:
            c = self.campaigns[obj_id]
            return c["status"] == ACTIVE and c["budget_mode"] == CBO
        s = self.ad_sets.get(obj_id)
        if s is None or s["status"] != ACTIVE:
            return False
        c = self.campaigns.get(s["campaign_id"])
        return c is not None and c["status"] == ACTIVE

    def counted(self, obj_id: str) -> int:
        """Cents of planned daily spend this object contributes (0 when it does not run)."""
        return (self.budget_of(obj_id) or 0) if self.runs(obj_id) else 0

    def goal_of(self, obj_id: str) -> str | None:
        if obj_id in self.campaigns:
            return self.campaigns[obj_id]["goal"]
        s = self.ad_sets.get(obj_id)
        return None if s is None else self.campaigns.get(s["campaign_id"], {}).get("goal")

    def account_spend(self) -> int:
        """Planned daily spend of the account, at least what the platform reports (`unseen` tops it up)."""
        return sum(self.counted(i) for i in (*self.campaigns, *self.ad_sets)) + self.unseen

    def goal_spend(self, goal: str | None) -> int:
        own = sum(self.counted(i) for i in (*self.campaigns, *self.ad_sets) if self.goal_of(i) == goal)
        return own + self.unseen_goal.get(goal, 0)

    def goal_cap(self, goal: str | None) -> int:
        return self.goal_caps.get(goal, self.default_goal_cap)

    def headroom(self, goal: str | None, overall: OverallBudget | None = None) -> tuple[int, str, str]:
        """(cents that may still be added, the binding cap, its numbers) for an object of `goal`."""
        gs, acc_s = self.goal_spend(goal), self.account_spend()
        options = [
            (self.goal_cap(goal) - gs, GOAL_CAP,
             f"goal {goal} cap {money_cents(self.goal_cap(goal))}/day, planned {money_cents(gs)}"),
            (self.account_cap - acc_s, ACCOUNT_CAP,
             f"account {self.account_id} global daily budget {money_cents(self.account_cap)}, "
             f"planned {money_cents(acc_s)}"),
        ]
        if overall is not None and overall.cap is not None:
            options.append((overall.cap - overall.spend, OVERALL_CAP,
                            f"overall daily budget {money_cents(overall.cap)}, "
                            f"planned {money_cents(overall.spend)}"))
        return min(options, key=lambda o: o[0])

    # per-object facts
    def age_h(self, ad_set_id: str) -> float:
        t = self.ad_sets[ad_set_id]["created_at"]
        return math.nan if is_missing(t) else hours(self.now - t)

    def effective_budget(self, ad_set_id: str) -> int:
        """An ad set's daily budget; inside a CBO campaign, its even share of the campaign's budget."""
        s = self.ad_sets[ad_set_id]
        if s["budget"] is not None:
            return s["budget"]
        c = self.campaigns.get(s["campaign_id"], {})
        peers = sum(1 for x in self.ad_sets.values() if x["campaign_id"] == s["campaign_id"] and x["status"] == ACTIVE)
        return (c.get("budget") or 0) // max(peers, 1)

    def budget_of(self, obj_id: str) -> int | None:
        obj = self.campaigns.get(obj_id) or self.ad_sets.get(obj_id)
        return None if obj is None else obj["budget"]

    def status_of(self, obj_id: str) -> str | None:
        obj = self.campaigns.get(obj_id) or self.ad_sets.get(obj_id)
        return None if obj is None else obj["status"]

    # the blockers: each returns (rule, note) pairs; empty = allowed
    def pause_blockers(self, ad_set_id: str) -> list[tuple[str, str]]:
        c = self.config
        out = []
        if not self.budget.auto_pause_losers:
            out.append((AUTO_PAUSE_OFF, f"auto-pause of losers is off for account {self.account_id}"))
        age = self.age_h(ad_set_id)
        if not age >= c.pause_min_age_h:
            out.append((PAUSE_MIN_AGE, f"live {age:.1f} h < {c.pause_min_age_h:g} h"))
        b = self.effective_budget(ad_set_id)
        if b < to_cents(c.pause_min_budget):
            out.append((PAUSE_MIN_BUDGET, f"daily budget {money_cents(b)} < {money(c.pause_min_budget)}"))
        return out

    def _cooldown(self, rule: str, last: pd.Timestamp | None, hours_: float, done: str, next_: str
                  ) -> list[tuple[str, str]]:
        """(rule, "<done> at T, x h ago; <next_> at T'") while `last` is less than `hours_` ago."""
        cd = pd.Timedelta(hours=hours_)
        if last is None or self.now - last >= cd:
            return []
        return [(rule, f"{done} at {last.isoformat()}, {hours(self.now - last):.1f} h ago; "
                       f"{next_} at {(last + cd).isoformat()}")]

    def _auto_scale(self) -> list[tuple[str, str]]:
        if self.budget.auto_scale_winners:
            return []
        return [(AUTO_SCALE_OFF, f"auto-scale of winners is off for account {self.account_id}")]

    def promote_blockers(self, variant_id: str | None) -> list[tuple[str, str]]:
        return self._auto_scale() + self._cooldown(PROMOTE_COOLDOWN, self.last_promotion.get(variant_id),
                                                   self.config.promote_cooldown_h,
                                                   f"creative {variant_id} promoted", "next promotion")

    def scale_blockers(self, goal: str | None) -> list[tuple[str, str]]:
        return self._auto_scale() + self._cooldown(SCALE_COOLDOWN, self.last_scale.get(goal),
                                                   self.config.scale_cooldown_h, f"goal {goal} scaled", "next scale")

    def rate_blockers(self, target: str) -> list[tuple[str, str]]:
        c = self.config
        window = pd.Timedelta(hours=c.budget_change_window_h)
        recent = [t for t in self.changes.get(target, []) if t > self.now - window]
        limit = c.max_budget_changes_per_hour
        if len(recent) >= limit:
            # allowed again once enough of them have left the window
            nxt = sorted(recent)[len(recent) - limit] + window if limit else None
            return [(BUDGET_CHANGE_LIMIT, f"{len(recent)} budget changes of {target} in the last "
                                          f"{c.budget_change_window_h:g} h (limit {c.max_budget_changes_per_hour})"
                                          + (f"; next at {nxt.isoformat()}" if nxt is not None else ""))]
        return []

    # applying an allowed action
    def apply(self, a: PlannedAction) -> None:
        p = a.params
        if a.action == CREATE_CAMPAIGN:
            self.campaigns[a.target_id] = {"goal": a.goal, "kind": p.get("kind"), "status": ACTIVE,
                                           "budget_mode": p.get("budget_mode", ABO),
                                           "budget": cents_or_none(p.get("daily_budget"))}
            self.created.add(a.target_id)
        elif a.action in (CREATE_AD_SET, DUPLICATE_AD_SET):
            new_id = a.creates
            self.ad_sets[new_id] = {"campaign_id": p["campaign_id"], "status": ACTIVE,
                                    "budget": cents_or_none(p.get("daily_budget")), "created_at": self.now,
                                    "variant_id": a.variant_id}
            self.created.add(new_id)
            if a.action == DUPLICATE_AD_SET:
                self._later(self.last_promotion, a.variant_id, self.now)
        elif a.action == SET_BUDGET:
            obj = self.campaigns.get(a.target_id) or self.ad_sets[a.target_id]
            obj["budget"] = to_cents(p["new_budget"])
            self.changes.setdefault(a.target_id, []).append(self.now)
            if a.rule == SCALE:
                self._later(self.last_scale, a.goal, self.now)
        elif a.action == PAUSE_AD_SET:
            self.ad_sets[a.target_id]["status"] = PAUSED

    def delta(self, a: PlannedAction) -> int:
        """Cents by which applying `a` would change planned daily spend."""
        p = a.params
        if a.action == SET_BUDGET:
            return to_cents(p["new_budget"]) - (self.budget_of(a.target_id) or 0) if self.runs(a.target_id) else 0
        if a.action == PAUSE_AD_SET:
            return -self.counted(a.target_id)
        if a.action == CREATE_CAMPAIGN:
            return to_cents(p.get("daily_budget")) if p.get("budget_mode") == CBO else 0
        if a.action in (CREATE_AD_SET, DUPLICATE_AD_SET):
            parent = self.campaigns.get(p.get("campaign_id"), {})
            return to_cents(p.get("daily_budget")) if parent.get("status") == ACTIVE else 0
        return 0
