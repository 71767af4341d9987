"""Attempts are per job (issue 9, class 6): a render that kills its process fails only its own job, and a
worker killed outright is charged only for the jobs it was rendering, never for a queued tail of its batch.

The crashes are real: ACTP_FAILPOINTS=render.crash:<variant_id> makes that variant's render process SIGKILL
itself; the worker is killed with SIGKILL. The renders are real too (1 to 3 s videos, decoded with PyAV)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest
import sqlalchemy as sa

from actp_pipeline import creative
from actp_pipeline.renders import check_video, probe_video
from actp_pipeline.renders.queue import render_due
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.queues import render_queue

ROOT = Path(__file__).resolve().parents[2]
SIGKILLED = "render process died: killed by signal 9 (SIGKILL)"

WORKER = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from actp_pipeline.store import connect_store
from actp_pipeline.renders.queue import render_due
render_due(connect_store({url!r}), Path({media!r}), worker_id="doomed", limit=16, concurrency=2)
"""


@pytest.fixture
def engine(tmp_path):
    return connect_store(f"sqlite:///{tmp_path / 'store.db'}")


def _enqueue(engine, n: int, length_s: float, lengths: tuple[float, ...] = ()) -> list[str]:
    jobs = []
    for i in range(n):
        length_s = lengths[i] if lengths else length_s
        fmt = creative.FORMATS[i % len(creative.FORMATS)]
        vid = creative.variant_id("question", "curiosity", "follow", fmt, int(length_s), f"attempts-{i}")
        jobs.append({"variant_id": vid, "payload": {
            "variant_id": vid, "hook": f"Hook number {i}", "body_lines": ["One line", "Another line"],
            "cta": "Follow for more", "format": fmt, "length_s": length_s}})
    render_queue(engine).enqueue(jobs, unique_column="variant_id")
    return [j["variant_id"] for j in jobs]


def _rows(engine) -> dict[str, sa.Row]:
    t = schema.render_jobs
    with engine.connect() as c:
        return {r.variant_id: r for r in c.execute(sa.select(t))}


def _retry_backoff_passes(engine) -> None:
    t = schema.render_jobs
    with engine.begin() as c:
        c.execute(t.update().values(available_at=dt.datetime(2000, 1, 1)))


class RecordingHeartbeat:
    """Stands in for worker.heartbeats.Heartbeat: which jobs the batch asked to keep leased, and when."""

    def __init__(self):
        self.held: dict[int, str] = {}
        self.most_held = 0
        self.dropped: list[tuple[int, bool]] = []

    def hold(self, queue, items):
        self.held.update({it["id"]: it["claim_token"] for it in items})
        self.most_held = max(self.most_held, len(self.held))

    def drop(self, queue, item_id, *, completed=True):
        del self.held[item_id]
        self.dropped.append((item_id, completed))


def test_a_render_that_kills_its_process_fails_only_its_own_job(engine, tmp_path, monkeypatch):
    vids = _enqueue(engine, 4, length_s=1.0)
    crasher = vids[1]
    monkeypatch.setenv("ACTP_FAILPOINTS", f"render.crash:{crasher}")
    media, seen, beat = tmp_path / "media", [], RecordingHeartbeat()
    for _ in range(5):  # the crashing job is charged one attempt per batch: dead after its third
        report = render_due(engine, media, worker_id="w", limit=4, concurrency=2, heartbeat=beat,
                            on_render=lambda vid, outcome: seen.append((vid, outcome)))
        assert report.errors == {crasher: SIGKILLED}
        if report.dead:
            break
        _retry_backoff_passes(engine)
    # this process (the worker) lived through every crash, and so did the other renders
    rows = _rows(engine)
    dead = rows[crasher]
    assert (dead.status, dead.attempts, dead.max_attempts) == ("failed", 3, 3)
    assert dead.last_error == f"RenderError: {SIGKILLED}" and dead.output_path is None
    assert seen.count((crasher, "retried")) == 2 and seen.count((crasher, "dead")) == 1
    for vid in vids:
        if vid == crasher:
            continue
        row = rows[vid]
        assert (row.status, row.attempts, row.last_error) == ("succeeded", 1, None)
        assert seen.count((vid, "succeeded")) == 1
        out = Path(row.output_path)
        probe = probe_video(out)
        assert check_video(probe, expected_duration_s=1.0) == []
        assert row.probe == {**row.probe, "duration_s": probe.duration_s, "codec": "h264"}
        with av.open(str(out)) as c:
            assert sum(1 for _ in c.decode(video=0)) == 30
    assert not (media / crasher).with_suffix(".mp4").exists()
    # leases: the jobs rendering were held, never more than the render slots, and all let go
    assert beat.most_held <= 2 and beat.held == {}
    assert sorted(done for _, done in beat.dropped) == [False] * 3 + [True] * 3
    assert not (media / ".scratch").exists()  # the dead renders' work dirs were swept


def test_a_killed_worker_is_charged_only_for_the_renders_it_was_running(tmp_path):
    psutil = pytest.importorskip("psutil")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = connect_store(url)
    vids = _enqueue(engine, 8, 0, lengths=(1.0,) + (60.0,) * 7)  # one quick render, then long ones
    env = {k: v for k, v in os.environ.items() if k != "ACTP_FAILPOINTS"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER.format(root=str(ROOT), url=url, media=str(tmp_path))],
                              cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # mid-batch: one render done, and the next ones running
            statuses = [r.status for r in _rows(engine).values()]
            renders = psutil.Process(worker.pid).children(recursive=True)  # with their ffmpeg
            if statuses.count("succeeded") >= 1 and statuses.count("running") >= 1 and renders:
                break
            assert worker.poll() is None, "the worker ended before it was killed"
            time.sleep(0.05)
        else:
            pytest.fail("the worker never got going")
        worker.send_signal(signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
    rows = _rows(engine)
    charged = [v for v in vids if rows[v].attempts > 0 and rows[v].status != "succeeded"]
    assert 1 <= len(charged) <= 2, {v: (r.status, r.attempts) for v, r in rows.items()}
    assert all(rows[v].status == "running" and rows[v].attempts == 1 for v in charged)
    queued = [v for v in vids if rows[v].status == "queued"]
    assert queued and all(rows[v].attempts == 0 for v in queued)  # the rest of the batch was never claimed
    # and the renders it was running went down with it, at once (none renders on for a dead worker)
    gone, alive = psutil.wait_procs(renders, timeout=5)
    assert alive == []


def test_a_batch_that_stops_early_leaves_no_render_running(engine, tmp_path):
    psutil = pytest.importorskip("psutil")
    short, long = _enqueue(engine, 2, 0, lengths=(1.0, 60.0))
    media = tmp_path / "media"

    class BrokenHeartbeat(RecordingHeartbeat):
        def drop(self, queue, item_id, *, completed=True):
            raise RuntimeError("the store went away")

    before = {c.pid for c in psutil.Process().children(recursive=True)}  # other tests' processes are not ours
    with pytest.raises(RuntimeError, match="the store went away"):  # after the short render, mid the long one
        render_due(engine, media, worker_id="w", limit=2, concurrency=2, heartbeat=BrokenHeartbeat())
    assert (media / f"{short}.mp4").exists()
    assert not (media / f"{long}.mp4").exists()  # killed, not waited for
    deadline = time.monotonic() + 5
    while (left := [c for c in psutil.Process().children(recursive=True) if c.pid not in before and c.is_running()
                    and c.status() != psutil.STATUS_ZOMBIE]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []  # and nothing of it (its ffmpeg) runs on


@pytest.mark.parametrize(("armed", "killed"), [
    ("render.crash", True),  # unkeyed: every render (and the old form of every failpoint)
    ("publish.after_call,render.crash:v_1", True),
    ("render.crash:v_2", False),
    ("render.crash:v_1x", False),
    ("", False),
])
def test_failpoints_armed_for_one_key(armed, killed):
    code = "from actp_pipeline.failpoints import failpoint; failpoint('render.crash', 'v_1')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "ACTP_FAILPOINTS": armed})
    assert proc.returncode == (-signal.SIGKILL if killed else 0)
