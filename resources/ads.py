"""The ads API connection (Meta Marketing API shape; the sandbox's by default). Its rules are LoopSettings'."""


import dagster as dg
from pydantic import Field

from actp_pipeline.ads.client import AdsClient


class AdsResource(dg.ConfigurableResource):
    base_url: str = Field(description="The ads API (ACTP_ADS_URL; the sandbox's /graph beside the platform API).")
    access_token: str | None = Field(None, description="ACTP_ADS_ACCESS_TOKEN (an EnvVar); the sandbox's public key "
                                                       "for the sandbox's own ads API; else absent.")
    api_version: str = Field("v21.0", description="The Marketing API version in every path.")

    def client(self) -> AdsClient:
        from actp_pipeline.ads.meta import MetaAdsClient

        if not self.access_token:
            raise dg.Failure(f"no access token for the ads API at {self.base_url}: set ACTP_ADS_ACCESS_TOKEN")
        return MetaAdsClient(self.base_url, self.access_token, api_version=self.api_version)
