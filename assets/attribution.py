"""Step 9, attribute: clicks, conversions and revenue per creative, per factor level and per post, from the
tracked links (post -> link -> click -> page view -> conversion -> creative factors; actp_pipeline/attribution),
each creative split by channel: organic (the posts' links) and paid (the links the ads executor gives ads)."""

import datetime as dt
import math

import dagster as dg
import pandas as pd

from actp_pipeline.attribution import ALL, BOT_AGENTS, CORE_EVENTS, attribute
from actp_pipeline.attribution.funnel import CHANNEL, COUNTS, CREATIVE_KEYS, FACTOR_KEYS, POST_KEYS
from actp_pipeline.attribution.load import load_funnel
from actp_pipeline.attribution.paid_spend import paid_spend
from assets.automation import OWNERS, every_tick, follow_checked
from assets.metadata import as_json, md_table, stamp
from assets.variants import variants
from resources import AdsResource, PlatformResource, StoreResource

FUTURE_SLACK = dt.timedelta(minutes=5)  # clocks of the hooks service and of this run may differ a little
TOP = 15  # creatives in the metadata table
LEVELS_SHOWN = 40

SPEND_NOTE = (
    "Cost per conversion is known on a creative's paid rows (channel `paid`): the spend the ads platform reports for "
    "the creative's ad sets since its paid link was made, in the ad account's currency, over the conversions that "
    "came through those ads' links. It is unknown (empty) on organic rows (posts cost no media money) and on rows "
    "that mix channels (dividing ad spend by organic conversions would invent a cost), and wherever the platform "
    "does not report the spend or the account's currency.")

MEANINGS = [
    ("Rows", "`attribution` has one row per creative (variant_id), platform, channel and event. Platform `*` is the "
             "creative over all its platforms (the other rows split it: add one or the other, never both); channel `*` "
             "is every click, `organic` the clicks on posts' tracked links, `paid` those on ads' links (the ads "
             "executor gives each ad its creative's own link), again: add organic and paid or take `*`, never both "
             "(cost per conversion is known on paid rows only); event `*` is a "
             f"conversion of any event, the others one event each ({', '.join(CORE_EVENTS)} are always there). "
             "`attribution_factors` has the same numbers per creative factor level, over the creatives carrying it: "
             "raw totals, not adjusted for the other factors or for where and when the posts ran (factor_effects "
             "does that for engagement, conversion_effects for conversions). `attribution_posts` has the funnel "
             "per post (idempotency_key) and event, with the post's creative, platform, account, external id and "
             "live time and channel: the rows conversion_effects reads; `in_ledger` is false for a tracked link whose "
             "post the posts ledger does not hold (yet), and for an ad's link (channel paid, key ad:...)."),
    ("clicks", "People who followed a post's (or an ad's) tracked link. Link-preview crawlers and HTTP libraries ("
               f"{', '.join(a.rstrip('/') for a in BOT_AGENTS[:9])}, ...) are not people: they are counted in "
               "`bot_clicks` and left out of every rate, with their page views and conversions (`bot_conversions`)."),
    ("visitors", "Distinct visitors among the clicks (salted address hashes; the salt changes when the hooks service "
                 "restarts, so this is an upper bound)."),
    ("landing_rate", "Clicks that produced at least one page view on the landing page, over clicks."),
    ("conversions", "Distinct conversions (dedupe keys: one sale reported by the page, the shop's server and "
                    "Stripe under one key, the order id, counts once, with the most trusted report's value). "
                    "`converting_clicks` counts a click once however often it converted."),
    ("conversion_rate", "converting_clicks / clicks, with a 95% interval [rate_low, rate_high] (Jeffreys: the "
                        "equal-tailed 95% interval of Beta(k + 1/2, n - k + 1/2)); with few clicks the interval is "
                        "wide, and the table ranks by its lower end so one lucky click does not top it."),
    ("revenue_CUR", "Revenue per currency (one column per currency; amounts in different currencies are never added)"
                    ", and revenue_per_click_CUR = revenue / clicks."),
    ("cost_per_conversion", "spend / conversions where spend is known. " + SPEND_NOTE),
    ("Unknown vs 0", "An empty cell is unknown, never zero: a creative with 0 clicks has no rate (not 0%), a row "
                     "without known spend or without conversions has no cost per conversion. 0 means counted: none."),
    ("unattributed", "Stored conversions whose click id matches no tracked click (or whose click's link is "
                     "unknown): counted in the totals, given to no creative. The hooks service already refuses a "
                     "page or server conversion with an unknown click id, and drops such a Stripe payment, so "
                     "those never reach this count."),
]

_SHARED = dict(deps=[dg.AssetKey("posts"), variants],  # posts: the ledger (local_ops); variants: the factors
               kinds={"python", "parquet"}, group_name="attribute", owners=OWNERS,
               # after new posts or variants, and hourly: clicks and conversions arrive in the store all the time
               automation_condition=follow_checked() | every_tick("0 * * * *"))


def meanings_md() -> dg.MetadataValue:
    return dg.MetadataValue.md("\n".join(f"- **{name}**: {text}" for name, text in MEANINGS))


def _pct(x: float) -> str:
    return "" if x is None or not math.isfinite(x) else f"{x:.1%}"


def _money(row: pd.Series, prefix: str = "revenue_") -> str:
    cols = [c for c in row.index if c.startswith(prefix) and not c.startswith("revenue_per_click_")]
    return ", ".join(f"{c[len(prefix):]} {row[c]:,.2f}" for c in cols if row[c] > 0) or "0"


def readable(rows: pd.DataFrame, keys: list[str], limit: int, within: list[str] = ()) -> pd.DataFrame:
    """The first `limit` rows as a person reads them (rates in %, the interval as text, money per currency),
    ranked by the interval's lower end (within the `within` columns when given); cost per conversion where the
    rows have it (not per post)."""
    if rows.empty:
        return pd.DataFrame()
    order = [*within, "rate_low", "clicks"]
    ranked = rows.sort_values(order, ascending=[True] * len(within) + [False, False], na_position="last").head(limit)
    out = pd.DataFrame({
        **{k: ranked[k] for k in keys},
        "clicks": ranked["clicks"], "bot_clicks": ranked["bot_clicks"],
        "converting_clicks": ranked["converting_clicks"],
        "conversion_rate": ranked["conversion_rate"].map(_pct),
        "interval_95": [f"{_pct(lo)} to {_pct(hi)}" if math.isfinite(lo) else "no clicks"
                        for lo, hi in zip(ranked["rate_low"], ranked["rate_high"])],
        "landing_rate": ranked["landing_rate"].map(_pct),
        "revenue": [_money(r) for _, r in ranked.iterrows()],
    })
    if "cost_per_conversion" in ranked:
        out["cost_per_conversion"] = [f"{c:,.2f} {cur}" if math.isfinite(c) else "unknown"
                                      for c, cur in zip(ranked["cost_per_conversion"], ranked["spend_currency"])]
    return out


@dg.multi_asset(
    name="attribution",
    specs=[
        dg.AssetSpec("attribution", **_SHARED, description="Step 9, attribute. Per creative (and per platform), "
                     "channel (all, organic posts, paid ads) and conversion event: posts, tracked links, clicks "
                     "(link-preview bots counted apart and left out), "
                     "visitors, landing rate, conversions, conversion rate with its 95% interval, revenue per currency "
                     "and per click, cost per conversion. Pending Stripe webhooks are processed first. " + SPEND_NOTE),
        dg.AssetSpec("attribution_factors", **_SHARED, description="Step 9, attribute. The same funnel per creative "
                     "factor level (hook pattern, angle, CTA style, format, length), over the creatives carrying "
                     "each level: conversions read by factor, not only engagement."),
        dg.AssetSpec("attribution_posts", **_SHARED, description="Step 9, attribute. The same funnel per post "
                     "(idempotency_key; an ad's link is a row of its own, channel paid) and conversion event, with "
                     "the post's variant_id, platform, channel, account, "
                     "external id and live_at: human clicks, converting clicks, conversions, revenue per currency. "
                     "What conversion_effects reads."),
    ],
)
def attribution(context: dg.AssetExecutionContext, store: StoreResource, ads: AdsResource,
                platform: PlatformResource):
    wh = store.warehouse()
    engine = store.engine()
    tables = load_funnel(engine)
    variant_rows = wh.read("variants") if wh.exists("variants") else None
    spend = _paid_spend(context, tables.links, ads, platform, engine)
    result = attribute(tables.links, tables.clicks, tables.page_views, tables.conversions, tables.posts,
                       variant_rows, spend=spend)
    wh.write("attribution", creative_rows(result))
    wh.write("attribution_factors", result.factors)
    wh.write("attribution_posts", result.posts)
    if result.totals["unattributed"]:
        context.log.warning(f"{result.totals['unattributed']} conversions match no tracked click; counted as "
                            "unattributed")
    yield dg.MaterializeResult(asset_key="attribution", metadata=_creatives_metadata(result, variant_rows,
                                                                                     tables.webhooks))
    levels = result.factors[result.factors["event"] == ALL] if len(result.factors) else result.factors
    shown = readable(levels, ["factor", "level", "creatives"], LEVELS_SHOWN, within=["factor"])
    yield dg.MaterializeResult(asset_key="attribution_factors", metadata={
        "dagster/row_count": len(result.factors),
        "creatives_without_factors": result.totals["creatives_without_factors"],
        "levels": md_table(shown, limit=LEVELS_SHOWN, key=["factor", "level"]) if len(shown)
        else dg.MetadataValue.md("_no creative with factors has a post yet_"),
        "what_the_numbers_mean": meanings_md(),
    })
    yield dg.MaterializeResult(asset_key="attribution_posts", metadata=_posts_metadata(result.posts))


def _paid_spend(context: dg.AssetExecutionContext, links: pd.DataFrame, ads: AdsResource,
                platform: PlatformResource, engine) -> pd.DataFrame | None:
    """The ads' spend per creative behind the paid links (attribution/paid_spend.py), or None (unknown: no
    paid link, or the ads platform cannot be read; said in the log, the run goes on)."""
    paid = links[links[CHANNEL] == "paid"] if len(links) and CHANNEL in links else links.iloc[0:0]
    if not len(paid):
        return None
    try:
        with platform.client() as clock, ads.client(engine) as client:
            spend, errors = paid_spend(client, ads.platform, paid, clock.now())
    except Exception as e:  # noqa: BLE001 - no ads token, platform down: cost per conversion unknown, not a failure
        context.log.warning(f"paid spend unknown ({type(e).__name__}: {str(e)[:200]}): no cost per conversion")
        return None
    for account, why in errors.items():
        context.log.warning(f"ad account {account}: spend unknown ({why})")
    return spend


def creative_rows(result) -> pd.DataFrame:
    """The `attribution` table: each creative's rows over every channel (channel `*`) first, then its organic
    and paid rows, per platform and event."""
    rows = pd.concat([result.creatives, result.channels], ignore_index=True) if len(result.channels) \
        else result.creatives
    return rows.sort_values([*CREATIVE_KEYS, CHANNEL, "event"], kind="stable").reset_index(drop=True)


def _by_channel(channels: pd.DataFrame) -> pd.DataFrame:
    """Per creative with paid clicks: organic vs paid clicks, converting clicks and conversion rate."""
    rows = channels[(channels["platform"] == ALL) & (channels["event"] == ALL)] if len(channels) else channels
    if rows.empty or not (rows[CHANNEL] == "paid").any():
        return pd.DataFrame()
    wide = rows.pivot(index="variant_id", columns=CHANNEL, values=["clicks", "converting_clicks", "conversion_rate"])
    wide.columns = [f"{ch}_{m}" for m, ch in wide.columns]
    wide = wide[wide.get("paid_clicks", 0) > 0].reset_index()
    for c in [c for c in wide.columns if c.endswith("conversion_rate")]:
        wide[c] = wide[c].map(_pct)
    return wide


def _creatives_metadata(result, variant_rows: pd.DataFrame | None, webhooks: dict) -> dict:
    t, creative_rows = result.totals, result.creatives
    overall = creative_rows[(creative_rows["platform"] == ALL) & (creative_rows["event"] == ALL)]
    split = _by_channel(result.channels)
    top = readable(overall[overall["clicks"] > 0], ["variant_id"], TOP)
    if len(top) and variant_rows is not None and "hook" in variant_rows:
        top.insert(1, "hook", top["variant_id"].map(variant_rows.drop_duplicates("variant_id", keep="last")
                                                    .set_index("variant_id")["hook"]).fillna(""))
    return {
        "dagster/row_count": len(creative_rows) + len(result.channels),
        "by_channel": as_json(t["by_channel"]),
        "organic_vs_paid": md_table(split, limit=TOP, key=["variant_id"]) if len(split)
        else dg.MetadataValue.md("_no paid clicks yet (ads get tracked links when landing_url and hooks_url are set)_"),
        "as_of": stamp(pd.Timestamp.now(tz="UTC").tz_localize(None)),
        **{k: t[k] for k in ("creatives", "posts", "links", "clicks", "bot_clicks", "unattributed_clicks",
                             "conversions", "converting_clicks", "bot_conversions", "unattributed")},
        "revenue": as_json(t["revenue"]), "unattributed_revenue": as_json(t["unattributed_revenue"]),
        "events": ", ".join(t["events"]),
        "webhooks": as_json(webhooks),
        "top_creatives": md_table(top, limit=TOP, key=["variant_id"]) if len(top)
        else dg.MetadataValue.md("_no clicks yet_"),
        "top_creatives_shown": f"{len(top)} of {int((overall['clicks'] > 0).sum())} creatives with clicks, ranked by "
                               "the lower end of the conversion rate's 95% interval",
        "what_the_numbers_mean": meanings_md(),
    }


def _posts_metadata(posts: pd.DataFrame) -> dict:
    every = posts[posts["event"] == ALL] if len(posts) else posts
    top = readable(every[every["clicks"] > 0], ["idempotency_key", "variant_id", "platform"], TOP) if len(every) \
        else pd.DataFrame()
    return {
        "dagster/row_count": len(posts),
        "posts": len(every),
        "posts_with_clicks": int((every["clicks"] > 0).sum()) if len(every) else 0,
        "posts_not_in_ledger": int((~every["in_ledger"].astype(bool)).sum()) if len(every) else 0,
        "top_posts": md_table(top, limit=TOP, key=["idempotency_key"])
        if len(top) else dg.MetadataValue.md("_no clicks yet_"),
        "what_the_numbers_mean": meanings_md(),
    }


# ------------------------------------------------------------------------------------------------ checks
def _negative(df: pd.DataFrame) -> int:
    cols = [c for c in (*COUNTS, "creatives") if c in df]
    return int((df[cols] < 0).any(axis=1).sum()) if len(df) else 0


def _over(df: pd.DataFrame) -> dict[str, int]:
    if df.empty:
        return {"converting_clicks_over_clicks": 0, "landed_clicks_over_clicks": 0}
    return {"converting_clicks_over_clicks": int((df["converting_clicks"] > df["clicks"]).sum()),
            "landed_clicks_over_clicks": int((df["landed_clicks"] > df["clicks"]).sum())}


@dg.asset_check(asset="attribution", description="No count is negative; converting clicks and landed clicks never "
                                                  "exceed clicks, per creative, platform and event.")
def attribution_counts_sane(store: StoreResource) -> dg.AssetCheckResult:
    df = store.warehouse().read("attribution")
    meta = {"rows": len(df), "negative_counts": _negative(df), **_over(df)}
    return dg.AssetCheckResult(passed=all(v == 0 for k, v in meta.items() if k != "rows"), metadata=meta)


@dg.asset_check(asset="attribution", description="One row per creative, platform, channel and event.")
def attribution_ids_unique(store: StoreResource) -> dg.AssetCheckResult:
    df = store.warehouse().read("attribution")
    keys = [*CREATIVE_KEYS, *([CHANNEL] if CHANNEL in df else []), "event"]
    dupes = int(df.duplicated(keys).sum()) if len(df) else 0
    return dg.AssetCheckResult(passed=dupes == 0, metadata={"rows": len(df), "duplicate_rows": dupes})


@dg.asset_check(asset="attribution", description="No attributed click or conversion is in the future (more than "
                                                  "5 minutes past this check's clock, UTC).")
def attribution_no_future_events(store: StoreResource) -> dg.AssetCheckResult:
    df = store.warehouse().read("attribution")
    limit = pd.Timestamp(dt.datetime.now(dt.UTC).replace(tzinfo=None) + FUTURE_SLACK)
    meta: dict = {"rows": len(df), "limit": stamp(limit)}
    future = 0
    for col in ("last_click_at", "last_conversion_at"):
        times = pd.to_datetime(df[col]) if col in df else pd.Series(dtype="datetime64[ns]")
        future += int((times > limit).sum())
        meta[f"newest_{col.removeprefix('last_')}"] = stamp(times.max()) if times.notna().any() else "none"
    meta["rows_in_future"] = future
    return dg.AssetCheckResult(passed=future == 0, metadata=meta)


@dg.asset_check(asset="attribution_factors", description="One row per factor level and event; no count negative; "
                                                          "converting and landed clicks never exceed clicks.")
def attribution_factors_sane(store: StoreResource) -> dg.AssetCheckResult:
    df = store.warehouse().read("attribution_factors")
    dupes = int(df.duplicated([*FACTOR_KEYS, "event"]).sum()) if len(df) else 0
    meta = {"rows": len(df), "duplicate_rows": dupes, "negative_counts": _negative(df), **_over(df)}
    return dg.AssetCheckResult(passed=all(v == 0 for k, v in meta.items() if k != "rows"), metadata=meta)


@dg.asset_check(asset="attribution_posts", description="One row per post and event; no count negative; converting "
                                                        "and landed clicks never exceed clicks.")
def attribution_posts_sane(store: StoreResource) -> dg.AssetCheckResult:
    df = store.warehouse().read("attribution_posts")
    dupes = int(df.duplicated([*POST_KEYS, "event"]).sum()) if len(df) else 0
    meta = {"rows": len(df), "duplicate_rows": dupes, "negative_counts": _negative(df), **_over(df)}
    return dg.AssetCheckResult(passed=all(v == 0 for k, v in meta.items() if k != "rows"), metadata=meta)
