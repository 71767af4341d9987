"""The social platforms' unified posting API (the sandbox by default)."""


import dagster as dg
import httpx
from pydantic import Field

from actp_pipeline.publish.platforms import HttpPlatform

PROBE_TIMEOUT_S = 2.0  # a tick must stay cheap: a platform slower than this to answer counts as down


class PlatformResource(dg.ConfigurableResource):
    base_url: str = Field(description="The unified posting API (ACTP_PLATFORM_URL; `actp sandbox` by default).")
    api_key: str | None = Field(None, description="ACTP_PLATFORM_API_KEY (an EnvVar); the sandbox's public key "
                                                  "when talking to the sandbox; else absent.")
    publisher: str = Field("api", description="api (the posting API) | browser (Playwright through the upload page).")

    def client(self) -> HttpPlatform:
        if not self.api_key:
            raise dg.Failure(f"no API key for the platform at {self.base_url}: set ACTP_PLATFORM_API_KEY")
        return HttpPlatform(self.base_url, self.api_key)

    def unreachable(self) -> str | None:
        """None when the platform answers at all (any HTTP status); else the one-line reason a tick skips."""
        try:
            httpx.get(self.base_url, timeout=PROBE_TIMEOUT_S)
        except httpx.TransportError:
            return f"platform at {self.base_url} unreachable: start `actp sandbox` or set ACTP_PLATFORM_URL"
        return None
