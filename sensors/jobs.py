"""One named job per loop stage of the main code location: schedules, sensors and the demo launch these,
so every run says which stage it was (never `__ephemeral_asset_job__`)."""

import dagster as dg

# job name -> the asset keys it materializes, in loop order (a multi-asset's keys always together)
STAGES: dict[str, list[str]] = {
    "research_job": ["market_items"],
    "extract_job": ["hashtag_stats", "factor_lifts", "blueprints"],
    "generate_job": ["variants"],
    "publish_schedule_job": ["publish_schedule"],
    "metrics_job": ["post_metrics"],
    "score_job": ["scores", "timing_matrix", "factor_effects"],
    "graduate_job": ["decisions", "winners", "allocation"],
    "ad_plan_job": ["paid_winners", "ad_plan"],
    "ad_actions_job": ["ad_actions"],
    "attribute_job": ["attribution", "attribution_factors", "attribution_posts", "conversion_effects"],
    "iterate_job": ["research_queries"],
}

JOBS = {name: dg.define_asset_job(name, selection=dg.AssetSelection.assets(*keys),
                                  description=f"Loop stage: {', '.join(keys)}.") for name, keys in STAGES.items()}
STAGE_JOBS = list(JOBS.values())
research_job, metrics_job, ad_actions_job = JOBS["research_job"], JOBS["metrics_job"], JOBS["ad_actions_job"]

IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]


def job_in_flight(context: dg.SensorEvaluationContext, job_name: str) -> bool:
    """A run of `job_name` is queued or running: the queue sensors of both locations then request none, so a
    backlog becomes one batched run, never one run per tick."""
    return bool(context.instance.get_run_ids(dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT), limit=1))
