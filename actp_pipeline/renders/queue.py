"""Render: drain the render queue, a few ffmpeg processes at a time, each output checked before it counts."""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.engine import Engine

from actp_pipeline.creative import descriptor_json
from actp_pipeline.renders.scratch import sweep
from actp_pipeline.store.queues import render_queue
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


def _renderer(preset: str, threads: int | None) -> Renderer:
    """What renders this batch: the Remotion project of `ACTP_REMOTION_PROJECT`, else the built-in renderer.
    A project that cannot render makes every job fail with the reason."""
    from actp_pipeline.renders import RemotionRenderer, RenderError, remotion_available, render_variant

    project = remotion_project()
    if project is None:
        return lambda spec, out: render_variant(spec, out, preset=preset, threads=threads)
    why = remotion_available(project)
    if why is None:
        return RemotionRenderer(project).render

    def unavailable(spec, out):
        raise RenderError(f"ACTP_REMOTION_PROJECT={project} cannot render: {why}")

    return unavailable


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
    """Claim up to `limit` queued renders and render them `concurrency` at a time.

    With a `heartbeat` (worker_health.Heartbeat) the claimed jobs stay leased while they render.
    `on_render(variant_id, outcome)` hears of each render as it is recorded (outcome: one of
    RENDER_OUTCOMES), e.g. for a progress bar."""
    q = render_queue(engine)
    q.reap()
    media_dir.mkdir(parents=True, exist_ok=True)
    sweep(media_dir)  # what renders killed on this machine left (their leases are reaped above)
    jobs = q.claim(worker_id, limit=limit, lease_s=lease_s)
    if heartbeat is not None:
        heartbeat.hold(q, jobs)
    report = RenderReport()
    if not jobs:
        return report
    # several renders at once: one encoder thread each; a single render lets ffmpeg choose
    render = _renderer(preset, threads=1 if concurrency > 1 else None)
    with ThreadPoolExecutor(max_workers=max(concurrency, 1)) as pool:
        futures = {pool.submit(_render_one, job, media_dir, render): job for job in jobs}
        for fut, job in futures.items():
            vid = job["variant_id"]
            ok = False
            try:
                out, probe, checksum = fut.result()
            except Exception as e:  # a failed render is recorded on its job; the batch goes on
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
    return report
