"""The stage checks: on a loop's data every check passes; planted bad data fails the check with the offending
rows named; a failed blocking check stops its downstream asset in the same run and keeps the automation from
following it; the heads of the graph carry freshness policies."""

import dataclasses
import datetime as dt
import importlib
import inspect
import shutil
from collections.abc import Callable

import dagster as dg
import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from actp_pipeline.definitions import MULTI_ASSETS
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.store import schema
from assets import LOOP_ASSETS, LOOP_CHECKS
from local_ops.definitions import LOCAL_CHECKS
from local_ops.posts import posts
from local_ops.renders import renders
from resources import AdsResource, LoopSettings, PlatformResource, ResearchSourcesResource, StoreResource
from resources.llm import LLMResource
from tests.dagster.test_assets import sandbox_dialects

ALL = [*LOOP_ASSETS, renders, posts]
CHECKS = {spec.name: c for c in [*LOOP_CHECKS, *LOCAL_CHECKS] for spec in c.check_specs}
DAY0, DAY, METRICS_DAY = "2026-11-09", "2026-11-10", "2026-11-11"
# the loop's steps; attribution and conversion_effects (and their checks) belong to other stages' tests
STEPS = [(["market_items"], DAY0), (["market_items"], DAY), (["hashtag_stats", "blueprints", "variants", "renders", "publish_schedule",
                                                              "posts"], None),
         ("advance", 30), (["post_metrics"], METRICS_DAY),
         (["scores", "timing_matrix", "factor_effects", "winners", "allocation", "research_queries", "ad_plan",
           "ad_actions"], None)]
OTHERS = {"factor_effects_consistent", "conversion_effects_consistent"} | {n for n in CHECKS if n.startswith("attribution")}


def _resources(sb, data_dir) -> dict:
    return {"store": StoreResource(data_dir=str(data_dir)), "platform": PlatformResource(base_url=sb.url, api_key="sandbox-key"),
            "ads": AdsResource(base_url=sb.url + "/graph", access_token="sandbox-key"), "research": ResearchSourcesResource(),
            "loop": LoopSettings(hook_patterns=1, angles=1, cta_styles=1, formats=2, max_length_s=4), "llm": LLMResource()}


def _materialize(names, res, instance, partition=None) -> dg.ExecuteInProcessResult:
    keys = set(names) | {k for group in MULTI_ASSETS if group & set(names) for k in group}
    return dg.materialize([*ALL, *LOOP_CHECKS, *LOCAL_CHECKS], selection=dg.AssetSelection.assets(*sorted(keys)),
                          resources=res, instance=instance, partition_key=partition, raise_on_error=False)


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    """One loop against the sandbox (paused clock): research on two days, extract .. publish, 30 h later the
    metrics, then score .. ads, with every check riding along. (sandbox, data dir, {check: evaluation})."""
    tmp = tmp_path_factory.mktemp("loop")
    start = dt.datetime(2026, 11, 10, 6)
    with pytest.MonkeyPatch.context() as mp, SandboxServer(WorldConfig(seed=3, start=start, speed=0.0),
                                                           state_path=tmp / "sandbox.db") as sb:
        sandbox_dialects(mp, sb.url)
        res, evaluations = _resources(sb, tmp / "data"), {}
        with dg.instance_for_test() as instance:
            for names, arg in STEPS:
                if names == "advance":
                    httpx.post(f"{sb.url}/sandbox/clock/advance", json={"hours": arg}).raise_for_status()
                    continue
                result = _materialize(names, res, instance, arg)
                assert result.success, names
                evaluations.update({e.check_name: e for e in result.get_asset_check_evaluations()})
        yield sb, tmp / "data", evaluations


@pytest.fixture
def copy(loop, tmp_path):
    """The loop's store and warehouse, copied for one test to plant its bad data in: (sandbox, resources)."""
    sb, data, _ = loop
    shutil.copytree(data, tmp_path / "data")
    return sb, _resources(sb, tmp_path / "data")


def test_every_stage_check_passes_on_a_loops_data(loop):
    _, _, evaluations = loop
    mine = set(CHECKS) - OTHERS
    assert mine <= set(evaluations), f"not evaluated: {mine - set(evaluations)}"
    failed = {n: {k: getattr(v, "value", v) for k, v in evaluations[n].metadata.items()} for n in mine
              if not evaluations[n].passed}
    assert not failed
    # what each compared is in its metadata, e.g. the market items of the run's day and the platform clock
    meta = evaluations["market_items_no_future_posts"].metadata
    assert meta["looked_at"].value == f"this run's days ({DAY})" and meta["items"].value > 100
    assert meta["clock"].value == "the platform's clock" and meta["clock_now"].value.startswith("2026-11-10T06:00")
    assert evaluations["market_items_volume_steady"].metadata["platforms_compared"].value >= 1


def test_blocking_checks_are_the_ones_whose_failure_spreads():
    blocking = {spec.name for c in [*LOOP_CHECKS, *LOCAL_CHECKS] for spec in c.check_specs if spec.blocking}
    assert blocking == {"market_items_ids_unique", "market_items_counts_sane", "market_items_volume_steady",
                        "variants_ids_unique", "variants_well_formed", "post_metrics_counts_sane",
                        "post_metrics_ids_unique", "post_metrics_no_future_snapshots", "scores_sane",
                        "scores_probabilities_valid", "scores_no_future_snapshots"}


# ------------------------------------------------------------------------------------------- planted bad data
def _rewrite(store: StoreResource, table: str, change: Callable[[pd.DataFrame], pd.DataFrame], partition=None):
    wh = store.warehouse()
    frame = wh.read(table, partitions=[partition] if partition else None)
    wh.write(table, change(frame.copy()).reset_index(drop=True), partition=partition)


def _set(row: int, **values) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(df):
        for col, v in values.items():
            df.loc[df.index[row], col] = v(df.iloc[row]) if callable(v) else v
        return df
    return change


def _dup(row: int = 0, **values) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda df: pd.concat([df, _set(0, **values)(df.iloc[[row]].copy())], ignore_index=True)


def _key(store, table, cols, row=0, partition=None) -> str:
    df = store.warehouse().read(table, partitions=[partition] if partition else None)
    return "/".join(str(df.iloc[row][c]) for c in cols)


@dataclasses.dataclass
class Case:
    check: str
    table: str
    change: Callable
    problem: str
    key: list  # the offending row's key columns, read from row 0 before the change (or a literal label)
    partition: str | None = None
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR


FUTURE = pd.Timestamp("2026-11-20")  # days after the sandbox's clock (2026-11-11 12:00)
WARN = dg.AssetCheckSeverity.WARN
CASES = [
    Case("market_items_ids_unique", "market_items", _dup(), "duplicates", ["collected_for", "platform", "item_id"], DAY),
    Case("market_items_counts_sane", "market_items", _set(0, likes=-3), "negative_counts", ["platform", "item_id"], DAY),
    Case("market_items_counts_sane", "market_items", _set(0, likes=lambda r: r["views"] + 1), "engagements_over_views",
         ["platform", "item_id"], DAY),
    Case("market_items_no_future_posts", "market_items", _set(0, posted_at=FUTURE), "future_posts",
         ["platform", "item_id"], DAY, WARN),
    Case("blueprints_well_formed", "blueprints", _set(0, angle=None), "missing_factors", ["blueprint_id"], None, WARN),
    Case("blueprints_well_formed", "blueprints", _set(0, lift=float("inf")), "non_finite", ["blueprint_id"], None, WARN),
    Case("blueprints_ids_unique", "blueprints", _dup(), "duplicates", ["blueprint_id"], None, WARN),
    Case("factor_lifts_sane", "factor_lifts", _set(0, engagements=lambda r: r["views"] + 1), "engagements_over_views",
         ["factor", "level"], None, WARN),
    Case("variants_ids_unique", "variants", _dup(), "duplicates", ["variant_id"]),
    Case("variants_well_formed", "variants", _set(0, length_s=0), "bad_lengths", ["variant_id"]),
    Case("variants_well_formed", "variants", _set(0, moderation="maybe"), "unknown_moderation", ["variant_id"]),
    Case("post_metrics_counts_sane", "post_metrics", _set(0, views=-1), "negative_counts", ["post_id", "snapshot_at"],
         METRICS_DAY),
    Case("post_metrics_counts_sane", "post_metrics", _set(0, shares=lambda r: r["views"]), "engagements_over_views",
         ["post_id", "snapshot_at"], METRICS_DAY),
    Case("post_metrics_ids_unique", "post_metrics", _dup(), "repeated_snapshots", ["post_id", "snapshot_at"],
         METRICS_DAY, WARN),  # the same counts twice: two runs at one paused platform time
    Case("post_metrics_ids_unique", "post_metrics", _dup(views=lambda r: r["views"] + 5), "conflicting_snapshots",
         ["post_id", "snapshot_at"], METRICS_DAY),
    Case("post_metrics_no_future_snapshots", "post_metrics", _set(0, snapshot_at=FUTURE), "future_timestamps",
         ["post_id"], METRICS_DAY),
    Case("post_metrics_no_future_snapshots", "post_metrics", _set(0, live_at=lambda r: r["snapshot_at"] + pd.Timedelta(hours=1)),
         "snapshots_before_live", ["post_id", "snapshot_at"], METRICS_DAY),
    Case("timing_matrix_in_range", "timing_matrix", _set(0, hour=24), "out_of_range", ["platform", "metric", "weekday"],
         None, WARN),
    Case("timing_matrix_cells_unique", "timing_matrix", _dup(), "duplicate_cells", ["platform", "metric", "weekday", "hour"],
         None, WARN),
    Case("scores_sane", "scores", _dup(), "duplicate_posts", ["post_id"]),
    Case("scores_sane", "scores", _set(0, engagements=lambda r: r["views"] + 1), "engagements_over_views", ["post_id"]),
    Case("scores_sane", "scores", _set(0, views=-10), "negative_counts", ["post_id"]),
    Case("scores_probabilities_valid", "scores", _set(0, p_best=1.5), "out_of_range", ["post_id"]),
    Case("scores_probabilities_valid", "scores", _set(0, er_low=lambda r: r["er_mean"] + 0.01), "interval_misses_mean",
         ["post_id"]),
    Case("scores_no_future_snapshots", "scores", _set(0, last_snapshot_at=FUTURE), "future_timestamps", ["post_id"]),
    Case("decisions_one_per_post", "decisions", _set(0, decision="maybe"), "unknown_decisions", ["post_id"], None, WARN),
    Case("decisions_one_per_post", "decisions", _dup(), "duplicate_posts", ["post_id"], None, WARN),
    Case("allocation_shares_valid", "allocation", lambda df: df.assign(share=0.9), "cells_not_summing_to_1",
         ["platform", "account", "cell_window"], None, WARN),
    Case("allocation_counts_sane", "allocation", _set(0, next_round_posts=-1), "negative_counts",
         ["platform", "account", "cell_window", "variant_id"], None, WARN),
    Case("allocation_counts_sane", "allocation", _dup(), "duplicates", ["platform", "account", "cell_window", "variant_id"],
         None, WARN),
    Case("research_queries_consistent", "research_queries", _set(0, value=25.0), "hours_out_of_range", ["platform", "level"],
         None, WARN),
    Case("research_queries_ids_unique", "research_queries", _dup(), "duplicates", ["kind", "platform"], None, WARN),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.check}-{c.problem}" for c in CASES])
def test_planted_bad_data_fails_the_check_naming_the_rows(copy, case):
    sb, res = copy
    store, check = res["store"], CHECKS[case.check]
    expected = _key(store, case.table, case.key, partition=case.partition)
    good = _evaluate(check, res)
    assert good.passed and good.metadata[case.problem].value == 0
    _rewrite(store, case.table, case.change, case.partition)
    bad = _evaluate(check, res)
    assert not bad.passed and bad.severity == case.severity
    assert bad.metadata[case.problem].value >= 1
    named = bad.metadata[f"{case.problem}_ids"].value
    assert any(n.startswith(expected) for n in named), (expected, named)


def _evaluate(check, res) -> dg.AssetCheckResult:
    """The check executed on its own (as from the UI): it looks at the newest stored day."""
    kwargs = {n: res[n] for n in ("store", "platform") if n in check.required_resource_keys}
    takes_context = "context" in inspect.signature(check.node_def.compute_fn.decorated_fn).parameters
    return check(dg.build_asset_check_context(), **kwargs) if takes_context else check(**kwargs)


def test_the_research_volume_check_names_a_collapsed_platform(copy):
    sb, res = copy
    store = res["store"]
    items = store.warehouse().read("market_items", partitions=[DAY])
    platform = items["platform"].value_counts().index[0]
    kept = pd.concat([items[items["platform"] != platform], items[items["platform"] == platform].head(10)])
    store.warehouse().write("market_items", kept.reset_index(drop=True), partition=DAY)
    result = _evaluate(CHECKS["market_items_volume_steady"], res)
    assert not result.passed and result.metadata["collapsed_platforms_ids"].value == [f"{DAY}/{platform}"]
    assert f"| {platform} " in result.metadata["volumes"].value and DAY0 in result.metadata["volumes"].value


def test_store_backed_checks_name_the_rows(copy, monkeypatch):
    sb, res = copy
    engine = res["store"].engine()
    with engine.begin() as c:
        c.execute(sa.update(schema.publish_queue).values(attempts=-1))
        c.execute(sa.update(schema.render_jobs).values(output_path=None))
        first = c.execute(sa.select(schema.posts)).mappings().first()
        tomorrow = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1)  # the store's clock is wall time
        c.execute(sa.insert(schema.posts).values({**{k: v for k, v in first.items() if k != "id"},
                                                  "idempotency_key": "again", "posted_at": tomorrow}))
    items = _evaluate(CHECKS["publish_schedule_items_sane"], res)
    assert not items.passed and items.severity == WARN and items.metadata["negative_attempts"].value == 2
    jobs = _evaluate(CHECKS["renders_queue_sane"], res)
    assert not jobs.passed and jobs.metadata["succeeded_without_file"].value == 2
    ledger = _evaluate(CHECKS["posts_ledger_sane"], res)
    assert ledger.metadata["duplicate_platform_posts_ids"].value == [f"{first['platform']}/{first['external_id']}"]
    assert ledger.metadata["future_posts_ids"].value == ["again"] and ledger.severity == WARN
    # the store's unique key refuses a second publish item; the check still names one a broken store would hold
    from actp_pipeline.publish.publish_schedule import publish_items

    twice = pd.concat([publish_items(engine)] * 2, ignore_index=True)
    monkeypatch.setattr(importlib.import_module("assets.publish_schedule"), "publish_items", lambda _engine: twice)
    keys = _evaluate(CHECKS["publish_schedule_keys_unique"], res)
    assert not keys.passed and keys.metadata["duplicates"].value == 2


def test_ads_checks_name_the_rows(copy):
    from actp_pipeline.ads import audit as ads_audit
    from actp_pipeline.ads.plan.rules import CREATE_CAMPAIGN, ENSURE_LEARNING, PlannedAction

    sb, res = copy
    store, engine = res["store"], res["store"].engine()
    wh = store.warehouse()
    wh.write("ad_plan", pd.DataFrame([{"plan_id": "p1", "account_id": "acc1", "goal": "streams", "action": "set_budget",
                                       "variant_id": "v1", "old_budget": 5.0, "new_budget": -2.0, "as_of": FUTURE}]))
    wh.write("paid_winners", pd.DataFrame([{"account_id": "acc1", "goal": "streams", "variant_id": "v1", "p_best": 2.0,
                                            "impressions": 10, "events": 1, "spend": 1.0, "hours_live": 3.0,
                                            "as_of": FUTURE}]))
    budgets = _evaluate(CHECKS["ad_plan_budgets_valid"], res)
    assert budgets.metadata["negative_budgets_ids"].value == ["acc1/streams/set_budget/v1"] and budgets.severity == WARN
    future = _evaluate(CHECKS["ad_plan_no_future_plan"], res)
    assert not future.passed and future.metadata["future_plans"].value == 2
    paid = _evaluate(CHECKS["paid_winners_sane"], res)
    assert paid.metadata["p_best_out_of_range_ids"].value == ["acc1/streams/v1"]

    a = PlannedAction("acc1", "streams", CREATE_CAMPAIGN, ENSURE_LEARNING, target_id="new:acc1:streams:learning",
                      params={"kind": "learning"})
    plan_id = ads_audit.record_plan(engine, [a], as_of=FUTURE, trigger="test")
    run_id = ads_audit.start_run(engine, plan_id, ["acc1"], as_of=FUTURE, trigger="test")
    ads_audit.begin_action(engine, run_id, plan_id, 0, a, a.target_id, a.params, FUTURE.to_pydatetime())
    log = _evaluate(CHECKS["ad_actions_log_sane"], res)
    assert not log.passed and log.metadata["future_actions_ids"].value == ["0/acc1/create_campaign"]


def test_winners_several_in_one_cell(copy):
    sb, res = copy
    store = res["store"]
    decided = store.warehouse().read("decisions")
    assert decided["variant_id"].nunique() >= 2 and decided[["platform", "account", "cell_window"]].nunique().max() == 1
    assert _evaluate(CHECKS["winners_one_per_cell"], res).passed
    store.warehouse().write("winners", decided.assign(decision="winner"))
    result = _evaluate(CHECKS["winners_one_per_cell"], res)
    cell = "/".join(decided.iloc[0][["platform", "account", "cell_window"]].astype(str))
    assert not result.passed and result.metadata["cells_with_several_ids"].value == [cell]


# ------------------------------------------------------------------------------------------------- blocking
def test_a_failed_post_metrics_check_stops_scores_in_the_same_run(copy):
    sb, res = copy
    store = res["store"]
    scores_before = store.warehouse().files("scores")[0].stat().st_mtime_ns
    bad = store.warehouse().read("post_metrics", partitions=[METRICS_DAY]).head(1).assign(
        post_id="planted", views=-1)
    store.warehouse().write("post_metrics", bad, partition=METRICS_DAY, part="planted", replace_partition=False)
    with dg.instance_for_test() as instance:
        result = _materialize(["post_metrics", "scores"], res, instance, METRICS_DAY)
    assert not result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"post_metrics"}  # scores never started
    check = {e.check_name: e for e in result.get_asset_check_evaluations()}["post_metrics_counts_sane"]
    assert not check.passed and check.metadata["negative_counts_ids"].value[0].startswith("planted/")
    assert store.warehouse().files("scores")[0].stat().st_mtime_ns == scores_before


def test_a_collapsed_research_day_stops_blueprints_in_the_same_run(copy):
    sb, res = copy
    store = res["store"]
    wh = store.warehouse()
    before = wh.read("market_items", partitions=[DAY0])  # yesterday three times as large: today collapsed
    wh.write("market_items", pd.concat([before.assign(item_id=before["item_id"] + f"-{i}") for i in range(3)],
                                       ignore_index=True), partition=DAY0)
    with dg.instance_for_test() as instance:
        result = _materialize(["market_items", "blueprints"], res, instance, DAY)
    assert not result.success
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == {"market_items"}
    check = {e.check_name: e for e in result.get_asset_check_evaluations()}["market_items_volume_steady"]
    assert not check.passed and check.metadata["collapsed_platforms"].value >= 1


def test_automation_waits_for_the_blocking_checks_of_the_dependencies():
    from actp_pipeline.definitions import defs

    market = dg.AssetKey("market_items")
    blocking = [s.name for c in LOOP_CHECKS for s in c.check_specs if s.asset_key == market and s.blocking]
    for failing, expected in ((blocking[-1], 0), (None, 1)):
        with dg.instance_for_test() as instance:
            first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
            instance.report_runless_asset_event(dg.AssetMaterialization("market_items", partition="2026-11-20"))
            for name in blocking:
                instance.report_runless_asset_event(dg.AssetCheckEvaluation(
                    asset_key=market, check_name=name, passed=name != failing, blocking=True))
            second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
            assert second.get_num_requested(dg.AssetKey("blueprints")) == expected, failing


def test_a_malformed_round_is_never_queued_for_rendering(copy, monkeypatch):
    module = importlib.import_module("assets.variants")  # the package's `variants` is the asset
    sb, res = copy
    engine = res["store"].engine()
    with engine.connect() as c:
        queued = c.execute(sa.select(sa.func.count()).select_from(schema.render_jobs)).scalar()
    real = module.moderate
    monkeypatch.setattr(module, "moderate", lambda matrix: real(matrix).assign(length_s=0))
    with dg.instance_for_test() as instance:
        result = _materialize(["variants"], res, instance)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "round not queued" in failure and "bad_lengths" in failure
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(schema.render_jobs)).scalar() == queued


# ------------------------------------------------------------------------------------------------ freshness
def test_the_heads_of_the_graph_carry_freshness_policies_that_match_their_schedules():
    from actp_pipeline.definitions import defs
    from local_ops.definitions import defs as local

    heads = {}
    for d in (defs, local):
        graph = d.resolve_asset_graph()
        for key in graph.materializable_asset_keys:
            if not graph.get(key).parent_keys & graph.materializable_asset_keys:  # nothing upstream in its location
                heads[key.to_user_string()] = graph.get(key).freshness_policy
    # clock-driven heads: their schedule's interval, well inside the warn window
    clocked = {"market_items": dt.timedelta(hours=1), "post_metrics": dt.timedelta(minutes=5)}
    # queue- and event-driven: no run while there is no work, so a time window would fire on an idle loop
    event_driven = {"publish_schedule", "renders", "posts"}
    assert set(heads) == set(clocked) | event_driven
    for name, every in clocked.items():
        policy = heads[name]
        assert policy is not None, name
        assert every * 2 <= policy.warn_window.to_timedelta() < policy.fail_window.to_timedelta(), name
    assert all(heads[name] is None for name in event_driven)
