"""Render: drain the render queue, a few renders at a time, each in its own process, each output checked
before it counts.

Attempts are per job (issue 9, class 6). Each render runs in a child process (renders/isolation.py): a render
that kills its process (segfault, OOM kill, abort in Pillow, PyAV or ffmpeg code) fails only its own job,
counted as that job's attempt, and the worker and the other renders go on. And jobs are claimed lazily, one
per free render slot: a worker killed outright has claimed (and is charged an attempt for) only the jobs it
was rendering, never a queued tail of its batch.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.engine import Engine

from actp_pipeline.creative import descriptor_json
from actp_pipeline.renders.isolation import RenderProcesses
from actp_pipeline.renders.scratch import sweep
from actp_pipeline.store.queues import WorkQueue, render_queue
from actp_pipeline.worker.progress import OnDone, notify


@dataclass
class RenderReport:
    succeeded: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    lost_lease: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    seconds_of_video: float = 0.0

    @property
    def handled(self) -> int:
        return len(self.succeeded) + len(self.retried) + len(self.dead)


RENDER_OUTCOMES = ("succeeded", "retried", "dead", "lost_lease")  # the RenderReport list a render went to


def spec_for(payload: dict[str, Any]):
    """The renderer's spec for a variant payload as queued by generation."""
    from actp_pipeline.renders import RenderSpec

    return RenderSpec(
        variant_id=payload["variant_id"], hook=payload["hook"], body_lines=tuple(payload.get("body_lines", ())),
        cta=payload["cta"], format=payload["format"], length_s=float(payload["length_s"]),
        **{k: payload[k] for k in ("background", "accent", "background_media", "zoom") if payload.get(k)},
        descriptor=descriptor_json(payload))


def remotion_project() -> Path | None:
    """The user's Remotion project when `ACTP_REMOTION_PROJECT` names one; else the built-in renderer."""
    raw = os.environ.get("ACTP_REMOTION_PROJECT")
    return Path(raw).expanduser() if raw else None


Renderer = Callable[[Any, Path], Any]  # (RenderSpec, output path) -> VideoProbe


def _renderer(preset: str, threads: int | None) -> RenderProcesses:
    """What renders this batch, each render in its own process: the Remotion project of
    `ACTP_REMOTION_PROJECT`, else the built-in renderer. A project that cannot render makes every job fail
    with the reason."""
    from actp_pipeline.renders import remotion_available

    project = remotion_project()
    if project is None:
        return RenderProcesses(preset, threads)
    why = remotion_available(project)
    if why is None:
        return RenderProcesses(preset, threads, remotion_project=project)
    return RenderProcesses(preset, threads, refusal=f"ACTP_REMOTION_PROJECT={project} cannot render: {why}")


def _render_one(job: dict[str, Any], media_dir: Path, render: Renderer) -> tuple[Path, Any, str]:
    from actp_pipeline.renders import RenderError, check_video, sha256_file

    payload = job["payload"]
    out = media_dir / f"{payload['variant_id']}.mp4"
    probe = render(spec_for(payload), out)
    problems = check_video(probe, payload.get("platform"), expected_duration_s=float(payload["length_s"]))
    if problems:
        raise RenderError("render failed its checks: " + "; ".join(problems))
    return out, probe, sha256_file(out)


def render_due(engine: Engine, media_dir: Path, *, worker_id: str, limit: int = 16, concurrency: int = 2,
               preset: str = "veryfast", lease_s: float = 600, heartbeat=None,
               on_render: OnDone | None = None) -> RenderReport:
    """Render up to `limit` queued jobs, `concurrency` at a time, each in its own process.

    A job is claimed only when a render slot is free for it (`concurrency` at first, then one each time a
    render ends), so at most `concurrency` jobs are ever claimed and unfinished.
    With a `heartbeat` (worker_health.Heartbeat) the claimed jobs stay leased while they render.
    `on_render(variant_id, outcome)` hears of each render as it is recorded (outcome: one of
    RENDER_OUTCOMES), e.g. for a progress bar."""
    q = render_queue(engine)
    q.reap()
    media_dir.mkdir(parents=True, exist_ok=True)
    sweep(media_dir)  # what renders killed on this machine left (their leases are reaped above)
    report = RenderReport()
    slots = max(concurrency, 1)
    render: RenderProcesses | None = None  # made at the first claim
    running: dict[Future, dict[str, Any]] = {}
    claimed, more = 0, True
    with ThreadPoolExecutor(max_workers=slots) as pool:
        try:
            while True:
                want = min(slots - len(running), limit - claimed) if more else 0
                jobs = q.claim(worker_id, limit=want, lease_s=lease_s) if want > 0 else []
                claimed, more = claimed + len(jobs), more and len(jobs) == want
                if heartbeat is not None:
                    heartbeat.hold(q, jobs)
                if jobs and render is None:
                    # several renders at once: one encoder thread each; a single render lets ffmpeg choose
                    render = _renderer(preset, threads=1 if concurrency > 1 else None)
                for job in jobs:
                    running[pool.submit(_render_one, job, media_dir, render)] = job
                if not running:
                    return report
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    _record(q, running.pop(fut), fut, report, heartbeat, on_render)
        except BaseException:
            if render is not None:
                render.kill()  # stopped early (Ctrl-C, a store error): no render outlives the batch
            raise


def _record(q: WorkQueue, job: dict[str, Any], fut: Future, report: RenderReport, heartbeat,
            on_render: OnDone | None) -> None:
    """Write a finished render's outcome to its job (under its claim token) and to the report."""
    vid = job["variant_id"]
    ok = False
    try:
        out, probe, checksum = fut.result()
    except Exception as e:  # a failed render (or a dead render process) is recorded on its job; the batch goes on
        report.errors[vid] = str(e)[-2000:]
        status = q.fail(job["id"], job["claim_token"], f"{type(e).__name__}: {e}")
        outcome = "dead" if status == q.s.dead else "retried" if status else "lost_lease"
    else:
        ok = q.complete(job["id"], job["claim_token"], output_path=str(out), checksum=checksum,
                        probe=dataclasses.asdict(probe))
        outcome = "succeeded" if ok else "lost_lease"
        if ok:
            report.seconds_of_video += probe.duration_s
    finally:
        if heartbeat is not None:
            heartbeat.drop(q, job["id"], completed=ok)
    getattr(report, outcome).append(vid)
    notify(on_render, vid, outcome)
