"""The demo's materializer runs named jobs on one instance, logs to a file, and every metadata value it
records reads like a person wrote it: no scientific notation, no 16-digit floats, no microseconds."""

import datetime as dt
import json
import re

import dagster as dg
import httpx

from actp_pipeline.definitions import demo_materializer, instance_home
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.settings import Settings

SCIENTIFIC = re.compile(r"(?<![0-9A-Za-z_])\d+(\.\d+)?[eE][+-]\d")  # 1e-05, 2.5E+20 (not hex ids)
LONG_FLOAT = re.compile(r"\d\.\d{5,}")
MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+")
# TikTok's publish ids (the post id until moderation ends: v_pub_file~v2-1.7981879816251178998) are ids, not floats
PUBLISH_ID = re.compile(r"v_pub_\w+~v2[-.][0-9.]+")
SMALL = {"topic": "skincare", "hook_patterns": 2, "angles": 1, "cta_styles": 1, "formats": 2, "max_length_s": 4,
         "max_posts_per_day": 4}


def _text(value) -> str:
    raw = getattr(value, "value", value)
    if isinstance(raw, dg.TableRecord):
        raw = raw.data
    if hasattr(raw, "records"):
        raw = [r.data for r in raw.records]
    return PUBLISH_ID.sub("<publish id>", raw if isinstance(raw, str) else json.dumps(raw, default=str))


def test_the_loop_records_readable_metadata_from_named_jobs(tmp_path, monkeypatch):
    from actp_pipeline.ads import accounts as ad_accounts
    from actp_pipeline.store import connect_store
    from tests.dagster.test_assets import sandbox_dialects

    data = tmp_path / "data"
    with SandboxServer(WorldConfig(seed=3, start=dt.datetime(2026, 11, 10, 6), speed=0.0)) as sb:
        sandbox_dialects(monkeypatch, sb.url)  # the posts and post_metrics assets publish and read natively
        settings = Settings(data_dir=data, platform_url=sb.url, platform_api_key="sandbox-key")
        materialize = demo_materializer(settings, SMALL, render_concurrency=1)
        meta = materialize(["market_items"], "2026-11-10")
        meta |= materialize(["blueprints", "variants"], None)
        meta |= materialize(["renders", "publish_schedule", "posts"], None)
        httpx.post(f"{sb.url}/sandbox/clock/advance", json={"hours": 30}).raise_for_status()
        meta |= materialize(["post_metrics"], "2026-11-11")
        meta |= materialize(["scores", "timing_matrix", "factor_effects", "winners", "allocation"], None)
        ad_accounts.set_goal(connect_store(settings.store_url), "acc1", "streams", priority=3)
        meta |= materialize(["ad_plan", "ad_actions"], None)
    expected = {"market_items", "blueprints", "factor_lifts", "variants", "renders", "publish_schedule", "posts",
                "post_metrics", "scores", "timing_matrix", "factor_effects", "winners", "decisions", "allocation",
                "research_queries", "ad_plan", "paid_winners", "ad_actions"}
    assert expected <= set(meta)
    assert meta["posts"]["posted"] == 4 and meta["scores"]["dagster/row_count"] == 4
    bad = {f"{asset}.{key}": text for asset, entries in meta.items() for key, value in entries.items()
           for text in [_text(value)] if SCIENTIFIC.search(text) or LONG_FLOAT.search(text) or MICROSECONDS.search(text)}
    assert bad == {}, "\n".join(f"{k}: {[m.group() for r in (SCIENTIFIC, LONG_FLOAT, MICROSECONDS) for m in r.finditer(t)]}" for k, t in bad.items())

    with dg.DagsterInstance.from_config(str(instance_home(data))) as instance:
        jobs = {r.dagster_run.job_name for r in instance.get_run_records()}
    assert "__ephemeral_asset_job__" not in jobs
    assert {"research_job", "extract_job", "generate_job", "render_job", "publish_schedule_job", "publish_job",
            "metrics_job", "score_job", "graduate_job", "iterate_job", "ad_plan_job", "ad_actions_job"} <= jobs
    log = (data / "logs" / "dagster.log").read_text()
    assert "research_job" in log or "market_items" in log
