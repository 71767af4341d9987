"""Posting slots: caps, gaps and idempotency keys; the next round: repeats of the leading creatives, one
batch a day, never twice."""

import datetime as dt

import pandas as pd
import pytest

from actp_pipeline.publish.publish_schedule import SlotRules, Target, idempotency_key, plan_next_round, plan_slots

NOW = dt.datetime(2026, 11, 12, 6, 0)
T = Target("tiktok", "main")
EMPTY = pd.DataFrame(columns=["platform", "account", "idempotency_key", "scheduled_at"])


def _allocation(posts, window="2026-11-11T09:00"):
    return pd.DataFrame({"platform": "tiktok", "account": "main", "cell_window": window,
                         "variant_id": [f"v{i}" for i in range(len(posts))], "next_round_posts": posts})


def test_a_day_batch_follows_the_allocation_and_is_keyed_by_day_and_repeat():
    plan = plan_next_round(_allocation([3, 1, 0]), [T], NOW, already_scheduled=EMPTY, ready={("tiktok", "main")},
                           rules=SlotRules(max_posts_per_day=12))
    assert plan["variant_id"].tolist() == ["v0", "v0", "v0", "v1"]
    assert plan["idempotency_key"].is_unique
    assert idempotency_key("v0", T) not in set(plan["idempotency_key"])  # the first post keeps its own key
    assert (plan["scheduled_at"] > NOW).all() and (plan["scheduled_at"].dt.date == NOW.date()).all()
    # scheduling again the same day adds nothing; the next day is a new batch
    again = plan_next_round(_allocation([3, 1, 0]), [T], NOW + dt.timedelta(hours=3),
                            already_scheduled=plan, ready={("tiktok", "main")})
    assert again.empty
    tomorrow = plan_next_round(_allocation([3, 1, 0]), [T], NOW + dt.timedelta(days=1), already_scheduled=plan,
                               ready={("tiktok", "main")})
    assert len(tomorrow) == 4 and not set(tomorrow["idempotency_key"]) & set(plan["idempotency_key"])


def test_no_batch_before_a_full_day_of_feedback_and_only_the_newest_cell():
    assert plan_next_round(_allocation([2, 2]), [T], NOW, already_scheduled=EMPTY, ready=set()).empty
    both = pd.concat([_allocation([5, 0], window="2026-11-01T09:00"), _allocation([0, 2])])
    plan = plan_next_round(both, [T], NOW, already_scheduled=EMPTY, ready={("tiktok", "main")})
    assert plan["variant_id"].tolist() == ["v1", "v1"]


def test_the_daily_cap_spreads_a_large_batch_over_days():
    plan = plan_next_round(_allocation([10]), [T], NOW, already_scheduled=EMPTY, ready={("tiktok", "main")},
                           rules=SlotRules(max_posts_per_day=4))
    assert plan.groupby(plan["scheduled_at"].dt.date).size().max() <= 4 and len(plan) == 10


def test_slots_respect_caps_gaps_and_idempotency():
    now = dt.datetime(2026, 1, 1, 9, 30)
    rendered = pd.DataFrame({"variant_id": [f"v{i}" for i in range(10)]})
    plan = plan_slots(rendered, [Target("tiktok", "main")], now, rules=SlotRules(hours=(10, 12, 18), max_posts_per_day=4))
    assert len(plan) == 10 and plan["idempotency_key"].is_unique
    assert (plan["scheduled_at"] >= now + dt.timedelta(minutes=10)).all()
    per_day = plan.groupby(plan["scheduled_at"].dt.date).size()
    assert per_day.max() <= 4
    times = sorted(plan["scheduled_at"])
    assert all((b - a) >= dt.timedelta(minutes=30) for a, b in zip(times, times[1:]))
    again = plan_slots(rendered, [Target("tiktok", "main")], now, already_scheduled=plan)
    assert again.empty
    assert idempotency_key("v1", Target("tiktok", "main")) != idempotency_key("v1", Target("instagram", "main"))
    with pytest.raises(ValueError, match="platform:account"):
        Target.parse("tiktok")


def test_slot_rules_that_can_never_yield_a_slot_are_refused():
    with pytest.raises(ValueError, match="max_posts_per_day"):
        SlotRules(max_posts_per_day=0)
    with pytest.raises(ValueError, match="posting hours"):
        SlotRules(hours=())
