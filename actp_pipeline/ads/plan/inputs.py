"""The plan's inputs: frames in the Meta Marketing API's shape, validated and split by account.

Why one module: every frame (campaigns, ad sets, insights, winners, candidates, the audit log) is read
the same way: required columns checked, values parsed, rows of other accounts or ambiguous ids dropped,
and a malformed value marks its account bad instead of failing the whole plan. What comes out is an
`AccountView` per account, plain records that belong to that account only. Inputs are never modified.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Meta object statuses, campaign kinds and budget modes
ACTIVE, PAUSED = "ACTIVE", "PAUSED"
GONE = frozenset({"ARCHIVED", "DELETED"})
LEARNING, SCALING = "learning", "scaling"
ABO, CBO = "ABO", "CBO"

CAMPAIGN_COLUMNS = ("id", "account_id", "goal", "kind", "daily_budget", "status")
AD_SET_COLUMNS = ("id", "campaign_id", "account_id", "variant_id", "daily_budget", "status", "created_at")
INSIGHT_COLUMNS = ("ad_set_id", "at", "spend")
WINNER_COLUMNS = ("variant_id", "account_id", "goal")
HISTORY_COLUMNS = ("account_id", "action", "target_id", "at")
CANDIDATE_COLUMNS = ("variant_id", "account_id", "goal")
COUNTERS = ("spend", "impressions", "clicks")


# -- time, values -----------------------------------------------------------------------------------------
def utc(ts) -> pd.Timestamp:
    """A timestamp as naive UTC (naive input is taken to be UTC already)."""
    t = pd.Timestamp(ts)
    if t.tzinfo is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    return t


def hours(delta: pd.Timedelta) -> float:
    return delta / pd.Timedelta(hours=1)


def is_missing(v) -> bool:
    """None, NA, NaT or NaN: a value the input does not have."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and math.isnan(v)


def batch_boundary(now, batch_h: float) -> pd.Timestamp:
    """The start of the current feedback batch (UTC midnight for 24 h batches)."""
    return utc(now).floor(pd.Timedelta(hours=batch_h))


# -- frames -----------------------------------------------------------------------------------------------
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


class BadRows:
    """Which accounts have malformed rows, and the first reason for each."""

    def __init__(self):
        self.why: dict[str, str] = {}

    def mark(self, wrong: pd.Series, owners: pd.Series, raw: pd.Series, what: str) -> None:
        if wrong.any():
            for i in np.flatnonzero(wrong.to_numpy()):
                acc = owners.iloc[i]
                if isinstance(acc, str) and acc not in self.why:
                    self.why[acc] = f"{what} {raw.iloc[i]!r} is not valid"


def _numbers(raw: pd.Series, owners: pd.Series, what: str, bad: BadRows) -> pd.Series:
    """A column as floats; values that are present but not finite numbers >= 0 mark their account bad."""
    num = pd.to_numeric(raw, errors="coerce").astype(float)
    wrong = (num.isna() & raw.notna()) | ~np.isfinite(num.fillna(0.0)) | (num < 0)
    bad.mark(wrong, owners, raw, what)
    return num.where(~wrong)


def _times(raw: pd.Series, owners: pd.Series, what: str, bad: BadRows) -> pd.Series:
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
    return [None if is_missing(v) else str(v) for v in s]


def _optional(df: pd.DataFrame, col: str) -> list:
    """A column's values as text, or None for every row when the frame has no such column."""
    return _strs(df[col]) if col in df.columns else [None] * len(df)


def _id_counts(ids: list) -> dict:
    return pd.Series(ids, dtype=object).value_counts().to_dict() if ids else {}


# -- insights ---------------------------------------------------------------------------------------------
def insight_frame(insights, signals: Iterable[str], owner: Mapping[str, str] | None, bad: BadRows) -> pd.DataFrame:
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
            if s in ins.columns:  # a row that does not report the signal stays NaN: unknown, never 0
                out[s] = _numbers(ins[s], owners, f"insights.{s}", bad)
    return out.dropna(subset=["at"])


def _sums(ins: pd.DataFrame, cols: list[str]) -> dict[str, dict]:
    """Per ad set, each column summed; NaN where any of its rows did not report the column (a platform
    that left a metric out of some hours has an unknown total, not a smaller one)."""
    g = ins.groupby("ad_set_id")[cols]
    return g.sum().mask(g.count() < g.size().to_numpy()[:, None]).to_dict("index")


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
    life = _sums(ins, cols)
    recent = _sums(ins[ins["at"] > now - w], cols)
    prior = _sums(ins[(ins["at"] > now - 2 * w) & (ins["at"] <= now - w)], cols)
    batch = {}
    if batch_h:
        boundary = batch_boundary(now, batch_h)
        batch = _sums(ins[ins["at"] < boundary], cols)
    rows = ins.groupby("ad_set_id").size().to_dict()
    zero = dict.fromkeys(cols, 0.0)
    return {k: {**v, "rows": int(rows[k]), "recent": recent.get(k, zero), "prior": prior.get(k, zero),
                "batch": batch.get(k, zero)} for k, v in life.items()}


# -- one account's view -----------------------------------------------------------------------------------
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
    # every row the listing gave for the account, dropped ones too: the platform's own count (`listing`)
    listed_campaigns: list[dict] = field(default_factory=list)
    listed_ad_sets: list[dict] = field(default_factory=list)


def _read_campaigns(campaigns, views: dict[str, AccountView], bad: BadRows) -> dict[str, dict]:
    """Each wanted account's campaigns into its view; returns campaign id -> record."""
    camps = _frame(campaigns, CAMPAIGN_COLUMNS, "campaigns")
    owners = pd.Series(_strs(camps["account_id"]), index=camps.index, dtype=object)
    ids = _strs(camps["id"])
    counts = _id_counts(ids)
    budget = _numbers(camps["daily_budget"], owners, "campaigns.daily_budget", bad)
    created = _times(camps["created_at"], owners, "campaigns.created_at", bad) if "created_at" in camps.columns \
        else pd.Series(pd.NaT, index=camps.index)
    mode, objective = _optional(camps, "budget_mode"), _optional(camps, "objective")
    campaign_of: dict[str, dict] = {}
    for i, (cid, acc, goal, kind, st) in enumerate(zip(ids, owners, _strs(camps["goal"]), _strs(camps["kind"]),
                                                       _strs(camps["status"]))):
        if acc not in views:
            continue
        kind = (kind or "").lower()
        b = budget.iloc[i]
        rec = {"id": cid, "account_id": acc, "goal": goal, "kind": kind, "status": (st or "").upper(),
               "budget_mode": (mode[i] or (CBO if kind == SCALING else ABO)).upper(), "objective": objective[i],
               "daily_budget": None if is_missing(b) else float(b), "created_at": created.iloc[i]}
        views[acc].listed_campaigns.append(rec)  # every row, duplicates too: what the platform reports
        if counts.get(cid, 0) != 1:
            views[acc].dropped["campaigns"] += 1
            continue
        views[acc].campaigns.append(rec)
        campaign_of[cid] = rec
    return campaign_of


def _read_ad_sets(ad_sets, campaign_of: Mapping[str, dict], views: dict[str, AccountView],
                  bad: BadRows) -> dict[str, str]:
    """Each wanted account's ad sets (in a campaign of its own) into its view; returns ad set id -> account."""
    sets = _frame(ad_sets, AD_SET_COLUMNS, "ad_sets", {"variant_id": ("creative_id",)})
    owners = pd.Series(_strs(sets["account_id"]), index=sets.index, dtype=object)
    ids = _strs(sets["id"])
    counts = _id_counts(ids)
    budget = _numbers(sets["daily_budget"], owners, "ad_sets.daily_budget", bad)
    created = _times(sets["created_at"], owners, "ad_sets.created_at", bad)
    promoted = _optional(sets, "promoted_from")
    owner_of_set: dict[str, str] = {}
    for i, (sid, acc, cid, variant, st) in enumerate(zip(ids, owners, _strs(sets["campaign_id"]),
                                                         _strs(sets["variant_id"]), _strs(sets["status"]))):
        if acc not in views:
            continue
        camp = campaign_of.get(cid)
        b = budget.iloc[i]
        views[acc].listed_ad_sets.append({"id": sid, "campaign_id": cid, "status": (st or "").upper(),
                                          "daily_budget": None if is_missing(b) else float(b)})
        if counts.get(sid, 0) != 1 or camp is None or camp["account_id"] != acc:
            views[acc].dropped["ad_sets"] += 1
            continue
        views[acc].ad_sets.append({
            "id": sid, "account_id": acc, "campaign_id": cid, "variant_id": variant, "status": (st or "").upper(),
            "daily_budget": None if is_missing(b) else float(b), "created_at": created.iloc[i],
            "promoted_from": promoted[i], "goal": camp["goal"], "kind": camp["kind"],
            "budget_mode": camp["budget_mode"], "campaign_status": camp["status"]})
        owner_of_set[sid] = acc
    return owner_of_set


def _read_creatives(frame, required: Sequence[str], name: str, attr: str, views: dict[str, AccountView]) -> None:
    """Winners or candidates (rows decided "winner", once per account, goal and creative) into the views."""
    df = _frame(frame, required, name)
    decision = _strs(df["decision"]) if "decision" in df.columns else ["winner"] * len(df)
    evidence = list(df["evidence"]) if "evidence" in df.columns else [None] * len(df)
    seen = set()
    for acc, goal, variant, dec, ev in zip(_strs(df["account_id"]), _strs(df["goal"]), _strs(df["variant_id"]),
                                           decision, evidence):
        if acc in views and dec == "winner" and variant is not None and (acc, goal, variant) not in seen:
            seen.add((acc, goal, variant))
            getattr(views[acc], attr).append({"goal": goal, "variant_id": variant,
                                              "evidence": None if is_missing(ev) else ev})


def _read_history(history, views: dict[str, AccountView], bad: BadRows) -> None:
    """The audit log's rows into their account's view."""
    hist = _frame(history, HISTORY_COLUMNS, "history")
    owners = pd.Series(_strs(hist["account_id"]), index=hist.index, dtype=object)
    at = _times(hist["at"], owners, "history.at", bad)
    opt = {c: _optional(hist, c) for c in ("rule", "goal", "variant_id", "status")}
    for i, (acc, action, target) in enumerate(zip(owners, _strs(hist["action"]), _strs(hist["target_id"]))):
        if acc in views:
            views[acc].history.append({"action": action, "target_id": target, "at": at.iloc[i],
                                       **{c: opt[c][i] for c in opt}})


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
    bad = BadRows()
    campaign_of = _read_campaigns(campaigns, views, bad)
    owner_of_set = _read_ad_sets(ad_sets, campaign_of, views, bad)

    ins = insight_frame(insights, signals, owner_of_set, bad)
    present = frozenset(c for c in ins.columns if c in set(signals))
    for sid, st in aggregate_insights(ins, now, window_h, batch_h).items():
        views[owner_of_set[sid]].stats[sid] = st
    for v in views.values():
        v.signal_columns = present

    _read_creatives(winners, WINNER_COLUMNS, "winners", "winners", views)
    _read_creatives(candidates, CANDIDATE_COLUMNS, "candidates", "candidates", views)
    _read_history(history, views, bad)
    return views, {a: w for a, w in bad.why.items() if a in wanted}
