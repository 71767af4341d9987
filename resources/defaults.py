"""Resources for both code locations, read from the environment (see actp_pipeline.settings)."""


import os

import dagster as dg

from actp_pipeline.settings import Settings
from resources.ads import AdsResource
from resources.alerts import AlertsResource
from resources.llm import LLMResource
from resources.loop import LoopSettings, loop_from_env
from resources.platform import PlatformResource
from resources.research import ResearchSourcesResource
from resources.store import StoreResource


def _secret(name: str, value: str | None):
    """An EnvVar when the variable is set (so the value stays out of the UI), else `value`: the embedded
    sandbox's public key, a value given in code (the demo's), or None (absent)."""
    return dg.EnvVar(name) if os.environ.get(name) else value


def default_resources(settings: Settings | None = None, loop: LoopSettings | None = None) -> dict:
    s = settings or Settings()
    return {
        "store": StoreResource(data_dir=str(s.data_dir), database_url=_secret("ACTP_DATABASE_URL", s.database_url)),
        "platform": PlatformResource(base_url=s.platform_url, api_key=_secret("ACTP_PLATFORM_API_KEY",
                                                                              s.platform_api_key),
                                     publisher=s.publisher),
        "ads": AdsResource(base_url=s.ads_base_url, access_token=_secret("ACTP_ADS_ACCESS_TOKEN", s.ads_token),
                           platform=s.ads_platform, signal_actions=s.ads_signal_actions,
                           token_account=s.ads_token_account),
        "loop": loop or loop_from_env(),
        "alerts": AlertsResource(webhook_url=_secret("ACTP_ALERT_WEBHOOK_URL", s.alert_webhook_url)),
        "research": ResearchSourcesResource(),
        "llm": LLMResource.from_env(),  # optional: copy from a language model (ACTP_LLM_*)
    }
