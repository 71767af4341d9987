"""One pass of the ads orchestrator: read the accounts, plan (dry run, stored), execute what is approved.

The `ad_plan` and `ad_actions` assets are thin wrappers around `plan_pass` and `execute_pass`; tests and
the CLI drive the same functions against the sandbox's ads API.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy.engine import Engine

from actp_pipeline.ads import accounts as ad_accounts, audit as ads_audit
from actp_pipeline.ads.actions import MAX_PLAN_AGE_H, Execution, execute_plan
from actp_pipeline.ads.ad_links import AdLinks, ads_platform
from actp_pipeline.ads.attributed_signals import (
    link_keys,
    link_summary,
    read_paid_conversions,
    signal_sources,
    with_attributed,
)
from actp_pipeline.ads.client import AdsClient
from actp_pipeline.ads.evidence import PAID_RULE, account_inputs, candidates, paid_winners, post_lookup
from actp_pipeline.ads.goals import ATTRIBUTED_SIGNALS, DEFAULT_OBJECTIVES, Goal, OrchestratorConfig, goals_from
from actp_pipeline.ads.plan.planner import plan
from actp_pipeline.ads.plan.rules import ERROR, PlannedAction, cpa_trend
from actp_pipeline.stats.stopping import StoppingRule
from actp_pipeline.measure.post_metrics import posts_ledger


@dataclass
class PlanPass:
    plan_id: str | None
    actions: list[PlannedAction]
    paid: pd.DataFrame  # the paid learning test per goal and creative, with the stopping rule's decision
    candidates: pd.DataFrame
    unreadable: dict[str, str]
    scaling: pd.DataFrame  # per goal with a scaling campaign: the cost-per-event trend that gates a raise
    # per goal and ad set: where its core signal came from (platform / ACTP attribution), its events, its link
    signal_sources: pd.DataFrame = field(default_factory=pd.DataFrame)


def plan_pass(engine: Engine, client: AdsClient, now: dt.datetime, *, decisions: pd.DataFrame | None = None,
              allocation: pd.DataFrame | None = None, rule: StoppingRule = PAID_RULE,
              config: OrchestratorConfig = OrchestratorConfig(), max_candidates: int = 4, lookback_h: float = 96.0,
              trigger: str = "dagster", dagster_run_id: str | None = None) -> PlanPass:
    """Read every account with an active goal, plan, and store the plan as a dry run (changes nothing)."""
    config = _platform_objectives(_platform_floor(config, getattr(client, "promotes", "instagram")),
                                  getattr(client, "promotes", "instagram"))
    goal_list = goals_from(ad_accounts.goals(engine))
    if not goal_list:
        return PlanPass(None, [], pd.DataFrame(), pd.DataFrame(), {}, pd.DataFrame())
    accounts = sorted({g.account_id for g in goal_list})
    campaigns, ad_sets, insights, unreadable = account_inputs(client, accounts, now, lookback_h)
    # an account that could not be read is not planned: planning it blind would create what already exists
    readable = [g for g in goal_list if g.account_id not in unreadable]
    insights, links = _attributed(engine, client, readable, ad_sets, insights, now, lookback_h, config)
    if len(insights):
        # Meta leaves out actions that did not happen: a core signal without a column had no events (never an
        # ACTP-attributed one: `_attributed` adds those, NaN where unknown)
        for signal in {g.signal(config) for g in readable} - set(insights.columns) - {None} - set(ATTRIBUTED_SIGNALS):
            insights[signal] = 0.0
    # only creatives with a post this ads platform can run (Meta: an Instagram Reel; TikTok: a TikTok video)
    promotable = post_lookup(posts_ledger(engine), getattr(client, "promotes", "instagram"))
    cands = candidates(readable, decisions, allocation, max_candidates, posted=set(promotable))
    paid = paid_winners(readable, campaigns, ad_sets, insights, now, rule, config, organic=decisions)
    history = ads_audit.history(engine, accounts, since=now - dt.timedelta(days=8))
    actions = plan(readable, campaigns, ad_sets, insights, paid[paid["decision"] == "winner"], history,
                   accounts=ad_accounts.account_settings(engine), candidates=cands, now=now,
                   config=config) if readable else []
    actions += [PlannedAction(acc, None, ERROR, ERROR, status=ERROR, reason=f"account {acc} could not be read: {why}")
                for acc, why in unreadable.items()]
    plan_id = ads_audit.record_plan(
        engine, actions, as_of=now, trigger=trigger, dagster_run_id=dagster_run_id,
        config={"orchestrator": {k: v for k, v in config.__dict__.items() if not isinstance(v, dict)},
                "stopping_rule": rule.__dict__, "max_candidates": max_candidates})
    return PlanPass(plan_id, actions, paid, cands, unreadable,
                    scaling_trends(readable, campaigns, ad_sets, insights, now, config),
                    signal_sources(readable, campaigns, ad_sets, insights, config, links))


def _attributed(engine: Engine, client: AdsClient, goals: list[Goal], ad_sets: pd.DataFrame,
                insights: pd.DataFrame, now: dt.datetime, lookback_h: float,
                config: OrchestratorConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The insights with the ACTP-attributed signals the goals steer on (ads/attributed_signals.py), read from
    the store over the insights' own window, and each ad set's paid link; unchanged when no goal uses one."""
    signals = sorted({g.signal(config) for g in goals} & set(ATTRIBUTED_SIGNALS))
    if not signals:
        return insights, pd.DataFrame()
    platform = ads_platform(client)
    found = read_paid_conversions(engine, link_keys(ad_sets, platform), now - dt.timedelta(hours=lookback_h), now,
                                  events=[ATTRIBUTED_SIGNALS[s] for s in signals])
    return with_attributed(insights, ad_sets, found, platform, signals), link_summary(ad_sets, found, platform)


def scaling_trends(goals, campaigns: pd.DataFrame, ad_sets: pd.DataFrame, insights: pd.DataFrame, now,
                   config: OrchestratorConfig) -> pd.DataFrame:
    """Why each goal's scaling budget is raised or held: its cost per core event, last 24 h vs the 24 h
    before (the plan only lists the raises; this says what the others are waiting for)."""
    cols = ["account_id", "goal", "campaign_id", "daily_budget", "verdict", "raise_ok", "recent_cpa", "prior_cpa",
            "recent_spend", "prior_spend"]
    rows = []
    if len(campaigns) and len(ad_sets):
        live = campaigns[(campaigns["kind"] == "scaling") & (campaigns["status"] == "ACTIVE")]
        for g in goals:
            for c in live[(live["account_id"] == g.account_id) & (live["goal"] == g.name)].itertuples():
                members = ad_sets.loc[ad_sets["campaign_id"] == c.id, "id"]
                ins = insights[insights["ad_set_id"].isin(members)] if len(insights) else insights
                signal = g.signal(config)
                if not len(ins):
                    t = {"verdict": "no delivery yet", "ok": False}
                else:
                    t = cpa_trend(ins, signal, now, config)
                rows.append({"account_id": g.account_id, "goal": g.name, "campaign_id": c.id,
                             "daily_budget": c.daily_budget, "verdict": t["verdict"], "raise_ok": bool(t["ok"]),
                             **{k: t.get(k) for k in ("recent_cpa", "prior_cpa", "recent_spend", "prior_spend")}})
    return pd.DataFrame(rows, columns=cols)


# the ad platforms' documented minimum daily budget of an ad set / ad group in USD, above OrchestratorConfig's
# default (Meta's $1): TikTok refuses an ad group under $20 a day (Business API, adgroup/create: budget)
PLATFORM_MIN_DAILY_BUDGET = {"tiktok": 20.0}


def _platform_floor(config: OrchestratorConfig, promotes: str) -> OrchestratorConfig:
    floor = PLATFORM_MIN_DAILY_BUDGET.get(promotes, 0.0)
    if floor <= config.platform_min_daily_budget:
        return config
    return dataclasses.replace(config, platform_min_daily_budget=floor)


# a goal's objective on an ads platform whose own objective of that name does not fit ACTP's ads: TikTok's
# WEB_CONVERSIONS (OUTCOME_SALES' mapping in ads/tiktok.py) needs a pixel and an optimization event on every ad
# group, which ACTP's ad groups do not carry; the sales goal steers on ACTP's own attribution, so on TikTok it
# buys clicks to the tracked link (TRAFFIC). Applied only while the goal's objective is still the default.
PLATFORM_OBJECTIVES = {"tiktok": {"sales": "TRAFFIC"}}


def _platform_objectives(config: OrchestratorConfig, promotes: str) -> OrchestratorConfig:
    swaps = {goal: obj for goal, obj in PLATFORM_OBJECTIVES.get(promotes, {}).items()
             if config.objectives.get(goal) == DEFAULT_OBJECTIVES.get(goal)}
    if not swaps:
        return config
    return dataclasses.replace(config, objectives={**config.objectives, **swaps})


def execute_pass(engine: Engine, client: AdsClient, now: dt.datetime, plan_id: str | None = None, *, trigger: str = "dagster",
                 dagster_run_id: str | None = None, max_plan_age_h: float = MAX_PLAN_AGE_H,
                 ad_links: AdLinks | None = None) -> Execution | None:
    """Execute a stored plan (the newest by default) for the accounts that approved it; with `ad_links`
    its new ads carry their creatives' paid tracked links (ads/ad_links.py)."""
    run = ads_audit.plan_run(engine, plan_id)
    if run is None:
        return None
    posts = post_lookup(posts_ledger(engine), getattr(client, "promotes", "instagram"))
    return execute_plan(engine, client, run["plan_id"], now=now, approved=ad_accounts.approvals(engine, run["plan_id"]),
                        post_for_variant=posts.get, trigger=trigger, dagster_run_id=dagster_run_id,
                        max_plan_age_h=max_plan_age_h, ad_links=ad_links)
