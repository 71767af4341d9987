"""The main code location: research, generate, schedule, measure, score, graduate."""

from __future__ import annotations

import dagster as dg

from assets import LOOP_ASSETS
from resources.defaults import default_resources
from sensors import automation_sensor, metrics_schedule, research_schedule
from sensors.schedules import metrics_job, research_job

defs = dg.Definitions(
    assets=LOOP_ASSETS,
    jobs=[research_job, metrics_job],
    schedules=[research_schedule, metrics_schedule],
    sensors=[automation_sensor],
    resources=default_resources(),
)
