"""The platform host: its clock and research feeds (the sandbox by default), and which publisher posts."""


import dagster as dg
import httpx
from pydantic import Field

from actp_pipeline.publish.platforms import HttpPlatform

PROBE_TIMEOUT_S = 2.0  # a tick must stay cheap: a platform slower than this to answer counts as down


class PlatformResource(dg.ConfigurableResource):
    base_url: str = Field(description="The host of the clock and the research feeds, and of every platform's "
                                      "dialect when it is the sandbox (ACTP_PLATFORM_URL; `actp sandbox` by default).")
    api_key: str | None = Field(None, description="ACTP_PLATFORM_API_KEY (an EnvVar); the sandbox's public key "
                                                  "when talking to the sandbox; else absent.")
    publisher: str = Field("native", description="native (each post through its own platform's API) | browser "
                                                 "(Playwright through the platform's upload page).")

    def client(self) -> HttpPlatform:
        return HttpPlatform(self.base_url, self.api_key)  # the research feeds refuse a call without the key

    def unreachable(self) -> str | None:
        """None when the platform answers at all (any HTTP status); else the one-line reason a tick skips."""
        try:
            httpx.get(self.base_url, timeout=PROBE_TIMEOUT_S)
        except httpx.TransportError:
            return f"platform at {self.base_url} unreachable: start `actp sandbox` or set ACTP_PLATFORM_URL"
        return None
