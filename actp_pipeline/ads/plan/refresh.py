"""Creative fatigue in the plan: which running ad sets wear out, and the refresh the plan proposes.

Why apart from the planner: fatigue needs the insights bucket by bucket (days), while the planner reads
each ad set's sums (`AccountView.stats`). This module turns the insights into one series per ad set on
its goal's core signal, asks `stats.fatigue` for a verdict, and says what a fatigued ad set gets:
- a learning ad set, when the goal has an untested candidate creative: `refresh_creative`, a pause (the
  guard's pause gates and switch apply) whose freed slot the candidate's new ad set takes in the same plan;
- otherwise (a scaling ad set, no candidate, or spend below the pause gate): a `refresh_needed` alert,
  shown in the plan and its summary, never executed.
Only complete buckets count (before `now` floored to `fatigue_bucket_h`): a partial day would bias both
the rate and the CPM.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd

from actp_pipeline.ads.goals import Goal, OrchestratorConfig, to_cents
from actp_pipeline.ads.plan.figures import count, money
from actp_pipeline.ads.plan.inputs import LEARNING, AccountView, BadRows, insight_frame, utc
from actp_pipeline.ads.plan.rules import ALERT, BLOCKED, PAUSE_AD_SET, REFRESH_CREATIVE, REFRESH_NEEDED
from actp_pipeline.stats.fatigue import FATIGUED, FatigueRule, assess

FATIGUE_METRICS = ("verdict", "buckets", "impressions", "events", "spend", "rate_change", "rate_change_lo",
                   "rate_change_hi", "p_decay", "first_rate", "last_rate", "cpm_change", "cpm_change_lo",
                   "cpm_change_hi", "p_cpm_rise", "first_cpm", "last_cpm")


def fatigue_rule(config: OrchestratorConfig) -> FatigueRule:
    return FatigueRule(min_buckets=config.fatigue_min_buckets, min_events=config.fatigue_min_events,
                       p_fatigue=config.fatigue_probability, min_drop=config.fatigue_min_drop,
                       min_cpm_rise=config.fatigue_min_cpm_rise)


def fatigue_by_account(insights, views: Mapping[str, AccountView], goals: Iterable[Goal],
                       config: OrchestratorConfig, now) -> dict[str, dict[str, dict]]:
    """{account: {ad set id: `stats.fatigue` row}} for every ad set of the views with insights in complete
    buckets, on its goal's core signal (ad sets whose insights lack that signal are left out)."""
    now = utc(now)
    owner = {s["id"]: acc for acc, v in views.items() for s in v.ad_sets}
    signal_by_goal = {(str(g.account_id), g.name): g.signal(config) for g in goals if isinstance(g.name, str)}
    signal_of = {s["id"]: signal_by_goal.get((acc, s["goal"])) for acc, v in views.items() for s in v.ad_sets}
    signals = {x for x in signal_of.values() if x}
    if not owner or insights is None:
        return {}
    ins = insight_frame(insights, signals, owner, BadRows())
    step = pd.Timedelta(hours=config.fatigue_bucket_h)
    ins = ins[ins["at"] < now.floor(step)]
    if ins.empty:
        return {}
    sig = ins["ad_set_id"].map(signal_of)
    events = pd.Series(math.nan, index=ins.index)
    for s in signals:
        if s in ins.columns:
            events = events.where(sig != s, ins[s])
    series = pd.DataFrame({"creative": ins["ad_set_id"], "bucket": ins["at"].dt.floor(step),
                           "impressions": ins["impressions"], "events": events, "spend": ins["spend"]})
    series = series[series["events"].notna()]
    out: dict[str, dict[str, dict]] = {acc: {} for acc in views}
    for r in assess(series, fatigue_rule(config)).to_dict("records"):
        out[owner[r["creative"]]][r["creative"]] = r
    return out


def _evidence(f: Mapping) -> str:
    return (f"{f['why']} ({f['buckets']} buckets of {count(f['impressions'])} impressions, "
            f"{count(f['events'])} events, {money(f['spend'])})")


def refresh_specs(perf: list[dict], fatigue: Mapping[str, dict], fresh: list[str], skip: set[str], goal: str,
                  signal: str | None, config: OrchestratorConfig) -> list[dict]:
    """What each fatigued running ad set of a goal gets: keyword arguments for `PlannedAction` (action,
    rule, target, params, reason, metrics). `fresh` = the goal's untested candidates, in order (each swaps in
    once); `skip` = ad sets already being paused (losers)."""
    out = []
    fresh = list(fresh)
    for r in perf:
        f = fatigue.get(r["id"])
        if f is None or f["verdict"] != FATIGUED or r["id"] in skip or r["status"] != "ACTIVE" \
                or r["campaign_status"] != "ACTIVE":
            continue
        metrics = {**{f"fatigue_{k}": f[k] for k in FATIGUE_METRICS}, "spend": r["spend"], "events": r["events"],
                   "signal": signal, "age_h": round(r["age_h"], 2)}
        head = (f"creative {r['variant_id']} of ad set {r['id']} is fatigued on {signal} per impression or CPM: "
                f"{_evidence(f)}")
        gate = to_cents(r["spend"]) > to_cents(config.loser_min_spend)
        if r["kind"] == LEARNING and fresh and gate:
            new = fresh.pop(0)
            out.append(dict(action=PAUSE_AD_SET, rule=REFRESH_CREATIVE, target_id=r["id"], variant_id=r["variant_id"],
                            params={"campaign_id": r["campaign_id"], "replacement": new},
                            reason=f"{head}: pause it; untested candidate {new} takes its place in the learning "
                                   f"campaign of {goal}",
                            metrics={**metrics, "replacement": new}))
            continue
        why_not = ("a scaling ad set is replaced by promoting a winner, not by an untested creative"
                   if r["kind"] != LEARNING else
                   f"goal {goal} has no untested candidate to swap in" if not fresh else
                   f"spent {money(r['spend'])}, not more than the pause gate {money(config.loser_min_spend)}")
        out.append(dict(action=ALERT, rule=REFRESH_NEEDED, target_id=r["id"], variant_id=r["variant_id"],
                        status=BLOCKED, blocked_by=REFRESH_NEEDED, note=f"refresh needed: {why_not}",
                        reason=f"{head}: refresh needed ({why_not})",
                        metrics=metrics))
    return out
