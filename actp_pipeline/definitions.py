"""The main code location: research, generate, schedule, measure, score, graduate."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from assets import LOOP_ASSETS, LOOP_CHECKS
from resources import LoopSettings
from resources.defaults import default_resources
from sensors import ad_actions_job, ad_plan_approvals_sensor, automation_sensor, metrics_schedule, research_schedule
from sensors.schedules import metrics_job, research_job

defs = dg.Definitions(
    assets=LOOP_ASSETS,
    asset_checks=LOOP_CHECKS,
    jobs=[research_job, metrics_job, ad_actions_job],
    schedules=[research_schedule, metrics_schedule],
    sensors=[automation_sensor, ad_plan_approvals_sensor],
    resources=default_resources(),
)


INSTANCE_YAML = """\
# Written by ACTP for `actp demo` and `actp ui` (DAGSTER_HOME={home}).
storage:
  sqlite:
    base_dir: {home}/storage
local_artifact_storage:
  module: dagster._core.storage.root
  class: LocalArtifactStorage
  config:
    base_dir: {home}
concurrency:
  runs:
    max_concurrent_runs: 4
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def instance_home(data_dir) -> Path:
    """DAGSTER_HOME under the data directory, with its dagster.yaml (same layout as the repo's dagster.yaml)."""
    home = Path(data_dir).resolve() / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(INSTANCE_YAML.format(home=home))
    return home


def demo_materializer(settings, loop_overrides: dict, render_concurrency: int = 2):
    """A `materialize(asset_names, partition_key)` callable over both code locations' assets, recording
    every run in the instance under the data directory so `dagster dev` shows them afterwards."""
    from local_ops.posts import posts
    from local_ops.renders import renders

    home = instance_home(settings.data_dir)
    instance = dg.DagsterInstance.from_config(str(home))
    res = default_resources(settings)
    res["loop"] = LoopSettings(**loop_overrides)
    all_assets = [*LOOP_ASSETS, renders, posts]
    run_config = {"ops": {"renders": {"config": {"concurrency": render_concurrency}}}}

    def materialize(names: list[str], partition_key: str | None) -> dict[str, dict]:
        result = dg.materialize(
            all_assets, selection=names, partition_key=partition_key, instance=instance, resources=res,
            run_config={"ops": {k: v for k, v in run_config["ops"].items() if k in names},
                        # the demo prints its own progress; every event still goes to the instance
                        "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            tags={"actp/source": "demo"},
        )
        out = {}
        for name in names:
            for mat in result.asset_materializations_for_node(name):
                out[mat.asset_key.to_user_string()] = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        return out

    return materialize
