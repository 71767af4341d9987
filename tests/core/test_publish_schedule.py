"""The next round of posts: repeats of the leading creatives, one batch a day, never twice."""

import datetime as dt

import pandas as pd

from actp_pipeline.publish_schedule import SlotRules, Target, idempotency_key, plan_next_round

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
