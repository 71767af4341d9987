"""The ads client on Meta's official Python SDK (`facebook-business`): the `client.AdsClient` calls through
the SDK's own API instance, AdAccount, AdSet, Campaign, AdCreative and Ad objects, Cursors and insights.

Why: Meta maintains the SDK (request signing, parameter encoding, paging, batch); ACTP should ride on it
and keep to itself only what is ACTP's (names that carry goal and kind, dollars at the edges, the
reconciliation after a lost answer). `MetaSdkAdsClient` gives the same answers as the httpx client
`meta.MetaAdsClient` (same frames, same errors), so the orchestrator can use either; both parse Graph
objects with the same functions (meta_records) and read core signals by the same table (meta_signals).

Pointing it at real Meta: base_url "https://graph.facebook.com" (the SDK's default), the access token of
a system user with ads_management, and optionally the app secret (the SDK then sends appsecret_proof).
settings.Settings reads both from the environment: ACTP_ADS_URL (`ads_base_url`; unset = the sandbox's
"<platform url>/graph") and ACTP_ADS_ACCESS_TOKEN (`ads_token`), so
`MetaSdkAdsClient(settings.ads_base_url, settings.ads_token)` talks to Meta when ACTP_ADS_URL is
"https://graph.facebook.com". (An app-secret EnvVar is not in settings yet; pass app_secret= if you use one.)
Against the sandbox only the base URL differs: the SDK sends the key as `access_token`, as it does to Meta.

Written by hand, and why:
- `_call` / `_paged` (generic Graph calls through the SDK's `FacebookAdsApi.call`): reading an object by
  id whose type is unknown (a reconciliation `get`, `set_status` on a campaign, ad set or ad) has no SDK
  object to hang on; the copy steps of meta_copy.AdSetCopies (shared with MetaAdsClient) also run on them.
- error mapping (`_ads_error`): the SDK raises FacebookRequestError / requests exceptions; ACTP's callers
  need AdsError with `retryable` (is_transient or 5xx; a timeout or lost connection is retryable and, for
  a write, ambiguous: the call may or may not have happened, and the caller reconciles by name).
- GET retries (twice, backing off) on retryable errors; writes are never retried (creates are not
  idempotent on Meta), exactly as in MetaAdsClient.
An ad is made the way Meta documents it: an AdCreative (url_tags = the variant; with a paid tracked link,
call_to_action {"type": "SHOP_NOW", "value": {"link": ...}}) created on the account,
then an Ad referencing it as {"creative_id": ...}. The creative promotes post_lookup's post: for
"instagram:<IG media id>" source_instagram_media_id + instagram_user_id (Meta's way to promote an existing
Instagram post; the IG user from `instagram_user_id`, else read from the media's `owner`), for any other
post id object_story_id (meta.InstagramCreatives, shared with MetaAdsClient).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Callable, Iterator, Mapping, TypeVar

import pandas as pd
import requests
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adset import AdSet
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookError, FacebookRequestError
from facebook_business.session import FacebookSession

from actp_pipeline.ads.errors import AdsError
from actp_pipeline.ads.meta import (
    INVALID_TOKEN,
    InstagramCreatives,
    _first,
    ad_set_params,
    campaign_params,
    check_account_id,
    check_object_id,
    to_minor,
)
from actp_pipeline.ads.meta_copy import AdSetCopies
from actp_pipeline.ads.meta_records import (
    AD_FIELDS,
    AD_SET_COLUMNS,
    AD_SET_FIELDS,
    CAMPAIGN_COLUMNS,
    CAMPAIGN_FIELDS,
    _age_rank,
    _frame,
    ad_set_record,
    campaign_record,
    creatives_by_ad_set,
    insight_frame,
    insights_query,
)
from actp_pipeline.ads.meta_signals import signal_table

T = TypeVar("T")


def _ads_error(where: str, exc: Exception, *, write: bool) -> AdsError:
    """ACTP's AdsError for what the SDK raised (the same mapping as meta.MetaAdsClient's)."""
    if isinstance(exc, FacebookRequestError):
        status = exc.http_status()
        body = exc.body()
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict) and isinstance(err.get("code"), int):
            return AdsError(str(err.get("message") or ""), status=status, code=err["code"],
                            subcode=err.get("error_subcode"),
                            retryable=bool(err.get("is_transient")) or (status or 0) >= 500,
                            fbtrace_id=err.get("fbtrace_id"), where=where)
        text = body if isinstance(body, str) else str(body)
        return AdsError(text[:300] or "request failed", status=status,
                        code=INVALID_TOKEN if status == 401 else None,
                        retryable=(status or 0) >= 500 or status in (408, 429), where=where)
    if isinstance(exc, requests.Timeout):
        what = "the call may or may not have happened" if write else "nothing was read"
        return AdsError(f"timed out ({type(exc).__name__}); {what}", retryable=True, where=where)
    if isinstance(exc, requests.RequestException):
        return AdsError(f"{type(exc).__name__} ({exc})", retryable=True, where=where)
    return AdsError(f"{type(exc).__name__}: {exc}", where=where)  # a FacebookError: a bad answer or use


class MetaSdkAdsClient(AdSetCopies, InstagramCreatives):
    """The Meta Marketing API through `facebook-business`, for the ads orchestrator (or the sandbox).
    `instagram_user_id`: the IG user whose posts the ads promote (else read from each IG media's owner);
    `signal_actions`: as MetaAdsClient's (a custom conversion per ACTP signal; meta_signals)."""

    GET_RETRIES = 2
    RETRY_BACKOFF_S = 0.5
    PAGE_LIMIT = 500

    def __init__(self, base_url: str, access_token: str, *, api_version: str = "v21.0", timeout_s: float = 30.0,
                 app_secret: str | None = None, instagram_user_id: str | None = None,
                 signal_actions: Mapping[str, str] | None = None):
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.instagram_user_id = instagram_user_id
        self.signal_actions = signal_table(signal_actions, base_url=self.base_url)
        session = FacebookSession(app_secret=app_secret, access_token=access_token, timeout=timeout_s)
        session.GRAPH = self.base_url  # the only override: the SDK builds <GRAPH>/<version>/<path>
        # an API instance of our own (not FacebookAdsApi.init: no process-wide default, no crash reporter)
        self.api = FacebookAdsApi(session, api_version)

    def close(self) -> None:
        self.api._session.requests.close()

    def __enter__(self) -> MetaSdkAdsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------- SDK calls
    def _sdk(self, where: str, fn: Callable[[], T], *, write: bool = False) -> T:
        """fn() with the SDK's errors as AdsError; reads retried on retryable errors, writes never."""
        attempts = 1 if write else 1 + self.GET_RETRIES
        for attempt in range(attempts):
            try:
                return fn()
            except (FacebookError, requests.RequestException) as exc:
                err = _ads_error(where, exc, write=write)
                if not err.retryable or attempt == attempts - 1:
                    raise err from exc
                time.sleep(self.RETRY_BACKOFF_S * (2**attempt))
        raise AssertionError("unreachable")

    def _account(self, account_id: str) -> AdAccount:
        return AdAccount(f"act_{check_account_id(account_id)}", api=self.api)

    @staticmethod
    def _parts(path: str) -> tuple[str, ...]:
        parts = tuple(p for p in path.split("/") if p)
        for p in parts:
            check_object_id(p.removeprefix("act_"), "path")
        return parts

    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              data: dict[str, Any] | None = None) -> dict[str, Any]:
        """A Graph call by path through the SDK's FacebookAdsApi.call (for AdSetCopies and untyped ids)."""
        parts = self._parts(path)
        values = dict(params or data or {})
        resp = self._sdk(f"{method} {path}", lambda: self.api.call(method, parts, params=values),
                         write=method != "GET")
        body = resp.json()
        if not isinstance(body, dict):
            raise AdsError("the response body is not a JSON object", status=resp.status(), where=f"{method} {path}")
        return body

    def _paged(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a list edge, following the cursors (what the SDK's Cursor does, untyped)."""
        params = {"limit": self.PAGE_LIMIT, **params}
        while True:
            page = self._call("GET", path, params=params)
            yield from page.get("data", [])
            paging = page.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return
            params = {**params, "after": after}

    def _list(self, where: str, edge: Callable[..., Any], fields: tuple[str, ...],
              filtering: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        """Every object of an SDK edge (AdAccount.get_campaigns ...) as plain dicts."""
        params: dict[str, Any] = {"limit": self.PAGE_LIMIT}
        if filtering:
            params["filtering"] = filtering
        return self._sdk(where, lambda: [o.export_all_data() for o in edge(fields=list(fields), params=params)])

    # ------------------------------------------------------------------------------------- reading
    def get(self, object_id: str, fields: list[str]) -> dict[str, Any]:
        """The raw Graph object with these fields."""
        return self._call("GET", f"/{check_object_id(object_id)}", params={"fields": ",".join(fields)})

    def _campaign_records(self, account_id: str, filtering: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        account = self._account(account_id)
        rows = self._list(f"GET /act_{account_id}/campaigns", account.get_campaigns, CAMPAIGN_FIELDS, filtering)
        return [campaign_record(c, account_id) for c in rows]

    def campaigns(self, account_id: str) -> pd.DataFrame:
        return _frame(self._campaign_records(account_id), CAMPAIGN_COLUMNS,
                      {"daily_budget": "float64", "created_at": "datetime64[ns]"})

    def _ads(self, account_id: str, filtering: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        account = self._account(account_id)
        return self._list(f"GET /act_{account_id}/ads", account.get_ads, AD_FIELDS, filtering)

    def _ad_set_records(self, account_id: str, filtering: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        account = self._account(account_id)
        sets = self._list(f"GET /act_{account_id}/adsets", account.get_ad_sets, AD_SET_FIELDS, filtering)
        ad_filter = [{"field": "adset.id", "operator": "IN", "value": [s["id"] for s in sets]}] if filtering else None
        creatives = creatives_by_ad_set(self._ads(account_id, ad_filter)) if sets else {}
        return [ad_set_record(s, account_id, creatives) for s in sets]

    def ad_sets(self, account_id: str) -> pd.DataFrame:
        return _frame(self._ad_set_records(account_id), AD_SET_COLUMNS,
                      {"daily_budget": "float64", "created_at": "datetime64[ns]"})

    def insights(self, account_id: str, since: dt.datetime, until: dt.datetime) -> pd.DataFrame:
        """Hourly delivery per ad set (AdAccount.get_insights), as meta.MetaAdsClient.insights."""
        start, until, params = insights_query(since, until)
        fields = params.pop("fields").split(",")
        account = self._account(account_id)
        rows = self._sdk(f"GET /act_{account_id}/insights", lambda: [
            r.export_all_data() for r in account.get_insights(fields=fields, params={**params, "limit": self.PAGE_LIMIT})])
        return insight_frame(rows, account_id, start, until, self.signal_actions)

    def find_campaign(self, account_id: str, name: str) -> dict[str, Any] | None:
        found = self._campaign_records(account_id, [{"field": "name", "operator": "EQUAL", "value": name}])
        return _first([c for c in found if c["name"] == name])

    def find_ad_set(self, account_id: str, name: str) -> dict[str, Any] | None:
        found = self._ad_set_records(account_id, [{"field": "name", "operator": "EQUAL", "value": name}])
        return _first([s for s in found if s["name"] == name])

    # ------------------------------------------------------------------------------------- writing
    def create_campaign(self, account_id: str, *, name: str, objective: str, budget_mode: str,
                        daily_budget: float | None, status: str = "ACTIVE") -> str:
        params = campaign_params(name, objective, budget_mode, daily_budget, status)
        account = self._account(account_id)
        made = self._sdk(f"POST /act_{account_id}/campaigns", lambda: account.create_campaign(params=params),
                         write=True)
        return str(made["id"])

    def create_ad_set(self, account_id: str, *, campaign_id: str, name: str, variant_id: str, post_id: str,
                      daily_budget: float | None, status: str = "ACTIVE", link: str | None = None,
                      targeting: dict[str, Any] | None = None, optimization_goal: str = "LINK_CLICKS") -> str:
        """An ad set, then its creative (linking to `link` when given) and its one ad; if the ad cannot be made
        the ad set exists without it (the error says so; ensure_ad after find_ad_set completes it)."""
        params = ad_set_params(name, campaign_id, daily_budget, status, targeting, optimization_goal)
        account = self._account(account_id)
        made = self._sdk(f"POST /act_{account_id}/adsets", lambda: account.create_ad_set(params=params), write=True)
        ad_set_id = str(made["id"])
        try:
            self._create_ad(account_id, ad_set_id, name=name, variant_id=variant_id, post_id=post_id, status=status,
                            link=link)
        except AdsError as e:
            e.add_note(f"ad set {ad_set_id} was created without its ad; complete it with ensure_ad")
            raise
        return ad_set_id

    def _create_ad(self, account_id: str, ad_set_id: str, *, name: str, variant_id: str, post_id: str,
                   status: str, link: str | None = None) -> str:
        """An AdCreative promoting the post (tagged with the variant, its call_to_action linking to `link`),
        then the Ad that uses it."""
        account = self._account(account_id)
        spec = {"name": name, **self._creative(post_id, variant_id, link)}
        creative = self._sdk(f"POST /act_{account_id}/adcreatives", lambda: account.create_ad_creative(params=spec),
                             write=True)
        ad = {"name": name, "adset_id": ad_set_id, "status": status, "creative": {"creative_id": str(creative["id"])}}
        made = self._sdk(f"POST /act_{account_id}/ads", lambda: account.create_ad(params=ad), write=True)
        return str(made["id"])

    def ensure_ad(self, account_id: str, ad_set_id: str, *, variant_id: str, post_id: str,
                  link: str | None = None) -> str:
        check_account_id(account_id)
        check_object_id(ad_set_id, "ad_set_id")
        ads = self._ads(account_id, [{"field": "adset.id", "operator": "EQUAL", "value": ad_set_id}])
        if ads:
            return str(min(ads, key=_age_rank)["id"])
        ad_set = self._sdk(f"GET /{ad_set_id}", lambda: AdSet(ad_set_id, api=self.api).api_get(
            fields=["name", "status"]).export_all_data())
        return self._create_ad(account_id, ad_set_id, name=ad_set["name"], variant_id=variant_id, post_id=post_id,
                               status=ad_set.get("status") or "ACTIVE", link=link)

    def duplicate_ad_set(self, ad_set_id: str, *, campaign_id: str, name: str, daily_budget: float | None = None,
                         status: str = "ACTIVE", resume: bool = False) -> str:
        """As MetaAdsClient.duplicate_ad_set (the copy steps of meta_copy, over the SDK)."""
        check_object_id(ad_set_id, "ad_set_id")
        check_object_id(campaign_id, "campaign_id")
        minor = None if daily_budget is None else to_minor(daily_budget)
        return self._promote(ad_set_id, campaign_id, name, minor, status.upper(), check_object_id, resume)

    def set_budget(self, object_id: str, daily_budget: float) -> None:
        self._call("POST", f"/{check_object_id(object_id)}", data={"daily_budget": to_minor(daily_budget)})

    def set_status(self, object_id: str, status: str) -> None:
        self._call("POST", f"/{check_object_id(object_id)}", data={"status": status.upper()})
