"""Today's ads spend per account and goal, against the plan and the caps; kept in `ad_spend` for `actp status`.

Nothing in the store records spend: the ad platform does. `read_spend` asks it through the ads client (the
same Protocol the orchestrator reads with) for each account with an active goal: its campaigns and ad
sets (the daily budgets running, counted as the plan counts them: ads/plan/listing.reported_budgets) and
its hourly insights since UTC midnight of the platform's clock (spend today). The caps are the plan's:
the account's global daily budget, each goal's cap (max_daily_budget or its own lower budget_cap) and the
overall daily budget across accounts, when set.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any, ContextManager, TypeVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from actp_pipeline.ads import accounts as ad_accounts
from actp_pipeline.ads.audit import safe_error
from actp_pipeline.ads.client import AdsClient
from actp_pipeline.ads.goals import AccountSettings, OrchestratorConfig, goals_from
from actp_pipeline.ads.plan.inputs import account_views
from actp_pipeline.ads.plan.listing import reported_budgets
from actp_pipeline.store import schema

ALL = "*"  # goal '*' = the account's total; account '*' = the total across accounts
SPEND_COLUMNS = ["account_id", "goal", "spend", "planned", "cap"]
T = TypeVar("T")


def day_start(now: dt.datetime) -> dt.datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def caps(engine: Engine, config: OrchestratorConfig = OrchestratorConfig()) -> pd.DataFrame:
    """account_id, goal, cap for every account with an active goal: the account's global daily budget (goal
    '*'), each active goal's cap, and the overall daily budget (account '*'; None = no overall cap)."""
    goal_list = goals_from(ad_accounts.goals(engine))
    settings = ad_accounts.account_settings(engine)
    rows = []
    for acc in sorted({g.account_id for g in goal_list}):
        budget = settings.get(acc, AccountSettings(acc)).resolve(config)
        rows.append({"account_id": acc, "goal": ALL, "cap": budget.global_daily_budget})
        rows += [{"account_id": acc, "goal": g.name, "cap": budget.goal_cap(g)}
                 for g in goal_list if g.account_id == acc]
    if rows:
        rows.append({"account_id": ALL, "goal": ALL, "cap": config.overall_daily_budget})
    return pd.DataFrame(rows, columns=["account_id", "goal", "cap"])


def _account_spend(client: AdsClient, acc: str, now: dt.datetime) -> list[dict[str, Any]]:
    """Rows (goal, spend, planned) of one account: its total ('*') and one per goal it runs or spent for."""
    campaigns, ad_sets = client.campaigns(acc), client.ad_sets(acc)
    insights = client.insights(acc, day_start(now), now)
    spent: dict[str | None, float] = defaultdict(float)
    if len(insights):
        goal_of_campaign = dict(zip(campaigns["id"].astype(str), campaigns["goal"])) if len(campaigns) else {}
        campaign_of_set = (dict(zip(ad_sets["id"].astype(str), ad_sets["campaign_id"].astype(str)))
                           if len(ad_sets) else {})
        for ad_set, amount in insights.groupby(insights["ad_set_id"].astype(str))["spend"].sum().items():
            spent[goal_of_campaign.get(campaign_of_set.get(ad_set))] += float(amount)
    views, _ = account_views([acc], campaigns, ad_sets, now=now)
    planned: dict[str | None, float] = defaultdict(float)
    for goal, dollars in reported_budgets(views[acc]):
        planned[goal] += float(dollars)
    rows = [{"goal": ALL, "spend": sum(spent.values()), "planned": sum(planned.values())}]
    rows += [{"goal": g, "spend": spent.get(g, 0.0), "planned": planned.get(g, 0.0)}
             for g in sorted({*spent, *planned} - {None}, key=str)]
    return rows


def read_spend(open_client: Callable[[], ContextManager[AdsClient]], engine: Engine, now: dt.datetime,
               config: OrchestratorConfig = OrchestratorConfig()) -> tuple[pd.DataFrame, dict[str, str]]:
    """(spend today per account and goal with planned and cap, errors by account) at `now` (the platform's
    clock, naive UTC). `open_client()` gives the ads client (as a context manager), called only when an
    account has an active goal. An account the API refuses is an error entry; the others are still read."""
    cap_frame = caps(engine, config)
    cap = {(r.account_id, r.goal): None if pd.isna(r.cap) else float(r.cap) for r in cap_frame.itertuples(index=False)}
    accounts = sorted(set(cap_frame["account_id"]) - {ALL})
    rows, errors = [], {}
    if accounts:
        with open_client() as client:
            for acc in accounts:
                try:
                    got = _account_spend(client, acc, now)
                except Exception as e:  # noqa: BLE001 - one account's failure must not hide the others
                    errors[acc] = safe_error(f"{type(e).__name__}: {str(e)[:300]}")
                    continue
                rows += [{"account_id": acc, **r, "cap": cap.get((acc, r["goal"]))} for r in got]
    if rows:
        totals = [r for r in rows if r["goal"] == ALL]
        rows.append({"account_id": ALL, "goal": ALL, "spend": sum(r["spend"] for r in totals),
                     "planned": sum(r["planned"] for r in totals), "cap": cap.get((ALL, ALL))})
    return pd.DataFrame(rows, columns=SPEND_COLUMNS), errors


def within(seconds: float, fn: Callable[[], T]) -> T:
    """fn() on a thread, TimeoutError when it takes longer than `seconds` (a sensor tick must end well
    under 60 s; the ads clients' own timeouts are 30 s per call). The late call finishes on its own."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="actp-spend")
    try:
        return pool.submit(fn).result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        raise TimeoutError(f"the ad platform took more than {seconds:g} s") from None
    finally:
        pool.shutdown(wait=False)


def record_spend(engine: Engine, spend: pd.DataFrame, as_of: dt.datetime) -> pd.DataFrame:
    """Keep the reading as the day's `ad_spend` rows (the accounts read replace their rows of that day) and
    return it with `planned` = the most daily budget running at any reading of the day: the day's plan. A
    budget cut at noon does not make the morning's spend look like overspend against the lower budget."""
    if spend.empty:
        return spend
    t, day, now = schema.ad_spend, as_of.date().isoformat(), schema.utcnow()
    with engine.begin() as conn:
        before = {(a, g): p for a, g, p in conn.execute(sa.select(t.c.account_id, t.c.goal, t.c.planned)
                                                         .where(t.c.day == day)) if p is not None}
        rows = [{"day": day, "account_id": r["account_id"], "goal": r["goal"], "spend": float(r["spend"]),
                 "planned": max(float(r["planned"] or 0.0), before.get((r["account_id"], r["goal"]), 0.0)),
                 "cap": None if r["cap"] is None or pd.isna(r["cap"]) else float(r["cap"]), "as_of": as_of,
                 "updated_at": now} for r in spend.to_dict("records")]
        conn.execute(t.delete().where(t.c.day == day, t.c.account_id.in_(sorted({r["account_id"] for r in rows}))))
        conn.execute(t.insert(), rows)
    return pd.DataFrame([{k: r[k] for k in SPEND_COLUMNS} for r in rows], columns=SPEND_COLUMNS)


def latest_spend(engine: Engine) -> list[dict[str, Any]]:
    """The newest day's `ad_spend` rows (the day of the platform's clock at the last reading)."""
    t = schema.ad_spend
    with engine.connect() as conn:
        day = conn.execute(sa.select(sa.func.max(t.c.day))).scalar()
        if day is None:
            return []
        q = sa.select(t).where(t.c.day == day).order_by(t.c.account_id, t.c.goal)
        return [dict(r) for r in conn.execute(q).mappings()]
