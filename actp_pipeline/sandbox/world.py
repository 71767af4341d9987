"""The sandbox world: the seeded model (model.py) plus the market of every day (market.py), cached.

Everything here is pure and deterministic given the seed: the latent appeal of every factor level, the
trajectory of every post, and the competitor posts and ads of every day. Nothing in this module knows
about HTTP or storage, nor about the real date.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from . import market
from .market import MarketRecord
from .model import (
    BASE_ER,
    CREATIVE_SD,
    ENGAGEMENT_SPLIT,
    FACTOR_LEVELS,
    HOURLY_REACH,
    PLATFORM_BASE_ER,
    POST_ER_NOISE_SD,
    SPLIT_CONCENTRATION,
    Trajectory,
    WorldConfig,
    WorldModel,
    normalize_descriptor,
)

# POST_ER_NOISE_SD and CREATIVE_SD are the defaults of WorldConfig.post_er_noise_sd and .creative_sd (a world may
# set its own); benchmarks import them by these names
__all__ = ["BASE_ER", "CREATIVE_SD", "ENGAGEMENT_SPLIT", "FACTOR_LEVELS", "HOURLY_REACH", "PLATFORM_BASE_ER",
           "POST_ER_NOISE_SD", "SPLIT_CONCENTRATION", "MarketRecord", "Trajectory", "World", "WorldConfig",
           "normalize_descriptor"]


class World(WorldModel):
    """Latent appeal, post trajectories and market items of one seeded world."""

    def __init__(self, config: WorldConfig | None = None):
        super().__init__(config)
        self._market_cache = lru_cache(maxsize=256)(self._market_records_uncached)
        self._ads_cache = lru_cache(maxsize=64)(self._ad_records_uncached)

    def market_items(self, day: str | date, platform: str) -> list[dict[str, Any]]:
        """Competitor posts of one day on one platform (a few of them malformed on purpose)."""
        return [json.loads(json.dumps(r.item)) for r in self.market_records(day, platform)]

    def ad_items(self, day: str | date) -> list[dict[str, Any]]:
        """Ad library items seen on one day (all platforms)."""
        return [json.loads(json.dumps(r.item)) for r in self.ad_records(day)]

    def market_records(self, day: str | date, platform: str) -> list[MarketRecord]:
        if platform not in self.config.platforms:
            raise ValueError(f"unknown platform {platform!r}")
        return self._market_cache(_day_str(day), platform)

    def ad_records(self, day: str | date) -> list[MarketRecord]:
        return self._ads_cache(_day_str(day))

    def _market_records_uncached(self, day: str, platform: str) -> list[MarketRecord]:
        return market.market_records(self, day, platform)

    def _ad_records_uncached(self, day: str) -> list[MarketRecord]:
        return market.ad_records(self, day)


def _day_str(day: str | date) -> str:
    if isinstance(day, datetime):
        return day.date().isoformat()
    if isinstance(day, date):
        return day.isoformat()
    return date.fromisoformat(day).isoformat()
