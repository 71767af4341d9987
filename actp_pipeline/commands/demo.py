"""`actp demo`: the whole loop for several simulated days against a fresh sandbox, with a progress bar
over its stages. Every default comes from DemoConfig, whose loop knobs come from the settings resource."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from actp_pipeline.commands.context import settings, warnings_to_log
from actp_pipeline.commands.progress import DemoBars

# option -> (DemoConfig field, type, help)
OPTIONS: dict[str, tuple[str, Any, str]] = {
    "--days": ("days", click.IntRange(1), "simulated days of the organic test"),
    "--paid-days": ("paid_days", click.IntRange(0), "simulated days of paid tests after the organic ones"),
    "--seed": ("seed", int, "the sandbox world's seed: the same seed prints the same decisions"),
    "--start": ("start", click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]),
                "the sandbox clock at the start of day 1 (UTC); a fixed date, never today's"),
    "--topic": ("topic", str, "the niche the loop researches and makes creatives for"),
    "--hooks": ("hook_patterns", click.IntRange(1), "hook patterns in the matrix"),
    "--angles": ("angles", click.IntRange(1), "angles in the matrix"),
    "--ctas": ("cta_styles", click.IntRange(1), "CTA styles in the matrix"),
    "--formats": ("formats", click.IntRange(1), "formats in the matrix"),
    "--max-length": ("max_length_s", click.IntRange(1), "cap on video length in seconds"),
    "--posts-per-day": ("max_posts_per_day", click.IntRange(1), "posts per day per account"),
    "--render-concurrency": ("render_concurrency", click.IntRange(1), "videos rendered at once"),
    "--ad-budget": ("ad_budget", click.FloatRange(0), "the demo ad account's daily budget in dollars"),
}


DEMO_PLATFORMS = ("tiktok", "youtube", "instagram", "aggregator", "all")
TIKTOK_DEMO_ADVERTISER = "7000000000000000001"


def _start_text(start: dt.datetime) -> str:
    return start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")


def make() -> click.Command:
    """The demo command, its option defaults read from DemoConfig (and so from the settings resource)."""
    from actp_pipeline.demo import DemoConfig

    defaults = DemoConfig.defaults()
    cmd = click.Command("demo", callback=_demo, help="Run several simulated days of the whole loop (organic, then "
                        "paid) against a fresh sandbox seeded with --seed whose clock starts at --start; prints the "
                        "decisions next to the sandbox's ground truth.")
    for flag, (name, kind, help_text) in OPTIONS.items():
        default = _start_text(defaults[name]) if name == "start" else defaults[name]
        cmd.params.append(click.Option([flag, name], type=kind, default=default, show_default=True, help=help_text,
                                       metavar="YYYY-MM-DD[THH:MM]" if name == "start" else None))
    cmd.params.append(click.Option(["--platform", "platform"], type=click.Choice(DEMO_PLATFORMS),
                                   default=defaults["platform"], show_default=True,
                                   help="post and measure through this platform's own API (its real dialect, "
                                        "served by the sandbox); aggregator: TikTok and Instagram through Ayrshare; "
                                        "all: every platform with an adapter"))
    cmd.params.append(click.Option(["--json", "json_path"], type=click.Path(dir_okay=False), default=None,
                                   help="also write a JSON summary to this file"))
    return cmd


def _demo(json_path: str | None, **knobs: Any) -> int:
    from actp_pipeline.demo import DemoConfig, format_report, reset_data, summary
    from actp_pipeline.hooks.server import HooksServer
    from actp_pipeline.sandbox import SandboxServer, WorldConfig
    from actp_pipeline.settings import Settings

    base = settings()
    cfg = DemoConfig(data_dir=base.data_dir, store_url=base.database_url, **knobs)
    if cfg.platform == "tiktok":  # TikTok's advertiser ids are numbers; the sandbox serves any of them
        cfg.ad_account = TIKTOK_DEMO_ADVERTISER
    _check_dialects(cfg)
    with DemoBars() as bars:
        bars.line(f"ACTP demo: {cfg.days} + {cfg.paid_days} simulated days from {_start_text(cfg.start)} UTC, seed "
                  f"{cfg.seed}, data in {cfg.data_dir} (store, warehouse and media reset)")
        reset_data(cfg.data_dir)
        world = WorldConfig(seed=cfg.seed, start=cfg.start, speed=0.0, topic=cfg.topic)
        store_url = Settings(data_dir=cfg.data_dir, database_url=base.database_url).store_url
        # the hooks service stamps clicks and sales on the sandbox's clock, as every other time of the demo is
        with SandboxServer(world, state_path=base.sandbox_state) as sandbox, HooksServer(
                store_url, clock=lambda: sandbox.clock.now().astimezone(dt.UTC).replace(tzinfo=None)) as hooks:
            bars.line(f"sandbox listening on {sandbox.url}; hooks service (tracked links, conversions) on {hooks.url}")
            cfg.hooks_url, cfg.landing_url = hooks.url, sandbox.url + "/sandbox/shop"
            # the research partitions start where the demo's clock does (read when settings and definitions are built)
            os.environ["ACTP_RESEARCH_START"] = cfg.start.date().isoformat()
            loop_settings = Settings(data_dir=cfg.data_dir, database_url=base.database_url, platform_url=sandbox.url,
                                     platform_api_key=world.api_keys[0], ads_access_token=world.api_keys[0],
                                     **_dialect_settings(cfg, sandbox.url, world.api_keys[0]))
            bars.line(f"posting and measuring through {', '.join(cfg.dialects())}'s own API (the sandbox's "
                      f"real dialect); {_paid_line(cfg)}")
            warnings_to_log(cfg.data_dir)
            from actp_pipeline.definitions import demo_materializer

            materialize = demo_materializer(loop_settings, cfg.loop_overrides(), cfg.render_concurrency)
            result = _run(cfg, sandbox, materialize, bars)
    print(format_report(result))
    if json_path:
        Path(json_path).write_text(json.dumps(summary(result)))
    print("\nOpen the UI on these runs: actp ui   (then http://127.0.0.1:3000)", file=sys.stderr)
    return 0


def _paid_line(cfg) -> str:
    """What the paid phase promotes on this platform (an ads platform runs only posts it knows)."""
    if cfg.platform == "tiktok":
        return "the paid phase runs TikTok Spark Ads on the TikTok videos"
    if cfg.platform == "youtube":
        return "no ads adapter promotes YouTube videos yet: the paid phase plans nothing"
    return "the paid phase runs Meta ads on the Instagram Reels"


def _check_dialects(cfg) -> None:
    from actp_pipeline.publish.dialects import available

    missing = [why for p in cfg.dialects() if (why := available(p))]
    if missing or not cfg.dialects():
        raise click.UsageError("; ".join(missing) or "no platform has an adapter yet", ctx=None)


def _dialect_settings(cfg, sandbox_url: str, key: str) -> dict[str, Any]:
    """Native publishing against this demo's sandbox: every dialect at the sandbox's URL with its public key.

    Also put in this process's environment, where the publish and measure assets build their adapters
    (`make_publisher` reads the settings from it): the sandbox's key is public, not a secret."""
    from actp_pipeline.settings import DIALECT_ENV

    urls = {p: sandbox_url + ("/graph" if p == "instagram" else "") for p in cfg.dialects()}  # Graph's root
    for platform in cfg.dialects():
        token_var, url_var = DIALECT_ENV[platform]
        os.environ[token_var], os.environ[url_var] = key, urls[platform]
    via = {network: "aggregator" for network in cfg.via_aggregator()}
    if via:
        os.environ["ACTP_PUBLISH_VIA"] = ",".join(f"{n}={d}" for n, d in via.items())
    os.environ["ACTP_PUBLISHER"] = "native"
    # the paid phase promotes the posts its ads platform knows: TikTok videos through Spark Ads, else Meta's
    ads = "tiktok" if cfg.platform == "tiktok" else "meta"
    os.environ["ACTP_ADS_PLATFORM"] = ads
    return {"publisher": "native", "dialect_tokens": {p: key for p in cfg.dialects()}, "dialect_urls": urls,
            "publish_via": via, "ads_platform": ads}


def _run(cfg, sandbox, materialize, bars: DemoBars):
    """run_demo, a failed Dagster run made one line (its full log stays in the instance and the UI)."""
    from actp_pipeline.definitions import RunFailed
    from actp_pipeline.demo import run_demo

    try:
        return run_demo(cfg, sandbox, materialize, progress=bars)
    except RunFailed as e:
        raise click.ClickException(f"actp demo: a Dagster run failed: {e} "
                                   f"(the run's log: `actp ui`, data in {cfg.data_dir})") from None
