"""The loop's clocks: research and metrics on schedules, everything downstream on declarative automation."""

from sensors.ads import ad_actions_job, ad_plan_approvals_sensor
from sensors.schedules import automation_sensor, metrics_schedule, research_schedule

__all__ = ["ad_actions_job", "ad_plan_approvals_sensor", "automation_sensor", "metrics_schedule", "research_schedule"]
