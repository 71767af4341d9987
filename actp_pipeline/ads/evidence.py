"""What the ad accounts say, as the orchestrator's inputs: objects, insights, paid winners, candidates.

Paid impressions are randomised by the ad platform's delivery inside one learning campaign, so the
creatives of a goal's learning campaign form a fair test cell. A creative wins there by the stopping rule
of organic winners (`stats.stopping.StoppingRule`: P(best) >= 95 %, the original system's exposure gates with
$5 spend or 1,500 impressions, 3 core events, 24 h live), measured on the goal's core signal per
impression. Those winners are what `ad_plan` promotes to scaling. The margin over the cell median is 0 by
default here (`PAID_RULE`): the learning campaign holds the organic test's finalists, whose median is
already high, and the original promoted "the best performer with sufficient volume" too; P(best) >= 95 %
is what makes that claim honest.

Candidates for the learning campaign come from the organic test: organic winners first, then the
creatives the allocation policy gives the largest share of the next round (the contenders a tie left).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from actp_pipeline.ads.client import AdsClient
from actp_pipeline.ads.goals import Goal, OrchestratorConfig
from actp_pipeline.ads.plan.inputs import utc
from actp_pipeline.stats.arms import ArmStats
from actp_pipeline.stats.stopping import StoppingRule

PAID_RULE = StoppingRule(margin=0.0)
PAID_WINNER_COLUMNS = ["account_id", "goal", "variant_id", "decision", "evidence", "p_best", "impressions",
                       "events", "spend", "hours_live"]


def account_inputs(client: AdsClient, account_ids: Iterable[str], now: dt.datetime, lookback_h: float = 96.0
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """(campaigns, ad_sets, insights, errors by account) read through the ads client, account by account;
    an account the API refuses becomes an error entry and the others are still read."""
    camps, sets, ins, errors = [], [], [], {}
    for acc in account_ids:
        try:
            c = client.campaigns(acc)
            s = client.ad_sets(acc)
            i = client.insights(acc, now - dt.timedelta(hours=lookback_h), now)
        except Exception as e:  # noqa: BLE001 - one account's failure must not hide the others
            errors[acc] = f"{type(e).__name__}: {e}"
            continue
        camps.append(c)
        sets.append(s)
        ins.append(i)

    def cat(frames):  # empty frames keep their columns: an account without campaigns is still a shape
        full = [f for f in frames if len(f)]
        return pd.concat(full, ignore_index=True) if full else (frames[0] if frames else pd.DataFrame())

    return cat(camps), cat(sets), cat(ins), errors


def paid_winners(goals: Sequence[Goal], campaigns: pd.DataFrame, ad_sets: pd.DataFrame, insights: pd.DataFrame,
                 now, rule: StoppingRule = PAID_RULE, config: OrchestratorConfig = OrchestratorConfig(),
                 seed: int = 0) -> pd.DataFrame:
    """Per goal, each creative of its learning campaign with the stopping rule's decision and evidence."""
    if not len(ad_sets) or not len(campaigns):
        return pd.DataFrame(columns=PAID_WINNER_COLUMNS)
    now = utc(now)
    learning = campaigns[(campaigns["kind"] == "learning") & ~campaigns["status"].isin(["ARCHIVED", "DELETED"])]
    sets = ad_sets[ad_sets["campaign_id"].isin(learning["id"]) & ad_sets["variant_id"].notna()]
    sets = sets.merge(learning[["id", "goal"]].rename(columns={"id": "campaign_id"}), on="campaign_id")
    rng = np.random.default_rng(seed)
    rows = []
    for g in goals:
        mine = sets[(sets["account_id"] == g.account_id) & (sets["goal"] == g.name)]
        signal = g.signal(config)
        if mine.empty or signal is None:
            continue
        ins = insights[insights["ad_set_id"].isin(mine["id"])] if len(insights) else insights
        per_set = pd.DataFrame({"ad_set_id": mine["id"].to_numpy()})
        if len(ins):
            events = ins[signal] if signal in ins else pd.Series(0.0, index=ins.index)
            agg = ins.assign(events=events).groupby("ad_set_id")[["impressions", "spend", "events"]].sum()
            per_set = per_set.merge(agg, left_on="ad_set_id", right_index=True, how="left")
        per_set = per_set.reindex(columns=["ad_set_id", "impressions", "spend", "events"]).fillna(0.0)
        arms = mine[["id", "variant_id", "created_at"]].merge(per_set, left_on="id", right_on="ad_set_id")
        arms["hours_live"] = (now - pd.to_datetime(arms["created_at"])).dt.total_seconds() / 3600
        by = arms.groupby("variant_id").agg(impressions=("impressions", "sum"), events=("events", "sum"),
                                            spend=("spend", "sum"), hours_live=("hours_live", "max")).reset_index()
        stats = ArmStats.from_arrays(successes=by["events"].to_numpy()[None, :],
                                     trials=by["impressions"].to_numpy()[None, :],
                                     impressions=by["impressions"].to_numpy()[None, :],
                                     events=by["events"].to_numpy()[None, :],
                                     hours_live=by["hours_live"].fillna(0.0).to_numpy()[None, :],
                                     spend=by["spend"].to_numpy()[None, :])
        d = rule.decide_many(stats, rng)
        ids = list(by["variant_id"])
        reason = rule.explain(d, stats, ids, 0)
        for j, v in enumerate(ids):
            won = int(d.winner[0]) == j
            rows.append({"account_id": g.account_id, "goal": g.name, "variant_id": v,
                         "decision": "winner" if won else "not_yet",
                         "evidence": reason, "p_best": float(d.p_best[0, j]) if np.isfinite(d.p_best[0, j]) else None,
                         "impressions": float(by["impressions"].iloc[j]), "events": float(by["events"].iloc[j]),
                         "spend": round(float(by["spend"].iloc[j]), 2), "hours_live": float(by["hours_live"].iloc[j])})
    return pd.DataFrame(rows, columns=PAID_WINNER_COLUMNS)


def candidates(goals: Sequence[Goal], organic: pd.DataFrame, allocation: pd.DataFrame | None,
               max_per_goal: int = 4, posted: Iterable[str] | None = None) -> pd.DataFrame:
    """Creatives to test in each goal's learning campaign: organic winners, then the largest shares of the
    allocation policy's next round (at most `max_per_goal`), only creatives with a published post."""
    order: list[str] = []
    if organic is not None and len(organic) and "decision" in organic:
        order += list(organic.loc[organic["decision"] == "winner", "variant_id"])
    if allocation is not None and len(allocation) and "share" in allocation:
        ranked = allocation.groupby("variant_id")["share"].max().sort_values(ascending=False, kind="stable")
        order += list(ranked.index)
    elif organic is not None and len(organic) and "p_best" in organic:
        order += list(organic.sort_values("p_best", ascending=False, kind="stable")["variant_id"])
    ok = set(posted) if posted is not None else None
    picked: list[str] = []
    for v in order:
        if v not in picked and (ok is None or v in ok):
            picked.append(v)
        if len(picked) >= max_per_goal:
            break
    rows = [{"variant_id": v, "account_id": g.account_id, "goal": g.name, "rank": i}
            for g in goals for i, v in enumerate(picked)]
    return pd.DataFrame(rows, columns=["variant_id", "account_id", "goal", "rank"])


def post_lookup(posts: pd.DataFrame) -> Mapping[str, str]:
    """variant id -> one published post id (the earliest) to run as the ad's creative."""
    if posts is None or not len(posts):
        return {}
    first = posts.sort_values("live_at", kind="stable").drop_duplicates("variant_id")
    return dict(zip(first["variant_id"], first["post_id"]))
