"""Funnel: clicks -> page views -> conversions per creative and per factor level, with cost per conversion.

The per-creative rows are the warehouse's `attribution` rows over all platforms (attribution/funnel.py defines
every number), filtered to the creatives the user sees. The per-level table is recomputed here from those same
visible rows (their factor levels from `variants`) instead of read from `attribution_factors`, which pools every
account: summing creatives is exact for the additive counts (each click, page view and conversion belongs to one
creative), the rates and the interval come from the funnel's own `attribution.funnel.rates`, and spend follows
the funnel's rule (a level's spend is known only when every creative's is, in one currency). So an account's user
gets its own levels' numbers and a "*" user gets the pooled ones, from one code path.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from starlette.requests import Request
from starlette.routing import Route

from actp_pipeline import creative
from actp_pipeline.attribution.funnel import ALL, CORE_EVENTS, ORGANIC, PAID, factor_levels, rates
from actp_pipeline.studio import charts
from actp_pipeline.studio.access import Access
from actp_pipeline.studio.memo import memo
from actp_pipeline.studio.scope import keep_visible, visible_variants
from actp_pipeline.studio.web import Studio, page

EVENT = re.compile(r"^(\*|[a-z][a-z0-9_]{0,63})$")  # the funnel's event names (or "*": any conversion)
CHANNELS = (ALL, ORGANIC, PAID)
PAGE_ROWS = 50
SUMS = ["posts", "clicks", "page_views", "landed_clicks", "conversions", "converting_clicks"]
NUMBERS = [*SUMS, "conversion_rate", "rate_low", "rate_high", "spend", "spend_currency", "cost_per_conversion"]


def read_cached(studio: Studio, table: str, sql: str | None = None, columns: list[str] | None = None) -> pd.DataFrame:
    """A warehouse read (the whole table, some columns, or `sql` over it), memoised on the table's files."""
    return memo(studio.warehouse, [table], ("read", table, sql, tuple(columns or ())),
                lambda: studio.warehouse.query(sql, tables={table: None}) if sql is not None
                else studio.warehouse.read(table, columns=columns))


def scope_key(visible: set[str] | None) -> str:
    """A digest of the visible creatives (None: all), so a memoised answer is never shared across scopes."""
    if visible is None:
        return "*"
    return hashlib.sha256("\n".join(sorted(visible)).encode()).hexdigest()


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with every missing value None (pandas' NA has no truth value, so a template cannot test it)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _params(request: Request) -> tuple[str, str, int]:
    """event, channel and page from the query; a bad value is a ValueError naming the field (a 400)."""
    q = request.query_params
    event, channel = q.get("event", ALL) or ALL, q.get("channel", ALL) or ALL
    if not EVENT.match(event):
        raise ValueError(f"event: {event!r} is not an event name (lower case letters, digits and _, or * for any)")
    if channel not in CHANNELS:
        raise ValueError(f"channel: {channel!r} is not one of {', '.join(CHANNELS)}")
    raw = q.get("page", "1") or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"page: {raw!r} is not a page number (1, 2, ...)")
    return event, channel, int(raw)


def _creative_rows(studio: Studio, event: str, channel: str) -> pd.DataFrame:
    """The all-platform rows of one event and channel (values checked by _params, so safe as SQL literals)."""
    sql = f"SELECT * FROM attribution WHERE platform = '{ALL}' AND channel = '{channel}' AND event = '{event}'"
    return read_cached(studio, "attribution", sql)


def _events(studio: Studio) -> list[str]:
    seen = read_cached(studio, "attribution", "SELECT DISTINCT event FROM attribution")
    names = set(seen["event"].dropna().astype(str))
    return [ALL, *CORE_EVENTS, *sorted(names - set(CORE_EVENTS) - {ALL})]


def _revenue_columns(rows: pd.DataFrame) -> list[str]:
    return sorted(c for c in rows.columns if c.startswith("revenue_") and not c.startswith("revenue_per_click_"))


def _levels(studio: Studio, variant_ids: pd.Series) -> pd.DataFrame:
    """(variant_id, factor, level) of the given creatives, from the warehouse's variants (their factor columns)."""
    files = studio.warehouse.files("variants")
    have = set().union(*(pq.read_schema(f).names for f in files)) if files else set()
    wanted = [c for c in ("variant_id", *creative.FACTORS, "length_s") if c in have]
    if "variant_id" not in wanted:
        return factor_levels(None)
    v = read_cached(studio, "variants", columns=wanted)
    return factor_levels(v[v["variant_id"].astype(str).isin(set(variant_ids.astype(str)))])


def by_level(rows: pd.DataFrame, levels: pd.DataFrame) -> pd.DataFrame:
    """The funnel per (factor, level) over the given per-creative rows."""
    revenue = _revenue_columns(rows)
    long = levels.merge(rows[["variant_id", *SUMS, "spend", "spend_currency", *revenue]], on="variant_id")
    if long.empty:
        return pd.DataFrame(columns=["factor", "level", "creatives", *NUMBERS, "landing_rate", *revenue])
    long["spend"] = pd.to_numeric(long["spend"], errors="coerce")
    g = long.groupby(["factor", "level"], sort=True)
    out = g[[*SUMS, *revenue]].sum()
    out["creatives"] = g["variant_id"].nunique()
    ok = (g["spend"].count() == g.size()) & (g["spend_currency"].nunique() == 1)
    out["spend"] = g["spend"].sum().where(ok)
    out["spend_currency"] = g["spend_currency"].first().where(ok)
    return rates(out.reset_index())


def _totals(rows: pd.DataFrame) -> dict[str, Any]:
    sums = {c: int(rows[c].sum()) for c in SUMS}
    spend = pd.to_numeric(rows["spend"], errors="coerce")
    currencies = rows["spend_currency"].dropna().unique()
    known = len(rows) > 0 and bool(spend.notna().all()) and len(currencies) == 1
    total = float(spend.sum()) if known else math.nan
    sums["spend"] = total
    sums["spend_currency"] = str(currencies[0]) if known else ""
    sums["cost_per_conversion"] = total / sums["conversions"] if known and sums["conversions"] else math.nan
    sums["conversion_rate"] = sums["converting_clicks"] / sums["clicks"] if sums["clicks"] else math.nan
    sums["revenue"] = {c.removeprefix("revenue_"): float(rows[c].sum()) for c in _revenue_columns(rows)}
    return sums


def _page_of(rows: pd.DataFrame, number: int) -> tuple[list[dict[str, Any]], int]:
    pages = max(math.ceil(len(rows) / PAGE_ROWS), 1)
    if number > pages:
        raise ValueError(f"page: {number} is past the last page ({pages})")
    ordered = rows.sort_values(["conversions", "clicks", "variant_id"], ascending=[False, False, True],
                               kind="stable")
    chunk = ordered.iloc[(number - 1) * PAGE_ROWS: number * PAGE_ROWS]
    return records(chunk), pages


def _answer(studio: Studio, rows: pd.DataFrame, event: str, channel: str, number: int) -> dict[str, Any]:
    """The page's numbers over the visible rows of one event and channel."""
    page_rows, pages = _page_of(rows, number)
    totals = _totals(rows)
    svg = charts.funnel(f"event {event}, channel {channel}: {len(rows):,} creatives",
                        ["clicks", "page views", "conversions"],
                        [totals["clicks"], totals["page_views"], totals["conversions"]])
    levels = by_level(rows, _levels(studio, rows["variant_id"])) if studio.warehouse.exists("variants") \
        else pd.DataFrame()
    missing_levels = ("No factor levels: the warehouse has no variants with factor columns for these creatives."
                      if levels.empty else None)
    return {"missing": None, "rows": page_rows, "page": number, "pages": pages, "n_creatives": len(rows),
            "totals": totals, "svg": svg, "revenue": [c.removeprefix("revenue_") for c in _revenue_columns(rows)],
            "levels": records(levels), "levels_missing": missing_levels}


def _scoped(studio: Studio, visible: set[str] | None, event: str, channel: str, number: int) -> dict[str, Any]:
    rows = keep_visible(_creative_rows(studio, event, channel), visible)
    if rows.empty:
        return {"missing": "No creative you can see has funnel numbers for this event and channel."}
    return _answer(studio, rows, event, channel, number)


def build(studio: Studio, access: Access, request: Request) -> dict[str, Any]:
    event, channel, number = _params(request)
    base = {"event": event, "channel": channel, "channels": CHANNELS, "events": [ALL, *CORE_EVENTS], "page": 1,
            "pages": 1, "rows": [], "levels": [], "levels_missing": None, "revenue": [], "svg": None,
            "totals": None, "n_creatives": 0, "page_rows": PAGE_ROWS}
    if not studio.warehouse.exists("attribution"):
        return {**base, "missing": "No attribution yet: the loop writes it once tracked links have been clicked."}
    base["events"] = _events(studio)
    visible = visible_variants(studio.engine, access)
    found = memo(studio.warehouse, ["attribution", "variants"], ("funnel", scope_key(visible), event, channel, number),
                 lambda: _scoped(studio, visible, event, channel, number))
    return {**base, **found}


ROUTES = [Route("/funnel", page("funnel.html", build), methods=["GET"])]
