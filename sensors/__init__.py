"""The loop's clocks: research and metrics on schedules, everything downstream on declarative automation;
one named job per loop stage."""

from sensors.ads import ad_plan_approvals_sensor
from sensors.approvals import approvals_sensor
from sensors.alerts import alerts_sensor, run_failure_alerts
from sensors.jobs import STAGE_JOBS, STAGES, ad_actions_job
from sensors.publish import rendered_sensor
from sensors.schedules import automation_sensor, metrics_schedule, research_schedule

__all__ = ["STAGES", "STAGE_JOBS", "ad_actions_job", "ad_plan_approvals_sensor", "alerts_sensor", "approvals_sensor",
           "automation_sensor", "metrics_schedule", "rendered_sensor", "research_schedule",
           "run_failure_alerts"]
