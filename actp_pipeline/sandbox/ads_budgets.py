"""Validation of the ads objects' budgets, schedules and bids under Meta's rules: daily_budget xor
lifetime_budget (a lifetime budget needs an end), the budget's level (campaign with CBO, else its ad sets),
bid strategies that need a bid_amount, and at most 4 budget changes of one object within 60 simulated
minutes (code 17, transient). Apart from the objects' writes (ads_objects.py) so that Meta's budget
rules, the densest part of the dialect, read in one place instead of between the creates and updates.

A lifetime budget is delivered as its even daily share over [start, end) (the `daily_budget` column holds
that share; the world stops delivery at the end).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .ads_tables import AdsTables
from .ads_world import read_extras
from .graph import (
    BID_AMOUNT_STRATEGIES,
    BID_STRATEGIES,
    BUDGET_CHANGE_LIMIT,
    BUDGET_CHANGE_WINDOW_S,
    check_budget_level,
)
from .graph_errors import (
    RATE_LIMIT,
    SUB_BUDGET_CHANGES,
    SUB_BUDGET_LEVEL,
    SUB_MIN_BUDGET,
    SUB_MISSING,
    GraphError,
    invalid,
)
from .graph_params import MAX_DAILY_BUDGET, MIN_DAILY_BUDGET, param_budget, param_enum
from .graph_times import graph_time, param_time

MAX_LIFETIME_BUDGET = MAX_DAILY_BUDGET * 400  # the longest schedule the sandbox takes is 400 days


def _daily_share(lifetime: int, start_s: float, end_s: float, name: str = "lifetime_budget") -> int:
    """The daily budget a lifetime budget delivers at over [start, end)."""
    if end_s <= start_s:
        raise invalid("end_time must be after start_time (and after now)", field="end_time")
    share = math.ceil(lifetime * 86400.0 / (end_s - start_s))
    if share < MIN_DAILY_BUDGET:
        raise invalid(f"{name} {lifetime} spread over the schedule is below the minimum daily budget of "
                      f"{MIN_DAILY_BUDGET} minor units a day", SUB_MIN_BUDGET, name)
    if share > MAX_DAILY_BUDGET:
        raise invalid(f"{name} {lifetime} spread over the schedule is above the sandbox's maximum daily budget",
                      field=name)
    return share


class AdBudgets(AdsTables):
    """The budget, schedule and bid checks of AdsObjects' creates and updates."""

    def _bid(self, params: Mapping[str, Any]) -> dict[str, Any]:
        strategy = param_enum(params, "bid_strategy", BID_STRATEGIES)
        amount = params.get("bid_amount")
        out: dict[str, Any] = {}
        if strategy is not None:
            out["bid_strategy"] = strategy
        if amount not in (None, ""):
            text = str(amount).strip() if isinstance(amount, (int, str)) and not isinstance(amount, bool) else ""
            if not (0 < len(text) <= 15 and text.isascii() and text.isdigit()) or int(text) < 1:
                raise invalid("bid_amount must be a positive integer of minor units", field="bid_amount")
            out["bid_amount"] = int(text)
        if strategy in BID_AMOUNT_STRATEGIES and "bid_amount" not in out:
            raise invalid(f"bid_strategy {strategy} needs a bid_amount", SUB_MISSING, "bid_amount")
        return out

    def _budget(self, params: Mapping[str, Any], start_s: float, end_s: float | None,
                end_name: str) -> tuple[int | None, dict[str, Any]]:
        """(daily budget the world delivers at, extras) of daily_budget xor lifetime_budget."""
        daily = param_budget(params)
        lifetime = param_budget(params, "lifetime_budget", maximum=MAX_LIFETIME_BUDGET)
        if daily is not None and lifetime is not None:
            raise invalid("give daily_budget or lifetime_budget, not both", field="lifetime_budget")
        if lifetime is None:
            return daily, {}
        if end_s is None:
            raise invalid(f"a lifetime_budget needs an {end_name}", SUB_MISSING, end_name)
        return _daily_share(lifetime, start_s, end_s), {"lifetime_budget": lifetime}

    def _budget_update(self, kind: str, obj: dict[str, Any], params: Mapping[str, Any],
                       now_s: float) -> tuple[int | None, dict[str, Any]]:
        """(new daily budget or None, extras to store) of an update's budget, schedule and bid parameters."""
        extra = read_extras(self.state, obj["account_id"]).get(obj["id"], {})
        updates: dict[str, Any] = self._bid(params)
        end_name = "stop_time" if kind == "campaign" else "end_time"
        end = param_time(params, end_name)
        daily = param_budget(params)
        lifetime = param_budget(params, "lifetime_budget", maximum=MAX_LIFETIME_BUDGET)
        if daily is not None and lifetime is not None:
            raise invalid("give daily_budget or lifetime_budget, not both", field="lifetime_budget")
        if (daily is not None or lifetime is not None) and obj["daily_budget"] is None:
            what = "campaign" if kind == "campaign" else "ad set"
            hint = "set the budget on its ad sets" if kind == "campaign" else "its campaign holds the budget"
            raise invalid(f"{what} {obj['id']} has no budget of its own ({hint})", SUB_BUDGET_LEVEL,
                          "daily_budget" if daily is not None else "lifetime_budget")
        if daily is not None and "lifetime_budget" in extra:
            raise invalid(f"{obj['id']} has a lifetime budget: change lifetime_budget, not daily_budget",
                          SUB_BUDGET_LEVEL, "daily_budget")
        if lifetime is not None and "lifetime_budget" not in extra:
            raise invalid(f"{obj['id']} has a daily budget: change daily_budget, not lifetime_budget",
                          SUB_BUDGET_LEVEL, "lifetime_budget")
        if end is not None:
            if end <= now_s:  # completed hours never change (ads_world caches them)
                raise invalid(f"{end_name} must be in the future", field=end_name)
            updates[end_name] = end
        budget = daily
        if "lifetime_budget" in extra and (lifetime is not None or end is not None):
            lifetime = lifetime if lifetime is not None else extra["lifetime_budget"]
            start = max(extra.get("start_time") or obj["created_s"], obj["created_s"])
            budget = _daily_share(lifetime, start, end if end is not None else extra[end_name])
            updates["lifetime_budget"] = lifetime
        if kind == "adset" and budget is not None:
            check_budget_level(self._require(obj["campaign_id"], "campaign"), budget)
        return budget, updates

    def _check_budget_rate(self, object_id: str, kind: str, now_s: float) -> None:
        times = self.state.ads_change_times(object_id, "daily_budget", now_s - BUDGET_CHANGE_WINDOW_S)
        if len(times) >= BUDGET_CHANGE_LIMIT:
            retry_at = graph_time(times[-BUDGET_CHANGE_LIMIT] + BUDGET_CHANGE_WINDOW_S)
            what = {"campaign": "campaign", "adset": "ad set"}[kind]
            raise GraphError(
                f"User request limit reached: the budget of {what} {object_id} was changed {len(times)} times in "
                f"the last 60 minutes; at most {BUDGET_CHANGE_LIMIT} budget changes per object per hour are "
                f"allowed. Try again after {retry_at}.",
                code=RATE_LIMIT, subcode=SUB_BUDGET_CHANGES, transient=True, field="daily_budget")
