"""Collection priorities of post_metrics: tiers, order, budget, retirement, rules, and the warehouse look-up."""

import pandas as pd
import pytest

from actp_pipeline.measure.post_metrics import (
    CollectionRules,
    classify_posts,
    collect_snapshots,
    collection_plan,
    last_snapshots,
    plan_summary,
    prioritise,
)
from actp_pipeline.store.warehouse import Warehouse

NOW = pd.Timestamp("2026-11-20 12:00")


def _ledger(posts):
    """posts: (post_id, hours live)."""
    return pd.DataFrame([{"post_id": pid, "idempotency_key": f"k-{pid}", "variant_id": f"v-{pid}", "platform": "tiktok",
                          "account": "main", "live_at": NOW - pd.Timedelta(hours=h), "url": f"u/{pid}"}
                         for pid, h in posts])


def _last(snaps):
    """snaps: (post_id, hours since its last snapshot)."""
    return pd.DataFrame({"post_id": [p for p, _ in snaps],
                         "last_snapshot_at": [NOW - pd.Timedelta(hours=h) for _, h in snaps]})


def test_tiers_and_due():
    ledger = _ledger([("new_old", 400), ("new_young", 2), ("recent_due", 10), ("recent_fresh", 10), ("older_due", 100),
                      ("older_fresh", 100), ("retired", 31 * 24), ("scheduled", -3)])
    last = _last([("recent_due", 1.5), ("recent_fresh", 0.5), ("older_due", 13), ("older_fresh", 6), ("retired", 20)])
    c = classify_posts(ledger, last, NOW).set_index("post_id")
    assert c["tier"].to_dict() == {"new_old": "new", "new_young": "new", "recent_due": "recent", "recent_fresh": "recent",
                                   "older_due": "older", "older_fresh": "older", "retired": "retired",
                                   "scheduled": "not_live"}
    assert set(c.index[c["due"]]) == {"new_old", "new_young", "recent_due", "older_due"}
    assert c.loc["recent_due", "overdue_h"] == pytest.approx(0.5) and c.loc["older_due", "overdue_h"] == pytest.approx(1.0)
    assert c.loc["new_old", "overdue_h"] == pytest.approx(400.0)  # a new post waits since it went live
    assert c.loc["recent_due", "interval_h"] == 1.0 and c.loc["older_due", "interval_h"] == 12.0


def test_boundaries_of_the_tiers():
    rules = CollectionRules(due_slack=0.0)
    ledger = _ledger([("at_48h", 48), ("just_recent", 47.9), ("at_stop", 30 * 24), ("before_stop", 30 * 24 - 0.1)])
    last = _last([("at_48h", 12), ("just_recent", 1), ("at_stop", 12), ("before_stop", 12)])
    c = classify_posts(ledger, last, NOW, rules).set_index("post_id")
    assert c["tier"].to_dict() == {"at_48h": "older", "just_recent": "recent", "at_stop": "retired", "before_stop": "older"}
    # exactly one interval old is due; a little less is not, unless within the slack
    assert c.loc["just_recent", "due"] and c.loc["at_48h", "due"] and not c.loc["at_stop", "due"]
    almost = _last([("just_recent", 0.97), ("at_48h", 11.5)])
    assert not classify_posts(ledger, almost, NOW, rules)["due"].iloc[:2].any()
    slack = classify_posts(ledger, almost, NOW, CollectionRules(due_slack=0.05)).set_index("post_id")
    assert slack.loc["just_recent", "due"] and slack.loc["at_48h", "due"]


def test_order_new_first_then_most_overdue():
    ledger = _ledger([("r1", 5), ("o1", 200), ("n1", 1), ("r2", 20), ("n2", 30), ("o2", 300), ("r3", 16)])
    last = _last([("r1", 1.0), ("o1", 20.0), ("r2", 4.0), ("o2", 12.0), ("r3", 13.0)])
    plan = collection_plan(ledger, last, NOW)
    # n2 (30 h live, never collected) before n1; then overdue: o1 8 h, r3 12 h, r2 3 h, r1 0 h, o2 0 h (recent first)
    assert list(plan["post_id"]) == ["n2", "n1", "r3", "o1", "r2", "r1", "o2"]
    assert list(plan["tier"]) == ["new", "new", "recent", "older", "recent", "recent", "older"]
    assert plan["overdue_h"].iloc[2:].is_monotonic_decreasing


def test_budget_cuts_the_least_urgent_and_summary_counts():
    ledger = _ledger([(f"n{i}", 3) for i in range(3)] + [(f"r{i}", 10) for i in range(4)] + [(f"o{i}", 100) for i in range(4)])
    last = _last([(f"r{i}", 1 + i) for i in range(4)] + [(f"o{i}", 12.5 + i) for i in range(3)] + [("o3", 1)])
    rules = CollectionRules(max_posts_per_run=6)
    classified = classify_posts(ledger, last, NOW, rules)
    plan = prioritise(classified, rules)
    assert len(plan) == 6 and set(plan["post_id"][:3]) == {"n0", "n1", "n2"}
    # overdue: r3 3 h, o2 2.5 h, r2 2 h | cut: o1 1.5 h, r1 1 h, o0 0.5 h, r0 0 h
    assert list(plan["post_id"][3:]) == ["r3", "o2", "r2"]
    s = plan_summary(classified, plan)
    assert s["due"] == {"new": 3, "recent": 4, "older": 3} and s["planned"] == {"new": 3, "recent": 2, "older": 1}
    assert s["deferred_by_budget"] == 4 and s["not_due"] == 1 and s["retired"] == 0 and s["not_live"] == 0
    # with every post planned, no deferral
    assert plan_summary(classified, prioritise(classified))["deferred_by_budget"] == 0


def test_stop_after_days_retires_collected_posts_only():
    ledger = _ledger([("old_collected", 40 * 24), ("old_never", 40 * 24), ("young", 24)])
    last = _last([("old_collected", 100), ("young", 20)])
    plan = collection_plan(ledger, last, NOW)
    assert set(plan["post_id"]) == {"old_never", "young"}  # a post never measured still gets its snapshot
    plan = collection_plan(ledger, last, NOW, CollectionRules(stop_after_days=60))
    assert set(plan["post_id"]) == {"old_never", "young", "old_collected"}


def test_empty_inputs_and_aware_clock():
    empty = collection_plan(_ledger([]), _last([]), NOW)
    assert empty.empty and {"tier", "overdue_h"} <= set(empty.columns)
    plan = collection_plan(_ledger([("a", 2)]), _last([]), NOW.tz_localize("UTC"))
    assert list(plan["tier"]) == ["new"] and plan["overdue_h"].iloc[0] == pytest.approx(2.0)


@pytest.mark.parametrize("kw, match", [
    ({"recent_window_h": 0}, "recent_window_h"),
    ({"recent_every_h": -1}, "recent_every_h"),
    ({"older_every_h": float("nan")}, "older_every_h"),
    ({"stop_after_days": 1}, "stop_after_days"),  # 24 h ends before the 48 h recent window
    ({"recent_every_h": 24}, "at least as often"),
    ({"max_posts_per_run": 0}, "max_posts_per_run"),
    ({"max_posts_per_run": 2.5}, "max_posts_per_run"),
    ({"due_slack": 1.0}, "due_slack"),
])
def test_rules_are_validated(kw, match):
    with pytest.raises(ValueError, match=match):
        CollectionRules(**kw)


def test_last_snapshots_from_the_warehouse(tmp_path):
    wh = Warehouse(tmp_path)
    assert last_snapshots(wh).empty
    for t, ids in [("2026-11-20 08:00", ["a", "b"]), ("2026-11-20 10:00", ["a"])]:
        wh.write("post_metrics", pd.DataFrame({"post_id": ids, "snapshot_at": pd.Timestamp(t), "views": 1}),
                 partition="2026-11-20", part=pd.Timestamp(t).strftime("%H%M"), replace_partition=False)
    last = last_snapshots(wh).set_index("post_id")["last_snapshot_at"]
    assert last["a"] == pd.Timestamp("2026-11-20 10:00") and last["b"] == pd.Timestamp("2026-11-20 08:00")
    # b, 4 h since its snapshot, is due (recent); a, 2 h, too; c never collected comes first
    plan = collection_plan(_ledger([("a", 10), ("b", 10), ("c", 1)]), last_snapshots(wh), NOW)
    assert list(plan["post_id"]) == ["c", "b", "a"]


def test_only_planned_posts_are_asked_for():
    asked = []

    class Platform:
        def metrics(self, ids):
            asked.append(list(ids))
            return {"as_of": "2026-11-20T12:00:00Z", "unknown": [],
                    "items": [{"post_id": i, "views": 10, "likes": 1} for i in ids]}

    ledger = _ledger([("due", 10), ("fresh", 10)])
    plan = collection_plan(ledger, _last([("due", 2), ("fresh", 0.2)]), NOW)
    snaps, unknown = collect_snapshots(plan[ledger.columns], Platform())
    assert asked == [["due"]] and list(snaps["post_id"]) == ["due"] and unknown == []
