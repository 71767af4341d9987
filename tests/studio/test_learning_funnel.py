"""The Learning and Funnel pages: charts as inline SVG, missing tables said in words, account A never sees B's
creatives or pooled numbers, the planner form equals `plan_test`, and charts are drawn once per distinct data."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient

from actp_pipeline.attribution.conversion_effects import estimate_conversion_effects
from actp_pipeline.attribution.funnel import attribute
from actp_pipeline.measure.timing_matrix import build_timing_matrix
from actp_pipeline.score.allocation import allocate_next_round
from actp_pipeline.score.factor_effects import estimate_factor_effects
from actp_pipeline.stats.planner import PlanInputs, plan_test, quantile_rows, rate_rows, reading
from actp_pipeline.store.warehouse import Warehouse
from actp_pipeline.studio import charts
from actp_pipeline.studio.app import create_app
from tests.studio.conftest import login

POOLED = "shown only to users with an all-accounts role"


def _funnel_inputs(scores: pd.DataFrame, rng: np.random.Generator):
    """Links, clicks, page views and conversions per post: each account's creatives with their own click counts
    (B's creatives get far more, so its numbers would stand out on A's page)."""
    posts = scores[["idempotency_key", "variant_id", "platform", "account"]].drop_duplicates("idempotency_key")
    links = posts.assign(slug=[f"s{i}" for i in range(len(posts))])
    clicks, views, conversions = [], [], []
    for link in links.itertuples():
        n = int(rng.integers(20, 60)) * (7 if link.account == "acct_b" else 1)
        for j in range(n):
            cid = f"{link.slug}c{j}"
            clicks.append({"click_id": cid, "slug": link.slug, "at": "2026-06-02 10:00", "user_agent": "Mozilla/5.0",
                           "visitor": f"{cid}v"})
            if rng.random() < 0.8:
                views.append({"click_id": cid})
            if rng.random() < 0.08:
                conversions.append({"dedupe_key": f"{cid}d", "click_id": cid, "at": "2026-06-02 11:00",
                                    "event": "purchase" if rng.random() < 0.5 else "lead", "value": 20.0,
                                    "currency": "USD"})
    return posts, links, pd.DataFrame(clicks), pd.DataFrame(views), pd.DataFrame(conversions)


@pytest.fixture(scope="module")
def learned(world):
    """The world's warehouse with the learning and funnel tables the loop would write, from the loop's code."""
    wh = Warehouse(world.warehouse_dir)
    scores, variants = wh.read("scores"), wh.read("variants")
    wh.write("factor_effects", estimate_factor_effects(scores, min_trials=1))
    wh.write("timing_matrix", build_timing_matrix(scores))
    early = allocate_next_round(scores.assign(cell_window="2026-05-25T06:00"), policy="thompson", seed=1)
    wh.write("allocation", pd.concat([early, allocate_next_round(scores, policy="thompson", seed=0)]))
    posts, links, clicks, views, conversions = _funnel_inputs(scores, np.random.default_rng(3))
    spend = pd.DataFrame({"variant_id": world.variants["variant_id"], "spend": 12.5, "currency": "USD"})
    result = attribute(links, clicks, views, conversions, posts, variants, spend)
    wh.write("attribution", pd.concat([result.creatives, result.channels], ignore_index=True))
    wh.write("attribution_factors", result.factors)
    wh.write("conversion_effects", estimate_conversion_effects(result.posts, variants, min_clicks=1))
    return wh


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<svg.*?</svg>", "", page, flags=re.S))


def test_learning_shows_effects_allocation_and_timing_as_inline_svg(learned, as_user):
    page = as_user("admin").get("/learning")
    assert page.status_code == 200, page.text
    effects = learned.read("factor_effects")
    assert page.text.count("<svg") >= effects["factor"].nunique() + 2  # forests, allocation, heat map
    assert "<script" not in page.text and POOLED not in page.text
    text = _text(page.text)
    assert effects["label"].iloc[0] in text and "Engagement per view" in text and "Conversions per click" in text
    assert "An effect is how much" in text and "95%" in text


def test_every_page_says_what_is_missing_instead_of_failing(world, tmp_path):
    empty = create_app(world.store_url, tmp_path / "no_warehouse", world.media_dir, tmp_path, secure_cookies=False,
                       secret="t")
    client = TestClient(empty)
    assert login(client, "admin").status_code == 303
    learning, funnel = client.get("/learning"), client.get("/funnel")
    assert learning.status_code == funnel.status_code == 200
    assert "No factor_effects yet" in learning.text and "No allocation yet" in learning.text
    assert "No timing matrix yet" in learning.text and "No attribution yet" in funnel.text


def test_an_account_user_sees_only_its_creatives_and_no_pooled_numbers(world, learned, as_user):
    alice = as_user("alice")
    learning, funnel = alice.get("/learning"), alice.get("/funnel?channel=*&event=*")
    assert learning.status_code == funnel.status_code == 200
    for vid in world.of("acct_b"):
        assert vid not in learning.text and vid not in funnel.text
    assert any(v in learning.text for v in world.of("acct_a")) and any(v in funnel.text for v in world.of("acct_a"))
    assert POOLED in learning.text and "An effect is how much" in learning.text
    for label in learned.read("factor_effects")["label"]:  # no pooled effect, in any form
        assert html.escape(label) not in learning.text
    rows = learned.read("attribution")
    rows = rows[(rows["platform"] == "*") & (rows["channel"] == "*") & (rows["event"] == "*")]
    mine = rows[rows["variant_id"].isin(world.of("acct_a"))]
    everyone = f'{int(rows["clicks"].sum()):,}'
    totals = re.search(r'id="funnel-totals".*?</table>', funnel.text, re.S).group(0)
    assert f'{int(mine["clicks"].sum()):,}' in totals and everyone not in totals
    assert f'{int(mine["conversions"].sum()):,}' in totals


def test_the_per_level_funnel_of_all_accounts_equals_the_loops_table(learned, as_user):
    page = as_user("admin").get("/funnel?event=purchase")
    assert page.status_code == 200 and page.text.count("<svg") == 1
    levels = learned.read("attribution_factors")
    levels = levels[levels["event"] == "purchase"]
    table = re.search(r'id="funnel-levels".*?</table>', page.text, re.S).group(0)
    cells = [re.sub(r"<[^>]+>|\s", "", c) for c in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    assert len(cells) == len(levels)
    for r in levels.itertuples():
        row = next(c for c in cells if c.startswith(f"{r.factor}{r.level}"))
        assert f"{r.clicks:,}" in row and f"{r.conversion_rate * 100:.1f}%" in row
        if r.conversions:
            assert f"{r.cost_per_conversion:,.2f}USD" in row


def test_a_bad_funnel_filter_is_a_400_naming_the_field(as_user, learned):
    client = as_user("admin")
    for query, field in (("event=Bad%20Event", "event"), ("channel=tv", "channel"), ("page=0", "page"),
                         ("page=99", "page")):
        answer = client.get(f"/funnel?{query}")
        assert answer.status_code == 400 and f"{field}:" in html.unescape(answer.text), query


def test_the_planner_form_gives_the_core_functions_numbers(as_user):
    client = as_user("victor")  # a viewer of one account: the planner reads no account's numbers
    answer = client.get("/learning/plan?arms=3&baseline=0.04&lift=0.5&confidence=0.9&daily_budget=20&cpm=4"
                        "&max_days=6&post_noise=0.1&worlds=20&seed=5")
    assert answer.status_code == 200, answer.text
    plan = plan_test(PlanInputs(arms=3, baseline=0.04, lift=0.5, confidence=0.9, daily_impressions=5000, cpm=4.0,
                                max_days=6, post_noise=0.1, worlds=20, seed=5))
    text = html.unescape(answer.text)
    for row in [*quantile_rows(plan), *rate_rows(plan)]:
        assert all(cell in text for cell in row), row
    assert reading(plan) in text


@pytest.mark.parametrize("query,field", [("arms=1", "arms"), ("arms=two", "arms"), ("baseline=1.5", "baseline"),
                                         ("lift=abc", "lift"), ("daily_impressions=100&daily_budget=5",
                                                                "daily_budget"), ("worlds=5000", "worlds")])
def test_a_bad_planner_value_is_a_400_naming_the_field(as_user, query, field):
    answer = as_user("victor").get(f"/learning/plan?{query}")
    assert answer.status_code == 400 and field in html.unescape(answer.text)


def test_a_chart_is_drawn_once_per_distinct_data():
    charts.clear()
    before = charts.stats["renders"]
    args = ("hook: engagement", ["pov", "question"], [0.2, -0.1], [0.05, -0.3], [0.35, 0.1], "effect (%)")
    first, second = charts.forest(*args), charts.forest(*args)
    assert first == second and first.startswith("<svg") and charts.stats["renders"] == before + 1
    charts.forest(*args[:2], [0.21, -0.1], *args[3:])
    assert charts.stats["renders"] == before + 2


def test_the_learning_page_reuses_its_charts_on_a_second_load(learned, as_user):
    client = as_user("admin")
    assert client.get("/learning").status_code == 200
    before = charts.stats["renders"]
    charts_memo = client.get("/learning")
    assert charts_memo.status_code == 200 and charts.stats["renders"] == before


def test_a_chart_label_is_escaped_in_the_svg():
    svg = charts.funnel("<script>alert(1)</script>", ["clicks", "<b>x</b>"], [3, 1])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
