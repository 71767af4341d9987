"""The ads orchestrator's decisions, as a dry run (step 8, graduate): `ad_plan`.

`plan(...)` reads the goals of each ad account, the account's current campaigns, ad sets and insights
(DataFrames in the shape of the Meta Marketing API), the winners and the audit log of past actions, and
returns the list of actions the orchestrator would take now, each with the reason and the numbers behind
it. It changes nothing: executing the plan is `ad_actions`' job.

The rules, per goal of an account (every number an `OrchestratorConfig` field; defaults are the
original orchestrator's):

- ensure_learning: the goal has a learning campaign (ABO); create one if not.
- ensure_scaling: once the goal has winners, a scaling campaign (CBO) starting at 30 % of the goal
  budget (the goal budget is its priority share of the account's global daily budget, within its cap).
- promote: each winner's learning ad set is duplicated into the scaling campaign (targeting and creative
  kept, `promoted_from` recorded), unless the creative already runs there; 72 h cooldown per creative.
- scale: the scaling campaign's budget +20 % when its cost per core event over (now-24h, now] is stable
  (at most `cpa_stable_tolerance` = 10 % worse) or better than over (now-48h, now-24h]; 24 h cooldown per
  goal. Scaling takes budget from its goal's learning campaign but never leaves learning less than
  `min_learning_share` (30 %) of the goal budget, so a goal never spends more than its share.
- fit_budget: a scaling campaign above that room (after a budget was lowered) is cut back to it.
- rebalance / test_creative: what the scaling campaign does not take is the learning budget, split
  evenly over the learning campaign's running ad sets (minus losers about to be paused), plus a new ad
  set per candidate creative not yet tested, while each can still get the platform's minimum.
- pause_loser: an ad set that spent more than $10 with zero core events is paused, never one live less
  than 48 h or with a daily budget under $5 (inside a CBO campaign: its even share of the campaign's).
A goal has one learning and one scaling campaign (an ACTIVE one first, then the oldest); any others are
left alone, but their spend counts against the caps.

Every planned action then passes through ONE guard, `enforce`, which owns every cap, cooldown and
platform limit: account isolation, the automation switches, the pause safeguards, both cooldowns, at
most 4 budget changes per ad set (or campaign) per hour, the platform's minimum daily budget, and the
caps on planned daily spend per goal (max_daily_budget, or the goal's own lower cap), per account (its
global daily budget) and overall (across the accounts planned together). A violating action is clipped
(status "clipped") or kept but blocked (status "blocked"), with `blocked_by` naming the rule and `note`
the numbers, so a user sees "would promote X, but cooldown until T". Only "planned" and "clipped"
actions are executable. The guard applies actions in the order that frees budget first (pauses, cuts,
creations, promotions, raises). The rules only consult the same predicates to predict what will pass.

Planned daily spend is the sum of the daily budgets that would run: ACTIVE CBO campaigns' budgets and
ACTIVE ad sets' own budgets inside ACTIVE campaigns. The guard lets an action raise it only up to the
caps; spend already above a cap is never raised (the rules cut it instead).

The audit log (`history`) drives the cooldowns and the per-hour limit: rows with status blocked,
skipped, dry_run, planned or error never reached the platform and count for nothing; failed rows start
no cooldown but do count toward the per-hour limit (the call may have reached the platform).

Accounts are planned one at a time from their own rows only (an object whose id occurs more than once,
in one account or several, is dropped as ambiguous; insights count only under their ad set's account);
an error in one account or goal becomes an `error` entry and the others are still planned. Inputs are
never modified.

Times are UTC (naive timestamps are read as UTC). Money is in dollars at the edges, whole cents inside.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from actp_pipeline.ads.goals import (
    AccountBudget,
    AccountSettings,
    Goal,
    OrchestratorConfig,
    goals_from,
    settings_from,
    split_budget,
    to_cents,
    to_dollars,
)
from actp_pipeline.score.allocation import ArmStats, Thompson, TopTwoThompson

DEFAULT_CONFIG = OrchestratorConfig()

# Meta object statuses
ACTIVE, PAUSED = "ACTIVE", "PAUSED"
GONE = frozenset({"ARCHIVED", "DELETED"})
LEARNING, SCALING = "learning", "scaling"
ABO, CBO = "ABO", "CBO"

# actions (what the ads client is asked to do)
CREATE_CAMPAIGN = "create_campaign"
CREATE_AD_SET = "create_ad_set"
DUPLICATE_AD_SET = "duplicate_ad_set"
SET_BUDGET = "set_budget"
PAUSE_AD_SET = "pause_ad_set"
ERROR = "error"
ACTIONS = (CREATE_CAMPAIGN, CREATE_AD_SET, DUPLICATE_AD_SET, SET_BUDGET, PAUSE_AD_SET, ERROR)
REF_ACTIONS = (SET_BUDGET, PAUSE_AD_SET, DUPLICATE_AD_SET)  # actions whose target is an existing object
REF_KEYS = ("campaign_id", "source_ad_set_id", "promoted_from")  # params that name other objects

# rules (why)
ENSURE_LEARNING = "ensure_learning"
ENSURE_SCALING = "ensure_scaling"
TEST_CREATIVE = "test_creative"
REBALANCE = "rebalance"
PROMOTE = "promote"
SCALE = "scale"
FIT_BUDGET = "fit_budget"
PAUSE_LOSER = "pause_loser"

# guard rules (what blocked or clipped an action)
ACCOUNT_ISOLATION = "account_isolation"
DEPENDS_ON_BLOCKED = "depends_on_blocked"
AUTO_SCALE_OFF = "auto_scale_winners_off"
AUTO_PAUSE_OFF = "auto_pause_losers_off"
PROMOTE_COOLDOWN = "promote_cooldown"
SCALE_COOLDOWN = "scale_cooldown"
PAUSE_MIN_AGE = "pause_min_age"
PAUSE_MIN_BUDGET = "pause_min_budget"
BUDGET_CHANGE_LIMIT = "budget_change_limit"
PLATFORM_MIN_BUDGET = "platform_min_daily_budget"
GOAL_CAP = "goal_daily_cap"
ACCOUNT_CAP = "global_daily_budget"
OVERALL_CAP = "overall_daily_budget"
NOT_ACTIVE = "not_active"
NO_CHANGE = "no_change"
GUARD_ERROR = "guard_error"

# statuses of a planned action
PLANNED, CLIPPED, BLOCKED = "planned", "clipped", "blocked"
EXECUTABLE = frozenset({PLANNED, CLIPPED})

# audit-log statuses that mean "this never reached the platform"
NOT_SENT = frozenset({"blocked", "skipped", "dry_run", "planned", "error"})
# ... and those that start no cooldown (a failed call changed nothing, but may count toward rate limits)
NO_COOLDOWN = NOT_SENT | {"failed"}

CAMPAIGN_COLUMNS = ("id", "account_id", "goal", "kind", "daily_budget", "status")
AD_SET_COLUMNS = ("id", "campaign_id", "account_id", "variant_id", "daily_budget", "status", "created_at")
INSIGHT_COLUMNS = ("ad_set_id", "at", "spend")
WINNER_COLUMNS = ("variant_id", "account_id", "goal")
HISTORY_COLUMNS = ("account_id", "action", "target_id", "at")
CANDIDATE_COLUMNS = ("variant_id", "account_id", "goal")
COUNTERS = ("spend", "impressions", "clicks")


@dataclass(frozen=True)
class PlannedAction:
    """One thing the orchestrator would do, why, and whether the guard lets it.

    `target_id` is the object acted on (for a duplication: the source ad set); objects this plan would
    create get placeholder ids "new:<account>:<goal>:..." that later actions of the plan refer to.
    """

    account_id: str
    goal: str | None
    action: str
    rule: str
    target_id: str | None = None
    variant_id: str | None = None
    params: dict = field(default_factory=dict)
    reason: str = ""
    metrics: dict = field(default_factory=dict)
    status: str = PLANNED  # planned | clipped | blocked | error
    blocked_by: str | None = None  # the guard rule that blocked or clipped it
    note: str = ""  # the guard's numbers, e.g. "next promotion at ..."

    @property
    def executable(self) -> bool:
        return self.status in EXECUTABLE

    @property
    def creates(self) -> str | None:
        """The placeholder id of the object this action would create, if any."""
        if self.action in (CREATE_CAMPAIGN, CREATE_AD_SET):
            return self.target_id
        if self.action == DUPLICATE_AD_SET:
            return self.params.get("new_ad_set_id")
        return None

    def refs(self) -> list[str]:
        """Existing (or earlier-planned) objects this action touches or depends on."""
        out = []
        if self.action in REF_ACTIONS and self.target_id is not None:
            out.append(str(self.target_id))
        for key in REF_KEYS:
            v = self.params.get(key)
            if v is not None and str(v) not in out:
                out.append(str(v))
        return out


# -- time, frames ---------------------------------------------------------------------------------------
def utc(ts) -> pd.Timestamp:
    """A timestamp as naive UTC (naive input is taken to be UTC already)."""
    t = pd.Timestamp(ts)
    if t.tzinfo is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    return t


def hours(delta: pd.Timedelta) -> float:
    return delta / pd.Timedelta(hours=1)


def _missing(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and math.isnan(v)


def _frame(df: pd.DataFrame | None, required: Sequence[str], name: str,
           aliases: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """`df` (never modified) with the required columns, renamed from an alias if needed; None = empty."""
    if df is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in required})
    if not isinstance(df, pd.DataFrame):
        df = pd.DataFrame(df)
    renames = {}
    for col, alts in (aliases or {}).items():
        alt = next((a for a in alts if a in df.columns), None)
        if col not in df.columns and alt is not None:
            renames[alt] = col
    out = df.rename(columns=renames) if renames else df
    missing = [c for c in required if c not in out.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}")
    return out.reset_index(drop=True)


class _Bad:
    """Which accounts have malformed rows, and the first reason for each."""

    def __init__(self):
        self.why: dict[str, str] = {}

    def mark(self, wrong: pd.Series, owners: pd.Series, raw: pd.Series, what: str) -> None:
        if wrong.any():
            for i in np.flatnonzero(wrong.to_numpy()):
                acc = owners.iloc[i]
                if isinstance(acc, str) and acc not in self.why:
                    self.why[acc] = f"{what} {raw.iloc[i]!r} is not valid"


def _numbers(raw: pd.Series, owners: pd.Series, what: str, bad: _Bad) -> pd.Series:
    """A column as floats; values that are present but not finite numbers >= 0 mark their account bad."""
    num = pd.to_numeric(raw, errors="coerce").astype(float)
    wrong = (num.isna() & raw.notna()) | ~np.isfinite(num.fillna(0.0)) | (num < 0)
    bad.mark(wrong, owners, raw, what)
    return num.where(~wrong)


def _times(raw: pd.Series, owners: pd.Series, what: str, bad: _Bad) -> pd.Series:
    """A column as naive-UTC timestamps; unreadable present values mark their account bad."""
    if len(raw) == 0:
        return pd.Series(pd.to_datetime([]), index=raw.index)
    if pd.api.types.is_datetime64_any_dtype(raw):
        t = pd.to_datetime(raw, utc=True)
    else:
        t = pd.to_datetime(raw, utc=True, errors="coerce", format="mixed")
    bad.mark(t.isna() & raw.notna(), owners, raw, what)
    return t.dt.tz_convert(None)


def _strs(s: pd.Series) -> list:
    return [None if _missing(v) else str(v) for v in s]


@dataclass
class AccountView:
    """One account's slice of every input, normalised into plain records: nothing in it belongs to another
    account. `stats` holds each ad set's insights summed over its life and the two CPA windows."""

    account_id: str
    campaigns: list[dict] = field(default_factory=list)
    ad_sets: list[dict] = field(default_factory=list)  # with the campaign's goal, kind, budget_mode, status
    stats: dict[str, dict] = field(default_factory=dict)
    signal_columns: frozenset = frozenset()  # core signals the insights carry
    winners: list[dict] = field(default_factory=list)
    candidates: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    dropped: dict = field(default_factory=dict)  # rows left out as ambiguous or orphaned


def _insight_frame(insights, signals: Iterable[str], owner: Mapping[str, str] | None, bad: _Bad) -> pd.DataFrame:
    """Insights of owned ad sets, wide (ad_set_id, at, spend, impressions, clicks, one column per signal).
    `owner` maps ad set id -> account; a row counts only under its ad set's account (None: every row)."""
    ins = _frame(insights, INSIGHT_COLUMNS, "insights", {"at": ("hour", "date_start", "date")})
    ad_set = pd.Series(_strs(ins["ad_set_id"]), index=ins.index, dtype=object)
    owners = ad_set.map(owner) if owner is not None else pd.Series("*", index=ins.index, dtype=object)
    keep = owners.notna()
    if "account_id" in ins.columns and owner is not None:
        keep &= pd.Series(_strs(ins["account_id"]), index=ins.index, dtype=object) == owners
    ins, owners = ins[keep], owners[keep]
    out = pd.DataFrame({"ad_set_id": ad_set[keep], "owner": owners,
                        "at": _times(ins["at"], owners, "insights.at", bad)})
    for col in COUNTERS:
        out[col] = _numbers(ins[col], owners, f"insights.{col}", bad).fillna(0.0) if col in ins.columns else 0.0
    if "signal" in ins.columns and "events" in ins.columns:  # long form: a row per (ad set, time, signal)
        sig = pd.Series(_strs(ins["signal"]), index=ins.index, dtype=object)
        ev = _numbers(ins["events"], owners, "insights.events", bad).fillna(0.0)
        for s in set(signals):  # a signal without rows had no events
            out[s] = ev.where(sig == s, 0.0)
        # spend etc. are repeated on each signal's row of one (ad set, time): count them once
        firsts = ~out.duplicated(["ad_set_id", "at"])
        for col in COUNTERS:
            out[col] = out[col].where(firsts, 0.0)
    else:
        for s in set(signals):
            if s in ins.columns:
                out[s] = _numbers(ins[s], owners, f"insights.{s}", bad).fillna(0.0)
    return out.dropna(subset=["at"])


def aggregate_insights(ins: pd.DataFrame, now, window_h: float, batch_h: float | None = None) -> dict[str, dict]:
    """Per ad set: its insights summed over its life up to `now` and over the CPA windows
    "recent" (now - w, now] and "prior" (now - 2w, now - w], plus how many rows it has; with `batch_h`,
    also "batch": the sums before the last batch boundary (now floored to `batch_h` hours), the feedback
    the learning budget split may use (so it changes at most once a batch)."""
    now = utc(now)
    ins = ins[ins["at"] <= now]
    if ins.empty:
        return {}
    cols = [c for c in ins.columns if c not in ("ad_set_id", "owner", "at")]
    w = pd.Timedelta(hours=window_h)
    life = ins.groupby("ad_set_id")[cols].sum().to_dict("index")
    recent = ins[ins["at"] > now - w].groupby("ad_set_id")[cols].sum().to_dict("index")
    prior = ins[(ins["at"] > now - 2 * w) & (ins["at"] <= now - w)].groupby("ad_set_id")[cols].sum().to_dict("index")
    batch = {}
    if batch_h:
        boundary = batch_boundary(now, batch_h)
        batch = ins[ins["at"] < boundary].groupby("ad_set_id")[cols].sum().to_dict("index")
    rows = ins.groupby("ad_set_id").size().to_dict()
    zero = dict.fromkeys(cols, 0.0)
    return {k: {**v, "rows": int(rows[k]), "recent": recent.get(k, zero), "prior": prior.get(k, zero),
                "batch": batch.get(k, zero)} for k, v in life.items()}


def batch_boundary(now, batch_h: float) -> pd.Timestamp:
    """The start of the current feedback batch (UTC midnight for 24 h batches)."""
    return utc(now).floor(pd.Timedelta(hours=batch_h))


def account_views(account_ids: Iterable[str], campaigns=None, ad_sets=None, insights=None, winners=None,
                  history=None, candidates=None, *, signals: Iterable[str] = (), now=None,
                  window_h: float = 24.0, batch_h: float | None = None) -> tuple[dict[str, AccountView], dict[str, str]]:
    """Split every input by account and normalise it: (views by account, why an account's rows are bad).

    An object whose id occurs more than once (under one or several accounts) is dropped as ambiguous;
    an ad set whose campaign is not its own account's is dropped; insights count only for an ad set of
    their own account. Raises only when a whole input is unusable (a required column missing)."""
    now = utc(now if now is not None else pd.Timestamp.now(tz="UTC"))
    wanted = {str(a) for a in account_ids}
    views = {a: AccountView(a, dropped={"campaigns": 0, "ad_sets": 0}) for a in wanted}
    bad = _Bad()

    camps = _frame(campaigns, CAMPAIGN_COLUMNS, "campaigns")
    owners = pd.Series(_strs(camps["account_id"]), index=camps.index, dtype=object)
    ids = _strs(camps["id"])
    counts = pd.Series(ids, dtype=object).value_counts().to_dict() if ids else {}
    budget = _numbers(camps["daily_budget"], owners, "campaigns.daily_budget", bad)
    created = _times(camps["created_at"], owners, "campaigns.created_at", bad) if "created_at" in camps.columns \
        else pd.Series(pd.NaT, index=camps.index)
    mode = _strs(camps["budget_mode"]) if "budget_mode" in camps.columns else [None] * len(camps)
    objective = _strs(camps["objective"]) if "objective" in camps.columns else [None] * len(camps)
    campaign_of: dict[str, dict] = {}
    for i, (cid, acc, goal, kind, st) in enumerate(zip(ids, owners, _strs(camps["goal"]), _strs(camps["kind"]),
                                                       _strs(camps["status"]))):
        if acc not in wanted:
            continue
        if counts.get(cid, 0) != 1:
            views[acc].dropped["campaigns"] += 1
            continue
        kind = (kind or "").lower()
        b = budget.iloc[i]
        rec = {"id": cid, "account_id": acc, "goal": goal, "kind": kind, "status": (st or "").upper(),
               "budget_mode": (mode[i] or (CBO if kind == SCALING else ABO)).upper(), "objective": objective[i],
               "daily_budget": None if _missing(b) else float(b), "created_at": created.iloc[i]}
        views[acc].campaigns.append(rec)
        campaign_of[cid] = rec

    sets = _frame(ad_sets, AD_SET_COLUMNS, "ad_sets", {"variant_id": ("creative_id",)})
    owners = pd.Series(_strs(sets["account_id"]), index=sets.index, dtype=object)
    ids = _strs(sets["id"])
    counts = pd.Series(ids, dtype=object).value_counts().to_dict() if ids else {}
    budget = _numbers(sets["daily_budget"], owners, "ad_sets.daily_budget", bad)
    created = _times(sets["created_at"], owners, "ad_sets.created_at", bad)
    promoted = _strs(sets["promoted_from"]) if "promoted_from" in sets.columns else [None] * len(sets)
    owner_of_set: dict[str, str] = {}
    for i, (sid, acc, cid, variant, st) in enumerate(zip(ids, owners, _strs(sets["campaign_id"]),
                                                         _strs(sets["variant_id"]), _strs(sets["status"]))):
        if acc not in wanted:
            continue
        camp = campaign_of.get(cid)
        if counts.get(sid, 0) != 1 or camp is None or camp["account_id"] != acc:
            views[acc].dropped["ad_sets"] += 1
            continue
        b = budget.iloc[i]
        views[acc].ad_sets.append({
            "id": sid, "account_id": acc, "campaign_id": cid, "variant_id": variant, "status": (st or "").upper(),
            "daily_budget": None if _missing(b) else float(b), "created_at": created.iloc[i],
            "promoted_from": promoted[i], "goal": camp["goal"], "kind": camp["kind"],
            "budget_mode": camp["budget_mode"], "campaign_status": camp["status"]})
        owner_of_set[sid] = acc

    ins = _insight_frame(insights, signals, owner_of_set, bad)
    present = frozenset(c for c in ins.columns if c in set(signals))
    stats = aggregate_insights(ins, now, window_h, batch_h)
    for sid, st in stats.items():
        views[owner_of_set[sid]].stats[sid] = st
    for v in views.values():
        v.signal_columns = present

    for frame, required, name, attr in ((winners, WINNER_COLUMNS, "winners", "winners"),
                                        (candidates, CANDIDATE_COLUMNS, "candidates", "candidates")):
        df = _frame(frame, required, name)
        decision = _strs(df["decision"]) if "decision" in df.columns else ["winner"] * len(df)
        evidence = list(df["evidence"]) if "evidence" in df.columns else [None] * len(df)
        seen = set()
        for acc, goal, variant, dec, ev in zip(_strs(df["account_id"]), _strs(df["goal"]), _strs(df["variant_id"]),
                                               decision, evidence):
            if acc in wanted and dec == "winner" and variant is not None and (acc, goal, variant) not in seen:
                seen.add((acc, goal, variant))
                getattr(views[acc], attr).append({"goal": goal, "variant_id": variant,
                                                  "evidence": None if _missing(ev) else ev})

    hist = _frame(history, HISTORY_COLUMNS, "history")
    owners = pd.Series(_strs(hist["account_id"]), index=hist.index, dtype=object)
    at = _times(hist["at"], owners, "history.at", bad)
    opt = {c: (_strs(hist[c]) if c in hist.columns else [None] * len(hist))
           for c in ("rule", "goal", "variant_id", "status")}
    for i, (acc, action, target) in enumerate(zip(owners, _strs(hist["action"]), _strs(hist["target_id"]))):
        if acc in wanted:
            views[acc].history.append({"action": action, "target_id": target, "at": at.iloc[i],
                                       **{c: opt[c][i] for c in opt}})
    return views, {a: w for a, w in bad.why.items() if a in wanted}


# -- pure rules -----------------------------------------------------------------------------------------
def is_loser(spend: float, events: float, config: OrchestratorConfig = DEFAULT_CONFIG) -> bool:
    """Spent more than `loser_min_spend` (compared in cents) with at most `loser_max_events` core events
    (unknown events are never a loser). Whether it may be paused yet is the guard's call."""
    return (not _missing(events)) and to_cents(spend) > to_cents(config.loser_min_spend) \
        and events <= config.loser_max_events


def cost_per_event(spend: float, events: float) -> float:
    """Spend per core event: inf when money was spent for no event, NaN when nothing happened."""
    if not _missing(events) and events > 0:
        return spend / events
    return math.inf if spend > 0 and not _missing(events) else math.nan


def cpa_verdict(recent_spend: float, recent_events: float, prior_spend: float, prior_events: float,
                config: OrchestratorConfig = DEFAULT_CONFIG, signal: str = "core") -> dict:
    """Is the cost per core event of the recent window stable or improving against the prior one?

    `ok` when recent <= prior * (1 + cpa_stable_tolerance) (cross-multiplied, exact at the boundary),
    with enough evidence: spend in the prior window and core events in the recent one. Events NaN =
    unknown (no data for the signal)."""
    r_cpa, p_cpa = cost_per_event(recent_spend, recent_events), cost_per_event(prior_spend, prior_events)
    w = config.cpa_window_h
    out = {"signal": signal, "window_h": w, "recent_spend": round(recent_spend, 2), "recent_events": recent_events,
           "recent_cpa": r_cpa, "prior_spend": round(prior_spend, 2), "prior_events": prior_events,
           "prior_cpa": p_cpa, "change": math.nan, "verdict": "", "ok": False}
    if _missing(recent_events) or _missing(prior_events):
        out["verdict"] = f"no {signal} data in the insights"
    elif prior_spend <= 0:
        out["verdict"] = f"no spend {w:g}-{2 * w:g} h ago: too little history"
    elif prior_spend < config.cpa_min_prior_spend_share * recent_spend:
        out["verdict"] = (f"too little history: ${prior_spend:.2f} spent {w:g}-{2 * w:g} h ago vs ${recent_spend:.2f} "
                          f"in the last {w:g} h")
    elif not recent_events > 0:
        out["verdict"] = f"no {signal} events in the last {w:g} h"
    elif math.isinf(p_cpa):
        out.update(verdict="improving (events now, none before)", ok=True)
    else:
        slack = (1 + config.cpa_stable_tolerance) * (1 + 1e-12)
        stable = recent_spend * prior_events <= prior_spend * recent_events * slack
        out["change"] = r_cpa / p_cpa - 1
        out["verdict"] = "improving" if r_cpa < p_cpa else ("stable" if stable else "worsening")
        out["ok"] = bool(stable)
    return out


def cpa_trend(insights: pd.DataFrame, signal: str, now, config: OrchestratorConfig = DEFAULT_CONFIG) -> dict:
    """`cpa_verdict` over a frame of insights (ad_set_id, at, spend, <signal>) taken together."""
    ins = _insight_frame(insights, [signal], None, _Bad())
    stats = aggregate_insights(ins, now, config.cpa_window_h)
    return _trend_of(stats.values(), signal, signal in ins.columns, config)


def _trend_of(stats: Iterable[dict], signal: str, known: bool, config: OrchestratorConfig) -> dict:
    r_spend = r_ev = p_spend = p_ev = 0.0
    any_rows = False
    for st in stats:
        any_rows = True
        r_spend += st["recent"]["spend"]
        p_spend += st["prior"]["spend"]
        r_ev += st["recent"].get(signal, 0.0)
        p_ev += st["prior"].get(signal, 0.0)
    if any_rows and not known:
        r_ev = p_ev = math.nan
    return cpa_verdict(r_spend, r_ev, p_spend, p_ev, config, signal)


def _perf(view: AccountView, ad_set: dict, signal: str | None, now: pd.Timestamp) -> dict:
    """An ad set's lifetime numbers: spend, impressions, clicks, core events (NaN = its insights carry no
    column for the signal), hours live."""
    st = view.stats.get(ad_set["id"])
    if st is None:
        nums = {"spend": 0.0, "impressions": 0.0, "clicks": 0.0, "events": 0.0}
    else:
        known = signal is not None and signal in view.signal_columns
        nums = {"spend": round(st["spend"], 2), "impressions": st["impressions"], "clicks": st["clicks"],
                "events": st.get(signal, 0.0) if known else math.nan}
    created = ad_set["created_at"]
    age = math.nan if _missing(created) else hours(now - created)
    return {**ad_set, **nums, "signal": signal, "age_h": age}


def ad_set_performance(view: AccountView, signals: Mapping[str, str], now) -> pd.DataFrame:
    """Each ad set of a view with its lifetime numbers (for display and for `find_losers`)."""
    now = utc(now)
    rows = [_perf(view, s, signals.get(s["goal"]), now) for s in view.ad_sets]
    return pd.DataFrame(rows)


def find_losers(perf: pd.DataFrame, config: OrchestratorConfig = DEFAULT_CONFIG) -> pd.DataFrame:
    """Running ad sets (ACTIVE in an ACTIVE campaign) that are losers by `is_loser`."""
    if perf.empty:
        return perf
    mask = [r["status"] == ACTIVE and r["campaign_status"] == ACTIVE and is_loser(r["spend"], r["events"], config)
            for r in perf.to_dict("records")]
    return perf[mask]


# -- the ledger: one account's simulated state, the single home of caps, cooldowns and limits ----------
class Ledger:
    """What an account would look like as the plan's actions are applied, and what each action may do.

    Built from an `AccountView` (with the audit log); `enforce` asks it about every action and applies
    the ones it allows; the rules ask the same predicates only to predict.
    """

    def __init__(self, view: AccountView, budget: AccountBudget, goals: Iterable[Goal],
                 config: OrchestratorConfig, now):
        self.account_id = view.account_id
        self.budget = budget
        self.config = config
        self.now = utc(now)
        self.min_cents = to_cents(config.platform_min_daily_budget)
        self.account_cap = to_cents(budget.global_daily_budget)
        self.goal_caps = {g.name: to_cents(budget.goal_cap(g)) for g in goals}
        self.default_goal_cap = to_cents(budget.max_daily_budget)
        self.campaigns: dict[str, dict] = {
            r["id"]: {"goal": r["goal"], "kind": r["kind"], "status": r["status"], "budget_mode": r["budget_mode"],
                      "budget": _cents_or_none(r["daily_budget"])} for r in view.campaigns}
        self.ad_sets: dict[str, dict] = {
            r["id"]: {"campaign_id": r["campaign_id"], "status": r["status"], "created_at": r["created_at"],
                      "budget": _cents_or_none(r["daily_budget"]), "variant_id": r["variant_id"]}
            for r in view.ad_sets}
        self.existing = frozenset(self.campaigns) | frozenset(self.ad_sets)
        self.created: set[str] = set()
        self.changes: dict[str, list[pd.Timestamp]] = {}
        self.last_promotion: dict[str, pd.Timestamp] = {}
        self.last_scale: dict[str, pd.Timestamp] = {}
        for r in view.ad_sets:
            if r["promoted_from"] and r["variant_id"]:
                self._later(self.last_promotion, r["variant_id"], r["created_at"])
        for r in view.history:
            self._read_history(r)

    # history
    @staticmethod
    def _later(d: dict, key, t) -> None:
        if key is not None and not _missing(t) and (key not in d or t > d[key]):
            d[key] = t

    def _read_history(self, r: dict) -> None:
        status = (r.get("status") or "success").lower()
        action, rule, target, at = r["action"], r.get("rule"), r.get("target_id"), r["at"]
        if _missing(at):
            return
        if action in (SET_BUDGET, "update_budget") and status not in NOT_SENT and target is not None:
            self.changes.setdefault(target, []).append(at)
        if status in NO_COOLDOWN:
            return
        if rule == PROMOTE or action in (DUPLICATE_AD_SET, "promote_winner"):
            variant = r.get("variant_id") or self.ad_sets.get(target, {}).get("variant_id")
            self._later(self.last_promotion, variant, at)
        target_campaign = self.campaigns.get(target, {})
        if rule == SCALE or (rule is None and action in (SET_BUDGET, "update_budget")
                             and target_campaign.get("kind") == SCALING):
            self._later(self.last_scale, r.get("goal") or target_campaign.get("goal"), at)

    # spend
    def runs(self, obj_id: str) -> bool:
        """Whether this object's own daily budget would be spent: an ACTIVE CBO campaign, or an ACTIVE ad
        set inside an ACTIVE campaign."""
        if obj_id in self.campaigns:
            c = self.campaigns[obj_id]
            return c["status"] == ACTIVE and c["budget_mode"] == CBO
        s = self.ad_sets.get(obj_id)
        if s is None or s["status"] != ACTIVE:
            return False
        c = self.campaigns.get(s["campaign_id"])
        return c is not None and c["status"] == ACTIVE

    def counted(self, obj_id: str) -> int:
        """Cents of planned daily spend this object contributes (0 when it does not run)."""
        return (self.budget_of(obj_id) or 0) if self.runs(obj_id) else 0

    def goal_of(self, obj_id: str) -> str | None:
        if obj_id in self.campaigns:
            return self.campaigns[obj_id]["goal"]
        s = self.ad_sets.get(obj_id)
        return None if s is None else self.campaigns.get(s["campaign_id"], {}).get("goal")

    def account_spend(self) -> int:
        return sum(self.counted(i) for i in (*self.campaigns, *self.ad_sets))

    def goal_spend(self, goal: str | None) -> int:
        return sum(self.counted(i) for i in (*self.campaigns, *self.ad_sets) if self.goal_of(i) == goal)

    def goal_cap(self, goal: str | None) -> int:
        return self.goal_caps.get(goal, self.default_goal_cap)

    def headroom(self, goal: str | None, overall: "OverallBudget | None" = None) -> tuple[int, str, str]:
        """(cents that may still be added, the binding cap, its numbers) for an object of `goal`."""
        gs, acc_s = self.goal_spend(goal), self.account_spend()
        options = [
            (self.goal_cap(goal) - gs, GOAL_CAP,
             f"goal {goal} cap ${to_dollars(self.goal_cap(goal)):.2f}/day, planned ${to_dollars(gs):.2f}"),
            (self.account_cap - acc_s, ACCOUNT_CAP,
             f"account {self.account_id} global daily budget ${to_dollars(self.account_cap):.2f}, "
             f"planned ${to_dollars(acc_s):.2f}"),
        ]
        if overall is not None and overall.cap is not None:
            options.append((overall.cap - overall.spend, OVERALL_CAP,
                            f"overall daily budget ${to_dollars(overall.cap):.2f}, "
                            f"planned ${to_dollars(overall.spend):.2f}"))
        return min(options, key=lambda o: o[0])

    # per-object facts
    def age_h(self, ad_set_id: str) -> float:
        t = self.ad_sets[ad_set_id]["created_at"]
        return math.nan if _missing(t) else hours(self.now - t)

    def effective_budget(self, ad_set_id: str) -> int:
        """An ad set's daily budget; inside a CBO campaign, its even share of the campaign's budget."""
        s = self.ad_sets[ad_set_id]
        if s["budget"] is not None:
            return s["budget"]
        c = self.campaigns.get(s["campaign_id"], {})
        peers = sum(1 for x in self.ad_sets.values() if x["campaign_id"] == s["campaign_id"] and x["status"] == ACTIVE)
        return (c.get("budget") or 0) // max(peers, 1)

    def budget_of(self, obj_id: str) -> int | None:
        obj = self.campaigns.get(obj_id) or self.ad_sets.get(obj_id)
        return None if obj is None else obj["budget"]

    def status_of(self, obj_id: str) -> str | None:
        obj = self.campaigns.get(obj_id) or self.ad_sets.get(obj_id)
        return None if obj is None else obj["status"]

    # the blockers: each returns (rule, note) pairs; empty = allowed
    def pause_blockers(self, ad_set_id: str) -> list[tuple[str, str]]:
        c = self.config
        out = []
        if not self.budget.auto_pause_losers:
            out.append((AUTO_PAUSE_OFF, f"auto-pause of losers is off for account {self.account_id}"))
        age = self.age_h(ad_set_id)
        if not age >= c.pause_min_age_h:
            out.append((PAUSE_MIN_AGE, f"live {age:.1f} h < {c.pause_min_age_h:g} h"))
        b = self.effective_budget(ad_set_id)
        if b < to_cents(c.pause_min_budget):
            out.append((PAUSE_MIN_BUDGET, f"daily budget ${to_dollars(b):.2f} < ${c.pause_min_budget:.2f}"))
        return out

    def _cooldown(self, rule: str, last: pd.Timestamp | None, hours_: float, done: str, next_: str
                  ) -> list[tuple[str, str]]:
        """(rule, "<done> at T, x h ago; <next_> at T'") while `last` is less than `hours_` ago."""
        cd = pd.Timedelta(hours=hours_)
        if last is None or self.now - last >= cd:
            return []
        return [(rule, f"{done} at {last.isoformat()}, {hours(self.now - last):.1f} h ago; "
                       f"{next_} at {(last + cd).isoformat()}")]

    def _auto_scale(self) -> list[tuple[str, str]]:
        if self.budget.auto_scale_winners:
            return []
        return [(AUTO_SCALE_OFF, f"auto-scale of winners is off for account {self.account_id}")]

    def promote_blockers(self, variant_id: str | None) -> list[tuple[str, str]]:
        return self._auto_scale() + self._cooldown(PROMOTE_COOLDOWN, self.last_promotion.get(variant_id),
                                                   self.config.promote_cooldown_h,
                                                   f"creative {variant_id} promoted", "next promotion")

    def scale_blockers(self, goal: str | None) -> list[tuple[str, str]]:
        return self._auto_scale() + self._cooldown(SCALE_COOLDOWN, self.last_scale.get(goal),
                                                   self.config.scale_cooldown_h, f"goal {goal} scaled", "next scale")

    def rate_blockers(self, target: str) -> list[tuple[str, str]]:
        c = self.config
        window = pd.Timedelta(hours=c.budget_change_window_h)
        recent = [t for t in self.changes.get(target, []) if t > self.now - window]
        limit = c.max_budget_changes_per_hour
        if len(recent) >= limit:
            # allowed again once enough of them have left the window
            nxt = sorted(recent)[len(recent) - limit] + window if limit else None
            return [(BUDGET_CHANGE_LIMIT, f"{len(recent)} budget changes of {target} in the last "
                                          f"{c.budget_change_window_h:g} h (limit {c.max_budget_changes_per_hour})"
                                          + (f"; next at {nxt.isoformat()}" if nxt is not None else ""))]
        return []

    # applying an allowed action
    def apply(self, a: PlannedAction) -> None:
        p = a.params
        if a.action == CREATE_CAMPAIGN:
            self.campaigns[a.target_id] = {"goal": a.goal, "kind": p.get("kind"), "status": ACTIVE,
                                           "budget_mode": p.get("budget_mode", ABO),
                                           "budget": _cents_or_none(p.get("daily_budget"))}
            self.created.add(a.target_id)
        elif a.action in (CREATE_AD_SET, DUPLICATE_AD_SET):
            new_id = a.creates
            self.ad_sets[new_id] = {"campaign_id": p["campaign_id"], "status": ACTIVE,
                                    "budget": _cents_or_none(p.get("daily_budget")), "created_at": self.now,
                                    "variant_id": a.variant_id}
            self.created.add(new_id)
            if a.action == DUPLICATE_AD_SET:
                self._later(self.last_promotion, a.variant_id, self.now)
        elif a.action == SET_BUDGET:
            obj = self.campaigns.get(a.target_id) or self.ad_sets[a.target_id]
            obj["budget"] = to_cents(p["new_budget"])
            self.changes.setdefault(a.target_id, []).append(self.now)
            if a.rule == SCALE:
                self._later(self.last_scale, a.goal, self.now)
        elif a.action == PAUSE_AD_SET:
            self.ad_sets[a.target_id]["status"] = PAUSED

    def delta(self, a: PlannedAction) -> int:
        """Cents by which applying `a` would change planned daily spend."""
        p = a.params
        if a.action == SET_BUDGET:
            return to_cents(p["new_budget"]) - (self.budget_of(a.target_id) or 0) if self.runs(a.target_id) else 0
        if a.action == PAUSE_AD_SET:
            return -self.counted(a.target_id)
        if a.action == CREATE_CAMPAIGN:
            return to_cents(p.get("daily_budget")) if p.get("budget_mode") == CBO else 0
        if a.action in (CREATE_AD_SET, DUPLICATE_AD_SET):
            parent = self.campaigns.get(p.get("campaign_id"), {})
            return to_cents(p.get("daily_budget")) if parent.get("status") == ACTIVE else 0
        return 0


def _cents_or_none(v) -> int | None:
    return None if _missing(v) else to_cents(v)


@dataclass
class OverallBudget:
    cap: int | None  # cents, None = no overall cap
    spend: int = 0


# -- the planner ----------------------------------------------------------------------------------------
def _money(cents: int) -> str:
    return f"${to_dollars(cents):.2f}"


def _error(account_id: str, goal: str | None, scope: str, e: BaseException | str) -> PlannedAction:
    where = f"goal {goal} of account {account_id}" if goal else f"account {account_id}"
    if isinstance(e, BaseException):
        tb = traceback.extract_tb(e.__traceback__)
        what, kind, at = f"{type(e).__name__}: {e}", type(e).__name__, (f"{tb[-1].name}:{tb[-1].lineno}" if tb else "")
    else:
        what, kind, at = str(e), "BadInput", ""
    return PlannedAction(account_id=account_id, goal=goal, action=ERROR, rule=ERROR, status=ERROR,
                         reason=f"{where} could not be planned: {what}",
                         metrics={"scope": scope, "exception": kind, "where": at})


def _pick(camps: list[dict], kind: str) -> dict | None:
    """The goal's campaign of a kind: an ACTIVE one first, then the oldest, then the smallest id."""
    mine = [c for c in camps if c["kind"] == kind]
    if not mine:
        return None
    return min(mine, key=lambda c: (c["status"] != ACTIVE, pd.Timestamp.max if _missing(c["created_at"])
                                    else c["created_at"], c["id"]))


def _plan_account(view: AccountView, goals: Sequence[Goal], budget: AccountBudget,
                  config: OrchestratorConfig, now) -> tuple[list[PlannedAction], Ledger]:
    now = utc(now if now is not None else pd.Timestamp.now(tz="UTC"))
    acc = view.account_id
    actions: list[PlannedAction] = []
    valid: list[Goal] = []
    for g in goals:
        problems = g.problems(config)
        if str(g.account_id) != acc:
            problems.append(f"goal belongs to account {g.account_id}, not {acc}")
        if any(v.name == g.name for v in valid):
            problems.append(f"goal {g.name!r} is listed twice")
        if problems:
            actions.append(_error(acc, str(g.name), "goal", ValueError("; ".join(problems))))
        else:
            valid.append(g)
    ledger = Ledger(view, budget, valid, config, now)
    if not valid:
        return actions, ledger
    live = [c for c in view.campaigns if c["status"] not in GONE]
    with_scaling = {}
    for g in valid:
        scaling = _pick([c for c in live if c["goal"] == g.name], SCALING)
        with_scaling[g.name] = (scaling is not None and scaling["status"] == ACTIVE) or (
            scaling is None and any(w["goal"] == g.name for w in view.winners))
    split = {r["goal"]: r for r in split_budget(valid, budget, with_scaling, config).to_dict("records")}
    for g in sorted(valid, key=lambda g: (-g.priority, g.name)):
        try:
            actions += _plan_goal(view, ledger, g, split[g.name], config, now)
        except Exception as e:  # noqa: BLE001 - one goal's failure is recorded, the others go on
            actions.append(_error(acc, g.name, "goal", e))
    return actions, ledger


def _plan_goal(view: AccountView, ledger: Ledger, goal: Goal, split: dict, config: OrchestratorConfig,
               now: pd.Timestamp) -> list[PlannedAction]:
    acc, name = view.account_id, goal.name
    signal = goal.signal(config)
    out: list[PlannedAction] = []
    goal_cents = to_cents(split["goal_budget"])
    base = {"priority": goal.priority, "weight": round(float(split["weight"]), 4), "goal_budget": split["goal_budget"],
            "goal_cap": split["goal_cap"], "global_daily_budget": ledger.budget.global_daily_budget}
    perf = [_perf(view, s, signal, now) for s in view.ad_sets if s["goal"] == name]
    if any(_missing(p["events"]) for p in perf):
        raise ValueError(f"insights have rows for goal {name}'s ad sets but no column for its core signal {signal!r}")
    camps = [c for c in view.campaigns if c["goal"] == name and c["status"] not in GONE]
    learning, scaling = _pick(camps, LEARNING), _pick(camps, SCALING)

    # 1. a learning campaign (ABO)
    if learning is None:
        learning_id, learning_running = f"new:{acc}:{name}:learning", True
        out.append(PlannedAction(
            acc, name, CREATE_CAMPAIGN, ENSURE_LEARNING, target_id=learning_id,
            params={"kind": LEARNING, "budget_mode": ABO, "objective": config.objective(name),
                    "name": f"Learning - {name}", "daily_budget": None, "status": ACTIVE, "core_signal": signal},
            reason=f"goal {name} (priority {goal.priority}) has no learning campaign: create one (ABO, "
                   f"{config.objective(name)}, optimising for {signal})",
            metrics=dict(base)))
    else:
        learning_id, learning_running = learning["id"], learning["status"] == ACTIVE

    # 2. losers
    expected_paused = set()
    for r in perf:
        if not (r["status"] == ACTIVE and r["campaign_status"] == ACTIVE and is_loser(r["spend"], r["events"], config)):
            continue
        if not ledger.pause_blockers(r["id"]):
            expected_paused.add(r["id"])
        out.append(PlannedAction(
            acc, name, PAUSE_AD_SET, PAUSE_LOSER, target_id=r["id"], variant_id=r["variant_id"],
            params={"campaign_id": r["campaign_id"]},
            reason=f"ad set {r['id']} spent ${r['spend']:.2f} (more than ${config.loser_min_spend:.2f}) with "
                   f"{r['events']:g} {signal} events in {r['age_h']:.1f} h: pause it",
            metrics={"spend": r["spend"], "events": r["events"], "signal": signal, "age_h": round(r["age_h"], 2),
                     "daily_budget": to_dollars(ledger.effective_budget(r["id"])),
                     "impressions": r["impressions"], "clicks": r["clicks"]}))

    # 3. a scaling campaign (CBO) once winners exist, and promotions into it
    winners = [w for w in view.winners if w["goal"] == name]
    scaling_after = 0  # cents the scaling campaign will run at after this plan, as far as can be told
    scaling_id, scaling_new = None, False
    if scaling is None and winners:
        scaling_cents = to_cents(split["scaling_budget"])
        scaling_id, scaling_new = f"new:{acc}:{name}:scaling", True
        if scaling_cents >= ledger.min_cents:
            scaling_after = scaling_cents
        out.append(PlannedAction(
            acc, name, CREATE_CAMPAIGN, ENSURE_SCALING, target_id=scaling_id,
            params={"kind": SCALING, "budget_mode": CBO, "objective": config.objective(name),
                    "name": f"Scaling - {name}", "daily_budget": to_dollars(scaling_cents), "status": ACTIVE,
                    "core_signal": signal},
            reason=f"goal {name} has {len(winners)} winner(s) and no scaling campaign: create one (CBO) at "
                   f"{config.scaling_share:.0%} of the goal budget {_money(goal_cents)} = {_money(scaling_cents)}/day",
            metrics={**base, "winners": len(winners), "scaling_budget": to_dollars(scaling_cents)}))
    elif scaling is not None and scaling["status"] == ACTIVE:
        scaling_id = scaling["id"]
        scaling_after = ledger.budget_of(scaling_id) or 0

    if scaling_id is not None:
        in_scaling = {s["variant_id"] for s in view.ad_sets if s["campaign_id"] == scaling_id and s["status"] == ACTIVE}
        sources = [p for p in perf if p["kind"] == LEARNING and p["status"] not in GONE
                   and p["campaign_status"] not in GONE]
        for w in winners:
            v = w["variant_id"]
            mine = [p for p in sources if p["variant_id"] == v]
            if v in in_scaling or not mine:
                continue
            # the running one first, then the newest
            src = min(mine, key=lambda p: (p["status"] != ACTIVE,
                                           -(0 if _missing(p["created_at"]) else p["created_at"].value), p["id"]))
            cpa = cost_per_event(src["spend"], src["events"])
            ev = w.get("evidence")
            out.append(PlannedAction(
                acc, name, DUPLICATE_AD_SET, PROMOTE, target_id=src["id"], variant_id=v,
                params={"source_ad_set_id": src["id"], "campaign_id": scaling_id, "promoted_from": src["id"],
                        "new_ad_set_id": f"new:{acc}:{name}:promote:{v}", "keep_targeting": True,
                        "keep_creative": True, "daily_budget": None},
                reason=f"creative {v} is a winner for {name}: duplicate its learning ad set {src['id']} into the "
                       f"scaling campaign, same targeting and creative (${src['spend']:.2f} spent, "
                       f"{src['events']:g} {signal} events, {cpa:.2f} per event)"
                       + (f"; evidence: {ev}" if ev is not None else ""),
                metrics={"spend": src["spend"], "events": src["events"], "cost_per_event": cpa, "signal": signal,
                         "evidence": ev}))

    # 4. scale, or fit, the running scaling campaign
    if scaling_id is not None and not scaling_new:
        cur = scaling_after
        room = goal_cents - math.ceil(goal_cents * config.min_learning_share - 1e-9)
        if cur > room:
            fit = max(room, ledger.min_cents)
            if fit < cur:
                out.append(PlannedAction(
                    acc, name, SET_BUDGET, FIT_BUDGET, target_id=scaling_id,
                    params={"old_budget": to_dollars(cur), "new_budget": to_dollars(fit)},
                    reason=f"scaling campaign of {name} runs at {_money(cur)}/day but the goal budget "
                           f"{_money(goal_cents)} leaves it at most {_money(room)} (learning keeps "
                           f"{config.min_learning_share:.0%}): cut it to {_money(fit)}/day",
                    metrics={**base, "old_budget": to_dollars(cur), "new_budget": to_dollars(fit),
                             "scaling_room": to_dollars(room)}))
                scaling_after = fit
        elif 0 < cur < room:
            members = [view.stats[s["id"]] for s in view.ad_sets
                       if s["campaign_id"] == scaling_id and s["id"] in view.stats]
            trend = _trend_of(members, signal, signal in view.signal_columns, config)
            if trend["ok"]:
                want = max(int(round(cur * (1 + config.scale_step))), cur + 1)
                new = min(want, room)
                capped = f" (capped at {_money(room)}: the goal budget minus learning's share)" if new < want else ""
                out.append(PlannedAction(
                    acc, name, SET_BUDGET, SCALE, target_id=scaling_id,
                    params={"old_budget": to_dollars(cur), "new_budget": to_dollars(new)},
                    reason=f"cost per {signal} {trend['verdict']}: {trend['recent_cpa']:.2f} in the last "
                           f"{config.cpa_window_h:g} h vs {trend['prior_cpa']:.2f} before; scale {name}'s scaling "
                           f"campaign +{config.scale_step:.0%}: {_money(cur)} -> {_money(new)}/day{capped}",
                    metrics={**base, **{k: trend[k] for k in ("recent_spend", "recent_events", "recent_cpa",
                                                               "prior_spend", "prior_events", "prior_cpa", "change",
                                                               "verdict")},
                             "old_budget": to_dollars(cur), "new_budget": to_dollars(new),
                             "scaling_room": to_dollars(room)}))
                if not ledger.scale_blockers(name) and not ledger.rate_blockers(scaling_id):
                    scaling_after = new

    # 5. learning ad sets: the rest of the goal budget, split evenly; new creatives while there is room
    if learning_running:
        learning_cents = max(goal_cents - scaling_after, 0)
        running = sorted((s for s in view.ad_sets if s["campaign_id"] == learning_id and s["status"] == ACTIVE
                          and s["id"] not in expected_paused),
                         key=lambda s: (pd.Timestamp.max if _missing(s["created_at"]) else s["created_at"], s["id"]))
        tested = {s["variant_id"] for s in view.ad_sets if s["goal"] == name and s["kind"] == LEARNING}
        fresh = [c["variant_id"] for c in view.candidates if c["goal"] == name and c["variant_id"] not in tested]
        slots = learning_cents // ledger.min_cents if ledger.min_cents > 0 else len(running) + len(fresh)
        fresh = fresh[:max(0, slots - len(running))]
        n = len(running) + len(fresh)
        if n:
            target = max(learning_cents // n, ledger.min_cents)
            why = (f"learning budget {_money(learning_cents)}/day of goal {name} ({_money(goal_cents)} - "
                   f"scaling {_money(scaling_after)}) over {n} ad set(s)")
            split = _learning_split(view, running, len(fresh), learning_cents, target, signal, config,
                                    ledger.min_cents, learning_id, now)
            for r in running:
                cur = _cents_or_none(r["daily_budget"]) or 0
                want, share = split.get(r["id"], (target, None))
                how = "" if share is None else (f" ({share:.0%} of the tested ad sets' budget by "
                                                f"{config.learning_split} on {signal} per impression up to "
                                                f"{batch_boundary(now, config.learning_batch_h):%Y-%m-%d %H:%M})")
                if cur != want:
                    out.append(PlannedAction(
                        acc, name, SET_BUDGET, REBALANCE, target_id=r["id"], variant_id=r["variant_id"],
                        params={"old_budget": to_dollars(cur), "new_budget": to_dollars(want)},
                        reason=f"{why}: set ad set {r['id']} from {_money(cur)} to {_money(want)}/day{how}",
                        metrics={**base, "learning_budget": to_dollars(learning_cents), "ad_sets": n,
                                 "old_budget": to_dollars(cur), "new_budget": to_dollars(want),
                                 "share": share, "split": config.learning_split}))
            for v in fresh:
                out.append(PlannedAction(
                    acc, name, CREATE_AD_SET, TEST_CREATIVE, target_id=f"new:{acc}:{name}:adset:{v}", variant_id=v,
                    params={"campaign_id": learning_id, "variant_id": v, "daily_budget": to_dollars(target),
                            "status": ACTIVE},
                    reason=f"test creative {v} for {name}: a new ad set at {_money(target)}/day ({why})",
                    metrics={**base, "learning_budget": to_dollars(learning_cents), "ad_sets": n,
                             "new_budget": to_dollars(target)}))
    return out


def _learning_split(view: AccountView, running: list[dict], n_fresh: int, learning_cents: int, even: int,
                    signal: str | None, config: OrchestratorConfig, min_cents: int, campaign_id: str,
                    now: pd.Timestamp) -> dict[str, tuple[int, float | None]]:
    """Budgets of the running learning ad sets under the bandit split: {ad set id: (cents, share)}.

    New ad sets (planned now, or with no impressions before the batch boundary) get the even share; the
    rest of the learning budget is split by the policy's shares over the tested ones (core events per
    impression before the boundary, so the split moves at most once a batch), each at least the platform
    minimum. Empty (= the even split) when the split is "even", fewer than two are tested, or the
    minimums do not fit."""
    if config.learning_split == "even" or signal is None or signal not in view.signal_columns:
        return {}
    tested = [r for r in running if view.stats.get(r["id"], {}).get("batch", {}).get("impressions", 0) > 0]
    if len(tested) < 2:
        return {}
    budget = learning_cents - even * (n_fresh + len(running) - len(tested))
    if budget < min_cents * len(tested):
        return {}
    batch = [view.stats[r["id"]]["batch"] for r in tested]
    events = np.array([[b.get(signal, 0.0) for b in batch]])
    impressions = np.array([[b["impressions"] for b in batch]])
    spend = np.array([[b["spend"] for b in batch]])
    stats = ArmStats.from_arrays(successes=np.minimum(events, impressions), trials=impressions,
                                 impressions=impressions, events=events, hours_live=np.zeros_like(events), spend=spend)
    policy = (TopTwoThompson if config.learning_split == "top_two_thompson" else Thompson)(floor=config.learning_floor)
    boundary = batch_boundary(now, config.learning_batch_h)
    seed = int(hashlib.sha256(f"{campaign_id}|{boundary.isoformat()}".encode()).hexdigest()[:12], 16)
    shares = policy.shares(stats, np.random.default_rng(seed))[0]
    cents = np.maximum(np.floor(budget * shares).astype(int), min_cents)
    while cents.sum() > budget:  # the minimums pushed it over: take the excess from the largest
        cents[int(np.argmax(cents))] -= int(cents.sum() - budget)
        if cents.min() < min_cents:
            return {}
    return {r["id"]: (int(c), float(sh)) for r, c, sh in zip(tested, cents, shares)}


# -- the guard ------------------------------------------------------------------------------------------
def _phase(a: PlannedAction) -> int:
    """Order in which the guard applies actions: what frees budget before what spends it."""
    if a.action == PAUSE_AD_SET:
        return 0
    if a.action == SET_BUDGET:
        try:
            return 1 if float(a.params["new_budget"]) < float(a.params["old_budget"]) else 5
        except (KeyError, TypeError, ValueError):
            return 5
    return {CREATE_CAMPAIGN: 2, CREATE_AD_SET: 3, DUPLICATE_AD_SET: 4}.get(a.action, 9)


def _block(a: PlannedAction, rule: str, note: str) -> PlannedAction:
    return replace(a, status=BLOCKED, blocked_by=rule, note=note)


def enforce(actions: Sequence[PlannedAction], ledgers: Mapping[str, Ledger],
            overall: OverallBudget | None = None) -> list[PlannedAction]:
    """Pass every action through the caps, cooldowns and limits, in the order that frees budget first.

    Returns the actions in their original order, each planned, clipped or blocked (errors untouched).
    `ledgers` (one per account, mutated: they end as the state after the plan) hold the rules.
    """
    overall = overall or OverallBudget(None, 0)
    out = list(actions)
    for i in sorted(range(len(actions)), key=lambda i: (_phase(actions[i]), i)):
        a = actions[i]
        if a.action == ERROR:
            continue
        try:
            out[i] = _guard_one(a, ledgers.get(a.account_id), overall)
        except Exception as e:  # noqa: BLE001 - a guard failure blocks the action, never lets it through
            out[i] = _block(a, GUARD_ERROR, f"{type(e).__name__}: {e}")
    return out


def _guard_one(a: PlannedAction, led: Ledger | None, overall: OverallBudget) -> PlannedAction:
    if led is None or led.account_id != a.account_id:
        return _block(a, ACCOUNT_ISOLATION, f"no state of account {a.account_id} was planned")
    acc = a.account_id
    own_new = f"new:{acc}:"
    if a.action not in ACTIONS:
        return _block(a, GUARD_ERROR, f"unknown action {a.action!r}")
    # isolation: every object touched must be this account's, or planned earlier for it
    for ref in a.refs():
        if ref in led.existing or ref in led.created:
            continue
        if ref.startswith(own_new):
            return _block(a, DEPENDS_ON_BLOCKED, f"{ref} would not be created")
        return _block(a, ACCOUNT_ISOLATION, f"{ref} is not an object of account {acc}")
    made = a.creates
    if made is not None and (not made.startswith(own_new) or made in led.existing or made in led.created):
        return _block(a, ACCOUNT_ISOLATION, f"{made} is not a fresh placeholder of account {acc}")

    if a.action == PAUSE_AD_SET:
        if a.target_id not in led.ad_sets:
            return _block(a, ACCOUNT_ISOLATION, f"{a.target_id} is not an ad set of account {acc}")
        if led.status_of(a.target_id) != ACTIVE:
            return _block(a, NOT_ACTIVE, f"ad set {a.target_id} is {led.status_of(a.target_id)}")
        blockers = led.pause_blockers(a.target_id)
        if blockers:
            return _block(a, blockers[0][0], "; ".join(n for _, n in blockers))
        d = led.delta(a)
        led.apply(a)
        overall.spend += d
        return a

    if a.action == DUPLICATE_AD_SET:
        blockers = led.promote_blockers(a.variant_id)
        if blockers:
            return _block(a, blockers[0][0], "; ".join(n for _, n in blockers))
        into = led.campaigns.get(a.params.get("campaign_id"))
        if into is None or into["status"] != ACTIVE:
            return _block(a, NOT_ACTIVE, f"scaling campaign {a.params.get('campaign_id')} is not running")
        return _spend_check(a, led, overall, old=0, creation=a.params.get("daily_budget") is not None)

    if a.action == SET_BUDGET:
        t = a.target_id
        if led.status_of(t) != ACTIVE:
            return _block(a, NOT_ACTIVE, f"{t} is {led.status_of(t)}")
        old = led.budget_of(t)
        if old is None:
            return _block(a, NOT_ACTIVE, f"{t} has no daily budget of its own")
        if a.rule == SCALE:
            blockers = led.scale_blockers(a.goal)
            if blockers:
                return _block(a, blockers[0][0], "; ".join(n for _, n in blockers))
        rate = led.rate_blockers(t)
        if rate:
            return _block(a, rate[0][0], rate[0][1])
        if to_cents(a.params.get("old_budget")) != old:  # the plan's picture is stale: use the ledger's
            a = replace(a, params={**a.params, "old_budget": to_dollars(old)})
        return _spend_check(a, led, overall, old=old, creation=False)

    # create_campaign / create_ad_set
    budget = a.params.get("daily_budget")
    return _spend_check(a, led, overall, old=0, creation=budget is not None)


def _spend_check(a: PlannedAction, led: Ledger, overall: OverallBudget, old: int, creation: bool) -> PlannedAction:
    """Platform minimum and the three spend caps for an action that sets a budget, then apply it."""
    key = "new_budget" if a.action == SET_BUDGET else "daily_budget"
    if a.action != SET_BUDGET and not creation:  # no budget of its own: nothing to cap
        d = led.delta(a)
        led.apply(a)
        overall.spend += d
        return a
    new = to_cents(a.params[key])
    status, rule, note = PLANNED, None, ""
    if new < led.min_cents:
        if a.action == SET_BUDGET and old > led.min_cents:
            new, status, rule = led.min_cents, CLIPPED, PLATFORM_MIN_BUDGET
            note = f"raised to the platform minimum {_money(led.min_cents)}/day"
        else:
            return _block(a, PLATFORM_MIN_BUDGET, f"{_money(new)}/day is below the platform minimum "
                                                  f"{_money(led.min_cents)}/day")
    trial = replace(a, params={**a.params, key: to_dollars(new)})
    d = led.delta(trial)
    if d > 0:
        if a.action == SET_BUDGET:
            goal = led.goal_of(a.target_id)
        elif a.action == CREATE_CAMPAIGN:
            goal = a.goal
        else:  # a new ad set spends for its campaign's goal
            goal = led.goal_of(a.params.get("campaign_id"))
        room, cap_rule, cap_note = led.headroom(goal, overall)
        if d > room:
            allowed = new - (d - max(room, 0))
            floor = old + 1 if a.action == SET_BUDGET else led.min_cents
            if allowed < max(floor, led.min_cents):
                return _block(a, cap_rule, f"no room for +{_money(d)}/day: {cap_note}")
            new, status, rule = allowed, CLIPPED, cap_rule
            note = f"asked {_money(to_cents(a.params[key]))}/day, clipped to {_money(allowed)}/day: {cap_note}"
            trial = replace(a, params={**a.params, key: to_dollars(new)})
            d = led.delta(trial)
    if a.action == SET_BUDGET and new == old:
        return _block(a, rule or NO_CHANGE, note or "budget already at its target")
    out = replace(trial, status=status, blocked_by=rule, note=note)
    if status == CLIPPED:
        out = replace(out, metrics={**out.metrics, "requested_budget": a.params[key], key: to_dollars(new)})
    led.apply(out)
    overall.spend += d
    return out


# -- the whole dry run ----------------------------------------------------------------------------------
def plan(goals: Iterable[Goal] | pd.DataFrame, campaigns: pd.DataFrame | None = None,
         ad_sets: pd.DataFrame | None = None, insights: pd.DataFrame | None = None,
         winners: pd.DataFrame | None = None, history: pd.DataFrame | None = None, *,
         accounts: Iterable[AccountSettings] | pd.DataFrame | Mapping | None = None,
         candidates: pd.DataFrame | None = None, now=None,
         config: OrchestratorConfig = DEFAULT_CONFIG) -> list[PlannedAction]:
    """The dry run: every action the orchestrator would take at `now`, guarded, with reasons and numbers.

    goals: `Goal`s or a frame (account_id, name, priority[, core_signal, budget_cap, active]).
    campaigns: id, account_id, goal, kind (learning|scaling), daily_budget, status[, budget_mode, objective,
      created_at]. ad_sets: id, campaign_id, account_id, variant_id (or creative_id), daily_budget, status,
      created_at[, promoted_from]. insights: ad_set_id, at (bucket start; or hour/date_start/date), spend
      [, account_id, impressions, clicks] and one column per core signal (or long form: signal, events).
    winners: variant_id, account_id, goal[, evidence, decision]. history (the audit log): account_id,
      action, target_id, at[, rule, goal, variant_id, status]. candidates (creatives to test): variant_id,
      account_id, goal. accounts: `AccountSettings` (budgets and automation switches) per account.

    Inputs are never modified. Accounts are planned independently; an error becomes an `error` entry.
    """
    now = utc(now if now is not None else pd.Timestamp.now(tz="UTC"))
    goal_list = goals_from(goals)
    settings = settings_from(accounts)
    account_ids = sorted({str(g.account_id) for g in goal_list})
    signals = {g.signal(config) for g in goal_list if isinstance(g.name, str)} - {None}
    try:
        views, bad = account_views(account_ids, campaigns, ad_sets, insights, winners, history, candidates,
                                   signals=signals, now=now, window_h=config.cpa_window_h,
                                   batch_h=config.learning_batch_h)
    except Exception as e:  # noqa: BLE001 - an unusable input: every account gets the error
        return [_error(acc, None, "inputs", e) for acc in account_ids]
    proposals: list[PlannedAction] = []
    ledgers: dict[str, Ledger] = {}
    for acc in account_ids:
        if acc in bad:
            proposals.append(_error(acc, None, "account", bad[acc]))
            continue
        try:
            budget = settings.get(acc, AccountSettings(acc)).resolve(config)
            mine = [g for g in goal_list if str(g.account_id) == acc]
            actions, ledger = _plan_account(views[acc], mine, budget, config, now)
        except Exception as e:  # noqa: BLE001 - one account's failure is recorded, the others go on
            proposals.append(_error(acc, None, "account", e))
            continue
        ledgers[acc] = ledger
        proposals += actions
    overall = OverallBudget(None if config.overall_daily_budget is None else to_cents(config.overall_daily_budget),
                            sum(led.account_spend() for led in ledgers.values()))
    return enforce(proposals, ledgers, overall)


# -- presenting and logging a plan ----------------------------------------------------------------------
PLAN_COLUMNS = ["account_id", "goal", "action", "rule", "target_id", "variant_id", "status", "blocked_by",
                "old_budget", "new_budget", "reason", "note", "params", "metrics"]


def json_safe(v):
    """A value made of plain JSON types (numpy scalars, timestamps; non-finite floats become None)."""
    if isinstance(v, Mapping):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return v.isoformat()
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(v) else None
    if v is None or isinstance(v, (str, int, bool)):
        return v
    return str(v)


def _json(d: Mapping) -> str:
    return json.dumps(json_safe(d), sort_keys=True)


def plan_frame(actions: Sequence[PlannedAction]) -> pd.DataFrame:
    """One row per action, for display (params and metrics as JSON text)."""
    rows = []
    for a in actions:
        p = a.params
        rows.append({"account_id": a.account_id, "goal": a.goal, "action": a.action, "rule": a.rule,
                     "target_id": a.target_id, "variant_id": a.variant_id, "status": a.status,
                     "blocked_by": a.blocked_by, "old_budget": p.get("old_budget"),
                     "new_budget": p.get("new_budget", p.get("daily_budget")), "reason": a.reason, "note": a.note,
                     "params": _json(p), "metrics": _json(a.metrics)})
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def plan_summary(actions: Sequence[PlannedAction]) -> dict:
    """Counts of executable actions by kind, as the original run summary had them, plus blocked/errors."""
    ok = [a for a in actions if a.executable]
    return {
        "campaigns_created": sum(a.action == CREATE_CAMPAIGN for a in ok),
        "ad_sets_created": sum(a.action == CREATE_AD_SET for a in ok),
        "winners_promoted": sum(a.action == DUPLICATE_AD_SET for a in ok),
        "budgets_scaled": sum(a.rule == SCALE for a in ok),
        "budgets_changed": sum(a.action == SET_BUDGET for a in ok),
        "ad_sets_paused": sum(a.action == PAUSE_AD_SET for a in ok),
        "blocked": sum(a.status == BLOCKED for a in actions),
        "errors": [a.reason for a in actions if a.action == ERROR],
    }
