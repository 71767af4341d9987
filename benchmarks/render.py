"""Render speed of the built-in renderer against a bare ffmpeg encode, measured in the same run.

Run from the repo root:  .venv/bin/python benchmarks/render.py [--repeat 3] [--batch 4]

Prints progress to stderr and one JSON object as the last line of stdout:
  realtime_multiple      15 s of video / wall seconds of one 15 s text_hook render_variant() call
  ratio_to_bare_ffmpeg   that render's wall time / the bare encode's (lavfi colour source -> libx264,
                         same preset, yuv420p, same size, duration and fps), paired per repetition
  templates              the same per template: {seconds, realtime_multiple, ratio_to_bare_ffmpeg}
  videos_per_hour        15 s renders per hour with 2 running at once (a 2-thread pool over --batch videos,
                         each render with --pool-threads ffmpeg threads)
  bare_ffmpeg_s          the bare encode's wall time
Every figure is the median over --repeat repetitions; every render is paired with a bare encode run
just before it and ratios are taken per pair, so that a noisy neighbour slows both alike. The CPU
ratios (child user+sys time) are less sensitive to neighbours than wall time. The render figures are whole render_variant() calls: drawing the
scenes, ffmpeg, decoding the result and checking it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actp_pipeline import creative  # noqa: E402
from actp_pipeline.renders import FPS, HEIGHT, TEMPLATES, WIDTH, RenderSpec, ffmpeg_exe, render_variant  # noqa: E402
from actp_pipeline.renders.ffmpeg import X264_OPTS  # noqa: E402

LENGTH_S = 15.0
PRESET = "veryfast"

BODY = {
    "text_hook": ("Most ads lose you in the first second", "Lead with the payoff, not the logo",
                  "Put the words on screen: most people watch muted"),
    "listicle": ("Open with a question", "Show the result before the process", "One idea per slide",
                 "End with a single clear ask"),
    "testimonial": ("I tried three tools before this one.", "This is the first that paid for itself in a week.",
                    "- Maya R., shop owner"),
}


def spec_for(fmt: str, i: int = 0) -> RenderSpec:
    hook = {"text_hook": "Stop scrolling: your hook has 1.5 seconds",
            "listicle": "4 rules for hooks that convert",
            "testimonial": "\u201cI almost didn't try it\u201d"}[fmt]
    vid = creative.variant_id("bold_claim", "curiosity", "follow", fmt, int(LENGTH_S), f"bench-{i}")
    desc = creative.descriptor_json({"variant_id": vid, "format": fmt, "length_s": LENGTH_S, "hook": hook})
    return RenderSpec(vid, hook, BODY[fmt], "Follow for part 2", fmt, LENGTH_S, descriptor=desc)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed(fn) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of fn()."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def bare_encode(out: Path) -> None:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", f"color=c=0x1f2937:s={WIDTH}x{HEIGHT}:r={FPS}:d={LENGTH_S:g}",
           "-c:v", "libx264", "-preset", PRESET, "-pix_fmt", "yuv420p", "-an", str(out)]
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch", type=int, default=4, help="videos rendered by the 2-thread pool")
    ap.add_argument("--threads", type=int, default=None, help="ffmpeg threads of a single render (default: ffmpeg's)")
    ap.add_argument("--pool-threads", type=int, default=1,
                    help="ffmpeg threads per render in the 2-at-a-time pool "
                         "(1: two single-threaded encodes fill two cores)")
    args = ap.parse_args()

    load = os.getloadavg()[0]
    log(f"render benchmark: {LENGTH_S:g} s {WIDTH}x{HEIGHT} @ {FPS} fps, preset {PRESET}, "
        f"{os.cpu_count()} cpus, load {load:.2f}, repeat {args.repeat}")
    with tempfile.TemporaryDirectory(prefix="actp-bench-") as d:
        tmp = Path(d)
        render_variant(spec_for("text_hook"), tmp / "warmup.mp4", preset=PRESET)  # page cache, font cache
        bare_w, bare_cpu = [], []
        wall: dict[str, list[float]] = {f: [] for f in TEMPLATES}
        cpu: dict[str, list[float]] = {f: [] for f in TEMPLATES}
        ratio: dict[str, list[float]] = {f: [] for f in TEMPLATES}
        for rep in range(args.repeat):
            for fmt in TEMPLATES:
                # each render is paired with a bare encode run right before it
                bw, bc = timed(lambda: bare_encode(tmp / "bare.mp4"))
                bare_w.append(bw)
                bare_cpu.append(bc)
                w, c = timed(lambda: render_variant(spec_for(fmt), tmp / f"{fmt}.mp4", preset=PRESET,
                                                   threads=args.threads))
                wall[fmt].append(w)
                cpu[fmt].append(c)
                ratio[fmt].append(w / bw)
                log(f"[{rep + 1}/{args.repeat}] {fmt:12s} {w:.2f} s (cpu {c:.2f} s)  x{LENGTH_S / w:.1f} realtime, "
                    f"{w / bw:.2f}x bare (bare {bw:.2f} s, cpu {bc:.2f} s)")

        med = statistics.median
        templates = {
            fmt: {
                "seconds": round(med(wall[fmt]), 3),
                "realtime_multiple": round(LENGTH_S / med(wall[fmt]), 2),
                "ratio_to_bare_ffmpeg": round(med(ratio[fmt]), 3),
                "cpu_ratio_to_bare_ffmpeg": round(med(cpu[fmt]) / med(bare_cpu), 3),
            }
            for fmt in TEMPLATES
        }

        # Throughput: two renders at a time, as the render worker runs them on this machine.
        fmts = list(TEMPLATES)
        specs = [spec_for(fmts[i % len(fmts)], i) for i in range(args.batch)]
        per_hour = []
        for rep in range(args.repeat):
            with ThreadPoolExecutor(max_workers=2) as pool:
                t0 = time.perf_counter()
                list(pool.map(lambda a: render_variant(a[1], tmp / f"batch{a[0]}.mp4", preset=PRESET,
                                                       threads=args.pool_threads), enumerate(specs)))
                w = time.perf_counter() - t0
            per_hour.append(args.batch / w * 3600)
            log(f"[{rep + 1}/{args.repeat}] {args.batch} videos, 2 at a time: {w:.2f} s "
                f"-> {per_hour[-1]:.0f} videos/hour")

    th = templates["text_hook"]
    result = {
        "realtime_multiple": th["realtime_multiple"],
        "ratio_to_bare_ffmpeg": th["ratio_to_bare_ffmpeg"],
        "templates": templates,
        "videos_per_hour": round(med(per_hour)),
        "bare_ffmpeg_s": round(med(bare_w), 3),
        "bare_ffmpeg_cpu_s": round(med(bare_cpu), 3),
        "length_s": LENGTH_S,
        "preset": PRESET,
        "x264_opts": list(X264_OPTS),
        "threads": args.threads,
        "pool_threads": args.pool_threads,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "load_avg_at_start": round(load, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
