"""`plan_test_job`: the test planner in the Dagster UI, launched by hand from the launchpad.

An op job, not an asset: a plan answers a question someone asks before a test (how many days, impressions
and dollars will the stopping rule need?); it is not a stage of the loop and does not belong in the asset
graph. The planner's inputs are the run config (the launchpad scaffolds them with their defaults), the
plan is the op's output, and its tables and reading are the output's metadata (a markdown table in the
run's log and the op's output panel). The work is actp_pipeline.stats.planner; this is only the wrapper.
"""

import dagster as dg
from pydantic import Field

from actp_pipeline.stats.planner import PlanInputs, markdown, plan_test, reading

D = PlanInputs()


class PlanTestConfig(dg.Config):
    """The planner's inputs (see actp_pipeline.stats.planner.PlanInputs)."""

    arms: int = Field(default=D.arms, description="creatives in the test cell")
    baseline: float = Field(default=D.baseline, description="engagement rate of an ordinary creative (0.03 = 3%)")
    lift: float = Field(default=D.lift, description="smallest relative lift worth finding (0.2 = 20% better)")
    confidence: float = Field(default=D.confidence, description="the stopping rule's confidence")
    daily_impressions: int = Field(default=D.daily_impressions, description="impressions a day, all creatives")
    cpm: float = Field(default=round(D.cpm, 4), description="dollars per 1,000 impressions")
    max_days: int = Field(default=D.max_days, description="horizon: the longest the test may run")
    post_noise: float = Field(default=D.post_noise,
                              description="coefficient of variation of a post's rate around its creative's")
    worlds: int = Field(default=D.worlds, description="simulated tests per scenario (lifted, dead heat)")
    seed: int = Field(default=D.seed, description="random seed: the same inputs and seed give the same plan")


@dg.op(description="Simulate the stopping rule for the given test settings: days, impressions and budget to a "
                   "decision, the chance to find the better creative, the dead-heat false-winner rate.")
def plan_test_op(context: dg.OpExecutionContext, config: PlanTestConfig) -> dg.Output[dict]:
    try:
        inputs = PlanInputs(**config.model_dump())
    except ValueError as e:
        raise dg.Failure(description=f"plan_test: {e}") from None
    plan = plan_test(inputs)
    context.log.info(reading(plan))
    metadata = {
        "plan": dg.MetadataValue.md(markdown(plan)),
        "median_days": plan.days["p50"],
        "p_find": round(plan.p_find, 4),
        "false_winner_rate": round(plan.false_winner_rate, 4),
        "textbook_ab_impressions": plan.ab_impressions,
    }
    return dg.Output(plan.as_dict(), metadata={k: v for k, v in metadata.items() if v is not None})


@dg.job(description="Plan a creative test before launching it: set arms, baseline, lift, confidence and daily "
                    "volume in the launchpad; the plan is the op's output metadata.")
def plan_test_job() -> None:
    plan_test_op()
