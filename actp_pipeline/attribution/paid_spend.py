"""What the paid links' clicks cost: per creative, the spend the ads platform reports for the creative's ad
sets since its paid link was made, so the paid channel's cost per conversion is spend over the conversions
that came through those very ads.

Why only the paid channel: organic posts cost no media money, and dividing ad spend by every conversion of a
creative (organic ones included) would invent a cost. Why from the platform: spend is what the platform
bills (the same numbers the guardrails read), never a plan. Rules that keep the figure honest:
- an account whose spend or currency cannot be read gives its creatives unknown spend (NaN), never 0;
- the currency is the ad account's own (Meta: the account's `currency` field); an account that does not say
  leaves the spend unknown rather than guess a currency;
- only the hours from the link's creation count (an ad set's earlier delivery had no link to click).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd

from actp_pipeline.ads.client import AdsClient

COLUMNS = ["variant_id", "platform", "channel", "spend", "currency"]
PAID = "paid"


def account_currency(client: AdsClient, ads_platform: str, account_id: str) -> str | None:
    """The ad account's currency as the platform reports it (Meta: GET act_<id>?fields=currency), else None
    (TikTok's client reads campaigns and ad groups, not the advertiser: no call is made)."""
    if ads_platform != "meta":
        return None
    try:
        got = client.get(f"act_{account_id}", ["currency"])
    except Exception:  # noqa: BLE001 - an account that does not answer the field: unknown
        return None
    value = (got or {}).get("currency")
    return str(value).upper() if isinstance(value, str) and len(value) == 3 and value.isalpha() else None


def _account_rows(client: AdsClient, ads_platform: str, account_id: str, links: pd.DataFrame,
                  now: dt.datetime) -> list[dict[str, Any]]:
    currency = account_currency(client, ads_platform, account_id)
    ad_sets = client.ad_sets(account_id)
    since = pd.to_datetime(links["created_at"]).min().to_pydatetime()
    # a link made at (or, clocks apart, after) the reading's instant: its ads have had no time to spend
    insights = client.insights(account_id, since, now) if since < now else pd.DataFrame()
    variant_of = (dict(zip(ad_sets["id"].astype(str), ad_sets["variant_id"].astype(str)))
                  if len(ad_sets) and "variant_id" in ad_sets else {})
    made = dict(zip(links["variant_id"].astype(str), pd.to_datetime(links["created_at"])))
    spent: dict[str, float] = {v: 0.0 for v in made}
    if len(insights):
        ins = insights.assign(variant_id=insights["ad_set_id"].astype(str).map(variant_of),
                              at=pd.to_datetime(insights["at"]))
        ins = ins[ins["variant_id"].isin(made.keys())]
        ins = ins[ins["at"] >= ins["variant_id"].map(made)]
        for variant, amount in ins.groupby("variant_id")["spend"].sum().items():
            spent[variant] = float(amount)
    return [{"variant_id": v, "platform": ads_platform, "channel": PAID,
             "spend": s if currency else float("nan"), "currency": currency} for v, s in spent.items()]


def paid_spend(client: AdsClient, ads_platform: str, links: pd.DataFrame, now: dt.datetime,
               accounts: Iterable[str] | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """(spend per creative of `ads_platform`'s paid links, errors by account). `links`: the store's paid links
    (variant_id, platform, account, created_at); one row per creative per account read. An account the API
    refuses is an error entry and its creatives are absent (unknown spend); the others are still read."""
    mine = links[(links["platform"] == ads_platform)] if len(links) else links
    if accounts is not None:
        mine = mine[mine["account"].isin(set(accounts))]
    rows: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for account_id, group in (mine.groupby("account") if len(mine) else []):
        try:
            rows += _account_rows(client, ads_platform, str(account_id), group, now)
        except Exception as e:  # noqa: BLE001 - one account's failure must not hide the others' spend
            errors[str(account_id)] = f"{type(e).__name__}: {str(e)[:300]}"
    return pd.DataFrame(rows, columns=COLUMNS), errors
