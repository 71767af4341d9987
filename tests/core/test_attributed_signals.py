"""ACTP-attributed core signals (ads/attributed_signals.py): the human conversions through each ad's paid link,
per ad set and hour, as insights columns the planner reads; bots and duplicate reports never count, the
window holds, an ad set without a link is unknown (NaN) and one with a link but no sale is 0; a "sales" goal
pauses the ad set that spends without selling, judges cost per purchase on ACTP's own count, and leaves an
unknown one alone."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pandas as pd
import pytest

from actp_pipeline.ads import orchestrator
from actp_pipeline.ads.attributed_signals import (
    ATTRIBUTION,
    PLATFORM,
    human_conversions,
    link_keys,
    link_summary,
    read_paid_conversions,
    signal_sources,
    with_attributed,
)
from actp_pipeline.ads.goals import (
    DEFAULT_CORE_SIGNALS,
    DEFAULT_OBJECTIVES,
    GOAL_NAMES,
    AccountSettings,
    Goal,
    OrchestratorConfig,
)
from actp_pipeline.ads.plan import plan
from actp_pipeline.ads.plan.inputs import account_views
from actp_pipeline.hooks.links import PAID, ad_link_key, create_link
from actp_pipeline.store import connect_store, schema

NOW = dt.datetime(2026, 3, 10, 12, 0)
H = dt.timedelta(hours=1)
PERSON = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Instagram 300.0"
CRAWLER = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"


@pytest.fixture
def engine(tmp_path):
    return connect_store(f"sqlite:///{tmp_path / 'store.db'}")


def _link(engine, account: str, variant: str, platform: str = "meta") -> str:
    with engine.begin() as conn:
        return create_link(conn, idempotency_key=ad_link_key(platform, account, variant), variant_id=variant,
                           platform=platform, account=account, campaign="spring",
                           destination="https://shop.example.com/offer", now=NOW - 100 * H, channel=PAID)


def _sale(engine, slug: str, n: int, click_at: dt.datetime, *, event: str = "purchase", agent: str = PERSON,
          bought_at: dt.datetime | None = None, key: str | None = None) -> None:
    with engine.begin() as conn:
        cid = f"{slug}-{n}"
        conn.execute(schema.clicks.insert().values(click_id=cid, slug=slug, at=click_at, user_agent=agent,
                                                   platform_click_id=f"fb.{n}"))
        if event:
            conn.execute(schema.conversions.insert().values(
                dedupe_key=key or f"order-{slug}-{n}", click_id=cid, event=event, value=29.0, currency="USD",
                source="page", at=bought_at or click_at + dt.timedelta(minutes=5)))


def _sets(*rows) -> pd.DataFrame:
    return pd.DataFrame([{"id": sid, "campaign_id": camp, "account_id": "A", "variant_id": v, "daily_budget": 20.0,
                          "status": "ACTIVE", "created_at": pd.Timestamp(NOW) - 100 * H, "promoted_from": None}
                         for sid, camp, v in rows])


def _hourly(sid: str, hours: int, spend: float, clicks: float = 3.0) -> list[dict]:
    return [{"ad_set_id": sid, "account_id": "A", "at": pd.Timestamp(NOW) - (h + 1) * H, "spend": spend,
             "impressions": 400.0, "clicks": clicks, "lead": 0.0} for h in range(hours)]


def _read(engine, sets, since=NOW - 96 * H, until=NOW):
    return read_paid_conversions(engine, link_keys(sets, "meta"), since, until)


# -- the reader ---------------------------------------------------------------------------------------------
def test_bots_are_left_out_and_only_paid_links_of_the_ad_sets_count(engine):
    slug = _link(engine, "A", "v1")
    _sale(engine, slug, 1, NOW - 5 * H)
    _sale(engine, slug, 2, NOW - 5 * H, agent=CRAWLER)  # a link preview "bought": not a person
    _sale(engine, slug, 3, NOW - 4 * H, event="lead")
    with engine.begin() as conn:  # the same creative's organic link: not the ad's
        organic = create_link(conn, idempotency_key="v1:instagram:main", variant_id="v1", platform="instagram",
                              account="main", campaign="spring", destination="https://shop.example.com/offer",
                              now=NOW - 100 * H)
    _sale(engine, organic, 4, NOW - 5 * H)
    found = _read(engine, _sets(("s1", "c1", "v1")))
    assert found.links == {ad_link_key("meta", "A", "v1"): slug}
    assert sorted(found.conversions["event"]) == ["lead", "purchase"]
    assert set(found.conversions["dedupe_key"]) == {f"order-{slug}-1", f"order-{slug}-3"}


def test_one_dedupe_key_counts_once():
    rows = pd.DataFrame({"link_key": ["k", "k", "k"], "dedupe_key": ["o-1", "o-1", "o-2"],
                         "event": ["purchase"] * 3, "at": [NOW - 2 * H, NOW - H, NOW - H],
                         "click_at": [NOW - 3 * H] * 3, "user_agent": [PERSON, None, PERSON]})
    out = human_conversions(rows, ["purchase"], NOW - 96 * H, NOW)
    assert sorted(out["dedupe_key"]) == ["o-1", "o-2"]  # a missing agent is a person (funnel.is_bot)


def test_the_window_is_the_clicks_and_nothing_after_until(engine):
    slug = _link(engine, "A", "v1")
    _sale(engine, slug, 1, NOW - 30 * H)  # click before since
    _sale(engine, slug, 2, NOW - 20 * H)  # counts
    _sale(engine, slug, 3, NOW - H, bought_at=NOW + H)  # bought after until: not yet
    _sale(engine, slug, 4, NOW + dt.timedelta(minutes=1))  # click at/after until
    found = _read(engine, _sets(("s1", "c1", "v1")), since=NOW - 24 * H)
    assert list(found.conversions["dedupe_key"]) == [f"order-{slug}-2"]


def test_no_link_is_unknown_a_link_without_sales_is_zero(engine):
    slug = _link(engine, "A", "seller")
    _link(engine, "A", "dud")
    for n in range(3):
        _sale(engine, slug, n, NOW - (n + 2) * H - dt.timedelta(minutes=10))
    sets = _sets(("s1", "c1", "seller"), ("s2", "c1", "dud"), ("s3", "c1", "old"))
    ins = pd.DataFrame(_hourly("s1", 10, 1.0) + _hourly("s2", 10, 1.0) + _hourly("s3", 10, 1.0))
    out = with_attributed(ins, sets, _read(engine, sets), "meta", ["actp_purchase"])
    per = out.groupby("ad_set_id")["actp_purchase"]
    assert per.sum()["s1"] == 3 and per.sum()["s2"] == 0 and per.count()["s2"] == 10
    assert per.count()["s3"] == 0  # every row NaN: unknown
    assert "actp_purchase" not in ins  # the input is never modified
    views, bad = account_views(["A"], pd.DataFrame([{"id": "c1", "account_id": "A", "goal": "sales",
                                                     "kind": "learning", "daily_budget": None, "status": "ACTIVE"}]),
                               sets, out, signals=["actp_purchase"], now=NOW)
    stats = views["A"].stats
    assert not bad and stats["s1"]["actp_purchase"] == 3 and stats["s2"]["actp_purchase"] == 0
    assert math.isnan(stats["s3"]["actp_purchase"])
    assert list(link_summary(sets, _read(engine, sets), "meta")["linked"]) == [True, True, False]


def test_an_hours_sales_are_split_over_the_ad_sets_sharing_the_link_by_their_clicks(engine):
    slug = _link(engine, "A", "v1")
    for n in range(4):
        _sale(engine, slug, n, NOW - 3 * H + dt.timedelta(minutes=n))
    _sale(engine, slug, 9, NOW - 50 * H)  # an hour no ad set reported: a row of its own
    sets = _sets(("learn", "c1", "v1"), ("copy", "c2", "v1"))
    ins = pd.DataFrame(_hourly("learn", 5, 2.0, clicks=3.0) + _hourly("copy", 5, 2.0, clicks=1.0))
    out = with_attributed(ins, sets, _read(engine, sets), "meta", ["actp_purchase"])
    hour = out[out["at"] == pd.Timestamp(NOW - 3 * H)].set_index("ad_set_id")["actp_purchase"]
    assert hour["learn"] == pytest.approx(3.0) and hour["copy"] == pytest.approx(1.0)
    lone = out[out["at"] == pd.Timestamp(NOW - 50 * H)]
    assert len(lone) == 2 and lone["actp_purchase"].sum() == pytest.approx(1.0)
    assert (lone["spend"] == 0).all() and (lone["lead"] == 0).all()
    assert out["actp_purchase"].sum() == pytest.approx(5.0)


# -- goals ---------------------------------------------------------------------------------------------------
def test_sales_is_a_goal_on_actp_purchases_and_the_old_defaults_hold():
    assert "sales" in GOAL_NAMES and DEFAULT_CORE_SIGNALS["sales"] == "actp_purchase"
    assert DEFAULT_OBJECTIVES["sales"] == "OUTCOME_SALES"
    assert DEFAULT_CORE_SIGNALS["leads"] == "lead" and DEFAULT_CORE_SIGNALS["virality"] == "thruplay"
    assert not Goal("A", "leads", core_signal="actp_lead").problems(OrchestratorConfig())
    assert "not an ACTP-attributed signal" in Goal("A", "sales", core_signal="actp_purchses").problems(
        OrchestratorConfig())[0]
    tiktok = orchestrator._platform_objectives(OrchestratorConfig(), "tiktok")
    assert tiktok.objective("sales") == "TRAFFIC" and tiktok.objective("leads") == "OUTCOME_LEADS"
    assert orchestrator._platform_objectives(OrchestratorConfig(), "instagram").objective("sales") == "OUTCOME_SALES"
    mine = dataclasses.replace(OrchestratorConfig(), objectives={**DEFAULT_OBJECTIVES, "sales": "PRODUCT_SALES"})
    assert orchestrator._platform_objectives(mine, "tiktok").objective("sales") == "PRODUCT_SALES"


# -- the planner on ACTP's purchases -------------------------------------------------------------------------
def _sales_world(engine):
    """Three learning ad sets at $20/day for 72 h: `seller` sold 12 times, `dud` never, `old` has no link."""
    seller = _link(engine, "A", "seller")
    _link(engine, "A", "dud")
    for n in range(12):
        _sale(engine, seller, n, NOW - (6 * n + 2) * H)
    sets = _sets(("s-seller", "c1", "seller"), ("s-dud", "c1", "dud"), ("s-old", "c1", "old"))
    ins = pd.DataFrame(_hourly("s-seller", 72, 20 / 24) + _hourly("s-dud", 72, 20 / 24)
                       + _hourly("s-old", 72, 20 / 24))
    camps = pd.DataFrame([{"id": "c1", "account_id": "A", "goal": "sales", "kind": "learning", "daily_budget": None,
                           "status": "ACTIVE", "budget_mode": "ABO"}])
    return camps, sets, with_attributed(ins, sets, _read(engine, sets), "meta", ["actp_purchase"])


def test_a_sales_goal_pauses_the_ad_set_that_spends_without_selling_and_leaves_the_unknown_alone(engine):
    camps, sets, ins = _sales_world(engine)
    goal = Goal("A", "sales", priority=3)
    acts = plan([goal], camps, sets, ins, now=NOW, accounts={"A": AccountSettings(
        "A", global_daily_budget=60.0, auto_pause_losers=True, auto_scale_winners=True)})
    assert not [a for a in acts if a.action == "error"], [a.reason for a in acts if a.action == "error"]
    paused = {a.target_id: a for a in acts if a.action == "pause_ad_set"}
    assert set(paused) == {"s-dud"} and paused["s-dud"].executable
    assert paused["s-dud"].metrics["signal"] == "actp_purchase" and paused["s-dud"].metrics["events"] == 0
    # the split falls back to even: one learning ad set's purchases are unknown
    assert all(a.metrics.get("share") is None for a in acts if a.rule == "rebalance")
    sources = signal_sources([goal], camps, sets, ins, OrchestratorConfig(),
                             link_summary(sets, _read(engine, sets), "meta")).set_index("ad_set_id")
    assert set(sources["source"]) == {ATTRIBUTION}
    assert sources.loc["s-seller", "events"] == 12 and sources.loc["s-dud", "events"] == 0
    assert math.isnan(sources.loc["s-old", "events"]) and "unknown" in sources.loc["s-old", "note"]
    lead = signal_sources([Goal("A", "sales", core_signal="lead")], camps, sets, ins, OrchestratorConfig())
    assert set(lead["source"]) == {PLATFORM}


def test_the_cost_per_conversion_is_spend_over_attributed_purchases(engine):
    camps, sets, ins = _sales_world(engine)
    winners = pd.DataFrame([{"variant_id": "seller", "account_id": "A", "goal": "sales"}])
    acts = plan([Goal("A", "sales")], camps, sets, ins, winners, now=NOW)
    [promote] = [a for a in acts if a.rule == "promote"]
    assert promote.target_id == "s-seller" and promote.metrics["events"] == 12
    assert promote.metrics["cost_per_event"] == pytest.approx(promote.metrics["spend"] / 12)
    assert promote.metrics["spend"] == pytest.approx(60.0)


def test_without_any_link_a_sales_goal_neither_pauses_nor_errs(engine):
    camps, sets, ins = _sales_world(engine)
    ins = ins.assign(actp_purchase=float("nan"))
    acts = plan([Goal("A", "sales")], camps, sets, ins, now=NOW)
    assert not [a for a in acts if a.action in ("error", "pause_ad_set")]
