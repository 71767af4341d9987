"""Dagster resources: thin, configurable handles on the core's stores and outside systems."""

from resources.ads import AdsResource
from resources.alerts import AlertsResource
from resources.loop import LoopSettings
from resources.platform import PlatformResource
from resources.research import ResearchSourcesResource
from resources.store import StoreResource

__all__ = ["AdsResource", "AlertsResource", "LoopSettings", "PlatformResource", "ResearchSourcesResource", "StoreResource"]
