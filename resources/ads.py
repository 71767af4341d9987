"""The ads API connection: Meta's Marketing API (the sandbox's by default) or TikTok's. Its rules are
LoopSettings'."""

import os
from typing import Literal

import dagster as dg
from pydantic import Field
from sqlalchemy.engine import Engine

from actp_pipeline.ads.client import AdsClient


PLACEHOLDER_LANDING_PAGE = "https://example.com/"  # the sandbox's only: refused for a real TikTok account


class AdsResource(dg.ConfigurableResource):
    base_url: str = Field(description="The ads API (ACTP_ADS_URL; the sandbox's /graph beside the platform API for "
                                      "Meta, the sandbox's root for TikTok).")
    access_token: str | None = Field(None, description="ACTP_ADS_ACCESS_TOKEN (an EnvVar); the sandbox's public key "
                                                       "for the sandbox's own ads API; else absent.")
    token_account: str | None = Field(
        None, description="Meta only (ACTP_ADS_TOKEN_ACCOUNT): the account connected with `actp accounts connect meta "
        "--account NAME` whose stored token the client uses (refreshed before expiry), before access_token. TikTok's "
        "Business API tokens come from its own OAuth, not the Login Kit flow ACTP connects: access_token there.")
    api_version: str = Field("v21.0", description="The Marketing API version in every path (Meta).")
    platform: Literal["meta", "tiktok"] = Field(
        "meta", description="ACTP_ADS_PLATFORM: meta (Marketing API, Graph) or tiktok (API for Business v1.3; its "
        "minimum daily budgets, about $20 per ad group and $50 per campaign, are above the original system's $5).")
    library: Literal["facebook-business", "httpx"] = Field(
        "facebook-business", description="Meta only. facebook-business: Meta's official SDK (meta_sdk.MetaSdkAdsClient); "
        "httpx: ACTP's own client of the same API (meta.MetaAdsClient), which the fault tests inject transports into.")
    signal_actions: dict[str, str] = Field(
        default_factory=dict, description="Meta only: where each custom core signal comes from, e.g. "
        "{'smartlink_click': 'offsite_conversion.custom.123'} or a bare custom conversion id (ACTP_ADS_SIGNAL_ACTIONS="
        "'smartlink_click=123,profile_view=456'); unmapped, such a signal is unknown on a real account, never 0.")
    landing_page_url: str = Field(PLACEHOLDER_LANDING_PAGE, description="TikTok only: the Spark Ads' landing page (ACTP "
                                  "adds utm_content = the variant); a tracked link of the hooks service in production.")

    def client(self, engine: Engine | None = None) -> AdsClient:
        """The client; `engine` lets the TikTok client find a post's public video id in the store (the ledger
        keeps TikTok's publish id, and the Spark Ad needs the public id moderation revealed)."""
        token = self._stored_token(engine) or self.access_token
        if not token:
            raise dg.Failure(f"no access token for the ads API at {self.base_url}: set ACTP_ADS_ACCESS_TOKEN"
                             + ("" if self.platform == "tiktok" else " or connect a Meta account (actp accounts "
                                "connect meta --account NAME) and name it in ACTP_ADS_TOKEN_ACCOUNT"))
        if self.platform == "tiktok":
            from actp_pipeline.ads.meta_signals import is_loopback

            if self.landing_page_url == PLACEHOLDER_LANDING_PAGE and not is_loopback(self.base_url):
                # fail closed: real Spark Ads would send paid clicks to the placeholder
                raise dg.Failure(f"TikTok ads at {self.base_url} need a real landing_page_url (the ads resource's), "
                                 f"not the placeholder {PLACEHOLDER_LANDING_PAGE}")
            from actp_pipeline.ads.tiktok import TikTokAdsClient
            from actp_pipeline.publish.posts import public_video_id

            lookup = (lambda post_id: public_video_id(engine, post_id)) if engine is not None else None
            return TikTokAdsClient(self.base_url, token, landing_page_url=self.landing_page_url,
                                   item_id_for=lookup)
        # the IG user whose Instagram posts Meta ads promote (ACTP_INSTAGRAM_USER_ID, as the Instagram publisher
        # reads it); unset: the Meta client reads it from each promoted IG media's owner
        ig_user = os.environ.get("ACTP_INSTAGRAM_USER_ID") or None
        if self.library == "httpx":
            from actp_pipeline.ads.meta import MetaAdsClient

            return MetaAdsClient(self.base_url, token, api_version=self.api_version,
                                 signal_actions=self.signal_actions or None,
                                 instagram_user_id=ig_user)
        from actp_pipeline.ads.meta_sdk import MetaSdkAdsClient

        return MetaSdkAdsClient(self.base_url, token, api_version=self.api_version,
                                signal_actions=self.signal_actions or None,
                                instagram_user_id=ig_user)

    def _stored_token(self, engine: Engine | None) -> str | None:
        """The connected Meta account's token (ACTP_ADS_TOKEN_ACCOUNT), or None when none is named. A named account
        that cannot give one (not connected, needs a reconnect, no ACTP_TOKEN_KEY) stops the run: spending on a
        fallback token would act for another account."""
        if not self.token_account or self.platform != "meta":
            return None
        if engine is None:
            raise dg.Failure(f"ACTP_ADS_TOKEN_ACCOUNT={self.token_account}: the ads client needs the store to read it")
        from actp_pipeline.accounts import (NeedsReconnect, NoTokenKey, NotConnected, TokenKeyMismatch,
                                            TokenUnavailable, get_token)

        try:
            return get_token(engine, "meta", self.token_account)
        except (NotConnected, NeedsReconnect, NoTokenKey, TokenKeyMismatch, TokenUnavailable) as e:
            raise dg.Failure(f"ads token of Meta account {self.token_account!r}: {e}") from None
