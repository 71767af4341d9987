"""Dagster resources: thin, configurable handles on the core's stores and outside systems."""

from resources.loop import LoopSettings
from resources.platform import PlatformResource
from resources.store import StoreResource

__all__ = ["LoopSettings", "PlatformResource", "StoreResource"]
