"""Paid ads carry ACTP's tracked links: before the executor makes an ad for a creative, the creative gets a
link of its own on the hooks service (channel 'paid'), and the ad sends its clicks there.

Why: an ad that links straight to the shop (or to nothing) makes paid clicks and purchases invisible to
attribution; through its own link they are recorded like an organic post's, but apart from them (the link's
channel, its utm_medium actp_paid), so attribution can split every creative's funnel by channel.

One link per (ads platform, ad account, creative), idempotently (hooks.links.ad_link_key): a retried or
reconciled create, a second ad set of the same creative in another campaign, and a copy promoted to
scaling (which keeps the source ad's creative) all send their clicks to the same link. The link row is
committed before the ad is created, so no click can come before its link exists. Its destination is the
landing page the organic links use. Without a landing page or a hooks service address there is no link,
and ads are created exactly as before (`execute_plan` takes no `AdLinks` then).

How the link reaches the ad is each platform's own dialect: Meta, the creative's call_to_action
{"type": "SHOP_NOW", "value": {"link": URL}} (meta.InstagramCreatives); TikTok, ad/create's
landing_page_url (ads/tiktok.py). `LinkedAdsClient` hands the link to the adapter's `link=` keyword.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from actp_pipeline.ads.client import AdsClient
from actp_pipeline.hooks.links import PAID, ad_link_key, check_destination, create_link, link_url
from actp_pipeline.store.schema import utcnow

# the ads platform of an adapter, by what it promotes (evidence.post_lookup): Meta's ads run Instagram posts
ADS_PLATFORM = {"instagram": "meta", "tiktok": "tiktok"}


def ads_platform(client: Any) -> str:
    """The ads platform an adapter buys on ("meta", "tiktok"): the paid link's platform and utm_source."""
    promotes = getattr(client, "promotes", "instagram")
    return ADS_PLATFORM.get(promotes, promotes)


@dataclass(frozen=True)
class AdLinks:
    """What an ad's tracked link is made of: the landing page, the campaign label (the organic links' own),
    and the public address of the hooks service that serves /r/SLUG."""

    destination: str
    hooks_url: str
    campaign: str

    def __post_init__(self) -> None:
        check_destination(self.destination)
        if not self.hooks_url.startswith(("https://", "http://")):
            raise ValueError(f"hooks_url must be an http(s) address, got {self.hooks_url!r}")

    @classmethod
    def from_settings(cls, landing_url: str | None, hooks_url: str | None, campaign: str) -> AdLinks | None:
        """The links of the loop's settings, or None (ads without links) when either address is missing."""
        if not landing_url or not hooks_url:
            return None
        return cls(destination=landing_url, hooks_url=hooks_url, campaign=campaign)

    def url(self, engine: Engine, platform: str, account_id: str, variant_id: str,
            now: dt.datetime | None = None) -> str:
        """The creative's paid link on this ad account (made, committed, once), as its public address."""
        with engine.begin() as conn:
            slug = create_link(conn, idempotency_key=ad_link_key(platform, account_id, variant_id),
                               variant_id=variant_id, platform=platform, account=account_id,
                               campaign=self.campaign, destination=self.destination,
                               now=now or utcnow(), channel=PAID)
        return link_url(self.hooks_url, slug)


class LinkedAdsClient:
    """An ads client whose every new ad (create_ad_set, ensure_ad) gets its creative's paid link; every other
    call goes to the wrapped client unchanged. `now` is the executor's clock (the platform's): a link's
    created_at is when its ad's spend starts counting (attribution/paid_spend.py)."""

    def __init__(self, client: AdsClient, links: AdLinks, engine: Engine, now: dt.datetime | None = None):
        self._client, self._links, self._engine, self._now = client, links, engine, now
        self._platform = ads_platform(client)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def link_for(self, account_id: str, variant_id: str) -> str:
        return self._links.url(self._engine, self._platform, account_id, variant_id, now=self._now)

    def create_ad_set(self, account_id: str, **kwargs: Any) -> str:
        link = self.link_for(account_id, kwargs["variant_id"])
        return self._client.create_ad_set(account_id, **kwargs, link=link)

    def ensure_ad(self, account_id: str, ad_set_id: str, **kwargs: Any) -> str:
        link = self.link_for(account_id, kwargs["variant_id"])
        return self._client.ensure_ad(account_id, ad_set_id, **kwargs, link=link)


def with_links(client: AdsClient, links: AdLinks | None, engine: Engine, now: dt.datetime | None = None) -> AdsClient:
    """`client` itself without links (ads exactly as before), else a LinkedAdsClient (links made at `now`)."""
    if links is None:
        return client
    return LinkedAdsClient(client, links, engine, now)  # type: ignore[return-value]
