"""What the ad accounts say, as the orchestrator's inputs: objects, insights, paid winners, candidates.

Paid impressions are randomised by the ad platform's delivery inside one learning campaign, so the
creatives of a goal's learning campaign form a fair test cell. A creative wins there by THE SAME stopping
rule as organic winners (`PAID_RULE` = `stats.stopping.StoppingRule()`: P(rate > 1.05 x the best other
creative's) >= 99 %, the original system's exposure gates with $5 spend or 1,500 impressions, 3 core
events, 24 h live), measured on the goal's core signal per impression, with the robust hierarchical
posterior of stats/hierarchy.py: the days of an ad set play the part of posts (day-to-day variation
beyond binomial noise is estimated from them), its prior comes from the other creatives of the campaign.
Those winners are what `ad_plan` promotes to scaling.

One posterior from organic to paid: a creative's organic evidence enters the paid test as a discounted
prior. Organic and paid measure different signals (engagement per view, core events per impression), so
what carries over is the creative's organic lift over its organic cell (posterior means); the paid prior's
centre is multiplied by lift ^ `organic_weight` (0.5 by default, 0 ignores organic evidence, 1 trusts it
fully). The evidence text of each creative says the lift and the weight.

Candidates for the learning campaign come from the organic test: organic winners first, then the
creatives the allocation policy gives the largest share of the next round (the contenders a tie left).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from actp_pipeline.ads.client import AdsClient
from actp_pipeline.ads.goals import Goal, OrchestratorConfig, is_attributed
from actp_pipeline.ads.plan.inputs import utc
from actp_pipeline.stats.arms import from_units
from actp_pipeline.stats.stopping import StoppingRule

PAID_RULE = StoppingRule()
ORGANIC_WEIGHT = 0.5  # how much of a creative's organic lift the paid prior carries (0 = none, 1 = all)
MAX_ORGANIC_LIFT = 3.0  # an organic lift is clipped to [1/3, 3] before it moves a paid prior
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


def organic_lift(decisions: pd.DataFrame | None) -> dict[str, float]:
    """variant id -> its organic posterior mean over the mean of its organic cell's creatives (geometric mean
    over the cells it was posted in), from the `decisions` asset (winners.decide)."""
    need = {"variant_id", "variant_er_mean", "platform", "account", "cell_window"}
    if decisions is None or not len(decisions) or not need <= set(decisions.columns):
        return {}
    per = decisions.drop_duplicates(["platform", "account", "cell_window", "variant_id"])
    per = per[per["variant_er_mean"] > 0]
    if per.empty:
        return {}
    cell_mean = per.groupby(["platform", "account", "cell_window"])["variant_er_mean"].transform("mean")
    log_lift = np.log((per["variant_er_mean"] / cell_mean).clip(1 / MAX_ORGANIC_LIFT, MAX_ORGANIC_LIFT))
    return {str(v): float(np.exp(x)) for v, x in log_lift.groupby(per["variant_id"]).mean().items()}


def _daily(ins: pd.DataFrame, signal: str) -> pd.DataFrame:
    """Impressions and core events per ad set per day: the days are the paid test's 'posts'."""
    events = ins[signal] if signal in ins else pd.Series(0.0, index=ins.index)
    day = pd.to_datetime(ins["at"], utc=True).dt.floor("D") if "at" in ins else pd.Series(0, index=ins.index)
    return (ins.assign(events=events, day=day).groupby(["ad_set_id", "day"])[["impressions", "spend", "events"]]
            .sum().reset_index())


def _known(ad_sets: pd.DataFrame, ins: pd.DataFrame, signal: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ad sets (and their insights) whose ACTP-attributed core events are known: one whose rows all leave
    the signal NaN (no paid link) is not in the test, rather than entering it with 0 events. Platform signals
    are left as they were read."""
    if not is_attributed(signal) or not len(ins) or signal not in ins:
        return ad_sets, ins
    unknown = set(ins["ad_set_id"]) - set(ins.loc[ins[signal].notna(), "ad_set_id"])
    return ad_sets[~ad_sets["id"].isin(unknown)], ins[~ins["ad_set_id"].isin(unknown)]


def paid_winners(goals: Sequence[Goal], campaigns: pd.DataFrame, ad_sets: pd.DataFrame, insights: pd.DataFrame,
                 now, rule: StoppingRule = PAID_RULE, config: OrchestratorConfig = OrchestratorConfig(),
                 seed: int = 0, organic: pd.DataFrame | None = None,
                 organic_weight: float = ORGANIC_WEIGHT) -> pd.DataFrame:
    """Per goal, each creative of its learning campaign with the stopping rule's decision and evidence.

    `organic` is the decisions asset (winners.decide): each creative's organic lift becomes part of its paid
    prior, discounted by `organic_weight` (see the module doc)."""
    if not 0.0 <= organic_weight <= 1.0:
        raise ValueError(f"organic_weight must be within [0, 1], got {organic_weight}")
    lifts = organic_lift(organic) if organic_weight > 0 else {}
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
        mine, ins = _known(mine, ins, signal)
        if mine.empty:
            continue
        sets_of = mine[["id", "variant_id", "created_at"]].rename(columns={"id": "ad_set_id"})
        daily = (_daily(ins, signal).merge(sets_of[["ad_set_id", "variant_id"]], on="ad_set_id")
                 if len(ins) else pd.DataFrame(columns=["ad_set_id", "day", "impressions", "spend", "events", "variant_id"]))
        created = pd.to_datetime(sets_of["created_at"], utc=True).dt.tz_localize(None)
        sets_of["hours_live"] = (now - created).dt.total_seconds() / 3600
        by = (sets_of.groupby("variant_id").agg(hours_live=("hours_live", "max")).reset_index()
              .merge(daily.groupby("variant_id")[["impressions", "spend", "events"]].sum().reset_index(),
                     on="variant_id", how="left").fillna({"impressions": 0.0, "spend": 0.0, "events": 0.0}))
        ids = list(by["variant_id"])
        index = {v: i for i, v in enumerate(ids)}
        days = daily[daily["impressions"] > 0]
        lift = np.array([lifts.get(str(v), 1.0) for v in ids])
        # the days of an ad set are its units (its 'posts'): their spread is the day-to-day overdispersion
        stats, day_cv2, day_df = from_units(
            days["variant_id"].map(index).to_numpy(dtype=np.int64), days["impressions"].to_numpy(dtype=float),
            days["events"].to_numpy(dtype=float), arms=len(ids),
            hours_live=by["hours_live"].fillna(0.0).to_numpy(dtype=float), spend=by["spend"].to_numpy(dtype=float),
            prior_factor=lift**organic_weight)
        d = rule.decide_many(stats, rng)
        reason = rule.explain(d, stats, ids, 0) + (f"; day-to-day sd {np.sqrt(day_cv2):.0%} ({day_df:.0f} df)")
        for j, v in enumerate(ids):
            won = int(d.winner[0]) == j
            prior_note = (f"; organic lift x{lift[j]:.2f} at weight {organic_weight:g}" if str(v) in lifts else "")
            rows.append({"account_id": g.account_id, "goal": g.name, "variant_id": v,
                         "decision": "winner" if won else "not_yet",
                         "evidence": reason + prior_note, "p_best": float(d.p_best[0, j]) if np.isfinite(d.p_best[0, j]) else None,
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


def post_lookup(posts: pd.DataFrame, promotes: str = "instagram") -> Mapping[str, str]:
    """variant id -> the published post to run as the ad's creative, AS THE AD PLATFORM CAN PROMOTE IT; a
    variant with no such post is absent (the plan does not pick it: nothing to promote).

    `promotes`: the platform whose organic posts the ads client runs (a client's `promotes` attribute).
    Meta's ("instagram"): an Instagram post whose id is an IG media id (digits, what media_publish answers)
    becomes "instagram:<media id>" (the earliest such post; the Meta clients make a creative with
    source_instagram_media_id), else a Facebook Page post ("<page id>_<post id>", object_story_id). TikTok's
    Spark Ads: the variant's earliest TikTok post. A TikTok video, a YouTube video or an Instagram post
    without a media id is never handed to Meta, nor a Reel to TikTok: the ad would promote a post its
    platform does not know."""
    if posts is None or not len(posts) or "platform" not in posts:
        return {}
    ordered = posts.sort_values("live_at", kind="stable")
    out: dict[str, str] = {}
    if promotes == "instagram":
        page = ordered[ordered["platform"] == "facebook"].drop_duplicates("variant_id")
        out.update(zip(page["variant_id"], page["post_id"]))
        is_media = ordered["post_id"].astype(str).str.fullmatch(r"[0-9]{5,30}")
        media = ordered[(ordered["platform"] == "instagram") & is_media].drop_duplicates("variant_id")
        out.update({v: f"instagram:{m}" for v, m in zip(media["variant_id"], media["post_id"])})
        return out
    own = ordered[ordered["platform"] == promotes].drop_duplicates("variant_id")
    return dict(zip(own["variant_id"], own["post_id"]))
