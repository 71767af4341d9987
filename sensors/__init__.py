"""The loop's clocks: research and metrics on schedules, everything downstream on declarative automation."""

from sensors.schedules import automation_sensor, metrics_schedule, research_schedule

__all__ = ["automation_sensor", "metrics_schedule", "research_schedule"]
