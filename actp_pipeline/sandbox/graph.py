"""The Meta Marketing (Graph) API's dialect as the sandbox speaks it: rules, errors, parameters, cursors.

Framework-free: routes/ads.py serves it over HTTP, ads_objects.py and ads_world.py hold the objects and
the world behind it.

Why: the ads orchestrator talks to Meta through `actp_pipeline.ads.meta.MetaAdsClient` (httpx) or
`actp_pipeline.ads.meta_sdk.MetaSdkAdsClient` (Meta's own SDK, `facebook-business`). Serving Meta's paths,
parameters, objects, error bodies and rate-limit signals here lets the pipeline, and the official SDK
unchanged (only its base URL overridden, `FacebookSession.GRAPH = "<sandbox url>/graph"`), rehearse a
testing strategy against a seeded world; a real account is just another base URL and token.
tests/contract/ drives the sandbox with the SDK and checks its answers against documented examples.

Auth: the key as `access_token` (query string or form body: what the SDKs send) or `Authorization: Bearer`.
A missing token is HTTP 400 code 104, a wrong one HTTP 400 code 190 (OAuthException), as on Meta.

Endpoints (prefix /graph/v<major>.<minor>, e.g. /graph/v21.0)
---------------------------------------------------------------
  POST     /                       batch=[{method, relative_url, body}] (at most 50) -> [{code, headers, body}]
  GET      /act_{acc}              the ad account (currency USD, timezone_name UTC)
  GET|POST /act_{acc}/campaigns    list / create (name, objective, status, daily_budget = CBO, or lifetime_budget
                                   with stop_time, bid_strategy, special_ad_categories)
  GET|POST /act_{acc}/adsets       list / create (name, campaign_id, daily_budget or lifetime_budget + end_time
                                   iff ABO, start_time, end_time, targeting, bid_strategy, bid_amount, ...)
  GET|POST /act_{acc}/adcreatives  list / create (name, object_story_id = a published post, url_tags, call_to_action)
  GET|POST /act_{acc}/ads          list / create (name, adset_id, status, creative {"creative_id"} or an inline
                                   spec {object_story_id, url_tags}, which makes a creative too)
  GET|POST /act_{acc}/insights     GET: rows; POST: an async job -> {"report_run_id"}
  GET|POST /{id}                   read (fields=..., creative{object_story_id,url_tags}) / update name, status
                                   (ACTIVE, PAUSED, ARCHIVED, DELETED), budgets, end/stop time, bid -> {"success"}
  DELETE   /{id}                   status DELETED -> {"success": true} (the object stays readable)
  GET      /{campaign}/adsets, /{campaign}/ads, /{adset}/ads   the object's children
  GET|POST /{campaign|adset|ad}/insights   that object's rows (level defaults to the object's) / async job
  GET      /{report_run_id}        async_status ("Job Running" 50% on the first read, then "Job Completed" 100%)
  GET      /{report_run_id}/insights        the job's rows (of the moment it was asked for)
  POST     /{adset_id}/copies      campaign_id, deep_copy, status_option, rename_options
                                   (+ sandbox conveniences: name, daily_budget) -> {"copied_adset_id": ...,
                                   "ad_object_ids": [{"ad_object_type": "ad_set" | "ad", "source_id", "copied_id"}]}
  GET      /sandbox/truth/ads          (X-Truth-Token) true rates and spend per ad set, for evaluation only

Insights: level account | campaign | adset | ad; fields (without it Meta's default: impressions, spend, plus
date_start/date_stop); time_range, else date_preset (today, yesterday, last_3d/7d/14d/28d/30d/90d,
this/last_month, this/last_quarter, this/last_year, this_week_*, last_week_*, maximum), else last_30d;
time_increment 1 | all_days; breakdowns=hourly_stats_aggregated_by_advertiser_time_zone. Rows carry spend,
impressions, clicks, inline_link_clicks, cpm, ctr, cpc, actions, cost_per_action_type, and ThruPlays as
Meta reports them: `video_thruplay_watched_actions` = [{"action_type": "video_view", "value"}] (with
cost_per_thruplay), never an action named "thruplay". Lists and values without events are left out.

Where the rest of the dialect lives: parameters (how POST bodies and query strings are read) in
graph_params.py; fields, filtering and paging in graph_listing.py; times and insights periods in
graph_times.py; the error bodies and the table of codes and subcodes in graph_errors.py; the rate-limit
signals (usage headers, call budget) in ads_usage.py and the budget change limit in ads_budgets.py. This
module keeps the rules of the ads objects and re-exports those modules' names, which callers import from
here.

Where the sandbox still differs from Meta (deliberately, or not modelled):
- ad accounts `act_<[A-Za-z0-9_-]{1,64}>` are provisioned on first write (reading an unused one gives empty
  lists); the account time zone is UTC and the currency USD; money is in minor units (cents);
- without `fields`, an object read returns every field (Meta returns only the id): clients should name
  their fields; unknown field names are ignored (Meta answers code 100);
- an unknown object is HTTP 404 (Meta: 400 with the same code 100 / subcode 33); the sandbox's subcodes
  (1001-1008, 1701) are its own, Meta's are many and undocumented as a list; error_user_title/msg are
  present on every validation error (Meta sends them on many, not all);
- an empty list answers {"data": [], "paging": {}} (Meta usually leaves paging out);
- `object_story_id` is a sandbox post id (Publishing's), not "<page id>_<post id>"; a creative is only
  object_story_id (or an Instagram media) + url_tags + call_to_action (no object_story_spec, asset feeds,
  images, videos); creatives cannot be updated or deleted;
- a copy takes `name` and `daily_budget` (Meta's /copies takes neither); only ad sets can be copied;
- insights: breakdowns other than the hourly one, action_breakdowns, attribution windows, reach,
  frequency, video_view (3-second views) and filtering on insights are not modelled; level=ad needs ad sets
  with one ad (the world delivers per ad set); the action types smartlink_click, profile_view and
  presave_complete are ACTP's stand-ins for custom conversions (Meta would report offsite_conversion.*);
- a campaign lifetime budget needs a stop_time on the campaign (Meta takes the end from its ad sets); a
  lifetime budget is paced evenly over [start, end) and a change re-spreads the whole amount;
- async jobs complete on their second read; batch calls cannot refer to each other's results
  (`{result=name:$.id}`), take no `attached_files`, and `include_headers` is ignored;
- rate limits count calls only (not CPU or time) in real time; the usage headers are on every call, not
  only once usage is noticeable; apps, users, pages (X-App-Usage) are not limited.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from .graph_errors import (  # noqa: F401 - names of this module before the split
    ACCOUNT_LIMIT,
    INVALID,
    INVALID_TOKEN,
    NO_TOKEN,
    RATE_LIMIT,
    SUB_ACCOUNT,
    SUB_ACCOUNT_LIMIT,
    SUB_BUDGET_CHANGES,
    SUB_BUDGET_LEVEL,
    SUB_CURSOR,
    SUB_DELETED,
    SUB_INVALID,
    SUB_JSON,
    SUB_MIN_BUDGET,
    SUB_MISSING,
    SUB_UNKNOWN_OBJECT,
    UNKNOWN_PATH,
    USER_TITLES,
    GraphError,
    as_graph_error,
    invalid,
    unknown_object,
)
from .graph_listing import (  # noqa: F401 - names of this module before the split
    DEFAULT_LIMIT,
    FILTER_FIELDS,
    FILTER_OPERATORS,
    MAX_LIMIT,
    cursor_of,
    cursor_value,
    page_limit,
    param_fields,
    pick,
    predicate,
    subfields,
)
from .graph_params import (  # noqa: F401 - names of this module before the split
    _BUDGET_DIGITS,
    MAX_DAILY_BUDGET,
    MAX_NAME,
    MIN_DAILY_BUDGET,
    graph_params,
    param_bool,
    param_budget,
    param_enum,
    param_id,
    param_json,
    param_str,
)
from .graph_times import (  # noqa: F401 - names of this module before the split
    date_preset,
    graph_time,
    insights_period,
    param_time,
    time_range,
)

# ------------------------------------------------------------------------------------ the rules
# (the budget bounds MIN_DAILY_BUDGET and MAX_DAILY_BUDGET live with their parser, graph_params.py)
BUDGET_CHANGE_LIMIT = 4  # budget changes of one object ...
BUDGET_CHANGE_WINDOW_S = 3600.0  # ... within any rolling 60 simulated minutes
OBJECTIVES = ("OUTCOME_AWARENESS", "OUTCOME_TRAFFIC", "OUTCOME_ENGAGEMENT", "OUTCOME_LEADS",
              "OUTCOME_APP_PROMOTION", "OUTCOME_SALES")
STATUSES = ("ACTIVE", "PAUSED")  # what a new object may be created with
UPDATE_STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED", "DELETED")  # what an update may set (DELETE = DELETED)
BID_STRATEGIES = ("LOWEST_COST_WITHOUT_CAP", "LOWEST_COST_WITH_BID_CAP", "COST_CAP", "LOWEST_COST_WITH_MIN_ROAS")
BID_AMOUNT_STRATEGIES = ("LOWEST_COST_WITH_BID_CAP", "COST_CAP")  # these need a bid_amount
INSIGHT_LEVELS = ("account", "campaign", "adset", "ad")
DEFAULT_INSIGHT_FIELDS = ("impressions", "spend")  # Meta's answer to an insights call without `fields`
MAX_BATCH = 50  # Meta's limit of requests in one batch call
STATUS_OPTIONS = ("ACTIVE", "PAUSED", "INHERITED_FROM_SOURCE")
RENAME_STRATEGIES = ("DEEP_RENAME", "ONLY_TOP_LEVEL_RENAME", "NO_RENAME")
HOURLY = "hourly_stats_aggregated_by_advertiser_time_zone"
ID_BASE = 120_210_000_000_000_000  # ids look like Meta's 18-digit ids
ACCOUNT_RE = re.compile(r"^act_[A-Za-z0-9_-]{1,64}$")


def created_change(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """The change-log row of a new object: its initial status and budget."""
    return row["id"], "create", json.dumps({"status": row["status"], "daily_budget": row.get("daily_budget")})


def check_budget_level(campaign: Mapping[str, Any], budget: int | None) -> None:
    if campaign["daily_budget"] is not None and budget is not None:
        raise invalid(f"campaign {campaign['id']} uses campaign budget optimization (CBO): its ad sets take no "
                      "daily_budget", SUB_BUDGET_LEVEL, "daily_budget")
    if campaign["daily_budget"] is None and budget is None:
        raise invalid(f"campaign {campaign['id']} uses ad set budgets (ABO): daily_budget is required",
                      SUB_BUDGET_LEVEL, "daily_budget")


def utm_content(ad: Mapping[str, Any]) -> str | None:
    tags = parse_qs((ad.get("creative") or {}).get("url_tags") or "")
    return tags.get("utm_content", [None])[0]
