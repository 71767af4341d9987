"""How each ACTP core signal is read from Meta's ad insights: one table (SIGNALS), and the reading of one row.

Why: ACTP's goals name their core signal in ACTP's words (goals.DEFAULT_CORE_SIGNALS: smartlink_click,
presave_complete, thruplay, profile_view, lead, link_click); Meta reports what its pixel, lead forms and
video player count, under its own names. Reading a column because its name happens to equal an ACTP signal
would, against a real account, read 0 smart-link clicks for every ad set (Meta has no such action type)
and pause the whole streams goal after $10. So every signal says here where it comes from, and a signal
the account does not report is unknown (NaN), never 0: the orchestrator (ads/plan/inputs.py) keeps NaN
per row and neither pauses nor scales an ad set on it.

References (Meta for Developers):
- Ads Insights API, and its `actions` / `video_thruplay_watched_actions` fields:
  https://developers.facebook.com/documentation/ads-commerce/marketing-api/insights
- Ads Action Stats (one entry of `actions`: action_type, value):
  https://developers.facebook.com/docs/marketing-api/reference/ads-action-stats/
- Custom Conversions (an account's own conversion events; reported as `offsite_conversion.custom.<id>`):
  https://developers.facebook.com/docs/marketing-api/reference/custom-conversion

The table (Meta):
  thruplay          <- the `video_thruplay_watched_actions` field (a list of {"action_type": "video_view",
                       "value"}); Meta never reports an action named "thruplay"
  link_click        <- action_type link_click
  landing_page_view <- action_type landing_page_view (a link click whose destination page then loaded)
  lead              <- action_type lead: Meta's aggregate of the detailed lead types, website leads of the
                       pixel (offsite_conversion.fb_pixel_lead) and leads of Meta's instant forms
                       (onsite_conversion.lead_grouped) (as recalled: the reference pages above, as stored
                       for this change, do not spell the aggregation out); read the aggregate, never the
                       parts as well, or a lead is counted twice
  profile_view, smartlink_click, presave_complete
                    <- a custom conversion the account configures (a pixel event or URL rule on the smart
                       link / pre-save page), reported as action_type `offsite_conversion.custom.<id>`: not
                       a Meta action type of its own, so unknown until mapped

Mapping a custom signal: pass `signal_actions={"smartlink_click": "offsite_conversion.custom.<id>"}` (or
just the id, "<id>") to MetaAdsClient / MetaSdkAdsClient; <id> is the custom conversion's id (GET
/act_<account>/customconversions lists them). Any known signal but thruplay can be re-pointed the same way
(e.g. {"lead": "offsite_conversion.fb_pixel_lead"}). The mapping belongs to the client (one per account
setup), never to the process. Against the sandbox (a loopback base URL) the custom signals default to the
sandbox's stand-in action names (smartlink_click, profile_view, presave_complete); against any other host
an unmapped custom signal is NaN in every row.

Within a row: Meta lists in `actions` only the action types that happened, so a mapped action type a row
does not list is 0. ThruPlays keep their own rule (the field, not an action): an hour without the field in
an ad set whose other hours report it is 0, and NaN when none of the ad set's hours does (`fill_thruplay`).
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

THRUPLAY_FIELD = "video_thruplay_watched_actions"
ACTIONS_FIELD = "actions"
CUSTOM_PREFIX = "offsite_conversion.custom."
_ACTION_TYPE_RE = re.compile(r"[a-z0-9_.]{1,128}")


@dataclass(frozen=True)
class Source:
    """Where Meta reports one ACTP signal: a field of the insight row, and for `actions` the action_type in
    it (None: the account must name it, a custom conversion). `custom` marks signals only an account's own
    conversion can report."""

    field: str
    action_type: str | None = None
    custom: bool = False


# The table: ACTP core signal -> Meta's source (column order of the insights frame)
SIGNALS: Mapping[str, Source] = MappingProxyType({
    "thruplay": Source(THRUPLAY_FIELD),
    "link_click": Source(ACTIONS_FIELD, "link_click"),
    "smartlink_click": Source(ACTIONS_FIELD, None, custom=True),
    "profile_view": Source(ACTIONS_FIELD, None, custom=True),
    "presave_complete": Source(ACTIONS_FIELD, None, custom=True),
    "lead": Source(ACTIONS_FIELD, "lead"),
    "landing_page_view": Source(ACTIONS_FIELD, "landing_page_view"),
})
ACTION_TYPES = tuple(SIGNALS)  # the signal columns of every insights frame
CUSTOM_SIGNALS = tuple(s for s, src in SIGNALS.items() if src.custom)
# the sandbox reports its stand-ins for the custom conversions under the signals' own names
SANDBOX_SIGNAL_ACTIONS: Mapping[str, str] = MappingProxyType({s: s for s in CUSTOM_SIGNALS})


def is_loopback(base_url: str) -> bool:
    """True for a base URL on this machine (127.0.0.0/8, ::1, localhost): the sandbox, never Meta."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def signal_table(signal_actions: Mapping[str, str | None] | None = None, *,
                 base_url: str | None = None) -> Mapping[str, str | None]:
    """ACTP signal -> the action_type it is read from (None: not reported, NaN), for every signal read from
    `actions`: the table's defaults, then the sandbox's stand-ins when `base_url` is loopback, then
    `signal_actions` ({signal: action_type, or a bare custom conversion id}). Refuses (ValueError) an
    unknown signal, thruplay (a field, not an action), or a malformed action type."""
    table: dict[str, str | None] = {s: src.action_type for s, src in SIGNALS.items() if src.field == ACTIONS_FIELD}
    if base_url is not None and is_loopback(base_url):
        table.update(SANDBOX_SIGNAL_ACTIONS)
    for signal, action in (signal_actions or {}).items():
        if signal not in table:
            raise ValueError(f"signal_actions: {signal!r} is not a signal read from Meta's actions; "
                             f"use one of {sorted(table)}")
        table[signal] = _action_type(signal, action)
    return MappingProxyType(table)


def _action_type(signal: str, action: Any) -> str | None:
    if action is None:
        return None
    action = str(action).strip()
    if action.isdigit():  # a custom conversion's id
        return CUSTOM_PREFIX + action
    if not _ACTION_TYPE_RE.fullmatch(action):
        raise ValueError(f"signal_actions: {signal!r} -> {action!r} is not a Meta action type "
                         f"(e.g. {CUSTOM_PREFIX}<custom conversion id>)")
    return action


def read_signals(row: Mapping[str, Any], table: Mapping[str, str | None]) -> tuple[dict[str, float], dict[str, float]]:
    """(signal -> count, other action_type -> count) of one insight row under `table` (signal_table's).

    A signal whose action type is mapped counts that type (0 when the row does not list it: Meta leaves out
    what did not happen); an unmapped one is NaN; thruplay sums THRUPLAY_FIELD and is NaN without it (see
    fill_thruplay). Action types no signal reads are returned apart, except those named like an ACTP signal
    (e.g. "thruplay", or "smartlink_click" when it is not the mapped source): they are not Meta's."""
    by_type: dict[str, float] = {}
    for action in row.get(ACTIONS_FIELD) or []:
        if isinstance(action, Mapping) and action.get("action_type"):
            name = str(action["action_type"])
            by_type[name] = by_type.get(name, 0.0) + float(action.get("value") or 0)
    counts = {s: (by_type.get(a, 0.0) if a else math.nan) for s, a in table.items()}
    watched = row.get(THRUPLAY_FIELD)
    counts["thruplay"] = (sum(float(a.get("value") or 0) for a in watched if isinstance(a, Mapping))
                          if isinstance(watched, list) else math.nan)
    read = {a for a in table.values() if a}
    other = {n: v for n, v in by_type.items() if n not in read and n not in SIGNALS}
    return {s: counts[s] for s in ACTION_TYPES}, other


def fill_thruplay(records: Iterable[dict[str, Any]], key: str = "ad_set_id") -> None:
    """ThruPlays as Meta omits them: in place, a row without the field gets 0 when another row of its ad set
    reports it (an hour without ThruPlays), and stays NaN when none does (not reported at all)."""
    records = list(records)
    reported = {r[key] for r in records if not math.isnan(r["thruplay"])}
    for r in records:
        if r[key] in reported and math.isnan(r["thruplay"]):
            r["thruplay"] = 0.0
