"""The demo's knobs. The loop's own (topic, matrix, length, posts per day) take their defaults from the
settings resource, the one model of every knob; only what exists for the demo alone is set here.

The start is a fixed instant, never derived from today: the world, its dates and every draw then follow
the seed, so `actp demo` prints the same decisions on any day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

DEMO_START = dt.datetime(2026, 6, 1, 6, tzinfo=dt.UTC)  # the sandbox clock at the start of day 1
# The default world. Its best creative is decidable in the default budget: the README says which verdicts
# it reaches, and how the other seeds fared (some worlds are near ties, where "no clear best" is right).
DEMO_SEED = 1


def settings_default(name: str) -> Any:
    """The default of one field of the settings resource (imported lazily: it is the Dagster side)."""
    from resources import LoopSettings

    return LoopSettings.model_fields[name].get_default(call_default_factory=True)


def _worker_render_concurrency() -> int:
    from actp_pipeline.worker.loop import WorkerConfig

    return WorkerConfig.render_concurrency


def _from_settings(name: str) -> Any:
    return field(default_factory=partial(settings_default, name))


@dataclass
class DemoConfig:
    data_dir: Path
    days: int = 4  # organic days
    # the paid phase: the organic contenders graduate to a micro-budget learning campaign in the sandbox's
    # ads API, whose winner is promoted to scaling (auto_execute is on for this demo account only)
    paid_days: int = 4
    seed: int = DEMO_SEED
    start: dt.datetime = DEMO_START
    topic: str = _from_settings("topic")
    hook_patterns: int = _from_settings("hook_patterns")
    angles: int = _from_settings("angles")
    cta_styles: int = _from_settings("cta_styles")
    formats: int = _from_settings("formats")
    max_length_s: int = _from_settings("max_length_s")
    max_posts_per_day: int = _from_settings("max_posts_per_day")
    snapshots_per_day: int = 4
    render_concurrency: int = field(default_factory=_worker_render_concurrency)
    ad_account: str = "demo"
    ad_goal: str = "virality"
    ad_budget: float = 60.0  # the demo ad account's global daily budget in dollars
    store_url: str | None = None  # default: SQLite under data_dir
    # the hooks service's address and the landing page of every post's tracked link (set when they run)
    hooks_url: str | None = None
    landing_url: str | None = None
    # each post through this platform's own API: instagram (the default: its Reels are what the paid phase's
    # Meta ads promote), tiktok, youtube, aggregator (TikTok and Instagram through Ayrshare) or "all"
    platform: str = "instagram"

    def __post_init__(self) -> None:
        start = self.start if self.start.tzinfo else self.start.replace(tzinfo=dt.UTC)
        self.start = start.astimezone(dt.UTC)

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every knob's default (factories called), for the CLI's options and their help."""
        out = {}
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
        return out

    def dialects(self) -> list[str]:
        """The platforms posted to through their own APIs."""
        from actp_pipeline.publish.dialects import REGISTRY, available

        if self.platform == "all":  # every platform through its own API (the aggregator is not a platform)
            return [p for p in REGISTRY if p != "aggregator" and available(p) is None]
        return [self.platform]

    def via_aggregator(self) -> list[str]:
        """The networks `--platform aggregator` posts to through the aggregator (ACTP_PUBLISH_VIA)."""
        return ["tiktok", "instagram"] if self.platform == "aggregator" else []

    def loop_overrides(self) -> dict[str, Any]:
        """The settings resource's fields this demo sets."""
        out = {"topic": self.topic, "hook_patterns": self.hook_patterns, "angles": self.angles,
               "cta_styles": self.cta_styles, "formats": self.formats, "max_length_s": self.max_length_s,
               "max_posts_per_day": self.max_posts_per_day,
               "targets": [f"{p}:main" for p in (self.via_aggregator() or self.dialects())]}
        if self.hooks_url and self.landing_url:
            out.update(hooks_url=self.hooks_url, landing_url=self.landing_url)
        return out
