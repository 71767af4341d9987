"""Attribution's funnel on hand-built frames with known answers (actp_pipeline/attribution/funnel.py)."""

import math

import numpy as np
import pandas as pd
import pytest

from actp_pipeline.attribution import ALL, attribute, is_bot, rate_interval

T0 = pd.Timestamp("2026-11-10 08:00")
HUMAN = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Instagram 300.0"


def _links(*rows):
    """rows: (slug, variant_id, platform); the post's key is k-<slug>."""
    return pd.DataFrame([{"slug": s, "idempotency_key": f"k-{s}", "variant_id": v, "platform": p} for s, v, p in rows])


def _posts(links: pd.DataFrame, extra=()):
    rows = [{"idempotency_key": r.idempotency_key, "variant_id": r.variant_id, "platform": r.platform}
            for r in links.itertuples()] + [{"idempotency_key": k, "variant_id": v, "platform": p} for k, v, p in extra]
    return pd.DataFrame(rows)


def _clicks(rows):
    """rows: (click_id, slug[, user_agent[, visitor]])."""
    out = [{"click_id": r[0], "slug": r[1], "at": T0, "user_agent": r[2] if len(r) > 2 else HUMAN,
            "visitor": r[3] if len(r) > 3 else r[0]} for r in rows]
    return pd.DataFrame(out, columns=["click_id", "slug", "at", "user_agent", "visitor"])


def _conversions(rows):
    """rows: (dedupe_key, click_id, event[, value, currency])."""
    out = [{"dedupe_key": r[0], "click_id": r[1], "event": r[2], "value": r[3] if len(r) > 3 else None,
            "currency": r[4] if len(r) > 4 else None, "at": T0} for r in rows]
    return pd.DataFrame(out, columns=["dedupe_key", "click_id", "event", "value", "currency", "at"])


def _views(click_ids):
    return pd.DataFrame({"click_id": list(click_ids)})


def _row(df, **where):
    mask = np.ones(len(df), dtype=bool)
    for k, v in where.items():
        mask &= (df[k] == v).to_numpy()
    assert mask.sum() == 1, (where, int(mask.sum()))
    return df[mask].iloc[0]


VARIANTS = pd.DataFrame({"variant_id": ["v1", "v2", "v3"], "hook_pattern": ["question", "question", "stat"],
                         "angle": ["curiosity"] * 3, "cta_style": ["follow"] * 3, "format": ["listicle"] * 3,
                         "length_s": [9, 15, 24]})


@pytest.fixture
def funnel():
    links = _links(("a", "v1", "tiktok"), ("b", "v1", "instagram"), ("c", "v2", "tiktok"), ("d", "v3", "tiktok"))
    posts = _posts(links, extra=[("k-nolink", "v2", "tiktok")])
    clicks = _clicks([("c1", "a"), ("c2", "a"), ("c3", "a"), ("c4", "a"), ("c5", "b"), ("c6", "c"),
                      ("c7", "c", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"),
                      ("c8", "c", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"),
                      ("c9", "nolink")])
    conv = _conversions([
        ("lead-1", "c1", "lead"), ("buy-1", "c1", "purchase", 20.0, "USD"), ("buy-2", "c1", "purchase", 5.0, "USD"),
        ("lead-2", "c2", "lead"), ("buy-3", "c5", "purchase", 30.0, "EUR"), ("buy-4", "c6", "purchase", 8.0, "USD"),
        ("bot-lead", "c7", "lead"),
        ("lost-1", "ffffffffffffffffffffffff", "purchase", 99.0, "USD"), ("lost-2", None, "lead"),
        ("lost-3", "c9", "lead")])
    return attribute(links, clicks, _views(["c1", "c1", "c2", "c5", "c7"]), conv, posts, VARIANTS)


def test_counts_and_rates_per_creative(funnel):
    cr = funnel.creatives
    v1 = _row(cr, variant_id="v1", platform=ALL, event=ALL)
    assert (v1["posts"], v1["links"], v1["clicks"], v1["bot_clicks"]) == (2, 2, 5, 0)
    assert (v1["page_views"], v1["landed_clicks"], v1["landing_rate"]) == (4, 3, pytest.approx(3 / 5))
    # c1 (3 conversions), c2 (lead), c5 (purchase): 5 conversions on 3 converting clicks of 5
    assert (v1["conversions"], v1["converting_clicks"]) == (5, 3)
    assert v1["conversion_rate"] == pytest.approx(3 / 5)
    assert v1["rate_low"] < 0.6 < v1["rate_high"] and v1["interval_level"] == 0.95
    buys = _row(cr, variant_id="v1", platform=ALL, event="purchase")
    assert (buys["conversions"], buys["converting_clicks"], buys["conversion_rate"]) == (3, 2, pytest.approx(2 / 5))
    tiktok = _row(cr, variant_id="v1", platform="tiktok", event="lead")
    assert (tiktok["clicks"], tiktok["conversions"], tiktok["conversion_rate"]) == (4, 2, pytest.approx(0.5))
    assert _row(cr, variant_id="v1", platform="instagram", event="purchase")["converting_clicks"] == 1
    # the core events always have rows, at 0 when nothing happened
    signup = _row(cr, variant_id="v1", platform=ALL, event="signup")
    assert (signup["conversions"], signup["conversion_rate"]) == (0, 0.0)
    # the platform rows add up to the all-platform row
    split = cr[(cr["variant_id"] == "v1") & (cr["platform"] != ALL) & (cr["event"] == ALL)]
    assert split["clicks"].sum() == v1["clicks"] and split["conversions"].sum() == v1["conversions"]


def test_zero_clicks_have_no_rate_and_unknown_spend_no_cost(funnel):
    v3 = _row(funnel.creatives, variant_id="v3", platform=ALL, event=ALL)
    assert v3["posts"] == 1 and v3["clicks"] == 0
    for col in ("conversion_rate", "rate_low", "rate_high", "landing_rate"):
        assert math.isnan(v3[col]), col
    assert math.isnan(v3["revenue_per_click_USD"]) and v3["revenue_USD"] == 0.0
    assert funnel.creatives["spend"].isna().all() and funnel.creatives["cost_per_conversion"].isna().all()
    assert funnel.factors["cost_per_conversion"].isna().all()


def test_currencies_are_never_added_together(funnel):
    cr = funnel.creatives
    v1 = _row(cr, variant_id="v1", platform=ALL, event="purchase")
    assert v1["revenue_USD"] == pytest.approx(25.0) and v1["revenue_EUR"] == pytest.approx(30.0)
    assert v1["revenue_per_click_USD"] == pytest.approx(5.0) and v1["revenue_per_click_EUR"] == pytest.approx(6.0)
    assert not [c for c in cr.columns if c == "revenue" or c.startswith("revenue_total")]
    assert _row(cr, variant_id="v1", platform="tiktok", event=ALL)["revenue_EUR"] == 0.0
    assert funnel.totals["revenue"] == {"EUR": 30.0, "USD": 33.0}


def test_bots_are_counted_apart_and_left_out_of_the_rates(funnel):
    v2 = _row(funnel.creatives, variant_id="v2", platform=ALL, event=ALL)
    assert (v2["clicks"], v2["bot_clicks"]) == (1, 2)
    assert (v2["converting_clicks"], v2["conversion_rate"]) == (1, 1.0)
    assert (v2["page_views"], v2["bot_conversions"]) == (0, 1)  # c7's page view and lead are a crawler's
    assert v2["posts"] == 2  # one post carried no link
    agents = pd.Series(["Twitterbot/1.0", "TelegramBot (like TwitterBot)", "WhatsApp/2.23.20.0 A",
                        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "LinkedInBot/1.0",
                        "Mozilla/5.0 (compatible; Googlebot/2.1)", "Mozilla/5.0 (compatible; bingbot/2.0)",
                        "curl/8.5.0", "python-httpx/0.28.1", HUMAN, "Mozilla/5.0 LinkedInApp", None, ""])
    assert is_bot(agents).tolist() == [True] * 9 + [False] * 4


def test_unknown_click_ids_are_unattributed(funnel):
    t = funnel.totals
    assert t["unattributed"] == 3 and t["unattributed_revenue"] == {"USD": 99.0}
    assert t["unattributed_clicks"] == 1  # c9's slug is no tracked link
    assert (t["clicks"], t["bot_clicks"], t["conversions"], t["bot_conversions"]) == (6, 2, 6, 1)
    assert funnel.creatives.query("platform == '*' and event == '*'")["conversions"].sum() == t["conversions"]


def test_factor_levels_aggregate_their_creatives(funnel):
    f = funnel.factors
    q = _row(f, factor="hook_pattern", level="question", event=ALL)
    assert (q["creatives"], q["clicks"], q["converting_clicks"], q["bot_clicks"]) == (2, 6, 4, 2)
    assert q["conversion_rate"] == pytest.approx(4 / 6)
    stat = _row(f, factor="hook_pattern", level="stat", event=ALL)
    assert stat["creatives"] == 1 and stat["clicks"] == 0 and math.isnan(stat["conversion_rate"])
    # length_bucket from length_s: 9 s short, 15 s medium, 24 s long
    assert set(f.loc[f["factor"] == "length_bucket", "level"]) == {"short", "medium", "long"}
    angle = _row(f, factor="angle", level="curiosity", event="purchase")
    assert angle["revenue_USD"] == pytest.approx(33.0) and angle["revenue_EUR"] == pytest.approx(30.0)
    assert not f.duplicated(["factor", "level", "event"]).any()


def test_the_per_post_funnel(funnel):
    p = funnel.posts
    assert not p.duplicated(["idempotency_key", "event"]).any()
    assert set(p["event"]) == {ALL, "lead", "signup", "purchase"}
    every = p[p["event"] == ALL].set_index("idempotency_key")
    assert sorted(every.index) == ["k-a", "k-b", "k-c", "k-d", "k-nolink"] and every["in_ledger"].all()
    a = every.loc["k-a"]  # c1..c4: c1 (lead + 2 purchases) and c2 (lead) converted
    assert (a["variant_id"], a["platform"], a["links"], a["clicks"], a["bot_clicks"]) == ("v1", "tiktok", 1, 4, 0)
    assert (a["conversions"], a["converting_clicks"], a["revenue_USD"]) == (4, 2, pytest.approx(25.0))
    assert a["conversion_rate"] == pytest.approx(0.5) and a["rate_low"] < 0.5 < a["rate_high"]
    c = every.loc["k-c"]  # one human click (converted) and two crawlers (one "converted")
    assert (c["clicks"], c["bot_clicks"], c["converting_clicks"], c["bot_conversions"]) == (1, 2, 1, 1)
    nolink = every.loc["k-nolink"]
    assert (nolink["links"], nolink["clicks"]) == (0, 0) and math.isnan(nolink["conversion_rate"])
    # the posts add up to their creatives, event by event (no spend columns per post)
    by_creative = p.groupby(["variant_id", "event"])[["clicks", "conversions", "converting_clicks"]].sum()
    cr = funnel.creatives[funnel.creatives["platform"] == ALL].set_index(["variant_id", "event"])
    assert (by_creative == cr.loc[by_creative.index, by_creative.columns]).all().all()
    assert not {"spend", "cost_per_conversion", "posts"} & set(p.columns)
    lead = _row(p, idempotency_key="k-a", event="lead")
    assert (lead["conversions"], lead["converting_clicks"], lead["revenue_USD"]) == (2, 2, 0.0)


def test_per_post_identity_comes_from_the_ledger_else_the_link():
    links = _links(("a", "v1", "tiktok"), ("b", "v2", "instagram")).assign(account=["main", "brand"])
    posts = pd.DataFrame({"idempotency_key": ["k-a"], "variant_id": ["v1"], "platform": ["tiktok"],
                          "account": ["main"], "external_id": ["tt-1"], "live_at": [T0]})
    clicks = _clicks([("c1", "a"), ("c2", "b"), ("c3", "b")])
    r = attribute(links, clicks, _views([]), _conversions([("x1", "c2", "lead")]), posts)
    every = r.posts[r.posts["event"] == ALL].set_index("idempotency_key")
    assert (every.loc["k-a", "external_id"], every.loc["k-a", "live_at"], every.loc["k-a", "in_ledger"]) == \
        ("tt-1", T0, True)
    b = every.loc["k-b"]  # a tracked link whose post the ledger does not hold (yet)
    assert (b["variant_id"], b["platform"], b["account"], b["in_ledger"]) == ("v2", "instagram", "brand", False)
    assert pd.isna(b["live_at"]) and pd.isna(b["external_id"]) and (b["clicks"], b["converting_clicks"]) == (2, 1)


def test_spend_gives_cost_per_conversion_where_known():
    links = _links(("a", "v1", "tiktok"), ("b", "v2", "tiktok"), ("c", "v3", "tiktok"))
    clicks = _clicks([("c1", "a"), ("c2", "a"), ("c3", "b"), ("c4", "c")])
    conv = _conversions([("x1", "c1", "lead"), ("x2", "c2", "lead"), ("x3", "c4", "lead")])
    spend = pd.DataFrame({"variant_id": ["v1", "v2"], "spend": [10.0, 4.0], "currency": ["USD", "USD"]})
    r = attribute(links, clicks, _views([]), conv, _posts(links), VARIANTS, spend=spend)
    cr = r.creatives
    assert _row(cr, variant_id="v1", platform=ALL, event=ALL)["cost_per_conversion"] == pytest.approx(5.0)
    v2 = _row(cr, variant_id="v2", platform=ALL, event=ALL)  # spent 4, no conversion: no cost, not 0
    assert v2["spend"] == 4.0 and math.isnan(v2["cost_per_conversion"])
    assert math.isnan(_row(cr, variant_id="v3", platform=ALL, event=ALL)["cost_per_conversion"])  # spend unknown
    assert math.isnan(_row(cr, variant_id="v1", platform="tiktok", event=ALL)["spend"])  # spend not per platform
    q = _row(r.factors, factor="hook_pattern", level="question", event=ALL)  # v1 + v2, both known
    assert (q["spend"], q["spend_currency"], q["cost_per_conversion"]) == (14.0, "USD", pytest.approx(7.0))
    assert math.isnan(_row(r.factors, factor="angle", level="curiosity", event=ALL)["spend"])  # v3 unknown
    mixed = pd.DataFrame({"variant_id": ["v1", "v2"], "spend": [10.0, 4.0], "currency": ["USD", "EUR"]})
    r = attribute(links, clicks, _views([]), conv, _posts(links), VARIANTS, spend=mixed)
    assert math.isnan(_row(r.factors, factor="hook_pattern", level="question", event=ALL)["spend"])


def test_empty_store_gives_empty_tables_with_columns():
    r = attribute(None, None, None, None, None, None)
    assert r.creatives.empty and {"variant_id", "platform", "event", "conversion_rate", "rate_low"} <= set(r.creatives)
    assert r.factors.empty and {"factor", "level", "creatives", "clicks"} <= set(r.factors)
    assert r.posts.empty and {"idempotency_key", "live_at", "event", "clicks", "converting_clicks"} <= set(r.posts)
    assert r.totals["clicks"] == 0 and r.totals["unattributed"] == 0


def test_rate_interval_edges():
    lo, hi = rate_interval([0, 10, 3, 0], [10, 10, 0, 0])
    assert lo[0] == 0.0 and 0 < hi[0] < 0.3 and hi[1] == 1.0 and 0.7 < lo[1] < 1
    assert np.isnan(lo[2:]).all() and np.isnan(hi[2:]).all()


@pytest.mark.parametrize("rate", [0.05, 0.2])
def test_the_95_interval_covers_the_true_rate_about_95_percent_of_the_time(rate):
    """2,000 simulated creatives, each with 50-500 clicks at a known conversion rate, through the funnel."""
    rng = np.random.default_rng(20261110 + int(rate * 100))
    n = rng.integers(50, 501, size=2000)
    k = rng.binomial(n, rate)
    variant = np.repeat([f"v{i:04d}" for i in range(len(n))], n)
    index_in = np.concatenate([np.arange(m) for m in n])
    converted = index_in < np.repeat(k, n)
    click_ids = np.char.add("c", np.arange(len(variant)).astype(str))
    links = pd.DataFrame({"slug": [f"s{i:04d}" for i in range(len(n))], "variant_id": [f"v{i:04d}" for i in range(len(n))],
                          "platform": "tiktok"})
    links["idempotency_key"] = "k-" + links["slug"]
    clicks = pd.DataFrame({"click_id": click_ids, "slug": pd.Series(variant).str.replace("v", "s"), "at": T0,
                           "user_agent": HUMAN, "visitor": click_ids})
    conv = pd.DataFrame({"dedupe_key": np.char.add("d", click_ids[converted]), "click_id": click_ids[converted],
                         "event": "lead", "value": np.nan, "currency": None, "at": T0})
    r = attribute(links, clicks, _views([]), conv, _posts(links))
    rows = r.creatives[(r.creatives["platform"] == ALL) & (r.creatives["event"] == "lead")]
    assert len(rows) == 2000 and rows["clicks"].sum() == n.sum() and rows["converting_clicks"].sum() == k.sum()
    covered = ((rows["rate_low"] <= rate) & (rate <= rows["rate_high"])).mean()
    assert 0.93 <= covered <= 0.97, covered
