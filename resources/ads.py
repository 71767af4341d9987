"""The ads API connection (Meta Marketing API; the sandbox's by default). Its rules are LoopSettings'."""

from typing import Literal

import dagster as dg
from pydantic import Field

from actp_pipeline.ads.client import AdsClient


class AdsResource(dg.ConfigurableResource):
    base_url: str = Field(description="The ads API (ACTP_ADS_URL; the sandbox's /graph beside the platform API).")
    access_token: str | None = Field(None, description="ACTP_ADS_ACCESS_TOKEN (an EnvVar); the sandbox's public key "
                                                       "for the sandbox's own ads API; else absent.")
    api_version: str = Field("v21.0", description="The Marketing API version in every path.")
    library: Literal["facebook-business", "httpx"] = Field(
        "facebook-business", description="facebook-business: Meta's official SDK (meta_sdk.MetaSdkAdsClient); httpx: "
        "ACTP's own client of the same API (meta.MetaAdsClient), which the fault tests inject transports into.")

    def client(self) -> AdsClient:
        if not self.access_token:
            raise dg.Failure(f"no access token for the ads API at {self.base_url}: set ACTP_ADS_ACCESS_TOKEN")
        if self.library == "httpx":
            from actp_pipeline.ads.meta import MetaAdsClient

            return MetaAdsClient(self.base_url, self.access_token, api_version=self.api_version)
        from actp_pipeline.ads.meta_sdk import MetaSdkAdsClient

        return MetaSdkAdsClient(self.base_url, self.access_token, api_version=self.api_version)
