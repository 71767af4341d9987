"""httpx client for the Meta Marketing (Graph) API: campaigns, ad sets, ads, budgets, status, insights.

Why: the ads orchestrator decides from DataFrames and acts through a handful of calls; this module is
the only place that knows Graph paths, minor-unit money, cursors and error bodies. The sandbox serves
the same API under `<sandbox url>/graph` (actp_pipeline/sandbox/ads.py); for a real account use
base_url "https://graph.facebook.com" and a Marketing API access token.

Conventions (those of the publishers): dollars (float) at the edges, minor-unit strings on the
wire; times are naive UTC; account ids are given without "act_". Every account and object id is checked
against a strict pattern (1-64 of [A-Za-z0-9_-]; else ValueError) before a request is built: ids become
URL path segments, and one with "/", "." or "%" would be normalised into another account's path. A
refused or failed call raises AdsError; `retryable` says whether trying again may help. GETs are retried
twice on transient errors; POSTs never are (creates are not idempotent on Meta): after an ambiguous
failure the caller reconciles with find_campaign / find_ad_set / ensure_ad.

Goal and kind of a campaign survive the round trip through Meta in its name ("ACTP | goal | kind"). An ad
promotes post_lookup's post: "instagram:<IG media id>" by source_instagram_media_id + instagram_user_id
(InstagramCreatives), any other id by object_story_id; reading ads back names the post the same way. Given
the creative's paid tracked link (ads/ad_links.py), the creative's call_to_action sends the clicks there.
MetaAdsClient implements `client.AdsClient`, the calls the orchestrator makes (a test checks it).

Layout: this module is the httpx client (and the Instagram creative both clients build); what both Meta
clients share in reading Graph objects into frames is meta_records, and which insight metric each ACTP
core signal is read from (custom conversions included, `signal_actions`) is meta_signals. Every name that
moved out of this module can still be imported from it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from typing import Any, Iterator, Mapping
from urllib.parse import parse_qs

import httpx
import pandas as pd

from actp_pipeline.ads.errors import AdsError
from actp_pipeline.ads.meta_copy import AdSetCopies
from actp_pipeline.ads.meta_records import (  # re-exported: callers import them from here
    ACTION_TYPES as ACTION_TYPES,
    AD_FIELDS as AD_FIELDS,
    AD_SET_COLUMNS as AD_SET_COLUMNS,
    AD_SET_FIELDS as AD_SET_FIELDS,
    CAMPAIGN_COLUMNS as CAMPAIGN_COLUMNS,
    CAMPAIGN_FIELDS as CAMPAIGN_FIELDS,
    HOURLY as HOURLY,
    INSIGHT_COLUMNS as INSIGHT_COLUMNS,
    INSIGHT_FIELDS as INSIGHT_FIELDS,
    INSTAGRAM_PREFIX as INSTAGRAM_PREFIX,
    NAME_PREFIX as NAME_PREFIX,
    THRUPLAY_FIELD as THRUPLAY_FIELD,
    UTM as UTM,
    _age_rank as _age_rank,
    _frame as _frame,
    _utc_naive as _utc_naive,
    ad_set_record as ad_set_record,
    campaign_name as campaign_name,
    campaign_record as campaign_record,
    creative_post_id as creative_post_id,
    creatives_by_ad_set as creatives_by_ad_set,
    insight_frame as insight_frame,
    insights_query as insights_query,
    parse_campaign_name as parse_campaign_name,
    url_tags as url_tags,
)
from actp_pipeline.ads.meta_signals import signal_table

INVALID_TOKEN = 190  # Meta's code for a bad access token (the sandbox answers 401 in its own shape)
DEFAULT_TARGETING: dict[str, Any] = {"geo_locations": {"countries": ["US"]}}
# ids go into URL paths: only these characters, so no id can walk to another path ("x/../act_B", "a%2Fb")
ACCOUNT_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
OBJECT_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PATH_RE = re.compile(r"(/[A-Za-z0-9_-]{1,80})+")


# -------------------------------------------------------------------------------------------- ids
def check_account_id(account_id: Any, field: str = "account_id") -> str:
    """The account id, refused (ValueError) unless it is 1-64 of [A-Za-z0-9_-]: it becomes a path segment
    (/act_<id>/...), and a "/", "." or "%" in it lets the HTTP client normalise it into another account's."""
    if not isinstance(account_id, str) or not ACCOUNT_ID_RE.fullmatch(account_id):
        raise ValueError(f"{field} {account_id!r} is not a valid ad account id: use 1-64 of [A-Za-z0-9_-]")
    return account_id


def check_object_id(object_id: Any, field: str = "object_id") -> str:
    """An object (campaign, ad set, ad) id, refused (ValueError) unless it is 1-64 of [A-Za-z0-9_-]."""
    if not isinstance(object_id, str) or not OBJECT_ID_RE.fullmatch(object_id):
        raise ValueError(f"{field} {object_id!r} is not a valid object id: use 1-64 of [A-Za-z0-9_-]")
    return object_id


# ------------------------------------------------------------------------------------------ money
def to_minor(dollars: float) -> str:
    """Dollars -> minor units on the wire (exact: round(x * 100))."""
    x = float(dollars)
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"a daily budget must be a positive amount of dollars, got {dollars!r}")
    return str(int(round(x * 100)))



class InstagramCreatives:
    """The creative of an ad, shared by both Meta clients (which provide `get` and set `instagram_user_id`).
    With a `link` (the creative's paid tracked link, ads/ad_links.py) the creative carries Meta's
    call_to_action {"type": call_to_action, "value": {"link": link}} beside the post it promotes: the
    button, and the destination Meta sends the ad's clicks to (url_tags and fbclid appended)."""

    instagram_user_id: str | None = None
    call_to_action: str = "SHOP_NOW"  # AdCreative call_to_action type of a linked ad (or LEARN_MORE, ...)

    def _creative(self, post_id: str, variant_id: str, link: str | None = None) -> dict[str, Any]:
        """Meta's way to promote an existing Instagram post for "instagram:<media id>", else object_story_id."""
        if not post_id.startswith(INSTAGRAM_PREFIX):
            out: dict[str, Any] = {"object_story_id": post_id}
        else:
            media = check_object_id(post_id[len(INSTAGRAM_PREFIX):], "source_instagram_media_id")
            out = {"source_instagram_media_id": media, "instagram_user_id": self._instagram_user(media)}
        if link is not None:
            out["call_to_action"] = call_to_action(self.call_to_action, link)
        out["url_tags"] = url_tags(variant_id)
        return out

    def _instagram_user(self, media_id: str) -> str:
        # The configured IG user (ACTP_INSTAGRAM_USER_ID); else the media's own `owner` field (the IG Media
        # reference: the IG user that created it), read once per media by GET /<media id>?fields=owner
        if self.instagram_user_id:
            return self.instagram_user_id
        owners = self.__dict__.setdefault("_media_owners", {})
        if media_id not in owners:
            owner = (self.get(media_id, ["owner"]).get("owner") or {}).get("id")
            if not owner:
                raise AdsError("the IG media names no owner: set ACTP_INSTAGRAM_USER_ID", where=f"GET /{media_id}")
            owners[media_id] = str(owner)
        return owners[media_id]


def call_to_action(kind: str, link: str) -> dict[str, Any]:
    """An AdCreative's call_to_action sending the ad's clicks to `link` (an http(s) address)."""
    if not isinstance(link, str) or not link.startswith(("https://", "http://")):
        raise ValueError(f"an ad's link must be an http(s) URL, got {link!r}")
    return {"type": kind, "value": {"link": link}}


# ----------------------------------------------------------------------------------------- client
def campaign_params(name: str, objective: str, budget_mode: str, daily_budget: float | None,
                    status: str) -> dict[str, Any]:
    """A new campaign's Graph parameters (both Meta clients): CBO carries the daily budget, ABO none."""
    mode = budget_mode.upper()
    if mode not in ("CBO", "ABO"):
        raise ValueError(f"budget_mode must be CBO or ABO, got {budget_mode!r}")
    if (mode == "CBO") != (daily_budget is not None):
        raise ValueError("a CBO campaign needs a daily_budget; an ABO campaign takes none (its ad sets do)")
    params: dict[str, Any] = {"name": name, "objective": objective, "status": status, "special_ad_categories": []}
    if daily_budget is not None:
        params["daily_budget"] = to_minor(daily_budget)
    return params


def ad_set_params(name: str, campaign_id: str, daily_budget: float | None, status: str,
                  targeting: dict[str, Any] | None, optimization_goal: str) -> dict[str, Any]:
    """A new ad set's Graph parameters (both Meta clients); the campaign id is checked."""
    params: dict[str, Any] = {"name": name, "campaign_id": check_object_id(campaign_id, "campaign_id"),
                              "status": status, "billing_event": "IMPRESSIONS", "optimization_goal": optimization_goal,
                              "targeting": targeting if targeting is not None else DEFAULT_TARGETING}
    if daily_budget is not None:
        params["daily_budget"] = to_minor(daily_budget)
    return params


class MetaAdsClient(AdSetCopies, InstagramCreatives):
    """The Meta Marketing API for the ads orchestrator (or the sandbox's copy of it). `instagram_user_id`: the
    IG user whose posts the ads promote (else read from each IG media's owner). `signal_actions`: the Meta
    action type of an ACTP signal the account reports as a custom conversion, e.g. {"smartlink_click":
    "offsite_conversion.custom.<id>"} (meta_signals); unmapped, such a signal is NaN (unknown) against Meta
    and the sandbox's stand-in against a loopback base URL. `self.signal_actions` is the resolved table."""

    GET_RETRIES = 2
    RETRY_BACKOFF_S = 0.5
    PAGE_LIMIT = 500

    def __init__(self, base_url: str, access_token: str, *, api_version: str = "v21.0", timeout_s: float = 30.0,
                 transport: httpx.BaseTransport | None = None, instagram_user_id: str | None = None,
                 signal_actions: Mapping[str, str] | None = None):
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.instagram_user_id = instagram_user_id
        self.signal_actions = signal_table(signal_actions, base_url=self.base_url)
        self._http = httpx.Client(base_url=f"{self.base_url}/{api_version}", timeout=timeout_s, transport=transport,
                                  headers={"Authorization": f"Bearer {access_token}", "User-Agent": "actp/0.1"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MetaAdsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------- transport
    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
              data: dict[str, Any] | None = None) -> dict[str, Any]:
        attempts = 1 + (self.GET_RETRIES if method == "GET" else 0)
        for attempt in range(attempts):
            try:
                return self._once(method, path, params, data)
            except AdsError as e:
                if not e.retryable or attempt == attempts - 1:
                    raise
                time.sleep(self.RETRY_BACKOFF_S * (2**attempt))
        raise AssertionError("unreachable")

    def _once(self, method: str, path: str, params: dict[str, Any] | None,
              data: dict[str, Any] | None) -> dict[str, Any]:
        where = f"{method} {path}"
        if not _PATH_RE.fullmatch(path):
            raise ValueError(f"refusing to call {where}: the path has characters no Graph id may hold")
        try:
            resp = self._http.request(method, path, params=_wire(params), data=_wire(data))
        except httpx.TimeoutException as e:
            raise AdsError(f"timed out ({type(e).__name__}); the call may or may not have happened",
                           retryable=True, where=where) from e
        except httpx.TransportError as e:
            raise AdsError(f"{type(e).__name__} ({e})", retryable=True, where=where) from e
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code >= 400:
            raise _error(where, resp, body)
        if not isinstance(body, dict):
            raise AdsError("the response body is not a JSON object", status=resp.status_code,
                           retryable=resp.status_code >= 500, where=where)
        return body

    def _paged(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        params = {"limit": self.PAGE_LIMIT, **params}
        while True:
            page = self._call("GET", path, params=params)
            yield from page.get("data", [])
            paging = page.get("paging") or {}
            if not paging.get("next"):
                return
            after = (paging.get("cursors") or {}).get("after")
            if not after:  # some edges page by `next` only: take its cursor, keep our own host and token
                after = parse_qs(httpx.URL(paging["next"]).query.decode()).get("after", [None])[0]
            if not after or after == params.get("after"):
                raise AdsError("paging.next without a usable after cursor", where=f"GET {path}")
            params = {**params, "after": after}

    # ------------------------------------------------------------------------------------- reading
    def get(self, object_id: str, fields: list[str]) -> dict[str, Any]:
        """The raw Graph object with these fields."""
        return self._call("GET", _object_path(object_id), params={"fields": ",".join(fields)})

    def _campaign_records(self, account_id: str, filtering: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        return [campaign_record(c, account_id)
                for c in self._paged(f"{_account_path(account_id)}/campaigns", _list_params(CAMPAIGN_FIELDS, filtering))]

    def campaigns(self, account_id: str) -> pd.DataFrame:
        """Every campaign of the account (goal/kind None for campaigns not named by ACTP)."""
        return _frame(self._campaign_records(account_id), CAMPAIGN_COLUMNS,
                      {"daily_budget": "float64", "created_at": "datetime64[ns]"})

    def _ad_set_records(self, account_id: str, filtering: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        sets = list(self._paged(f"{_account_path(account_id)}/adsets", _list_params(AD_SET_FIELDS, filtering)))
        ad_filter = [{"field": "adset.id", "operator": "IN", "value": [s["id"] for s in sets]}] if filtering else None
        creatives = creatives_by_ad_set(self._ads(account_id, ad_filter)) if sets else {}
        return [ad_set_record(s, account_id, creatives) for s in sets]

    def ad_sets(self, account_id: str) -> pd.DataFrame:
        """Every ad set of the account, with the variant and post of its ad (from the creative)."""
        return _frame(self._ad_set_records(account_id), AD_SET_COLUMNS,
                      {"daily_budget": "float64", "created_at": "datetime64[ns]"})

    def _ads(self, account_id: str, filtering: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        return list(self._paged(f"{_account_path(account_id)}/ads", _list_params(AD_FIELDS, filtering)))

    def insights(self, account_id: str, since: dt.datetime, until: dt.datetime) -> pd.DataFrame:
        """Hourly delivery per ad set, one row per (ad set, hour start in [since's hour, until)), UTC; hours
        without delivery have no row (as on Meta); each signal read by this client's `signal_actions`, and
        unknown (NaN) where Meta does not report it, as `insight_frame` says."""
        start, until, params = insights_query(since, until)
        rows = self._paged(f"{_account_path(account_id)}/insights", params)
        return insight_frame(rows, account_id, start, until, self.signal_actions)

    def find_campaign(self, account_id: str, name: str) -> dict[str, Any] | None:
        """The campaign with exactly this name (an ACTIVE one first, then the oldest), as a campaigns() row."""
        found = self._campaign_records(account_id, [{"field": "name", "operator": "EQUAL", "value": name}])
        return _first([c for c in found if c["name"] == name])

    def find_ad_set(self, account_id: str, name: str) -> dict[str, Any] | None:
        """The ad set with exactly this name (an ACTIVE one first, then the oldest), as an ad_sets() row."""
        found = self._ad_set_records(account_id, [{"field": "name", "operator": "EQUAL", "value": name}])
        return _first([s for s in found if s["name"] == name])

    # ------------------------------------------------------------------------------------- writing
    def create_campaign(self, account_id: str, *, name: str, objective: str, budget_mode: str,
                        daily_budget: float | None, status: str = "ACTIVE") -> str:
        """A campaign; CBO carries the daily budget, ABO leaves it to its ad sets. Returns its id."""
        data = campaign_params(name, objective, budget_mode, daily_budget, status)
        return str(self._call("POST", f"{_account_path(account_id)}/campaigns", data=data)["id"])

    def create_ad_set(self, account_id: str, *, campaign_id: str, name: str, variant_id: str, post_id: str,
                      daily_budget: float | None, status: str = "ACTIVE", link: str | None = None,
                      targeting: dict[str, Any] | None = None, optimization_goal: str = "LINK_CLICKS") -> str:
        """An ad set and its one ad (the post as creative, tagged with the variant, linking to `link` when
        given). Returns the ad set id. If the ad cannot be created the ad set exists without it: the error
        says so, ensure_ad completes it."""
        check_account_id(account_id)
        data = ad_set_params(name, campaign_id, daily_budget, status, targeting, optimization_goal)
        ad_set_id = str(self._call("POST", f"{_account_path(account_id)}/adsets", data=data)["id"])
        try:
            self._create_ad(account_id, ad_set_id, name=name, variant_id=variant_id, post_id=post_id, status=status,
                            link=link)
        except AdsError as e:
            e.add_note(f"ad set {ad_set_id} was created without its ad; complete it with ensure_ad")
            raise
        return ad_set_id

    def _create_ad(self, account_id: str, ad_set_id: str, *, name: str, variant_id: str, post_id: str,
                   status: str, link: str | None = None) -> str:
        data = {"name": name, "adset_id": ad_set_id, "status": status,
                "creative": self._creative(post_id, variant_id, link)}
        return str(self._call("POST", f"{_account_path(account_id)}/ads", data=data)["id"])

    def ensure_ad(self, account_id: str, ad_set_id: str, *, variant_id: str, post_id: str,
                  link: str | None = None) -> str:
        """The ad set's ad, created (with the ad set's name and status, linking to `link`) if it has none."""
        check_account_id(account_id)
        check_object_id(ad_set_id, "ad_set_id")
        ads = self._ads(account_id, [{"field": "adset.id", "operator": "EQUAL", "value": ad_set_id}])
        if ads:
            return str(min(ads, key=_age_rank)["id"])
        ad_set = self.get(ad_set_id, ["name", "status"])
        return self._create_ad(account_id, ad_set_id, name=ad_set["name"], variant_id=variant_id, post_id=post_id,
                               status=ad_set.get("status") or "ACTIVE", link=link)

    def duplicate_ad_set(self, ad_set_id: str, *, campaign_id: str, name: str, daily_budget: float | None = None,
                         status: str = "ACTIVE", resume: bool = False) -> str:
        """A deep copy (ad set + its ads, same targeting and creatives) in `campaign_id`, named `name`, with
        its budget and `status`, its ads ACTIVE when it is; returns its id. A lost copy answer is looked up
        by the copy's name, never copied again; `resume` completes what an earlier call made for `name`
        (finished, or half-made under its copy name) and copies only when there is none (meta_copy)."""
        check_object_id(ad_set_id, "ad_set_id")
        check_object_id(campaign_id, "campaign_id")
        minor = None if daily_budget is None else to_minor(daily_budget)
        return self._promote(ad_set_id, campaign_id, name, minor, status.upper(), check_object_id, resume)

    def set_budget(self, object_id: str, daily_budget: float) -> None:
        """The daily budget (dollars) of a CBO campaign or an ABO ad set."""
        self._call("POST", _object_path(object_id), data={"daily_budget": to_minor(daily_budget)})

    def set_status(self, object_id: str, status: str) -> None:
        """ACTIVE or PAUSED, for a campaign, ad set or ad."""
        self._call("POST", _object_path(object_id), data={"status": status.upper()})


# ---------------------------------------------------------------------------------------- helpers
def _account_path(account_id: Any) -> str:
    """/act_<id>, the id checked first (no request is built from a bad one)."""
    return f"/act_{check_account_id(account_id)}"


def _object_path(object_id: Any, field: str = "object_id") -> str:
    return f"/{check_object_id(object_id, field)}"


def _list_params(fields: tuple[str, ...], filtering: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The parameters of a list edge: these fields, and the filtering when there is one."""
    return {"fields": ",".join(fields), **({"filtering": filtering} if filtering else {})}



def _wire(values: dict[str, Any] | None) -> dict[str, str] | None:
    """Graph parameters as form/query strings: JSON for objects and lists, true/false for booleans."""
    if values is None:
        return None
    out = {}
    for k, v in values.items():
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, (dict, list)):
            out[k] = json.dumps(v, separators=(",", ":"))
        else:
            out[k] = str(v)
    return out


def _error(where: str, resp: httpx.Response, body: Any) -> AdsError:
    status = resp.status_code
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and isinstance(err.get("code"), int):
        return AdsError(str(err.get("message") or ""), status=status, code=err["code"],
                        subcode=err.get("error_subcode"), retryable=bool(err.get("is_transient")) or status >= 500,
                        fbtrace_id=err.get("fbtrace_id"), where=where)
    message = err.get("message") if isinstance(err, dict) else resp.text[:300]
    return AdsError(str(message or resp.reason_phrase), status=status, code=INVALID_TOKEN if status == 401 else None,
                    retryable=status >= 500 or status in (408, 429), where=where)


def _first(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not records:
        return None
    return min(records, key=lambda r: (r.get("status") != "ACTIVE", r["created_at"], r["id"]))