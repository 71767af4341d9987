"""`actp demo`: several simulated days of the whole loop against a fresh sandbox, in one go.

The driver is framework-free: it owns the sandbox, the simulated clock and the final comparison with
ground truth, and asks a `materialize(asset_names, partition_key)` callable (built by the Dagster side)
to run the loop's assets, so every step is a real Dagster run recorded in the instance. Every date it
uses is the sandbox clock's, which starts at the configured instant, never at today's date.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Protocol

import httpx

from actp_pipeline.demo.config import DemoConfig
from actp_pipeline.demo.report import DemoResult, compare, fetch_funnel_truth, fetch_truth
from actp_pipeline.settings import Settings

Materialize = Callable[[list[str], "str | None"], dict[str, dict[str, Any]]]

DAY_STAGES = ("research", "extract", "render+publish", "measure", "score")  # one progress step each
PAID_STAGES_PER_DAY = 2  # a plan every simulated half day
RATE_LIMIT_WAIT_H = 61 / 3600  # a simulated minute (the platform's rate-limit window) and a second


class DemoProgress(Protocol):
    """Where the driver reports: one summary line per stage, and which stage runs now."""

    def begin(self, total_steps: int) -> None: ...

    def stage(self, label: str) -> None: ...

    def advance(self) -> None: ...

    def line(self, text: str) -> None: ...


class PlainProgress:
    """Summary lines on stderr, nothing else (the default without a terminal)."""

    def __init__(self, log: Callable[[str], None] | None = None):
        self._log = log or (lambda m: print(m, file=sys.stderr, flush=True))

    def begin(self, total_steps: int) -> None:
        pass

    def stage(self, label: str) -> None:
        pass

    def advance(self) -> None:
        pass

    def line(self, text: str) -> None:
        self._log(text)


def total_steps(cfg: DemoConfig) -> int:
    return cfg.days * len(DAY_STAGES) + cfg.paid_days * PAID_STAGES_PER_DAY


def reset_data(data_dir: Path) -> None:
    """Start from an empty store, warehouse, media and sandbox; the Dagster history is kept."""
    for name in ("store.db", "store.db-wal", "store.db-shm"):
        (data_dir / name).unlink(missing_ok=True)
    for name in ("warehouse", "media", "sandbox"):
        shutil.rmtree(data_dir / name, ignore_errors=True)


class DemoSteps:
    """The demo's handles: Dagster runs through `materialize`, the sandbox clock over HTTP, progress."""

    def __init__(self, cfg: DemoConfig, sandbox_url: str, materialize: Materialize, progress: DemoProgress):
        self.cfg, self.materialize, self.progress = cfg, materialize, progress
        self.client = httpx.Client(base_url=sandbox_url, timeout=30)
        self.runs = 0

    def run(self, names: list[str], partition: str | None = None) -> dict[str, dict[str, Any]]:
        self.runs += 1
        return self.materialize(names, partition)

    def now(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.client.get("/sandbox/clock").json()["now"].replace("Z", "+00:00"))

    def advance_clock(self, hours: float) -> None:
        """Move the sandbox's clock; its visitors then click the posts' tracked links up to the new now."""
        self.client.post("/sandbox/clock/advance", json={"hours": hours}).raise_for_status()
        self.client.post("/sandbox/traffic/run", timeout=300).raise_for_status()

    def stage(self, label: str) -> None:
        self.progress.stage(label)

    def done(self, summary: str | None = None) -> None:
        if summary:
            self.progress.line(summary)
        self.progress.advance()


def run_demo(cfg: DemoConfig, sandbox, materialize: Materialize, log: Callable[[str], None] | None = None,
             progress: DemoProgress | None = None) -> DemoResult:
    """Drive `cfg.days` organic and `cfg.paid_days` paid simulated days; `sandbox` is a started
    SandboxServer (the loop talks to it over HTTP)."""
    started = time.monotonic()
    steps = DemoSteps(cfg, sandbox.url, materialize, progress or PlainProgress(log))
    steps.progress.begin(total_steps(cfg))
    try:
        for day in range(cfg.days):
            _organic_day(steps, day)
        if cfg.paid_days > 0:
            _paid_phase(steps)
        truth = fetch_truth(sandbox.url, sandbox.truth_token)
        funnel_truth = fetch_funnel_truth(sandbox.url, sandbox.truth_token)
    finally:
        steps.client.close()
    result = compare(cfg, truth, funnel_truth)
    result.runs, result.wall_s = steps.runs, time.monotonic() - started
    return result


def _organic_day(steps: DemoSteps, day: int) -> None:
    """Research, extract (and generate on day 1), render, publish, measure and score one simulated day."""
    cfg = steps.cfg
    date = steps.now().date().isoformat()
    tag = f"[day {day + 1}/{cfg.days} {date}]"
    steps.stage(f"{tag} research")
    meta = steps.run(["market_items"], date)["market_items"]
    steps.done(f"{tag} research: {meta.get('dagster/row_count')} market items, {meta.get('rejected')} malformed skipped")
    steps.stage(f"{tag} extract" + (" + generate" if day == 0 else ""))
    meta = steps.run(["blueprints", "variants"] if day == 0 else ["blueprints"], None)
    steps.progress.line(f"{tag} extract: {meta['blueprints'].get('dagster/row_count')} blueprints")
    if "variants" in meta:
        v = meta["variants"]
        steps.progress.line(f"{tag} generate: {v.get('new_variants')} variants, {v.get('approved')} approved, "
                            f"{v.get('renders_queued')} renders queued")
    steps.done()
    steps.stage(f"{tag} render + publish")
    _render_and_publish(steps, tag)
    steps.stage(f"{tag} measure ({cfg.snapshots_per_day} snapshots)")
    for _ in range(cfg.snapshots_per_day):
        steps.advance_clock(24 / cfg.snapshots_per_day)
        steps.run(["post_metrics"], steps.now().date().isoformat())
    steps.done()
    steps.stage(f"{tag} score")
    meta = steps.run(["scores", "timing_matrix", "factor_effects", "winners", "allocation", "attribution",
                      "conversion_effects"], None)
    decisions = meta["winners"].get("decisions", {})
    steps.progress.line(f"{tag} measure+score: {meta['scores'].get('dagster/row_count')} posts scored; "
                        f"decisions {decisions}")
    a = meta.get("attribution") or {}
    if a.get("clicks"):
        steps.progress.line(f"{tag} attribute: {a['clicks']} clicks through the tracked links, {a.get('conversions')} "
                            f"purchases, revenue {a.get('revenue')}")
    findings = meta.get("factor_effects", {}).get("findings")
    if findings and day == cfg.days - 1:
        steps.progress.line(f"{tag} what drives engagement (factor effects, 95% intervals):\n{findings}")
    sales = meta.get("conversion_effects", {}).get("findings")
    if sales and day == cfg.days - 1:
        steps.progress.line(f"{tag} what drives purchases per click (conversion effects, 95% intervals):\n{sales}")
    steps.done()


def _render_and_publish(steps: DemoSteps, tag: str) -> None:
    t0 = time.monotonic()
    meta = steps.run(["renders", "publish_schedule", "posts"], None)
    r, p = meta["renders"], meta["posts"]
    if r.get("rendered"):
        steps.progress.line(f"{tag} render: {r['rendered']} videos ({r.get('seconds_of_video')} s of video) in "
                            f"{time.monotonic() - t0:.0f} s, {r.get('failed')} failed")
    posted, waits = p.get("posted", 0), 0
    while p.get("deferred", "none") != "none" and waits < 120:
        # uploads wait for the platform's rate limit (TikTok: 6 a minute): let a simulated minute pass, and a
        # second more: a client reads the platform clock as an offset to wall time refreshed once a second,
        # so its call times can run up to a second ahead, and how far must not decide what waits
        waits += 1
        steps.stage(f"{tag} publish: waiting out the rate limit ({waits} simulated min)")
        steps.advance_clock(RATE_LIMIT_WAIT_H)
        p = steps.run(["posts"], None)["posts"]
        posted += p.get("posted", 0)
    repeats = meta["publish_schedule"].get("next_round_scheduled") or 0
    steps.done(f"{tag} publish: {meta['publish_schedule'].get('newly_scheduled')} scheduled"
               + (f" + {repeats} next-round posts of the leaders" if repeats else "") + f", {posted} uploaded"
               + (f" (waited {waits} simulated minutes for rate limits)" if waits else ""))


def _paid_phase(steps: DemoSteps) -> None:
    """Graduate: each simulated half day, measure, score, plan the ads and execute the plan."""
    from actp_pipeline.ads import accounts as ad_accounts
    from actp_pipeline.store import connect_store

    cfg = steps.cfg
    engine = connect_store(Settings(data_dir=cfg.data_dir, database_url=cfg.store_url).store_url)
    ad_accounts.set_account(engine, cfg.ad_account, name="sandbox demo", auto_execute=True,
                            global_daily_budget=cfg.ad_budget, auto_scale_winners=True, auto_pause_losers=True)
    ad_accounts.set_goal(engine, cfg.ad_account, cfg.ad_goal, priority=3)
    engine.dispose()
    steps.progress.line(f"[paid] ad account {cfg.ad_account}: ${cfg.ad_budget:g}/day, goal {cfg.ad_goal}; auto_execute, "
                        "auto-scale and auto-pause are ON for this demo account (off by default: plans wait for "
                        "`actp ads approve`)")
    for half_day in range(cfg.paid_days * PAID_STAGES_PER_DAY):
        hours = 24 // PAID_STAGES_PER_DAY * (half_day + 1)
        steps.stage(f"[paid +{hours} h] measure, score, plan, execute")
        steps.advance_clock(24 / PAID_STAGES_PER_DAY)
        steps.run(["post_metrics"], steps.now().date().isoformat())
        meta = steps.run(["scores", "winners", "allocation", "ad_plan", "ad_actions", "attribution"], None)
        plan, done = meta.get("ad_plan", {}), meta.get("ad_actions", {})
        summary = plan.get("summary") or {}
        planned = ", ".join(f"{k} {v}" for k, v in summary.items() if v and k != "blocked") or "nothing to do"
        blocked = f", {summary['blocked']} blocked by guards" if summary.get("blocked") else ""
        steps.progress.line(f"[paid +{hours} h] plan: {planned}{blocked}; executed {done.get('counts') or {}}")
        paid = ((meta.get("attribution") or {}).get("by_channel") or {}).get("paid") or {}
        if paid.get("clicks"):
            steps.progress.line(f"    the ads' tracked links: {paid['clicks']} paid clicks, {paid.get('conversions')} "
                                f"purchases, revenue {paid.get('revenue')}")
        evidence = str(plan.get("paid_evidence") or "")
        if evidence.startswith("- "):
            steps.progress.line(f"    learning test {evidence.removeprefix('- ')}")
        steps.done()
