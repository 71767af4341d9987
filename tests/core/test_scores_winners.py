import datetime as dt

import numpy as np
import pandas as pd
import pytest

from actp_pipeline.publish_schedule import SlotRules, Target, idempotency_key, plan_slots
from actp_pipeline.scores import latest_per_post, score_posts
from actp_pipeline.warehouse import Warehouse
from actp_pipeline.winners import WinnerRule, decide


def _latest(true_er, views, hours=48.0, account="main", seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i, (p, v) in enumerate(zip(true_er, views)):
        e = rng.binomial(v, p)
        rows.append({"post_id": f"p{i}{account}", "variant_id": f"v{i}", "platform": "tiktok", "account": account,
                     "idempotency_key": f"k{i}{account}", "live_at": pd.Timestamp("2026-01-01"),
                     "last_snapshot_at": pd.Timestamp("2026-01-03"), "hours_live": hours, "snapshots": 4,
                     "views": v, "likes": e, "comments": 0, "shares": 0, "saves": 0, "watch_time_s": 0.0,
                     "velocity": v / 10})
    return pd.DataFrame(rows)


def test_known_best_wins_and_interval_covers_truth():
    true_er = [0.04, 0.042, 0.045, 0.038, 0.041, 0.07]
    scored = score_posts(_latest(true_er, [20000] * 6))
    best = scored.sort_values("p_best", ascending=False).iloc[0]
    assert best["variant_id"] == "v5" and best["p_best"] > 0.95
    assert (scored["er_low"] < scored["er_high"]).all()
    covered = [(r.er_low <= true_er[int(r.variant_id[1:])] <= r.er_high) for r in scored.itertuples()]
    assert sum(covered) >= 5
    decided = decide(scored, WinnerRule())
    assert list(decided.loc[decided["decision"] == "winner", "variant_id"]) == ["v5"]


def test_thin_data_never_wins():
    scored = score_posts(_latest([0.04, 0.04, 0.2], [5000, 5000, 40]))
    assert scored.set_index("variant_id").loc["v2", "status"] == "insufficient_data"
    decided = decide(scored).set_index("variant_id")
    assert decided.loc["v2", "decision"] == "insufficient_data" and "learning gate" in decided.loc["v2", "reason"]


def test_too_young_is_not_yet_with_reason():
    decided = decide(score_posts(_latest([0.04, 0.04, 0.09], [20000] * 3, hours=6))).set_index("variant_id")
    assert decided.loc["v2", "decision"] == "not_yet" and "live 6.0 h" in decided.loc["v2", "reason"]


def test_ties_produce_no_winner():
    decided = decide(score_posts(_latest([0.05] * 6, [20000] * 6)))
    assert (decided["decision"] != "winner").all()


def test_cells_are_compared_separately():
    both = pd.concat([_latest([0.04, 0.08], [20000, 20000], account="a"),
                      _latest([0.2, 0.21], [20000, 20000], account="b", seed=1)])
    scored = score_posts(both)
    # in cell a, the 8% creative is best even though cell b's creatives are all higher
    a = scored[scored["account"] == "a"].set_index("variant_id")
    assert a.loc["v1", "p_best"] > 0.99


def test_latest_per_post_from_snapshots(tmp_path):
    wh = Warehouse(tmp_path)
    base = {"post_id": "p", "idempotency_key": "k", "variant_id": "v", "platform": "tiktok", "account": "main",
            "live_at": pd.Timestamp("2026-01-01"), "likes": 1, "comments": 0, "shares": 0, "saves": 0,
            "watch_time_s": 0.0, "followers_gained": 0}
    for age, views in [(3.0, 300), (6.0, 900), (24.0, 2000)]:
        wh.write("post_metrics", pd.DataFrame([base | {"snapshot_at": pd.Timestamp("2026-01-01") + pd.Timedelta(hours=age),
                                                        "age_h": age, "views": views}]),
                 partition="2026-01-01", part=f"t{int(age)}", replace_partition=False)
    latest = latest_per_post(wh).iloc[0]
    assert latest["views"] == 2000 and latest["snapshots"] == 3 and latest["velocity"] == pytest.approx(150.0)


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


def test_snapshots_tolerate_a_platform_without_every_metric():
    from actp_pipeline.post_metrics import collect_snapshots

    class Partial:  # reports views and likes only, like many real platforms
        def metrics(self, ids):
            return {"as_of": "2026-01-02T00:00:00Z", "unknown": [],
                    "items": [{"post_id": i, "views": 100, "likes": 7} for i in ids]}

    ledger = pd.DataFrame([{"post_id": "p1", "idempotency_key": "k", "variant_id": "v", "platform": "tiktok",
                            "account": "main", "live_at": pd.Timestamp("2026-01-01"), "url": "u"}])
    snaps, unknown = collect_snapshots(ledger, Partial())
    assert unknown == [] and snaps.iloc[0]["likes"] == 7 and snaps.iloc[0]["saves"] == 0
    assert snaps.iloc[0]["age_h"] == 24.0
