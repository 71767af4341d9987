"""Drive the ffmpeg binary that ships in the imageio-ffmpeg wheel: scenes in, checked H.264 MP4 out.

The filter graph holds each scene's still (decoded and colour-converted once, then repeated by
reference with `loop`, so the static stretches cost the encoder only) and joins scenes with short
transitions that touch just their own few frames: slides as a moving crop over two stacked stills
(no pixel work at all), fades and wipes with `xfade`. No text ever enters the filter graph and every
path is a separate argv item with a `file:` prefix, so nothing in a spec or a path needs escaping.

Why this shape: drawtext filters on a colour source made every frame a fresh 1080x1920 copy plus
per-frame text blending (about 2x a bare encode); held stills bring a render to within ~10% of the CPU
time of a bare encode of a flat colour (see benchmarks/render.py).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from pathlib import Path

from actp_pipeline.renders.checks import VideoProbe, check_video, probe_video
from actp_pipeline.renders.spec import (
    AUDIO_RATE,
    FPS,
    HEIGHT,
    PIX_FMT,
    WIDTH,
    RenderError,
    RenderSpec,
    frame_count,
    spec_problems,
)
from actp_pipeline.renders.templates import TEMPLATES, Scene

STDERR_TAIL = 2000
AUDIO_BITRATE = "128k"
# x264 options on top of the preset. No B-frames: with held stills they save little, cost encoder time,
# and their reordering delay would need an MP4 edit list (Instagram's Reels spec asks for none).
X264_OPTS: tuple[str, ...] = ("-bf", "0")
BMP_MAX_SCENES = 12
AAC_PRIMING = 1024  # samples of encoder delay the AAC encoder puts in front of the audio


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg (or $IMAGEIO_FFMPEG_EXE)."""
    import imageio_ffmpeg  # imported here: keeps module import cheap

    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:  # no binary for this platform
        raise RenderError(f"no ffmpeg binary: {exc}") from exc


def _ff_path(path: Path) -> str:
    # 'file:' stops ffmpeg reading a protocol from a name like 'a:b.mp4'; absolute so a leading '-' is harmless
    return "file:" + str(Path(path).absolute())


def _to_yuv(fmt: str) -> str:
    return f"scale=out_color_matrix=bt709:out_range=tv,format={fmt},settb=1/{FPS}"


def _hold(n: int) -> str:
    """Repeat the single input frame n times (by reference), timestamps 0..n-1."""
    return f"loop=loop={n - 1}:size=1:start=0,setpts=N"


# Slides are a moving crop window over the two stills stacked side by side (or one above the other):
# crop only offsets plane pointers, so a slide costs no pixel work, unlike xfade's per-pixel slides.
SLIDES = {"slideleft": ("hstack", "x"), "slideup": ("vstack", "y")}


def transition_chain(kind: str, t: int, src_from: str, src_to: str, label: str) -> list[str]:
    """Filter chains making `t` frames that go from the still `src_from` to the still `src_to`."""
    if kind in SLIDES:
        stack, axis = SLIDES[kind]
        extent = WIDTH if axis == "x" else HEIGHT
        # ease-out: fast start, gentle landing; the last frame shows the new still in place
        pos = f"{extent}*(1-(1-(n+1)/{t})*(1-(n+1)/{t}))"
        x, y = (pos, "0") if axis == "x" else ("0", pos)
        return [
            f"{src_from}{_to_yuv(PIX_FMT)}[{label}a]",
            f"{src_to}{_to_yuv(PIX_FMT)}[{label}b]",
            f"[{label}a][{label}b]{stack}=inputs=2,{_hold(t)},crop=w={WIDTH}:h={HEIGHT}:x='{x}':y='{y}'[{label}]",
        ]
    # everything else is an xfade transition; xfade works on 4:4:4, so convert just these frames back
    return [
        f"{src_from}{_to_yuv('yuv444p')},{_hold(t)}[{label}a]",
        f"{src_to}{_to_yuv('yuv444p')},{_hold(t)}[{label}b]",
        f"[{label}a][{label}b]xfade=transition={kind}:duration={t / FPS:.6f}:offset=0,format={PIX_FMT}[{label}]",
    ]


def build_filtergraph(scenes: list[Scene], intro_input: int) -> str:
    """Filter graph for scenes whose stills are inputs 0..n-1 (intro still at `intro_input`); output [v]."""
    chains: list[str] = []
    parts: list[str] = []
    n = len(scenes)
    for i, sc in enumerate(scenes):
        outs = [f"h{i}"]
        if sc.transition_frames:
            outs.append(f"t{i}")
        nxt = scenes[i + 1].transition_frames if i + 1 < n else 0
        if nxt:
            outs.append(f"f{i}")
        if len(outs) > 1:
            chains.append(f"[{i}:v]split={len(outs)}" + "".join(f"[s{o}]" for o in outs))
            src = {o: f"[s{o}]" for o in outs}
        else:
            src = {outs[0]: f"[{i}:v]"}
        if sc.transition_frames:
            src_from = f"[{intro_input}:v]" if i == 0 else f"[sf{i - 1}]"
            chains += transition_chain(sc.transition, sc.transition_frames, src_from, src[f"t{i}"], f"x{i}")
            parts.append(f"[x{i}]")
        chains.append(f"{src[f'h{i}']}{_to_yuv(PIX_FMT)},{_hold(sc.frames - sc.transition_frames)}[h{i}]")
        parts.append(f"[h{i}]")
    chains.append("".join(parts) + f"concat=n={len(parts)}:v=1:a=0[v]")
    return ";".join(chains)


def build_command(
    scene_files: list[Path],
    intro_file: Path,
    scenes: list[Scene],
    out_path: Path,
    *,
    total_frames: int,
    descriptor: str,
    preset: str,
    threads: int | None,
    x264_opts: tuple[str, ...] | None = None,
) -> list[str]:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"]
    if threads:
        cmd += ["-filter_threads", str(threads), "-filter_complex_threads", str(threads)]
    for f in [*scene_files, intro_file]:
        cmd += ["-f", "image2", "-pattern_type", "none", "-framerate", str(FPS), "-i", _ff_path(f)]
    audio_input = len(scene_files) + 1
    # the AAC priming samples count towards the audio track's length: leave room for them so the audio
    # ends with the last video frame
    audio_s = max(total_frames / FPS - AAC_PRIMING / AUDIO_RATE, 1 / FPS)
    cmd += ["-f", "lavfi", "-t", f"{audio_s:.6f}", "-i", f"anullsrc=r={AUDIO_RATE}:cl=stereo"]
    cmd += ["-filter_complex", build_filtergraph(scenes, len(scene_files))]
    cmd += ["-map", "[v]", "-map", f"{audio_input}:a"]
    cmd += ["-c:v", "libx264", "-preset", preset, "-pix_fmt", PIX_FMT, "-profile:v", "high", "-r", str(FPS)]
    cmd += list(X264_OPTS if x264_opts is None else x264_opts)
    if threads:
        cmd += ["-threads", str(threads)]
    cmd += ["-frames:v", str(total_frames)]
    cmd += ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]
    cmd += ["-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", str(AUDIO_RATE), "-ac", "2"]
    cmd += ["-map_metadata", "-1", "-map_chapters", "-1"]
    if descriptor:
        cmd += ["-metadata", f"comment={descriptor}"]
    # bitexact: no encoder version or creation time in the file, so the same spec gives the same bytes
    cmd += ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"]
    # index at the front (faststart) and no edit lists: the audio's priming delay is shifted to start at 0
    cmd += ["-movflags", "+faststart", "-use_editlist", "0", "-avoid_negative_ts", "make_non_negative"]
    cmd += ["-f", "mp4", _ff_path(out_path)]
    return cmd


def _tail(data: bytes | str | None) -> str:
    if not data:
        return "(no output)"
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text.strip()[-STDERR_TAIL:]


def run_ffmpeg(cmd: list[str], timeout_s: float) -> None:
    """Run ffmpeg; RenderError with its stderr tail on failure or timeout (the process is killed)."""
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RenderError(f"ffmpeg timed out after {timeout_s:g} s: {_tail(exc.stderr)}") from None
    except OSError as exc:
        raise RenderError(f"cannot run ffmpeg: {exc}") from exc
    if proc.returncode != 0:
        raise RenderError(f"ffmpeg exited with status {proc.returncode}: {_tail(proc.stderr)}")


def _save_still(image, path: Path) -> None:
    if path.suffix == ".png":
        image.save(path, compress_level=1)
    else:
        image.save(path)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def render_variant(
    spec: RenderSpec,
    out_path: Path,
    *,
    preset: str = "veryfast",
    threads: int | None = None,
    timeout_s: float = 300,
) -> VideoProbe:
    """Render `spec` to an H.264/AAC MP4 at `out_path` and return the decoder's view of it.

    The file is written to a temporary name next to `out_path`, decoded and checked (codec, size, fps,
    duration, audio, embedded descriptor), and only then moved into place with os.replace: `out_path`
    either holds a complete checked render or is left as it was. Raises RenderError on any failure.
    """
    problems = spec_problems(spec)
    if problems:
        raise RenderError(f"cannot render {spec.variant_id!r}: " + "; ".join(problems))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    total = frame_count(float(spec.length_s))
    tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        with tempfile.TemporaryDirectory(prefix="actp-render-") as workdir:
            scenes, intro = TEMPLATES[spec.format].scenes(spec)
            # BMP is the fastest to write and to decode (6 MB a still); many scenes use PNG to bound disk use
            ext = "bmp" if len(scenes) <= BMP_MAX_SCENES else "png"
            files = []
            for i, sc in enumerate(scenes):
                f = Path(workdir) / f"scene{i:03d}.{ext}"
                _save_still(sc.image, f)
                files.append(f)
            intro_file = Path(workdir) / f"intro.{ext}"
            _save_still(intro, intro_file)
            cmd = build_command(files, intro_file, scenes, tmp, total_frames=total, descriptor=spec.descriptor,
                                preset=preset, threads=threads)
            run_ffmpeg(cmd, timeout_s)
        probe = probe_video(tmp)
        problems = check_video(probe, expected_duration_s=total / FPS)
        if probe.frame_count is not None and probe.frame_count != total:
            problems.append(f"{probe.frame_count} video frames, expected {total}")
        if spec.descriptor and probe.comment != spec.descriptor:
            problems.append("embedded descriptor does not read back identical")
        if problems:
            raise RenderError(f"render of {spec.variant_id!r} failed its checks: " + "; ".join(problems))
        os.replace(tmp, out_path)
    except BaseException:
        _unlink(tmp)
        raise
    return probe
