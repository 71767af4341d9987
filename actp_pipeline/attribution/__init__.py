"""Step 9 of the loop, attribute: the hooks service's links, clicks, page views and conversions tied back to
the posts, creatives and creative factors that earned them (funnel.py: pure frames; load.py: the store)."""

from actp_pipeline.attribution.funnel import (
    ALL,
    BOT_AGENTS,
    CORE_EVENTS,
    INTERVAL_MASS,
    Attribution,
    attribute,
    factor_levels,
    is_bot,
    rate_interval,
)

__all__ = ["ALL", "BOT_AGENTS", "CORE_EVENTS", "INTERVAL_MASS", "Attribution", "attribute", "factor_levels", "is_bot",
           "rate_interval"]
