"""`actp demo`: the whole loop for several simulated days against a fresh, seeded sandbox (see driver.py)."""

from actp_pipeline.demo.config import DEMO_START, DemoConfig
from actp_pipeline.demo.driver import DemoProgress, PlainProgress, reset_data, run_demo, total_steps
from actp_pipeline.demo.report import DemoResult, fetch_truth, format_report, summary

__all__ = ["DEMO_START", "DemoConfig", "DemoProgress", "DemoResult", "PlainProgress", "fetch_truth", "format_report",
           "reset_data", "run_demo", "summary", "total_steps"]
