"""Attribute: post -> link -> click -> page view -> conversion -> creative factors, as pure frames.

Inputs are the hooks service's tables (links, clicks, page_views, conversions), the posts ledger, the
variants with their factor columns and, optionally, spend. Output (`attribute`) is one frame per creative,
one per factor level and one per post, all long in the conversion event:

- `creatives`: one row per (variant_id, platform, event). `platform == ALL` ("*") is the creative over
  all its platforms; the other rows split it by platform (sum only one of the two, never both). Its
  `channel` is ALL: every click, an organic post's or a paid ad's.
- `channels`: the same rows split by channel (`channel` 'organic': the posts' tracked links; 'paid': the
  links the ads executor gives ads, ads/ad_links.py; a link's channel column, 'organic' when absent): one
  row per (variant_id, platform, channel, event) for each channel the creative has there. Its organic and
  paid rows add up to the creatives row of the same variant, platform and event (sum the channels or take
  the ALL row, never both). Spend, when given per channel (the ads' spend is the paid channel's,
  paid_spend.py), makes the paid rows' cost per conversion; a row mixing channels has unknown spend.
- `factors`: one row per (factor, level, event): the same numbers over every creative carrying the level.
- `posts`: one row per (idempotency_key, event): the post's own funnel (POST_COLUMNS), with its variant_id,
  platform, channel, account, external_id and live_at. Its rows are the posts of the ledger and the tracked
  links whose post the ledger does not hold (yet), among them the ads' links (channel 'paid', key
  "ad:<ads platform>:<account>:<variant>"): `in_ledger` tells them apart (identity from the link then:
  no external_id, no live_at). No spend columns: spend is not known per post. This is the frame the
  conversion effects read (attribution/conversion_effects.py: converting_clicks of clicks per post).
- `event == ALL` counts a conversion of any event; the other rows count one event each. The core events
  (CORE_EVENTS: lead, signup, purchase) always have rows, so readers find them at 0; other events a page
  or server sends get rows when seen. Rows per event rather than columns per event because event names
  are free text ([a-z][a-z0-9_]*): `conversion_rate_<event>` columns could collide with each other
  (an event named "low"), a row cannot; "*" is neither a platform nor a valid event name.

What each number is:
- posts: posts in the ledger; links: tracked links (one per post that has one).
- clicks: human clicks on the links. Clicks whose user agent is a link-preview crawler or an HTTP
  library (BOT_AGENTS) are not clicks of a person: they are counted in `bot_clicks` and left out of every
  rate, as are their page views and conversions (`bot_conversions`). A click without a user agent counts
  as human: only the listed agents are excluded, nothing is guessed.
- visitors: distinct visitor hashes among the clicks. The hooks service salts the hash per process life,
  so one person clicking before and after a restart counts twice: an upper bound.
- page_views, landed_clicks (clicks with >= 1 page view) and landing_rate = landed_clicks / clicks.
- conversions: distinct dedupe keys (one sale reported by the page, the server and Stripe under one key is
  one row: hooks/events.store_conversion);
  converting_clicks: clicks with >= 1 conversion of the row's event (a click's conversions count once for
  the rate, so a repeat buyer does not push a rate past 1); conversion_rate = converting_clicks / clicks
  with its `interval_level` (95%) interval [rate_low, rate_high] (`rate_interval`).
- revenue_<CUR>: the sum of the conversions' values in currency CUR, one column per currency seen (wide
  on currency: amounts in different currencies are never added; no exchange rate is assumed);
  revenue_per_click_<CUR> = revenue_<CUR> / clicks.
- spend (with spend_currency) and cost_per_conversion = spend / conversions, known only where the spend
  of every creative of the row is known in one currency (a creative missing from `spend` is unknown,
  not free).
- Unknown is NaN, never 0: a row with 0 clicks has no rate (NaN, not 0%), a row without known spend or
  without conversions has no cost per conversion.
- first_click_at, last_click_at, last_conversion_at: the row's attributed events, bots included.

A conversion whose click id is unknown (or whose click's link is unknown) belongs to no creative: it is
counted in `totals["unattributed"]` (and its revenue in `totals["unattributed_revenue"]`), never spread.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from actp_pipeline import creative
from actp_pipeline.stats.posterior import beta_interval

ALL = "*"  # the platform of a creative's all-platform rows, the event of "any conversion", every channel
ORGANIC, PAID = "organic", "paid"  # a link's channel (hooks/links.py): a post's, or an ad's
CORE_EVENTS = ("lead", "signup", "purchase")
INTERVAL_MASS = 0.95
JEFFREYS = 0.5  # Beta(1/2, 1/2)

# Link-preview crawlers and HTTP libraries: they fetch a link when it is pasted or shared (or a script
# tests it), no person clicked. Matched as case-insensitive substrings of the user agent. The in-app
# browsers of the same apps send other agents (Instagram's "Instagram 300.0", X's "Twitter for iPhone",
# LinkedIn's "LinkedInApp"), which do not match, so a person reading in the app is still a click.
BOT_AGENTS = (
    "facebookexternalhit", "Facebot",  # Facebook, Instagram and Messenger previews (iMessage sends these too)
    "Twitterbot", "Slackbot", "Slack-ImgProxy", "TelegramBot", "WhatsApp", "Discordbot", "LinkedInBot",
    "Pinterestbot", "redditbot", "SkypeUriPreview", "Googlebot", "bingbot",
    "curl/", "Wget/", "python-httpx/", "python-requests/", "Go-http-client/",
)
BOT_RE = re.compile("|".join(re.escape(a) for a in BOT_AGENTS), re.IGNORECASE)

COUNTS = ["posts", "links", "clicks", "bot_clicks", "visitors", "page_views", "landed_clicks", "conversions",
          "converting_clicks", "bot_conversions"]
COLUMNS = ["event", "posts", "links", "clicks", "bot_clicks", "visitors", "page_views", "landed_clicks",
           "landing_rate", "conversions", "converting_clicks", "conversion_rate", "rate_low", "rate_high",
           "interval_level", "bot_conversions", "spend", "spend_currency", "cost_per_conversion", "first_click_at",
           "last_click_at", "last_conversion_at"]
CREATIVE_KEYS = ["variant_id", "platform"]
CHANNEL = "channel"
FACTOR_KEYS = ["factor", "level"]
_TIMES = ["first_click_at", "last_click_at", "last_conversion_at"]
# the columns each input needs (the store's tables have more; load.py reads these)
NEEDS = {"links": ["slug", "idempotency_key", "variant_id", "platform"],
         "clicks": ["click_id", "slug", "at", "user_agent", "visitor"],
         "page_views": ["click_id"],
         "conversions": ["dedupe_key", "click_id", "event", "value", "currency", "at"],
         "posts": ["idempotency_key", "variant_id", "platform"]}
# columns taken when an input has them (None otherwise): the post's identity in the per-post frame
OPTIONAL = {"links": ["account", CHANNEL], "posts": ["account", "external_id", "live_at"]}
POST_KEYS = ["idempotency_key"]
POST_IDENTITY = ["variant_id", "platform", CHANNEL, "account", "external_id", "live_at", "in_ledger"]
_NO_SPEND = ["posts", "spend", "spend_currency", "cost_per_conversion"]  # not per post
POST_COLUMNS = [c for c in COLUMNS if c not in _NO_SPEND]


@dataclass(frozen=True)
class Attribution:
    creatives: pd.DataFrame  # per (variant_id, platform, event); channel ALL
    factors: pd.DataFrame  # per (factor, level, event)
    totals: dict = field(default_factory=dict)
    posts: pd.DataFrame = field(default_factory=pd.DataFrame)  # per (idempotency_key, event)
    channels: pd.DataFrame = field(default_factory=pd.DataFrame)  # per (variant_id, platform, channel, event)


@dataclass(frozen=True)
class _Joined:
    """The funnel joined: every frame carries the creative (variant_id, platform) of its row."""

    posts: pd.DataFrame  # idempotency_key (+ OPTIONAL["posts"])
    links: pd.DataFrame  # slug, idempotency_key (+ OPTIONAL["links"])
    clicks: pd.DataFrame  # click_id, idempotency_key (of its link's post), at, visitor, bot, page_views, landed
    conversions: pd.DataFrame  # dedupe_key, click_id, idempotency_key, event, value, currency, at, bot
    unattributed: pd.DataFrame  # conversions tied to no known click of a known link
    unattributed_clicks: int

    def with_levels(self, levels: pd.DataFrame) -> _Joined:
        """Each row once per factor level of its creative (creatives without factors drop out)."""
        def on(f: pd.DataFrame) -> pd.DataFrame:
            return f.merge(levels, on="variant_id", how="inner")
        return replace(self, posts=on(self.posts), links=on(self.links), clicks=on(self.clicks),
                       conversions=on(self.conversions))


def is_bot(user_agents: pd.Series) -> pd.Series:
    """True where the user agent is one of BOT_AGENTS (a missing agent is not a bot)."""
    return user_agents.astype(object).where(user_agents.notna(), "").astype(str).str.contains(BOT_RE)


def rate_interval(k, n, mass: float = INTERVAL_MASS) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed Jeffreys interval for k successes in n trials: the `mass` interval of Beta(k + 1/2,
    n - k + 1/2) (stats.posterior.beta_interval), with the lower end 0 at k = 0 and the upper end 1 at
    k = n (Brown, Cai & DasGupta 2001). NaN where n = 0: no clicks, no rate.

    Why Jeffreys: conversion rates are small (a few %) and a creative has tens to hundreds of clicks, where
    the Wald interval covers far less than its level and Clopper-Pearson far more; Jeffreys' coverage stays
    close to 95% on average over n (tests/core/test_attribution_funnel.py simulates it), it never leaves
    [0, 1], and it is the Beta posterior the rest of the loop reads rates with (stats/hierarchy.py's prior).
    The interval is the creative's own: no pooling across creatives (scores does that for engagement)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    lo, hi = np.full(k.shape, np.nan), np.full(k.shape, np.nan)
    ok = n > 0
    if ok.any():
        kk, nn = k[ok], n[ok]
        low, high = beta_interval(kk + JEFFREYS, nn - kk + JEFFREYS, mass)
        lo[ok], hi[ok] = np.where(kk <= 0, 0.0, low), np.where(kk >= nn, 1.0, high)
    return lo, hi


def _columns(df: pd.DataFrame | None, name: str) -> pd.DataFrame:
    need, optional = NEEDS[name], OPTIONAL.get(name, [])
    if df is None or (df.empty and not set(need) <= set(df.columns)):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in [*need, *optional]})
    missing = [c for c in need if c not in df]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {missing}")
    out = df[need + [c for c in optional if c in df]].copy()
    for c in optional:
        if c not in out:
            out[c] = None
    return out


def join_funnel(links, clicks, page_views, conversions, posts) -> _Joined:
    """Clicks onto their links' creatives, page views and conversions onto their clicks."""
    links, clicks = _columns(links, "links"), _columns(clicks, "clicks")
    page_views, conversions = _columns(page_views, "page_views"), _columns(conversions, "conversions")
    posts = _columns(posts, "posts").drop_duplicates("idempotency_key").assign(**{CHANNEL: ORGANIC})
    links[CHANNEL] = links[CHANNEL].where(links[CHANNEL].notna(), ORGANIC).astype(object)
    lk = links.drop_duplicates("slug")[["slug", *POST_KEYS, *CREATIVE_KEYS, CHANNEL]]
    c = clicks[clicks["click_id"].notna()].drop_duplicates("click_id").merge(lk, on="slug", how="left")
    known = c["variant_id"].notna()
    c = c[known].copy()
    c["at"] = pd.to_datetime(c["at"])
    c["bot"] = is_bot(c["user_agent"]).astype(bool)
    views = page_views.groupby("click_id").size()
    c["page_views"] = c["click_id"].map(views).fillna(0).astype("int64")
    c["landed"] = c["page_views"] > 0
    conv = conversions.drop_duplicates("dedupe_key").copy()
    conv["at"] = pd.to_datetime(conv["at"])
    conv["value"] = pd.to_numeric(conv["value"], errors="coerce")
    conv = conv.merge(c[["click_id", *POST_KEYS, *CREATIVE_KEYS, CHANNEL, "bot"]], on="click_id", how="left")
    tied = conv["variant_id"].notna()
    attributed = conv[tied].copy()
    attributed["bot"] = attributed["bot"].astype(bool)
    return _Joined(posts=posts, links=links.drop_duplicates("slug"), clicks=c.drop(columns=["slug", "user_agent"]),
                   conversions=attributed,
                   unattributed=conv[~tied].drop(columns=[*POST_KEYS, *CREATIVE_KEYS, CHANNEL, "bot"]),
                   unattributed_clicks=int((~known).sum()))


def factor_levels(variants: pd.DataFrame | None, factors: Sequence[str] = creative.FACTORS) -> pd.DataFrame:
    """(variant_id, factor, level) for each factor a variant carries; length_bucket comes from length_s
    when the variants lack it (creative.length_bucket). Levels are text."""
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in ["variant_id", *FACTOR_KEYS]})
    if variants is None or variants.empty or "variant_id" not in variants:
        return empty
    v = variants.drop_duplicates("variant_id", keep="last").copy()
    if "length_bucket" in factors and "length_bucket" not in v and "length_s" in v:
        secs = pd.to_numeric(v["length_s"], errors="coerce")
        v["length_bucket"] = [creative.length_bucket(s) if pd.notna(s) else None for s in secs]
    present = [f for f in factors if f in v]
    if not present:
        return empty
    long = v[["variant_id", *present]].astype(object).melt(id_vars="variant_id", var_name="factor",
                                                           value_name="level")
    long = long[long["level"].notna()].copy()
    long["level"] = long["level"].astype(str)
    return long.reset_index(drop=True)


def _click_counts(j: _Joined, keys: list[str]) -> pd.DataFrame:
    """Per group: posts, links, clicks, bot clicks, visitors, page views, landed clicks, creatives, times."""
    c = j.clicks
    human = c[~c["bot"]]
    g = human.groupby(keys)
    parts = [j.posts.groupby(keys)["idempotency_key"].nunique().rename("posts"),
             j.links.groupby(keys)["slug"].nunique().rename("links"),
             g["click_id"].nunique().rename("clicks"),
             c[c["bot"]].groupby(keys)["click_id"].nunique().rename("bot_clicks"),
             g["visitor"].nunique().rename("visitors"),
             g["page_views"].sum().rename("page_views"),
             g["landed"].sum().rename("landed_clicks"),
             c.groupby(keys)["at"].min().rename("first_click_at"),
             c.groupby(keys)["at"].max().rename("last_click_at")]
    members = pd.concat([f[list(dict.fromkeys([*keys, "variant_id"]))] for f in (j.posts, j.links, j.clicks)])
    if "variant_id" not in keys:  # a factor level: how many creatives carry it
        parts.append(members.groupby(keys)["variant_id"].nunique().rename("creatives"))
    groups = members[keys].drop_duplicates().set_index(keys).index
    return pd.concat([p.reindex(groups) for p in parts], axis=1)


def _event_counts(j: _Joined, keys: list[str], currencies: Sequence[str]) -> pd.DataFrame:
    """Per group and event (and ALL): conversions, converting clicks, bot conversions, revenue per currency."""
    conv = j.conversions
    long = pd.concat([conv, conv.assign(event=ALL)], ignore_index=True)
    by = [*keys, "event"]
    human = long[~long["bot"]]
    g = human.groupby(by)
    parts = [g["dedupe_key"].nunique().rename("conversions"),
             g["click_id"].nunique().rename("converting_clicks"),
             long[long["bot"]].groupby(by)["dedupe_key"].nunique().rename("bot_conversions"),
             long.groupby(by)["at"].max().rename("last_conversion_at")]
    valued = human[human["value"].notna() & human["currency"].notna()]
    for cur in currencies:
        parts.append(valued[valued["currency"] == cur].groupby(by)["value"].sum().rename(f"revenue_{cur}"))
    index = long[by].drop_duplicates().set_index(by).index
    return pd.concat([p.reindex(index) for p in parts], axis=1).reset_index()


def _spend_units(spend: pd.DataFrame | None) -> tuple[list[str], pd.DataFrame] | None:
    """(unit columns, spend per unit): a unit is a creative, or a creative on a platform and/or in a channel
    when `spend` has those columns (the ads' spend is the paid channel's: ads/paid_spend.py). A unit whose
    rows name more than one currency has unknown spend (never added); a group holding a unit without spend
    (a creative's organic posts beside its ads) has unknown spend, so no cost is ever spread over clicks
    the money did not buy."""
    if spend is None:
        return None
    missing = [c for c in ("variant_id", "spend", "currency") if c not in spend]
    if missing:
        raise ValueError(f"spend lacks the column(s) {missing}")
    amounts = pd.to_numeric(spend["spend"], errors="coerce")
    if (amounts < 0).any():
        raise ValueError("spend is negative for some creative")
    unit = ["variant_id", *(c for c in ("platform", CHANNEL) if c in spend)]
    s = spend[unit + ["currency"]].assign(spend=amounts)
    g = s.groupby(unit)
    one = g["currency"].nunique(dropna=False) == 1
    out = pd.concat([g["spend"].sum(min_count=1).where(one), g["currency"].first().where(one)], axis=1)
    return unit, out.reset_index()


def _group_spend(j: _Joined, keys: list[str], units: tuple[list[str], pd.DataFrame] | None,
                 groups: pd.DataFrame) -> pd.DataFrame:
    """spend and spend_currency per group: the sum over its creatives when each one's spend is known in one
    currency; unknown (NaN) otherwise, and wherever the grouping splits a unit (per-platform rows when
    spend is known only per creative)."""
    out = groups[keys].copy()
    out["spend"], out["spend_currency"] = np.nan, None
    if units is None:
        return out
    unit, per_unit = units
    if any(c in keys and c not in unit for c in ("platform", CHANNEL)):
        return out
    members = pd.concat([f[list(dict.fromkeys([*keys, *unit]))] for f in (j.posts, j.links, j.clicks)])
    m = members.drop_duplicates().merge(per_unit, on=unit, how="left")
    g = m.groupby(keys)
    ok = (g["spend"].count() == g.size()) & (g["currency"].nunique() == 1)
    known = pd.concat([g["spend"].sum().where(ok).rename("spend"),
                       g["currency"].first().where(ok).rename("spend_currency")], axis=1).reset_index()
    return out.drop(columns=["spend", "spend_currency"]).merge(known, on=keys, how="left")


def rates(out: pd.DataFrame, mass: float = INTERVAL_MASS) -> pd.DataFrame:
    """The rates, the conversion-rate interval and cost per conversion of summed counts and spend (module doc),
    in place: every funnel table computes them here, whatever its grouping (the studio sums visible creatives)."""
    clicks = out["clicks"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        some = clicks > 0
        out["landing_rate"] = np.where(some, out["landed_clicks"] / np.where(some, clicks, 1), np.nan)
        out["conversion_rate"] = np.where(some, out["converting_clicks"] / np.where(some, clicks, 1), np.nan)
        out["rate_low"], out["rate_high"] = rate_interval(out["converting_clicks"], clicks, mass)
        out["interval_level"] = mass
        conv = out["conversions"].to_numpy(dtype=float)
        spend = pd.to_numeric(out["spend"], errors="coerce").to_numpy(dtype=float)
        out["cost_per_conversion"] = np.where((conv > 0) & np.isfinite(spend), spend / np.where(conv > 0, conv, 1),
                                              np.nan)
    return out


def _finish(out: pd.DataFrame, currencies: Sequence[str], mass: float) -> pd.DataFrame:
    """Counts as integers, then the rates (`rates`) and revenue per click."""
    for col in [*COUNTS, *(["creatives"] if "creatives" in out else [])]:
        out[col] = out[col].fillna(0).astype("int64")
    out = rates(out, mass)
    clicks = out["clicks"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        some = clicks > 0
        for cur in currencies:
            out[f"revenue_{cur}"] = out[f"revenue_{cur}"].fillna(0.0).astype(float)
            out[f"revenue_per_click_{cur}"] = np.where(some, out[f"revenue_{cur}"] / np.where(some, clicks, 1),
                                                       np.nan)
    for col in _TIMES:
        out[col] = pd.to_datetime(out[col])
    return out


def _events(j: _Joined) -> list[str]:
    seen = set(j.conversions["event"].dropna().astype(str))
    return [ALL, *CORE_EVENTS, *sorted(seen - set(CORE_EVENTS) - {ALL})]


def aggregate(j: _Joined, keys: list[str], events: Sequence[str], currencies: Sequence[str],
              units: tuple[list[str], pd.DataFrame] | None = None, mass: float = INTERVAL_MASS) -> pd.DataFrame:
    """One row per group of `keys` and event: the funnel's counts, rates and money (module doc)."""
    base = _click_counts(j, keys).reset_index()
    base = base.merge(_group_spend(j, keys, units, base), on=keys, how="left")
    grid = base.merge(pd.DataFrame({"event": list(events)}), how="cross")
    out = grid.merge(_event_counts(j, keys, currencies), on=[*keys, "event"], how="left")
    out = _finish(out, currencies, mass)
    revenue = [f"{p}_{c}" for c in currencies for p in ("revenue", "revenue_per_click")]
    extra = ["creatives"] if "creatives" in out else []
    return out[[*keys, *extra, *COLUMNS, *revenue]]


def _empty(keys: list[str], currencies: Sequence[str], extra: Sequence[str] = ()) -> pd.DataFrame:
    """No rows, every column (a reader, or an asset check, can open the table)."""
    cols = [*keys, *extra, *COLUMNS, *[f"{p}_{c}" for c in currencies for p in ("revenue", "revenue_per_click")]]
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in (*COUNTS, *extra) else object) for c in cols})


def _post_identity(j: _Joined) -> pd.DataFrame:
    """Per idempotency_key: variant_id, platform, account, external_id, live_at from the ledger, else (a link
    whose post the ledger lacks) variant_id, platform and account from the link; in_ledger says which. The
    channel is the link's (a ledger post without a link is organic)."""
    ledger = j.posts.dropna(subset=POST_KEYS).set_index(POST_KEYS[0])
    linked = j.links.dropna(subset=POST_KEYS).drop_duplicates(POST_KEYS).set_index(POST_KEYS[0])
    ident = ledger[[c for c in POST_IDENTITY[:-1] if c != CHANNEL]].combine_first(
        linked[["variant_id", "platform", "account"]])
    ident = ident.reindex(columns=POST_IDENTITY[:-1])
    ident[CHANNEL] = linked[CHANNEL].reindex(ident.index).fillna(ORGANIC).astype(object)
    ident["in_ledger"] = ident.index.isin(ledger.index)
    ident["live_at"] = pd.to_datetime(ident["live_at"])
    return ident.rename_axis(POST_KEYS[0]).reset_index()


def post_funnel(j: _Joined, events: Sequence[str], currencies: Sequence[str],
                mass: float = INTERVAL_MASS) -> pd.DataFrame:
    """One row per post (idempotency_key) and event: the post's identity (POST_IDENTITY) and its funnel
    (POST_COLUMNS, then revenue and revenue per click per currency), from the joined frames."""
    revenue = [f"{p}_{c}" for c in currencies for p in ("revenue", "revenue_per_click")]
    cols = [*POST_KEYS, *POST_IDENTITY, *POST_COLUMNS, *revenue]
    keyed = replace(j, posts=j.posts.dropna(subset=POST_KEYS), links=j.links.dropna(subset=POST_KEYS),
                    clicks=j.clicks.dropna(subset=POST_KEYS))
    if not (len(keyed.posts) or len(keyed.links)):
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in COUNTS else object) for c in cols})
    funnel = aggregate(keyed, POST_KEYS, events, currencies, None, mass)
    out = _post_identity(keyed).merge(funnel, on=POST_KEYS, how="right")
    return out[cols].sort_values([*POST_KEYS, "event"], kind="stable").reset_index(drop=True)


def _totals(j: _Joined, levels: pd.DataFrame, events: Sequence[str]) -> dict:
    c, conv, un = j.clicks, j.conversions, j.unattributed
    human = conv[~conv["bot"]]

    def money(f: pd.DataFrame) -> dict[str, float]:
        f = f[f["value"].notna() & f["currency"].notna()]
        return {str(k): round(float(v), 2) for k, v in f.groupby("currency")["value"].sum().items()}

    creatives = set(j.posts["variant_id"]) | set(j.links["variant_id"])
    by_channel = {ch: {"links": int((j.links[CHANNEL] == ch).sum()),
                       "clicks": int((~c["bot"] & (c[CHANNEL] == ch)).sum()),
                       "conversions": int(human.loc[human[CHANNEL] == ch, "dedupe_key"].nunique()),
                       "revenue": money(human[human[CHANNEL] == ch])} for ch in (ORGANIC, PAID)}
    return {"creatives": len(creatives), "posts": len(j.posts), "links": len(j.links), "by_channel": by_channel,
            "clicks": int((~c["bot"]).sum()), "bot_clicks": int(c["bot"].sum()),
            "unattributed_clicks": j.unattributed_clicks, "page_views": int(c.loc[~c["bot"], "page_views"].sum()),
            "conversions": int(human["dedupe_key"].nunique()),
            "converting_clicks": int(human["click_id"].nunique()),
            "bot_conversions": int(conv["bot"].sum()), "unattributed": len(un),
            "revenue": money(human), "unattributed_revenue": money(un),
            "creatives_without_factors": len(creatives - set(levels["variant_id"])),
            "events": [e for e in events if e != ALL]}


def attribute(links: pd.DataFrame, clicks: pd.DataFrame, page_views: pd.DataFrame, conversions: pd.DataFrame,
              posts: pd.DataFrame, variants: pd.DataFrame | None = None, spend: pd.DataFrame | None = None, *,
              factors: Sequence[str] = creative.FACTORS, mass: float = INTERVAL_MASS) -> Attribution:
    """The funnel per creative (and platform) and per factor level; see the module doc for every column.

    `spend`: variant_id, spend, currency and optionally platform; None = unknown (every cost is NaN)."""
    if not 0 < mass < 1:
        raise ValueError("mass must be in (0, 1)")
    j = join_funnel(links, clicks, page_views, conversions, posts)
    events = _events(j)
    human = j.conversions[~j.conversions["bot"] & j.conversions["value"].notna()]
    currencies = sorted(human["currency"].dropna().astype(str).unique())
    units = _spend_units(spend)
    levels = factor_levels(variants, factors)
    if not (len(j.posts) or len(j.links) or len(j.clicks)):
        creatives = _empty([*CREATIVE_KEYS, CHANNEL], currencies)
        by_level = _empty(FACTOR_KEYS, currencies, ["creatives"])
        channels = _empty([*CREATIVE_KEYS, CHANNEL], currencies)
    else:
        creatives = per_creative(j, events, currencies, units, mass)
        channels = per_creative(j, events, currencies, units, mass, by=[CHANNEL])
        lj = j.with_levels(levels)
        by_level = (aggregate(lj, FACTOR_KEYS, events, currencies, units, mass) if len(lj.posts) + len(lj.links)
                    + len(lj.clicks) else _empty(FACTOR_KEYS, currencies, ["creatives"]))
        by_level = by_level.sort_values([*FACTOR_KEYS, "event"], kind="stable").reset_index(drop=True)
    return Attribution(creatives=creatives, factors=by_level, totals=_totals(j, levels, events),
                       posts=post_funnel(j, events, currencies, mass), channels=channels)


def per_creative(j: _Joined, events: Sequence[str], currencies: Sequence[str],
                 units: tuple[list[str], pd.DataFrame] | None, mass: float, by: Sequence[str] = ()) -> pd.DataFrame:
    """Per creative over all platforms (platform ALL) and per platform, and per `by` (the channel) when
    given; without `by` every row's channel is ALL. Columns: variant_id, platform, channel, COLUMNS, money."""
    keys = ["variant_id", *by]
    overall = aggregate(j, keys, events, currencies, units, mass).assign(platform=ALL)
    split = aggregate(j, [*CREATIVE_KEYS, *by], events, currencies, units, mass)
    out = pd.concat([overall[split.columns], split], ignore_index=True)
    if not by:
        out.insert(len(CREATIVE_KEYS), CHANNEL, ALL)
    out = out[[*CREATIVE_KEYS, CHANNEL, *[c for c in out.columns if c not in (*CREATIVE_KEYS, CHANNEL)]]]
    return out.sort_values([*CREATIVE_KEYS, CHANNEL, "event"], kind="stable").reset_index(drop=True)
