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
  backgrounds            the 15 s text_hook render per background: {seconds, realtime_multiple,
                         ratio_to_bare_ffmpeg, cpu_ratio_to_bare_ffmpeg, bare_ffmpeg_s}, each against its own
                         fair bare encode (same preset and x264 options, same size, fps and length, no text):
                           colour      the text_hook figures above (bare: the lavfi colour source)
                           image       a still picture (bare: the picture scaled to cover, looped, encoded)
                           image_zoom  the same picture with the Ken Burns zoom (bare: the same still loop;
                                       the zoom's per-frame scaling and its harder-to-encode frames are cost)
                           clip        a 6 s 1280x720 25 fps clip, looped to 15 s (bare: that clip decoded,
                                       looped, cropped and scaled to cover at 30 fps, encoded; the same
                                       filters as the render's background, ffmpeg.cover_chain)
                         The picture (1600x1200 JPEG) and the clip (lavfi testsrc2) are made here, no downloads.
Every figure is the median over --repeat repetitions; every render is paired with a bare encode run
just before it and ratios are taken per pair, so that a noisy neighbour slows both alike. The CPU
ratios (child user+sys time) are less sensitive to neighbours than wall time. The render figures are whole render_variant() calls: drawing the
scenes, ffmpeg, decoding the result and checking it.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where a sibling module (benchmarks/queue.py) would
# shadow the standard library's (concurrent.futures needs queue.SimpleQueue). Nothing here imports siblings.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import replace  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actp_pipeline import creative  # noqa: E402
from actp_pipeline.renders import FPS, HEIGHT, TEMPLATES, WIDTH, RenderSpec, ffmpeg_exe, render_variant  # noqa: E402
from actp_pipeline.renders.ffmpeg import X264_OPTS, cover_chain  # noqa: E402

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


def media_spec(kind: str, media: dict[str, Path], i: int = 0) -> RenderSpec:
    """The text_hook benchmark spec over one of the background kinds (image, image_zoom, clip)."""
    spec = spec_for("text_hook", i)
    if kind == "image":
        return replace(spec, background_media=str(media["image"]), zoom=False)
    if kind == "image_zoom":
        return replace(spec, background_media=str(media["image"]), zoom=True)
    return replace(spec, background_media=str(media["clip"]))


def make_media(d: Path) -> dict[str, Path]:
    """A photo-like test picture (Pillow) and a test clip (ffmpeg's lavfi testsrc2), made locally."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = 1600, 1200
    g = Image.linear_gradient("L").resize((w, h))
    im = Image.merge("RGB", (g, g.transpose(Image.Transpose.ROTATE_90).resize((w, h)), Image.new("L", (w, h), 110)))
    draw = ImageDraw.Draw(im)
    for k in range(40):  # some shapes and grain, so that it encodes like a picture rather than a gradient
        x, y, r = (k * 397) % w, (k * 211) % h, 30 + (k * 37) % 120
        draw.ellipse((x - r, y - r, x + r, y + r), fill=((k * 53) % 256, (k * 97) % 256, (k * 151) % 256))
    im = im.filter(ImageFilter.GaussianBlur(3))
    grain = Image.frombytes("L", (w, h), random.Random(7).randbytes(w * h)).convert("RGB")  # same every run
    im = Image.blend(im, grain, 0.04)  # grain of about 3 levels (sd), like a clean phone photo
    image = d / "background.jpg"
    im.save(image, quality=88)
    clip = d / "background.mp4"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", "testsrc2=size=1280x720:rate=25:duration=6", "-c:v", "libx264", "-preset", PRESET,
                    "-pix_fmt", "yuv420p", str(clip)], check=True, stdin=subprocess.DEVNULL)
    return {"image": image, "clip": clip}


def bare_media_encode(kind: str, media: dict[str, Path], out: Path) -> None:
    """The fair bare encode of a media background: no text, no scrim, the same encoder settings."""
    frames = round(LENGTH_S * FPS)
    if kind == "clip":
        inp = ["-an", "-sn", "-dn", "-stream_loop", "-1", "-i", str(media["clip"])]
        vf = cover_chain(frames)
    else:  # image and image_zoom: the picture scaled to cover once, then held
        inp = ["-i", str(media["image"])]
        vf = (f"scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=increase,crop={WIDTH}:{HEIGHT},"
              f"scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,settb=1/{FPS},"
              f"loop=loop={frames - 1}:size=1:start=0,setpts=N")
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *inp, "-vf", vf,
           "-frames:v", str(frames), "-r", str(FPS), "-c:v", "libx264", "-preset", PRESET, "-pix_fmt", "yuv420p",
           *X264_OPTS, "-an", str(out)]
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)


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
        # Backgrounds: the text_hook render over a picture (still and zooming) and over a clip, each paired
        # with its own bare encode run right before it, interleaved with the template renders so that all
        # figures of a repetition see the same neighbours.
        media = make_media(tmp)
        kinds = ("image", "image_zoom", "clip")
        render_variant(media_spec("clip", media), tmp / "warmup-clip.mp4", preset=PRESET)
        bg_wall: dict[str, list[float]] = {k: [] for k in kinds}
        bg_cpu: dict[str, list[float]] = {k: [] for k in kinds}
        bg_ratio: dict[str, list[float]] = {k: [] for k in kinds}
        bg_bare_w: dict[str, list[float]] = {k: [] for k in kinds}
        bg_bare_cpu: dict[str, list[float]] = {k: [] for k in kinds}
        for rep in range(args.repeat):
            for kind in kinds:
                bw, bc = timed(lambda: bare_media_encode(kind, media, tmp / "bare-media.mp4"))
                w, c = timed(lambda: render_variant(media_spec(kind, media), tmp / f"{kind}.mp4", preset=PRESET,
                                                   threads=args.threads))
                bg_wall[kind].append(w)
                bg_cpu[kind].append(c)
                bg_ratio[kind].append(w / bw)
                bg_bare_w[kind].append(bw)
                bg_bare_cpu[kind].append(bc)
                log(f"[{rep + 1}/{args.repeat}] {kind:12s} {w:.2f} s (cpu {c:.2f} s)  x{LENGTH_S / w:.1f} realtime, "
                    f"{w / bw:.2f}x bare (bare {bw:.2f} s, cpu {bc:.2f} s)")
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

        backgrounds = {
            "colour": {**templates["text_hook"], "bare_ffmpeg_s": round(med(bare_w), 3)},
            **{
                kind: {
                    "seconds": round(med(bg_wall[kind]), 3),
                    "realtime_multiple": round(LENGTH_S / med(bg_wall[kind]), 2),
                    "ratio_to_bare_ffmpeg": round(med(bg_ratio[kind]), 3),
                    "cpu_ratio_to_bare_ffmpeg": round(med(bg_cpu[kind]) / med(bg_bare_cpu[kind]), 3),
                    "bare_ffmpeg_s": round(med(bg_bare_w[kind]), 3),
                }
                for kind in kinds
            },
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
        "backgrounds": backgrounds,
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
