"""The social platforms' unified posting API (the sandbox by default)."""


import dagster as dg

from actp_pipeline.publish.platforms import HttpPlatform


class PlatformResource(dg.ConfigurableResource):
    base_url: str
    api_key: str
    publisher: str = "api"  # api (the posting API) | browser (Playwright through the upload page)

    def client(self) -> HttpPlatform:
        return HttpPlatform(self.base_url, self.api_key)
