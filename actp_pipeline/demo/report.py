"""The demo's verdict: the loop's decisions next to the sandbox's ground truth, as a report and a summary.

Creatives are compared inside fair cells (score/cells.py), so the organic table is per cell: each row's
P(best) is the creative's chance of being the best of that cell, never a maximum over several cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd

from actp_pipeline.demo.config import DemoConfig
from actp_pipeline.score.cells import CELL
from actp_pipeline.settings import Settings
from actp_pipeline.store.warehouse import Warehouse

CONTENDERS_PER_CELL = 4  # the organic leaders per cell that the report shows (and that go to the paid test)


@dataclass
class DemoResult:
    winners: pd.DataFrame  # every decided winner: organic (per cell) and paid (learning campaign), with true ranks
    truth: pd.DataFrame
    true_best_variant: str | None
    true_best_in_winners: bool
    contenders: pd.DataFrame = field(default_factory=pd.DataFrame)  # the organic leaders of each cell
    paid: pd.DataFrame = field(default_factory=pd.DataFrame)  # the paid learning test, per creative
    promoted: list[str] = field(default_factory=list)  # creatives duplicated into the scaling campaign
    audit: dict[str, int] = field(default_factory=dict)  # executed actions by kind and status
    decisions: dict[str, str] = field(default_factory=dict)  # "cell / variant_id" -> the organic decision
    funnel: pd.DataFrame = field(default_factory=pd.DataFrame)  # attribution per creative next to its true rates
    runs: int = 0
    wall_s: float = 0.0


def fetch_truth(base_url: str, token: str) -> pd.DataFrame:
    """Ground truth per posted creative (evaluation only): its true engagement rate (the mean over its
    posts of what a post on its platform at its hour is expected to earn), its rank, and its posts."""
    items = httpx.get(f"{base_url}/sandbox/truth/posts", headers={"X-Truth-Token": token}, timeout=30).json()["items"]
    posts = pd.DataFrame(items)
    if posts.empty:
        return posts
    if "platform_true_er" in posts:
        posts["true_er"] = posts["platform_true_er"]
    truth = posts.groupby("variant_id").agg(true_er=("true_er", "mean"), posts=("variant_id", "size")).reset_index()
    truth = truth.sort_values("true_er", ascending=False).reset_index(drop=True)
    truth["true_rank"] = range(1, len(truth) + 1)
    return truth


def fetch_funnel_truth(base_url: str, token: str) -> pd.DataFrame:
    """Per posted creative with a tracked link: its true clicks per view, conversion rate and revenue per
    1,000 views (the money it earns for the views it gets), and its rank by that (evaluation only)."""
    resp = httpx.get(f"{base_url}/sandbox/truth/funnel", headers={"X-Truth-Token": token}, timeout=30)
    items = pd.DataFrame(resp.json()["items"]) if resp.status_code == 200 else pd.DataFrame()
    if items.empty:
        return items
    price = float(resp.json()["price"])
    t = items.groupby("variant_id").agg(true_click_per_view=("true_click_per_view", "mean"),
                                        true_conversion_rate=("true_conversion_rate", "mean")).reset_index()
    t["true_revenue_per_1k_views"] = 1000 * t["true_click_per_view"] * t["true_conversion_rate"] * price
    t = t.sort_values("true_revenue_per_1k_views", ascending=False).reset_index(drop=True)
    t["true_money_rank"] = range(1, len(t) + 1)
    return t


def funnel_table(wh: Warehouse, truth: pd.DataFrame) -> pd.DataFrame:
    """The attribution asset's all-platform, all-channel, any-event row per creative, next to the funnel's truth."""
    if not wh.exists("attribution") or truth.empty:
        return pd.DataFrame()
    a = wh.read("attribution")
    a = a[(a["platform"] == "*") & (a["event"] == "*") & (a["channel"] == "*" if "channel" in a else True)]
    cols = ["variant_id", "clicks", "conversions", "conversion_rate", "rate_low", "rate_high",
            *[c for c in a.columns if c.startswith("revenue_") and not c.startswith("revenue_per")]]
    out = a[cols].merge(truth, on="variant_id", how="inner")
    return out.sort_values("true_money_rank").reset_index(drop=True)


def _per_cell(wh: Warehouse) -> pd.DataFrame:
    """One row per creative per cell, with its pooled evidence in that cell, leaders first in each cell."""
    decisions = wh.read("decisions") if wh.exists("decisions") else pd.DataFrame(columns=["variant_id", "decision"])
    if "variant_views" in decisions:  # one row per post: show each creative once per cell, with its pooled evidence
        decisions = decisions.assign(posts=decisions["variant_posts"], views=decisions["variant_views"],
                                     er_mean=decisions["variant_er_mean"])
    cell = [c for c in CELL if c in decisions]
    decisions = decisions.drop_duplicates([*cell, "variant_id"])
    if "p_best" in decisions and len(decisions):
        decisions = decisions.sort_values([*cell, "p_best"], ascending=[True] * len(cell) + [False], kind="stable")
    return decisions


def _audit(cfg: DemoConfig) -> tuple[list[str], dict[str, int]]:
    """Executed ads actions by kind and status, and the creatives promoted to scaling."""
    from actp_pipeline.ads import audit as ads_audit
    from actp_pipeline.store import connect_store

    engine = connect_store(Settings(data_dir=cfg.data_dir, database_url=cfg.store_url).store_url)
    log = ads_audit.log(engine, limit=10_000)
    engine.dispose()
    executed = log[log["mode"] == ads_audit.EXECUTE] if len(log) else log
    if not len(executed):
        return [], {}
    audit = {f"{a}:{st}": int(n) for (a, st), n in executed.groupby(["action", "status"]).size().items()}
    promoted = sorted(executed.loc[(executed["action"] == "duplicate_ad_set")
                                   & (executed["status"] == "success"), "variant_id"].unique())
    return promoted, audit


def compare(cfg: DemoConfig, truth: pd.DataFrame, funnel_truth: pd.DataFrame | None = None) -> DemoResult:
    """The loop's decisions next to the sandbox's ground truth."""
    wh = Warehouse(cfg.data_dir / "warehouse")
    best = truth.iloc[0]["variant_id"] if len(truth) else None
    ranks = truth[["variant_id", "true_er", "true_rank"]] if len(truth) else pd.DataFrame(
        columns=["variant_id", "true_er", "true_rank"])
    decisions = _per_cell(wh)
    cell = [c for c in CELL if c in decisions]
    organic = decisions[decisions["decision"] == "winner"].assign(stage="organic")
    contenders = pd.DataFrame()
    if "p_best" in decisions and len(decisions):
        leaders = decisions.groupby(cell, sort=True, dropna=False).head(CONTENDERS_PER_CELL) if cell else \
            decisions.head(CONTENDERS_PER_CELL)
        contenders = leaders.merge(ranks, on="variant_id", how="left")
    paid = wh.read("paid_winners") if wh.exists("paid_winners") else pd.DataFrame(columns=["variant_id", "decision"])
    paid = paid.merge(ranks, on="variant_id", how="left") if len(paid) else paid
    paid_won = paid[paid["decision"] == "winner"].assign(stage="paid") if len(paid) else paid.iloc[0:0]
    winners = pd.concat([organic.merge(ranks, on="variant_id", how="left"), paid_won], ignore_index=True) \
        if len(organic) or len(paid_won) else pd.DataFrame(columns=["variant_id", "stage", "true_rank"])
    promoted, audit = _audit(cfg) if cfg.paid_days > 0 else ([], {})
    per_variant = {" / ".join(str(r[c]) for c in [*cell, "variant_id"]): str(r["decision"])
                   for _, r in decisions.iterrows()}
    return DemoResult(winners=winners, truth=truth, true_best_variant=best,
                      true_best_in_winners=bool(best is not None and best in set(winners["variant_id"])),
                      contenders=contenders, paid=paid, promoted=promoted, audit=audit, decisions=per_variant,
                      funnel=funnel_table(wh, funnel_truth if funnel_truth is not None else pd.DataFrame()))


def _organic_lines(contenders: pd.DataFrame) -> list[str]:
    """One table per cell: the cell's leading creatives with their P(best) in that cell, and its verdict."""
    cols = ["variant_id", "hook_pattern", "angle", "cta_style", "format", "posts", "views", "er_mean", "p_best",
            "decision", "true_er", "true_rank"]
    cell = [c for c in CELL if c in contenders]
    groups = contenders.groupby(cell, sort=True, dropna=False) if cell else [((), contenders)]
    lines = []
    for key, rows in groups:
        key = key if isinstance(key, tuple) else (key,)
        name = " / ".join(str(k) for k in key)
        lines += ["Organic test, the leading contenders" + (f" of cell {name}" if name else "") + ":",
                  rows[[c for c in cols if c in rows]].to_markdown(index=False, floatfmt=".4f")]
        verdict = rows["cell_reason"].iloc[0] if "cell_reason" in rows else rows.get("reason", pd.Series([""])).iloc[0]
        if verdict:
            lines.append(f"organic verdict: {verdict}")
        lines.append("")
    return lines


PAID_FORMATS = {"spend": ".2f", "hours_live": ".0f"}  # dollars and whole hours; rates and P(best) to 4 places


def format_report(result: DemoResult) -> str:
    lines = [f"Decisions next to the sandbox's ground truth ({len(result.truth)} posted creatives, "
             "rank 1 = truly best):", ""]
    if len(result.contenders):
        lines += _organic_lines(result.contenders)
    if len(result.paid):
        cols = ["variant_id", "impressions", "events", "spend", "hours_live", "p_best", "decision", "true_er", "true_rank"]
        paid = result.paid[[c for c in cols if c in result.paid]].sort_values("true_rank")
        paid = paid.astype({c: "int64" for c in ("impressions", "events") if c in paid})
        lines += ["Paid learning test (core signal per impression, randomised by the ad platform):",
                  paid.to_markdown(index=False, floatfmt=[PAID_FORMATS.get(c, ".4f") for c in paid.columns]),
                  f"paid verdict: {result.paid['evidence'].iloc[0]}", ""]
    lines += _funnel_lines(result.funnel)
    if result.promoted:
        lines.append(f"Promoted to the scaling campaign: {', '.join(result.promoted)}")
    if result.audit:
        lines.append("Audit log (executed actions): " + ", ".join(f"{k} {v}" for k, v in sorted(result.audit.items())))
    if len(result.winners):
        lines += ["", "Winners: " + ", ".join(f"{r.variant_id} ({r.stage}, true rank {r.true_rank})"
                                             for r in result.winners.itertuples())]
    else:
        lines += ["", "Winners: none yet (the evidence did not clear the rule; see the verdicts above)"]
    lines += [f"True best creative: {result.true_best_variant} -> "
              f"{'among the winners' if result.true_best_in_winners else 'NOT among the winners'}",
              f"{result.runs} Dagster runs in {result.wall_s:.0f} s"]
    return "\n".join(lines)


def _funnel_lines(funnel: pd.DataFrame) -> list[str]:
    """Attribution: clicks and purchases through the tracked links per creative, with the interval, next to
    the truth; the creative the funnel would pick (highest lower bound) and the one that truly earns most."""
    if funnel.empty:
        return []
    shown = funnel.head(8)
    lines = ["Attribution (tracked links -> clicks -> purchases; conversion rate per click with its 95% interval; "
             "true_money_rank ranks the creatives by true revenue per 1,000 views):",
             shown.to_markdown(index=False, floatfmt=".4f")]
    clicked = funnel[funnel["clicks"] > 0].sort_values("rate_low", ascending=False)
    best = funnel.iloc[0]["variant_id"]
    if len(clicked) > 1:
        lead, rest = clicked.iloc[0], clicked.iloc[1:]
        if lead["rate_low"] > rest["rate_high"].max():
            lines.append(f"money verdict: {lead['variant_id']} converts best (its interval clears every other; true "
                         f"money rank {int(lead['true_money_rank'])}); truly best for money: {best}")
        else:
            lines.append(f"money verdict: no clear best yet (the leader's interval, {lead['variant_id']} "
                         f"[{lead['rate_low']:.3f}, {lead['rate_high']:.3f}], overlaps the others'); truly best for "
                         f"money: {best}")
    return lines + [""]


def summary(result: DemoResult) -> dict[str, Any]:
    """The demo's outcome as JSON-ready numbers (`actp demo --json`, the e2e test, the benchmark)."""
    w, c = result.winners, result.contenders
    return {"true_best_variant": result.true_best_variant, "true_best_in_winners": result.true_best_in_winners,
            "winners": w["variant_id"].tolist() if len(w) else [],
            "winner_stages": w["stage"].tolist() if len(w) else [],
            "winner_true_ranks": [int(r) for r in w["true_rank"]] if len(w) else [],
            "contender_true_ranks": [int(r) for r in c["true_rank"]] if len(c) else [],
            "paid_creatives": len(result.paid), "promoted": result.promoted, "audit": result.audit,
            "decisions": result.decisions,
            "posts": int(result.truth["posts"].sum()) if len(result.truth) else 0,
            "posted": len(result.truth), "runs": result.runs, "wall_s": round(result.wall_s, 1),
            "clicks": int(result.funnel["clicks"].sum()) if len(result.funnel) else 0,
            "conversions": int(result.funnel["conversions"].sum()) if len(result.funnel) else 0}
