"""The attribution asset materialized with dg.materialize on a SQLite store filled through the real tables:
links made by hooks.links.create_link, clicks, page views and conversions inserted, a Stripe delivery
left pending for the asset to process."""

import datetime as dt
import json
import secrets

import dagster as dg
import pandas as pd
import pytest

from actp_pipeline.attribution import ALL
from actp_pipeline.hooks import events
from actp_pipeline.hooks.links import create_link, slug_for
from actp_pipeline.store import schema
from assets import LOOP_CHECKS
from assets.attribution import attribution, attribution_no_future_events
from resources import AdsResource, PlatformResource, StoreResource

# attribution reads the ads' spend behind paid links from the ads platform; none answers here (no token, port 9):
# the spend is unknown and the run goes on
NO_ADS = {"ads": AdsResource(base_url="http://127.0.0.1:9"), "platform": PlatformResource(base_url="http://127.0.0.1:9")}

HUMAN = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36"
CHECKS = [c for c in LOOP_CHECKS if any(k.asset_key.path[0].startswith("attribution") for k in c.check_keys)]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _fill(store: StoreResource) -> dict[str, list[str]]:
    """Two creatives with one TikTok post each (and a link), one creative posted without a link."""
    now = _now() - dt.timedelta(hours=2)
    engine = store.engine()
    posts = [("k1", "v1"), ("k2", "v2"), ("k3", "v3")]
    clicks = {"v1": [secrets.token_hex(12) for _ in range(4)], "v2": [secrets.token_hex(12) for _ in range(2)]}
    with engine.begin() as c:
        c.execute(schema.posts.insert(), [
            {"idempotency_key": k, "variant_id": v, "platform": "tiktok", "account": "main", "external_id": f"x-{k}",
             "url": None, "live_at": now, "posted_at": now} for k, v in posts])
        for key, variant in posts[:2]:
            create_link(c, idempotency_key=key, variant_id=variant, platform="tiktok", account="main",
                        campaign="round-1", destination="https://shop.example.com/landing", now=now)
        rows = [{"click_id": cid, "slug": slug_for("k1" if v == "v1" else "k2"), "at": now + dt.timedelta(minutes=i),
                 "platform_click_id": None, "referrer": "https://www.tiktok.com/", "user_agent": HUMAN,
                 "visitor": f"visitor-{cid[:6]}"} for v, ids in clicks.items() for i, cid in enumerate(ids)]
        rows.append({"click_id": secrets.token_hex(12), "slug": slug_for("k1"), "at": now, "platform_click_id": None,
                     "referrer": None, "user_agent": "facebookexternalhit/1.1", "visitor": "crawler"})
        c.execute(schema.clicks.insert(), rows)
        c.execute(schema.page_views.insert(), [{"click_id": cid, "url": "https://shop.example.com/landing",
                                                "at": now} for cid in clicks["v1"][:3]])
        c.execute(schema.conversions.insert(), [
            {"dedupe_key": "page:lead-1", "click_id": clicks["v1"][0], "event": "lead", "value": None,
             "currency": None, "source": "page", "at": now},
            {"dedupe_key": "order-7", "click_id": clicks["v1"][1], "event": "purchase", "value": 40.0,
             "currency": "USD", "source": "server", "at": now},
            {"dedupe_key": "order-8", "click_id": "0" * 24, "event": "purchase", "value": 12.0, "currency": "USD",
             "source": "server", "at": now}])  # a click id no link made: unattributed
    stripe = {"id": "evt_1", "type": "checkout.session.completed", "created": int(now.replace(tzinfo=dt.UTC).timestamp()),
              "data": {"object": {"client_reference_id": clicks["v2"][0], "amount_total": 2500, "currency": "eur",
                                  "payment_intent": "pi_1"}}}
    assert events.queue_webhook(engine, "stripe", "evt_1", stripe["type"], json.dumps(stripe).encode())
    variants = pd.DataFrame({"variant_id": ["v1", "v2", "v3"], "hook_pattern": ["question", "stat", "question"],
                             "angle": ["curiosity"] * 3, "cta_style": ["follow"] * 3, "format": ["listicle"] * 3,
                             "length_s": [9, 9, 15], "hook": ["Why?", "9 in 10", "How?"]})
    store.warehouse().write("variants", variants)
    return clicks


@pytest.fixture
def store(tmp_path):
    return StoreResource(data_dir=str(tmp_path / "data"))


@pytest.fixture
def any_store(tmp_path, store_url):
    """The store on SQLite, then on PostgreSQL (its reads share one REPEATABLE READ snapshot)."""
    return StoreResource(data_dir=str(tmp_path / "data"),
                         database_url=None if store_url.startswith("sqlite") else store_url)


def test_attribution_materializes_per_creative_and_factor_level_and_its_checks_pass(any_store):
    store = any_store
    _fill(store)
    with dg.instance_for_test() as instance:
        result = dg.materialize([attribution, *CHECKS], resources={"store": store, **NO_ADS}, instance=instance)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"attribution_counts_sane": True, "attribution_ids_unique": True,
                      "attribution_no_future_events": True, "attribution_factors_sane": True,
                      "attribution_posts_sane": True}
    meta = {e.materialization.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()}
    m = meta["attribution"]
    assert (m["clicks"].value, m["bot_clicks"].value, m["conversions"].value, m["unattributed"].value) == (6, 1, 3, 1)
    assert m["revenue"].value == {"EUR": 25.0, "USD": 40.0} and m["unattributed_revenue"].value == {"USD": 12.0}
    assert m["webhooks"].value["conversions"] == 1  # the pending Stripe delivery became a purchase
    assert "95%" in m["what_the_numbers_mean"].value and "unknown" in m["what_the_numbers_mean"].value.lower()
    assert "bot_clicks" in m["what_the_numbers_mean"].value
    top = m["top_creatives"].value
    assert "v1" in top and "v2" in top and "Why?" in top and "% to " in top

    wh = store.warehouse()
    cr = wh.read("attribution")
    v1 = cr[(cr["variant_id"] == "v1") & (cr["platform"] == ALL) & (cr["event"] == ALL)].iloc[0]
    assert (v1["clicks"], v1["bot_clicks"], v1["landed_clicks"], v1["converting_clicks"]) == (4, 1, 3, 2)
    assert v1["conversion_rate"] == pytest.approx(0.5) and v1["rate_low"] < 0.5 < v1["rate_high"]
    assert v1["revenue_USD"] == 40.0 and v1["revenue_EUR"] == 0.0 and pd.isna(v1["cost_per_conversion"])
    v2 = cr[(cr["variant_id"] == "v2") & (cr["platform"] == ALL) & (cr["event"] == "purchase")].iloc[0]
    assert (v2["conversions"], v2["revenue_EUR"], v2["revenue_per_click_EUR"]) == (1, 25.0, 12.5)
    v3 = cr[(cr["variant_id"] == "v3") & (cr["platform"] == ALL) & (cr["event"] == ALL)].iloc[0]
    assert (v3["posts"], v3["links"], v3["clicks"]) == (1, 0, 0) and pd.isna(v3["conversion_rate"])
    f = wh.read("attribution_factors")
    q = f[(f["factor"] == "hook_pattern") & (f["level"] == "question") & (f["event"] == ALL)].iloc[0]
    assert (q["creatives"], q["posts"], q["clicks"], q["converting_clicks"]) == (2, 2, 4, 2)
    assert meta["attribution_factors"]["dagster/row_count"].value == len(f)
    _assert_per_post(wh.read("attribution_posts"), meta["attribution_posts"])

    # a second run finds the delivery settled: nothing counted twice
    with dg.instance_for_test() as instance:
        again = dg.materialize([attribution], resources={"store": store, **NO_ADS}, instance=instance)
    m2 = again.asset_materializations_for_node("attribution")[0].metadata
    assert m2["conversions"].value == 3 and m2["webhooks"].value["processed"] == 0


def _assert_per_post(p: pd.DataFrame, meta) -> None:
    """attribution_posts: one row per post and event, the post's identity from the ledger, its own funnel."""
    assert not p.duplicated(["idempotency_key", "event"]).any()
    every = p[p["event"] == ALL].set_index("idempotency_key")
    assert sorted(every.index) == ["k1", "k2", "k3"] and every["in_ledger"].all()
    assert set(p["event"]) == {ALL, "lead", "signup", "purchase"}
    k1 = every.loc["k1"]
    assert (k1["variant_id"], k1["platform"], k1["account"], k1["external_id"]) == ("v1", "tiktok", "main", "x-k1")
    assert _now() - dt.timedelta(hours=3) < pd.Timestamp(k1["live_at"]) < _now()  # _fill posted it 2 hours ago
    assert (k1["links"], k1["clicks"], k1["bot_clicks"], k1["converting_clicks"], k1["conversions"]) == (1, 4, 1, 2, 2)
    assert (k1["revenue_USD"], k1["revenue_EUR"], k1["conversion_rate"]) == (40.0, 0.0, pytest.approx(0.5))
    k2 = every.loc["k2"]
    assert (k2["clicks"], k2["converting_clicks"], k2["revenue_EUR"], k2["revenue_per_click_EUR"]) == (2, 1, 25.0, 12.5)
    k3 = every.loc["k3"]  # posted without a tracked link: counted, no rate
    assert (k3["links"], k3["clicks"], k3["converting_clicks"]) == (0, 0, 0) and pd.isna(k3["conversion_rate"])
    k1_lead = p[(p["idempotency_key"] == "k1") & (p["event"] == "lead")].iloc[0]
    assert (k1_lead["conversions"], k1_lead["revenue_USD"]) == (1, 0.0)
    assert (meta["posts"].value, meta["posts_with_clicks"].value, meta["posts_not_in_ledger"].value) == (3, 2, 0)
    assert meta["dagster/row_count"].value == len(p)
    assert "k1" in meta["top_posts"].value and "attribution_posts" in meta["what_the_numbers_mean"].value


def test_an_empty_store_gives_readable_empty_tables(store):
    with dg.instance_for_test() as instance:
        result = dg.materialize([attribution, *CHECKS], resources={"store": store, **NO_ADS}, instance=instance)
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    assert store.warehouse().read("attribution").empty and "rate_low" in store.warehouse().read("attribution")
    posts = store.warehouse().read("attribution_posts")
    assert posts.empty and {"idempotency_key", "clicks", "converting_clicks", "live_at"} <= set(posts.columns)


def test_a_click_from_the_future_fails_the_check(store):
    clicks = _fill(store)
    with store.engine().begin() as c:
        c.execute(schema.clicks.update().where(schema.clicks.c.click_id == clicks["v1"][3])
                  .values(at=_now() + dt.timedelta(hours=1)))
    with dg.instance_for_test() as instance:
        dg.materialize([attribution], resources={"store": store, **NO_ADS}, instance=instance)
    verdict = attribution_no_future_events(store=store)
    assert not verdict.passed and verdict.metadata["rows_in_future"].value >= 1


def test_it_follows_new_posts_and_refreshes_hourly_without_them(store):
    defs = dg.Definitions(assets=[attribution], resources={"store": store, **NO_ADS})
    start = dt.datetime(2026, 11, 10, 8, 10, tzinfo=dt.UTC)
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=start)
        assert first.get_num_requested(dg.AssetKey("attribution")) == 0  # no posts or variants yet
        for key in ("posts", "variants"):
            instance.report_runless_asset_event(dg.AssetMaterialization(key))
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor,
                                                   evaluation_time=start + dt.timedelta(minutes=1))
        assert second.get_num_requested(dg.AssetKey("attribution")) == 1  # eager: new posts
        instance.report_runless_asset_event(dg.AssetMaterialization("attribution"))
        instance.report_runless_asset_event(dg.AssetMaterialization("attribution_factors"))
        instance.report_runless_asset_event(dg.AssetMaterialization("attribution_posts"))
        quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor,
                                                  evaluation_time=start + dt.timedelta(minutes=20))
        assert quiet.get_num_requested(dg.AssetKey("attribution")) == 0
        hourly = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor,
                                                   evaluation_time=start + dt.timedelta(minutes=55))
        assert hourly.get_num_requested(dg.AssetKey("attribution")) == 1  # 09:00 passed, nothing upstream changed
