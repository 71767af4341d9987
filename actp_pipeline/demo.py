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

from actp_pipeline.warehouse import Warehouse

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
    market_items_per_day: int = 120
    render_concurrency: int = 2


@dataclass
class DemoResult:
    winners: pd.DataFrame
    truth: pd.DataFrame
    true_best_variant: str | None
    true_best_in_winners: bool
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
    """Ground truth of every post (evaluation only): true engagement rate and its rank among posts."""
    items = httpx.get(f"{base_url}/v1/_truth/posts", headers={"X-Truth-Token": token}, timeout=30).json()["items"]
    truth = pd.DataFrame(items)
    if truth.empty:
        return truth
    if "platform_true_er" in truth:
        # what a post on its platform is expected to earn (the creative's rate plus the platform's shift)
        truth["true_er"] = truth["platform_true_er"]
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
        say(f"{tag} publish: {meta['publish_schedule'].get('newly_scheduled')} scheduled, {posted} uploaded"
            + (f" (waited {waits} simulated minutes for rate limits)" if waits else ""))
        for _ in range(cfg.snapshots_per_day):
            client.post("/v1/clock/advance", json={"hours": 24 / cfg.snapshots_per_day}).raise_for_status()
            step(["post_metrics"], now().date().isoformat())
        meta = step(["scores", "timing_matrix", "factor_effects", "winners"], None)
        decisions = meta["winners"].get("decisions", {})
        say(f"{tag} measure+score: {meta['scores'].get('dagster/row_count')} posts scored; decisions {decisions}")
        findings = meta.get("factor_effects", {}).get("findings")
        if findings and day == cfg.days - 1:
            say(f"{tag} what drives engagement (factor effects, 90% intervals):\n{findings}")

    truth = fetch_truth(sandbox.url, sandbox.truth_token)
    wh = Warehouse(cfg.data_dir / "warehouse")
    winners = wh.read("winners")
    best = truth.iloc[0]["variant_id"] if len(truth) else None
    if len(winners) and len(truth):
        winners = winners.merge(truth[["variant_id", "true_er", "true_rank"]], on="variant_id", how="left")
    client.close()
    return DemoResult(winners=winners, truth=truth, true_best_variant=best,
                      true_best_in_winners=bool(best is not None and len(winners) and best in set(winners["variant_id"])),
                      runs=runs, wall_s=time.monotonic() - started)


def format_report(result: DemoResult) -> str:
    lines = [f"Winners ({len(result.winners)}) next to the sandbox's ground truth "
             f"({len(result.truth)} posted creatives, rank 1 = truly best):", ""]
    if len(result.winners):
        cols = ["variant_id", "hook_pattern", "angle", "cta_style", "format", "views", "er_mean", "er_low", "er_high",
                "p_beats_median", "true_er", "true_rank"]
        table = result.winners[[c for c in cols if c in result.winners]].sort_values("true_rank")
        lines.append(table.to_markdown(index=False, floatfmt=".4f"))
    else:
        lines.append("(no winners yet: the evidence did not clear the rule)")
    lines += ["", f"True best creative: {result.true_best_variant} -> "
              f"{'among the winners' if result.true_best_in_winners else 'NOT among the winners'}",
              f"{result.runs} Dagster runs in {result.wall_s:.0f} s"]
    return "\n".join(lines)
