"""stats/planner.py and `actp plan-test`: the planner's figures move the way they must (smaller lifts and
more creatives need more impressions), a seed gives the same plan, the CLI prints its tables and refuses bad
input in one line, and the Dagster job puts the plan in its output metadata.

The plans here use few worlds, a short horizon and a 5% baseline so each costs a second or two; the daily
volume is small enough that decisions take several days, so the directions asserted are whole days apart,
far more than the noise of so few worlds."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from actp_pipeline.cli import actp, main
from actp_pipeline.stats.planner import PlanInputs, Plan, markdown, plan_test, reading, true_rates
from actp_pipeline.stats.power import fixed_horizon_ab_sample_size
from actp_pipeline.stats.stopping import StoppingRule

FAST = dict(baseline=0.05, daily_impressions=3_000, max_days=12, worlds=50, seed=7, post_noise=0.0)  # binomial worlds: fast to decide


@pytest.fixture(scope="module")
def plans() -> dict[str, Plan]:
    return {
        "big_lift": plan_test(PlanInputs(arms=3, lift=0.6, **FAST)),
        "small_lift": plan_test(PlanInputs(arms=3, lift=0.3, **FAST)),
        "many_arms": plan_test(PlanInputs(arms=6, lift=0.6, **FAST)),
    }


def test_smaller_lift_needs_more_impressions_and_is_found_less_often(plans):
    big, small = plans["big_lift"], plans["small_lift"]
    assert big.impressions["p50"] is not None and small.impressions["p50"] is not None
    assert small.impressions["p50"] > big.impressions["p50"]
    assert small.days["p50"] > big.days["p50"]
    assert small.ab_impressions > big.ab_impressions
    assert small.p_find <= big.p_find and big.p_find > 0.9


def test_more_arms_need_more_impressions(plans):
    few, many = plans["big_lift"], plans["many_arms"]
    assert many.impressions["p50"] > few.impressions["p50"]
    assert many.ab_impressions > few.ab_impressions


def test_figures_are_consistent_and_dead_heats_rarely_crown_a_winner(plans):
    for plan in plans.values():
        i = plan.inputs
        assert plan.ab_per_arm == fixed_horizon_ab_sample_size(i.baseline, i.lift, alpha=1 - i.confidence,
                                                               power=0.8, arms=i.arms)
        assert plan.ab_impressions == plan.ab_per_arm * i.arms
        assert 0.0 <= plan.p_find + plan.p_wrong <= 1.0
        assert plan.false_winner_rate <= 0.1
        known = [plan.days[q] for q in ("p50", "p80", "p95") if plan.days[q] is not None]
        assert known == sorted(known) and all(1 <= d <= i.max_days for d in known)
        for q in ("p50", "p80", "p95"):  # a decision day spends whole days of impressions
            if plan.days[q] is not None:
                assert plan.impressions[q] == plan.days[q] * i.daily_impressions
                assert plan.budget[q] == pytest.approx(plan.impressions[q] * i.cpm / 1000, abs=0.01)


def test_the_same_seed_gives_the_same_plan():
    inputs = PlanInputs(arms=3, lift=0.4, **{**FAST, "post_noise": 0.1})
    assert plan_test(inputs).as_dict() == plan_test(inputs).as_dict()


def test_worlds_have_one_better_arm_or_none():
    rates, better = true_rates(PlanInputs(arms=5, worlds=50), np.random.default_rng(1))
    lifted, dead = rates[:50], rates[50:]
    assert np.allclose(lifted[np.arange(50), better], 0.036)
    assert ((lifted == 0.03).sum(axis=1) == 4).all() and (dead == 0.03).all()
    assert len(set(better.tolist())) > 1  # the better arm is not always in the same place


@pytest.mark.parametrize("bad, words", [
    (dict(arms=1), "arms must be at least 2"),
    (dict(baseline=1.5), "baseline must be a rate"),
    (dict(lift=0.0), "lift must be > 0"),
    (dict(confidence=1.0), "confidence must be within"),
    (dict(daily_impressions=2, arms=4), "at least one per arm"),
])
def test_bad_inputs_are_refused_with_the_reason(bad, words):
    with pytest.raises(ValueError, match=words):
        PlanInputs(**bad)


def test_reading_names_the_margin_when_the_lift_cannot_clear_it():
    margin = StoppingRule().margin  # the rule's own default, whatever it is
    plan = plan_test(PlanInputs(arms=2, lift=margin / 2, **{**FAST, "daily_impressions": 20_000, "max_days": 4,
                                                             "worlds": 20}))
    assert plan.p_find < 0.5 and plan.margin == margin
    assert f"margin of {margin:.0%}" in reading(plan)
    assert "| days to a decision |" in markdown(plan)


def test_cli_prints_the_tables_and_the_reading():
    args = ["plan-test", "--arms", "3", "--baseline", "0.05", "--lift", "0.5", "--daily-impressions", "40000",
            "--max-days", "6", "--worlds", "20"]
    res = CliRunner().invoke(actp, args, terminal_width=140)
    assert res.exit_code == 0, res.output
    for words in ("days to a decision", "impressions", "budget", "median", "95th pct", "textbook A/B",
                  "names the better creative", "names a false winner", "Plan for 3 creatives at a 5.00% baseline"):
        assert words in res.output
    res = CliRunner().invoke(actp, [*args, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["inputs"]["arms"] == 3 and set(doc["days"]) == {"p50", "p80", "p95"} and 0 <= doc["p_find"] <= 1


def test_cli_daily_budget_converts_at_the_cpm():
    res = CliRunner().invoke(actp, ["plan-test", "--daily-budget", "100", "--cpm", "5", "--max-days", "2",
                                    "--worlds", "10", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["inputs"]["daily_impressions"] == 20_000


@pytest.mark.parametrize("args, words", [
    (["--arms", "1"], "arms must be at least 2"),
    (["--baseline", "3"], "baseline must be a rate within (0, 1)"),
    (["--lift", "-0.1"], "lift must be > 0"),
    (["--daily-impressions", "1000", "--daily-budget", "50"], "not both"),
])
def test_cli_bad_input_is_one_line_with_exit_2(capsys, args, words):
    assert main(["plan-test", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_dagster_job_puts_the_plan_in_the_output_metadata():
    import dagster as dg

    from actp_pipeline.definitions import defs

    job = defs.resolve_job_def("plan_test_job")
    config = {"ops": {"plan_test_op": {"config": {"arms": 3, "baseline": 0.05, "lift": 0.5, "daily_impressions": 40_000,
                                                  "max_days": 4, "worlds": 10}}}}
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, run_config=config)
        assert result.success
        assert result.output_for_node("plan_test_op")["inputs"]["arms"] == 3
        outputs = [e for e in result.all_node_events if e.event_type_value == "STEP_OUTPUT"]
        md = outputs[0].step_output_data.metadata["plan"]
        assert isinstance(md, dg.MarkdownMetadataValue) and "| days to a decision |" in md.value
        bad = job.execute_in_process(instance=instance, raise_on_error=False,
                                     run_config={"ops": {"plan_test_op": {"config": {"arms": 1}}}})
        assert not bad.success
        assert "arms must be at least 2" in bad.get_step_failure_events()[0].step_failure_data.error.message
