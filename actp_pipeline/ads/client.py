"""The ads-client Protocol: the calls the orchestrator makes on an ad platform, and nothing else.

Why: the orchestrator reads accounts (evidence), executes plans and reconciles crashes (actions) through
these methods only, so any ad platform's adapter (`meta.MetaAdsClient` for the Meta Marketing API and the
sandbox) can stand behind it. Conventions: dollars (float) at the edges, naive-UTC times, account ids
without a platform prefix; a refused or failed call raises `meta.AdsError` (its `retryable` says whether
the platform may have acted). A `post_id` (create_ad_set, ensure_ad, the ad_sets() column) names the post
as the ad platform can promote it (evidence.post_lookup): "instagram:<IG media id>" for an Instagram post
(Meta: a creative with source_instagram_media_id + instagram_user_id), else the post id unchanged (Meta:
object_story_id, a Page post or the sandbox's post id); ad_sets() gives back the same qualified id.
A `link` (create_ad_set, ensure_ad) is the creative's paid tracked link (ads/ad_links.py): the ad's
destination in the platform's dialect (Meta: the creative's call_to_action link; TikTok: landing_page_url);
None = the ad is made as without links.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol, runtime_checkable

import pandas as pd


@runtime_checkable
class AdsClient(Protocol):
    """What an ads adapter implements for the orchestrator (read, find, create, change)."""

    # -- reading (evidence.account_inputs)
    def campaigns(self, account_id: str) -> pd.DataFrame:
        """Every campaign of the account: id, account_id, name, goal, kind, budget_mode, daily_budget, status..."""
        ...

    def ad_sets(self, account_id: str) -> pd.DataFrame:
        """Every ad set of the account, with the variant and post its ad runs (id, campaign_id, variant_id...)."""
        ...

    def insights(self, account_id: str, since: dt.datetime, until: dt.datetime) -> pd.DataFrame:
        """Hourly delivery per ad set in [since, until): ad_set_id, at, spend, impressions, clicks, events."""
        ...

    # -- looking up what a crashed call did (actions' reconciliation)
    def get(self, object_id: str, fields: list[str]) -> dict[str, Any]:
        """One object with these fields (e.g. daily_budget, status)."""
        ...

    def find_campaign(self, account_id: str, name: str) -> dict[str, Any] | None:
        """The campaign with exactly this name, as a campaigns() row, or None."""
        ...

    def find_ad_set(self, account_id: str, name: str) -> dict[str, Any] | None:
        """The ad set with exactly this name, as an ad_sets() row, or None."""
        ...

    def ensure_ad(self, account_id: str, ad_set_id: str, *, variant_id: str, post_id: str,
                  link: str | None = None) -> str:
        """The ad set's ad, created (sending its clicks to `link` when given) if a crash left the ad set
        without one; returns its id."""
        ...

    # -- acting (actions.execute_plan)
    def create_campaign(self, account_id: str, *, name: str, objective: str, budget_mode: str,
                        daily_budget: float | None, status: str = "ACTIVE") -> str:
        """A campaign (CBO with a daily budget, ABO without); returns its id."""
        ...

    def create_ad_set(self, account_id: str, *, campaign_id: str, name: str, variant_id: str, post_id: str,
                      daily_budget: float | None, status: str = "ACTIVE", link: str | None = None) -> str:
        """An ad set and its one ad (the published post as creative, tagged with the variant, its clicks sent
        to `link` when given); returns its id."""
        ...

    def duplicate_ad_set(self, ad_set_id: str, *, campaign_id: str, name: str, daily_budget: float | None = None,
                         status: str = "ACTIVE", resume: bool = False) -> str:
        """A copy of an ad set (same targeting and creatives) in another campaign, named `name`, with this
        budget and status and its ads ACTIVE when it is; returns its id. A lost answer to the copy call must
        never lead to a second copy. `resume=True` (after an error or a crash): complete what an earlier
        call with this name made (finished or half-made), copying only when nothing was made."""
        ...

    def set_budget(self, object_id: str, daily_budget: float) -> None:
        """The daily budget (dollars) of a CBO campaign or an ABO ad set."""
        ...

    def set_status(self, object_id: str, status: str) -> None:
        """ACTIVE or PAUSED, for a campaign, ad set or ad."""
        ...
