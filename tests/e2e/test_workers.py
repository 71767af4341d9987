"""Real worker processes on a real PostgreSQL store against the sandbox: never lose work, never post twice.

The workers publish natively, through the sandbox's TikTok dialect (Content Posting API). TikTok has no
idempotency key of its own: the adapter puts `ref:<hash of the key>` in the title, so "once per key" is
counted in the sandbox's truth by that marker (every init that completed is one post there).
"""

import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import imageio_ffmpeg
import pytest
import sqlalchemy as sa

from actp_pipeline.publish.tiktok import key_marker
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.sandbox.routes.tiktok import TikTokDialect
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.queues import publish_queue
from tests.core.test_browser_upload import require_browser
from tests.faults.publish_faults import approve_variants

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = [f"acct{i:02d}" for i in range(50)]


@pytest.fixture
def world(tmp_path, postgres_url):
    media = tmp_path / "clip.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=s=108x192:d=1",
                    "-pix_fmt", "yuv420p", str(media)], check=True)
    # simulated time runs at 3600x so the platforms' rate-limit windows (on the platform's clock) pass: TikTok's
    # 6 video/init calls a minute per token (the worker's limiter and the dialect count them on the sandbox's
    # clock) clear in 1/60 of a real second
    cfg = WorldConfig(seed=5, start=dt.datetime(2026, 11, 1, 6), speed=3600.0, accounts={"tiktok": ACCOUNTS})
    with SandboxServer(cfg, state_path=tmp_path / "sandbox.db") as sb:
        yield sb, connect_store(postgres_url), postgres_url, media


def _enqueue(engine, media, n, now):
    approve_variants(engine, [f"v{i}" for i in range(n)])  # the publish gate posts only approved variants
    publish_queue(engine).enqueue([
        {"variant_id": f"v{i}", "platform": "tiktok", "account": ACCOUNTS[i % len(ACCOUNTS)],
         "idempotency_key": f"key-{i}", "scheduled_at": now,
         "payload": {"media_path": str(media), "caption": f"post {i}", "hashtags": ["#t"]}}
        for i in range(n)], unique_column="idempotency_key")


def _worker(sb, url, tmp_path, name, *, failpoint=None, lease=4.0, publisher="native"):
    key = sb.config.api_keys[0]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ACTP_") or k == "ACTP_CHROMIUM"},
           "ACTP_DATABASE_URL": url, "ACTP_PLATFORM_URL": sb.url, "ACTP_PLATFORM_API_KEY": key,
           # the queued items are TikTok's: its dialect on this sandbox (not the default port, so set both)
           "ACTP_TIKTOK_ACCESS_TOKEN": key, "ACTP_TIKTOK_BASE_URL": sb.url,
           "ACTP_HOME": str(tmp_path / "home"), "ACTP_BROWSER_USER": "creator", "ACTP_BROWSER_PASSWORD": "sandbox-pass"}
    if failpoint:
        env["ACTP_FAILPOINTS"] = failpoint
    cmd = [sys.executable, "-m", "actp_pipeline.cli", "worker", "--publish-only", "--exit-when-idle",
           "--worker-id", name, "--lease", str(lease), "--heartbeat", "1", "--idle-sleep", "0.3", "--health-port", "0",
           "--publisher", publisher]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _truth_items(sb):
    resp = httpx.get(f"{sb.url}/sandbox/truth/posts", headers={"X-Truth-Token": sb.truth_token}, timeout=30)
    resp.raise_for_status()
    return resp.json()["items"]


def _truth(sb):
    """Posts the sandbox holds per client reference (the web form's key): {key: create calls}."""
    return {i["idempotency_key"]: i["create_calls"] for i in _truth_items(sb)}


def _tiktok_truth(sb, n):
    """The sandbox's TikTok posts per queued item's key: {key: number of posts carrying its title marker}.
    Every TikTok post must carry the marker of one of the `n` keys, and each was created by one call."""
    markers = {key_marker(f"key-{i}"): f"key-{i}" for i in range(n)}
    per_key: Counter[str] = Counter()
    for post in _truth_items(sb):
        assert post["platform"] == "tiktok" and post["create_calls"] == 1, post
        found = [markers[m] for m in re.findall(r"ref:[0-9a-f]{10}", post["caption"]) if m in markers]
        assert len(found) == 1, f"a sandbox post with no queued item's marker: {post['caption']!r}"
        per_key[found[0]] += 1
    return dict(per_key)


def _tiktok_service(sb):
    return next(d for d in sb.api.dialects if isinstance(d, TikTokDialect)).service


def _statuses(engine):
    t = schema.publish_queue
    with engine.connect() as c:
        return dict(c.execute(sa.select(t.c.status, sa.func.count()).group_by(t.c.status)).all())


def _failed(engine):
    """What became of the items that were not posted (for the assertion's message)."""
    t = schema.publish_queue
    with engine.connect() as c:
        return c.execute(sa.select(t.c.idempotency_key, t.c.status, t.c.attempts, t.c.last_error)
                         .where(t.c.status != "posted").limit(10)).all()


def _now(sb):
    return dt.datetime.fromisoformat(httpx.get(f"{sb.url}/sandbox/clock").json()["now"].replace("Z", "")).replace(tzinfo=None)


@pytest.mark.slow
def test_eight_workers_drain_500_items_exactly_once(world, tmp_path):
    sb, engine, url, media = world
    # every item goes out on the one TikTok token of the workers' environment: lift the dialect's daily
    # post cap per creator (15 in 24 simulated hours, 24 real seconds here) so the drain is not paced by it
    tt = _tiktok_service(sb)
    tt.policy = dataclasses.replace(tt.policy, daily_post_cap=10_000)
    _enqueue(engine, media, 500, _now(sb))
    procs = [_worker(sb, url, tmp_path, f"w{i}") for i in range(8)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    assert _statuses(engine) == {"posted": 500}, _failed(engine)
    posts = _tiktok_truth(sb, 500)
    assert len(posts) == 500 and set(posts.values()) == {1}  # the platform has one post per key
    assert sum(o["posted"] + o["reconciled"] for o in outs) == 500
    assert sum(1 for o in outs if o["posted"]) >= 2  # the work really was shared
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count(sa.distinct(schema.posts.c.idempotency_key)))).scalar() == 500


@pytest.mark.slow
@pytest.mark.parametrize("point,expect_reconciled", [("publish.before_call", False), ("publish.after_call", True)])
def test_kill_9_mid_upload_is_recovered_without_a_second_post(world, tmp_path, point, expect_reconciled):
    sb, engine, url, media = world
    _enqueue(engine, media, 3, _now(sb))
    crashed = _worker(sb, url, tmp_path, "doomed", failpoint=point, lease=3.0)
    crashed.communicate(timeout=120)
    assert crashed.returncode == -9  # SIGKILL: no cleanup ran
    assert _statuses(engine).get("uploading") == 1
    before = _tiktok_truth(sb, 3)
    assert (len(before) == 1) == expect_reconciled  # after_call: the platform already has the post
    started = time.monotonic()
    healer = _worker(sb, url, tmp_path, "healer", lease=3.0)
    out, err = healer.communicate(timeout=120)
    assert healer.returncode == 0, err[-3000:]
    totals = json.loads(out.strip().splitlines()[-1])
    assert _statuses(engine) == {"posted": 3}
    posts = _tiktok_truth(sb, 3)
    assert len(posts) == 3 and set(posts.values()) == {1}  # exactly once, crash or not
    assert totals["reconciled"] == (1 if expect_reconciled else 0)
    assert time.monotonic() - started >= 2.0  # the stranded item waited for its lease, then was reclaimed


@pytest.mark.slow
def test_worker_publishes_through_the_browser(world, tmp_path):
    require_browser()
    sb, engine, url, media = world
    _enqueue(engine, media, 4, _now(sb))
    proc = _worker(sb, url, tmp_path, "browser-worker", publisher="browser", lease=60)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert json.loads(out.strip().splitlines()[-1])["posted"] == 4
    assert _statuses(engine) == {"posted": 4}
    calls = _truth(sb)
    assert len(calls) == 4 and set(calls.values()) == {1}
    assert (tmp_path / "home" / "browser" / "session.json").exists()  # the stored session for next time
