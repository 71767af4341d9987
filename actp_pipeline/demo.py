"""`actp demo`: several simulated days of the whole loop against a fresh sandbox, in one go.

The driver is framework-free: it owns the sandbox, the simulated clock and the final comparison with
ground truth, and asks a `materialize(asset_names, partition_key)` callable (built by the Dagster side)
to run the loop's assets, so every step is a real Dagster run recorded in the instance.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
import pandas as pd

from actp_pipeline.settings import Settings
from actp_pipeline.store.warehouse import Warehouse

Materialize = Callable[[list[str], "str | None"], dict[str, dict[str, Any]]]


@dataclass
class DemoConfig:
    data_dir: Path
    days: int = 4
    seed: int = 7
    topic: str = "skincare"
    hook_patterns: int = 3
    angles: int = 2
    cta_styles: int = 2
    formats: int = 2
    max_length_s: int = 60
    max_posts_per_day: int = 12
    snapshots_per_day: int = 4
    render_concurrency: int = 2
    # the paid phase: the organic contenders graduate to a micro-budget learning campaign in the sandbox's
    # ads API, whose winner is promoted to scaling (auto_execute is on for this demo account only)
    paid_days: int = 4
    ad_account: str = "demo"
    ad_goal: str = "virality"
    ad_budget: float = 60.0
    store_url: str | None = None  # default: SQLite under data_dir


@dataclass
class DemoResult:
    winners: pd.DataFrame  # every decided winner: organic (cell) and paid (learning campaign), with true ranks
    truth: pd.DataFrame
    true_best_variant: str | None
    true_best_in_winners: bool
    contenders: pd.DataFrame = field(default_factory=pd.DataFrame)  # the organic leaders that went to paid tests
    paid: pd.DataFrame = field(default_factory=pd.DataFrame)  # the paid learning test, per creative
    promoted: list[str] = field(default_factory=list)  # creatives duplicated into the scaling campaign
    audit: dict[str, int] = field(default_factory=dict)  # executed actions by kind and status
    runs: int = 0
    wall_s: float = 0.0
    steps: list[str] = field(default_factory=list)


def reset_data(data_dir: Path) -> None:
    """Start from an empty store, warehouse, media and sandbox; the Dagster history is kept."""
    for name in ("store.db", "store.db-wal", "store.db-shm"):
        (data_dir / name).unlink(missing_ok=True)
    for name in ("warehouse", "media", "sandbox"):
        shutil.rmtree(data_dir / name, ignore_errors=True)


def fetch_truth(base_url: str, token: str) -> pd.DataFrame:
    """Ground truth per posted creative (evaluation only): its true engagement rate (the mean over its
    posts of what a post on its platform at its hour is expected to earn), its rank, and its posts."""
    items = httpx.get(f"{base_url}/v1/_truth/posts", headers={"X-Truth-Token": token}, timeout=30).json()["items"]
    posts = pd.DataFrame(items)
    if posts.empty:
        return posts
    if "platform_true_er" in posts:
        posts["true_er"] = posts["platform_true_er"]
    truth = posts.groupby("variant_id").agg(true_er=("true_er", "mean"), posts=("variant_id", "size")).reset_index()
    truth = truth.sort_values("true_er", ascending=False).reset_index(drop=True)
    truth["true_rank"] = range(1, len(truth) + 1)
    return truth


def run_demo(cfg: DemoConfig, sandbox, materialize: Materialize, log: Callable[[str], None] | None = None) -> DemoResult:
    """Drive `cfg.days` simulated days; `sandbox` is a started SandboxServer (the loop talks to it over HTTP)."""
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    started = time.monotonic()
    runs = 0
    client = httpx.Client(base_url=sandbox.url, timeout=30)

    def step(names: list[str], partition: str | None = None) -> dict[str, dict[str, Any]]:
        nonlocal runs
        runs += 1
        return materialize(names, partition)

    def now() -> dt.datetime:
        return dt.datetime.fromisoformat(client.get("/v1/clock").json()["now"].replace("Z", "+00:00"))

    for day in range(cfg.days):
        date = now().date().isoformat()
        tag = f"[day {day + 1}/{cfg.days} {date}]"
        meta = step(["market_items"], date)["market_items"]
        say(f"{tag} research: {meta.get('dagster/row_count')} market items, {meta.get('rejected')} malformed skipped")
        names = ["blueprints", "variants"] if day == 0 else ["blueprints"]
        meta = step(names, None)
        say(f"{tag} extract: {meta['blueprints'].get('dagster/row_count')} blueprints")
        if "variants" in meta:
            v = meta["variants"]
            say(f"{tag} generate: {v.get('new_variants')} variants, {v.get('approved')} approved, "
                f"{v.get('renders_queued')} renders queued")
        t0 = time.monotonic()
        meta = step(["renders", "publish_schedule", "posts"], None)
        r, p = meta["renders"], meta["posts"]
        if r.get("rendered"):
            say(f"{tag} render: {r['rendered']} videos ({r.get('seconds_of_video')} s of video) in "
                f"{time.monotonic() - t0:.0f} s, {r.get('failed')} failed")
        posted, waits = p.get("posted", 0), 0
        while p.get("deferred", "none") != "none" and waits < 120:
            # uploads wait for the platform's rate limit (TikTok: 6 a minute): let a simulated minute pass
            waits += 1
            client.post("/v1/clock/advance", json={"hours": 1 / 60}).raise_for_status()
            p = step(["posts"], None)["posts"]
            posted += p.get("posted", 0)
        repeats = meta["publish_schedule"].get("next_round_scheduled") or 0
        say(f"{tag} publish: {meta['publish_schedule'].get('newly_scheduled')} scheduled"
            + (f" + {repeats} next-round posts of the leaders" if repeats else "") + f", {posted} uploaded"
            + (f" (waited {waits} simulated minutes for rate limits)" if waits else ""))
        for _ in range(cfg.snapshots_per_day):
            client.post("/v1/clock/advance", json={"hours": 24 / cfg.snapshots_per_day}).raise_for_status()
            step(["post_metrics"], now().date().isoformat())
        meta = step(["scores", "timing_matrix", "factor_effects", "winners", "allocation"], None)
        decisions = meta["winners"].get("decisions", {})
        say(f"{tag} measure+score: {meta['scores'].get('dagster/row_count')} posts scored; decisions {decisions}")
        findings = meta.get("factor_effects", {}).get("findings")
        if findings and day == cfg.days - 1:
            say(f"{tag} what drives engagement (factor effects, 90% intervals):\n{findings}")

    if cfg.paid_days > 0:
        _paid_phase(cfg, step, client, now, say)

    truth = fetch_truth(sandbox.url, sandbox.truth_token)
    result = _compare(cfg, truth)
    client.close()
    result.runs, result.wall_s = runs, time.monotonic() - started
    return result


def _paid_phase(cfg: DemoConfig, step, client: httpx.Client, now, say) -> None:
    """Graduate: each simulated half day, measure, score, plan the ads and execute the plan."""
    from actp_pipeline.ads import accounts as ad_accounts
    from actp_pipeline.store import connect_store

    engine = connect_store(Settings(data_dir=cfg.data_dir, database_url=cfg.store_url).store_url)
    ad_accounts.set_account(engine, cfg.ad_account, name="sandbox demo", auto_execute=True,
                            global_daily_budget=cfg.ad_budget, auto_scale_winners=True, auto_pause_losers=True)
    ad_accounts.set_goal(engine, cfg.ad_account, cfg.ad_goal, priority=3)
    engine.dispose()
    say(f"[paid] ad account {cfg.ad_account}: ${cfg.ad_budget:g}/day, goal {cfg.ad_goal}; auto_execute, auto-scale and "
        "auto-pause are ON for this demo account (off by default: plans wait for `actp ads approve`)")
    for half_day in range(cfg.paid_days * 2):
        client.post("/v1/clock/advance", json={"hours": 12}).raise_for_status()
        step(["post_metrics"], now().date().isoformat())
        meta = step(["scores", "winners", "allocation", "ad_plan", "ad_actions"], None)
        plan, done = meta.get("ad_plan", {}), meta.get("ad_actions", {})
        summary = plan.get("summary") or {}
        planned = ", ".join(f"{k} {v}" for k, v in summary.items() if v and k != "blocked") or "nothing to do"
        blocked = f", {summary['blocked']} blocked by guards" if summary.get("blocked") else ""
        say(f"[paid +{12 * (half_day + 1)} h] plan: {planned}{blocked}; executed {done.get('counts') or {}}")
        evidence = str(plan.get("paid_evidence") or "")
        if evidence.startswith("- "):
            say(f"    learning test {evidence.removeprefix('- ')}")


def _compare(cfg: DemoConfig, truth: pd.DataFrame) -> DemoResult:
    """The loop's decisions next to the sandbox's ground truth."""
    wh = Warehouse(cfg.data_dir / "warehouse")
    best = truth.iloc[0]["variant_id"] if len(truth) else None
    ranks = truth[["variant_id", "true_er", "true_rank"]] if len(truth) else pd.DataFrame(
        columns=["variant_id", "true_er", "true_rank"])
    decisions = wh.read("decisions") if wh.exists("decisions") else pd.DataFrame(columns=["variant_id", "decision"])
    if "variant_views" in decisions:  # one row per post: show each creative once, with its pooled evidence
        decisions = decisions.assign(posts=decisions["variant_posts"], views=decisions["variant_views"],
                                     er_mean=decisions["variant_er_mean"])
    if "p_best" in decisions:
        decisions = decisions.sort_values("p_best", ascending=False, kind="stable")
    decisions = decisions.drop_duplicates("variant_id")
    organic = decisions[decisions["decision"] == "winner"].assign(stage="organic")
    contenders = pd.DataFrame()
    if "p_best" in decisions and len(decisions):
        contenders = decisions.head(4).merge(ranks, on="variant_id", how="left")
    paid = wh.read("paid_winners") if wh.exists("paid_winners") else pd.DataFrame(columns=["variant_id", "decision"])
    paid = paid.merge(ranks, on="variant_id", how="left") if len(paid) else paid
    paid_won = paid[paid["decision"] == "winner"].assign(stage="paid") if len(paid) else paid.iloc[0:0]
    winners = pd.concat([organic.merge(ranks, on="variant_id", how="left"), paid_won], ignore_index=True) \
        if len(organic) or len(paid_won) else pd.DataFrame(columns=["variant_id", "stage", "true_rank"])
    promoted, audit = [], {}
    if cfg.paid_days > 0:
        from actp_pipeline.ads import audit as ads_audit
        from actp_pipeline.store import connect_store

        engine = connect_store(Settings(data_dir=cfg.data_dir, database_url=cfg.store_url).store_url)
        log = ads_audit.log(engine, limit=10_000)
        engine.dispose()
        executed = log[log["mode"] == ads_audit.EXECUTE] if len(log) else log
        if len(executed):
            audit = {f"{a}:{st}": int(n) for (a, st), n in executed.groupby(["action", "status"]).size().items()}
            promoted = sorted(executed.loc[(executed["action"] == "duplicate_ad_set")
                                           & (executed["status"] == "success"), "variant_id"].unique())
    return DemoResult(winners=winners, truth=truth, true_best_variant=best,
                      true_best_in_winners=bool(best is not None and best in set(winners["variant_id"])),
                      contenders=contenders, paid=paid, promoted=promoted, audit=audit)


def format_report(result: DemoResult) -> str:
    lines = [f"Decisions next to the sandbox's ground truth ({len(result.truth)} posted creatives, "
             "rank 1 = truly best):", ""]
    if len(result.contenders):
        cols = ["variant_id", "hook_pattern", "angle", "cta_style", "format", "posts", "views", "er_mean", "p_best",
                "decision", "true_er", "true_rank"]
        lines += ["Organic test, the leading contenders:",
                  result.contenders[[c for c in cols if c in result.contenders]].to_markdown(index=False, floatfmt=".4f")]
        why = result.contenders["reason"].iloc[0] if "reason" in result.contenders else ""
        if why:
            lines.append(f"organic verdict: {why}")
        lines.append("")
    if len(result.paid):
        cols = ["variant_id", "impressions", "events", "spend", "hours_live", "p_best", "decision", "true_er", "true_rank"]
        paid = result.paid[[c for c in cols if c in result.paid]].sort_values("true_rank")
        paid = paid.astype({c: "int64" for c in ("impressions", "events") if c in paid})
        lines += ["Paid learning test (core signal per impression, randomised by the ad platform):",
                  paid.to_markdown(index=False, floatfmt=".4f"),
                  f"paid verdict: {result.paid['evidence'].iloc[0]}", ""]
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
