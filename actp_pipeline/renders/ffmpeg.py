"""Drive the ffmpeg binary that ships in the imageio-ffmpeg wheel: scenes in, checked H.264 MP4 out.

The filter graph holds each scene's still (decoded and colour-converted once, then repeated by
reference with `loop`, so the static stretches cost the encoder only) and joins scenes with short
transitions that touch just their own few frames: slides as a moving crop over two stacked stills
(no pixel work at all), fades and wipes with `xfade`. No text ever enters the filter graph and every
path is a separate argv item with a `file:` prefix, so nothing in a spec or a path needs escaping.

Why this shape: drawtext filters on a colour source made every frame a fresh 1080x1920 copy plus
per-frame text blending (about 2x a bare encode); held stills bring a render to within ~10% of the CPU
time of a bare encode of a flat colour (see benchmarks/render.py).

Background media (RenderSpec.background_media) makes the scenes transparent text layers (scenes.py)
that go over an "underlay":
- a still image: the underlay is the picture with its scrim (drawn by Pillow). Each scene's text is put
  on it once and the result held like a colour render's still, so the filters cost next to nothing and
  the encoder does almost all the work, as in a colour render.
- a zooming image or a clip: the underlay is just the scrim, the scenes' text-on-scrim layers are held
  and joined as above (with alpha), and that layer stream goes over the moving background with one
  `overlay` per frame. The zoom is a `scale` with per-frame size and a centred crop, scene by scene
  (zooming in over one scene, out over the next, so there is no jump at a cut); a clip is read with
  `-stream_loop -1` (looped), cut to the render's length with `trim`, scaled to cover and its sound dropped.
Slides move the text only: the two text layers are stacked and cropped, then put on the underlay.
The media file is opened (Pillow, or PyAV for a clip) before ffmpeg runs, so an unreadable file fails fast
with its name in the RenderError.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from actp_pipeline.renders.checks import VideoProbe, accept_render, media_duration_s
from actp_pipeline.renders.spec import (
    AUDIO_RATE,
    FPS,
    HEIGHT,
    PIX_FMT,
    WIDTH,
    ZOOM_MAX,
    RenderError,
    RenderSpec,
    frame_count,
    spec_problems,
)
from actp_pipeline.renders.scenes import Scene
from actp_pipeline.renders.scratch import work_dir
from actp_pipeline.renders.templates import TEMPLATES
from actp_pipeline.renders.theme import Theme, background_image, scrim_image

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


def _slide(kind: str, t: int) -> str:
    """The filters after two inputs (old frame, new frame) that make a `t`-frame slide of `kind`."""
    stack, axis = SLIDES[kind]
    extent = WIDTH if axis == "x" else HEIGHT
    # ease-out: fast start, gentle landing; the last frame shows the new still in place
    pos = f"{extent}*(1-(1-(n+1)/{t})*(1-(n+1)/{t}))"
    x, y = (pos, "0") if axis == "x" else ("0", pos)
    return f"{stack}=inputs=2,{_hold(t)},crop=w={WIDTH}:h={HEIGHT}:x='{x}':y='{y}'"


def transition_chain(kind: str, t: int, src_from: str, src_to: str, label: str) -> list[str]:
    """Filter chains making `t` frames that go from the still `src_from` to the still `src_to`."""
    if kind in SLIDES:
        return [
            f"{src_from}{_to_yuv(PIX_FMT)}[{label}a]",
            f"{src_to}{_to_yuv(PIX_FMT)}[{label}b]",
            f"[{label}a][{label}b]{_slide(kind, t)}[{label}]",
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


# ------------------------------------------------------------------------------------------ media backgrounds


@dataclass(frozen=True)
class ClipInfo:
    """What PyAV reads from a background clip before the render."""

    path: Path
    width: int
    height: int
    duration_s: float | None
    fps: float | None


def probe_clip(path: str | os.PathLike) -> ClipInfo:
    """Open a background clip with PyAV and decode its first video frame; RenderError naming the file if
    it is missing, unreadable or has no decodable video."""
    import av

    name = os.fspath(path)
    try:
        with open(name, "rb") as fh, av.open(fh, mode="r") as container:
            vs = next((st for st in container.streams if st.type == "video"), None)
            if vs is None:
                raise RenderError(f"background_media {name}: no video stream in the clip")
            frame = next(iter(container.decode(vs)), None)
            if frame is None:
                raise RenderError(f"background_media {name}: no video frame in the clip could be decoded")
            rate = vs.average_rate or vs.guessed_rate
            return ClipInfo(Path(name), frame.width, frame.height, media_duration_s(container, vs),
                            float(rate) if rate else None)
    except RenderError:
        raise
    except (OSError, av.FFmpegError, ValueError, StopIteration) as exc:
        raise RenderError(f"background_media {name}: cannot read the clip: {exc}") from None


def cover_chain(total_frames: int) -> str:
    """Filters turning a (looped) clip into the background stream: constant 30 fps from 0, the centre
    9:16 part (in display aspect) scaled to the frame, BT.709 limited range yuv420p, cut to `total_frames`.
    benchmarks/render.py encodes exactly this as the bare baseline of a clip render."""
    w_expr = f"2*trunc(min(iw,ih*{WIDTH}/{HEIGHT}/sar)/2)"
    h_expr = f"2*trunc(min(ih,iw*sar*{HEIGHT}/{WIDTH})/2)"
    return (f"setpts=PTS-STARTPTS,fps={FPS},crop=w='{w_expr}':h='{h_expr}',"
            f"scale={WIDTH}:{HEIGHT}:out_color_matrix=bt709:out_range=tv,setsar=1,format={PIX_FMT},"
            f"trim=end_frame={total_frames},setpts=N,settb=1/{FPS}")


def zoom_chain(frames: int, zoom_in: bool) -> str:
    """Filters holding a zoom_size() still for `frames` frames while it zooms 1 -> ZOOM_MAX (or back):
    a per-frame scale to the zoomed size, then the centred frame-size crop."""
    # frame k of the scene from its timestamp (t*FPS): scale's own frame counter `n` starts at 1 in some
    # FFmpeg builds and at 0 in crop, and the two must agree to the pixel
    p = f"t*{FPS}/{max(1, frames - 1)}" if zoom_in else f"(1-t*{FPS}/{max(1, frames - 1)})"
    z = f"(1+{ZOOM_MAX - 1:.6f}*{p})"
    # the crop is placed from the same expression: crop does not see the per-frame input size
    return (f"{_hold(frames)},scale=w='2*round({WIDTH}*{z}/2)':h='2*round({HEIGHT}*{z}/2)':eval=frame:flags=bilinear,"
            f"crop=w={WIDTH}:h={HEIGHT}:x='round({WIDTH}*{z}/2)-{WIDTH // 2}':y='round({HEIGHT}*{z}/2)-{HEIGHT // 2}'"
            f":exact=1")


@dataclass(frozen=True)
class MediaInputs:
    """The extra inputs of a render over background media."""

    kind: str  # "image" (still), "zoom" (zooming image) or "clip"
    underlay: Path  # image: the picture with its scrim (RGB); zoom and clip: the scrim alone (RGBA)
    source: Path | None = None  # zoom: the picture at zoom_size(); clip: the clip

    @property
    def moving(self) -> bool:
        return self.kind in ("zoom", "clip")


class _Graph:
    """Filter chains and labels; `fan(src, k)` splits a stream into k labels (no split for one)."""

    def __init__(self) -> None:
        self.chains: list[str] = []
        self._n = 0

    def label(self, stem: str) -> str:
        self._n += 1
        return f"[{stem}{self._n}]"

    def fan(self, src: str, k: int, stem: str) -> list[str]:
        if k <= 1:
            return [src] * k
        outs = [self.label(stem) for _ in range(k)]
        self.chains.append(f"{src}split={k}" + "".join(outs))
        return outs


def build_layered_filtergraph(scenes: list[Scene], intro_input: int, media: MediaInputs, total_frames: int) -> str:
    """Filter graph for text layers (inputs 0..n-1, intro at `intro_input`) over background media: the
    underlay is input intro_input+1 and the moving source (zoom, clip) intro_input+2. Output [v]."""
    g = _Graph()
    fmt = "yuva420p" if media.moving else PIX_FMT  # the layer stream keeps its alpha until the last overlay
    xfmt = "yuva444p" if media.moving else "yuv444p"  # xfade's working format
    slide = [bool(sc.transition_frames) and sc.transition in SLIDES for sc in scenes]
    comps, raws, under = _layer_stills(g, scenes, intro_input, fmt, slide)
    parts = _layer_timeline(g, scenes, slide, comps, raws, under, fmt, xfmt)
    if not media.moving:
        g.chains.append("".join(parts) + f"concat=n={len(parts)}:v=1:a=0[v]")
        return ";".join(g.chains)
    layer = g.label("l")
    g.chains.append("".join(parts) + f"concat=n={len(parts)}:v=1:a=0{layer}")
    moving = _moving_background(g, scenes, f"[{intro_input + 2}:v]", media, total_frames)
    g.chains.append(f"{moving}{layer}overlay=format=yuv420:alpha=straight[v]")
    return ";".join(g.chains)


def _layer_stills(g: _Graph, scenes: list[Scene], intro_input: int, fmt: str,
                  slide: list[bool]) -> tuple[dict[int, list[str]], dict[int, list[str]], list[str]]:
    """Each text still (index -1: the intro) as many times as the timeline uses it: composited on the
    underlay (`comps`, for holds and fades) or raw (`raws`, for slides); plus the underlay copies left over
    for the slides."""
    n = len(scenes)
    fade = [bool(sc.transition_frames) and not slide[i] for i, sc in enumerate(scenes)]
    comp_uses = {i: (1 if i >= 0 else 0) + (fade[i] if i >= 0 else 0) + (fade[i + 1] if i + 1 < n else 0)
                 for i in range(-1, n)}
    raw_uses = {i: (slide[i] if i >= 0 else 0) + (slide[i + 1] if i + 1 < n else 0) for i in range(-1, n)}
    under_uses = sum(1 for i in comp_uses if comp_uses[i]) + sum(slide)
    under = g.fan(_yuv(g, f"[{intro_input + 1}:v]", fmt), under_uses, "u")
    comps: dict[int, list[str]] = {}
    raws: dict[int, list[str]] = {}
    for i in range(-1, n):
        src = f"[{intro_input}:v]" if i < 0 else f"[{i}:v]"
        cu, ru = comp_uses[i], raw_uses[i]
        if not cu + ru:
            continue
        outs = g.fan(_yuv(g, src, "yuva420p"), (1 if cu else 0) + ru, "t")
        if cu:
            comp = g.label("c")
            g.chains.append(f"{under.pop()}{outs[0]}overlay=format=yuv420:alpha=straight{comp}")
            comps[i] = g.fan(comp, cu, "c")
        raws[i] = outs[1 if cu else 0:]
    return comps, raws, under


def _layer_timeline(g: _Graph, scenes: list[Scene], slide: list[bool], comps: dict[int, list[str]],
                    raws: dict[int, list[str]], under: list[str], fmt: str, xfmt: str) -> list[str]:
    """The labels to concatenate: per scene its transition (a slide over the underlay, or an xfade) and
    its hold."""
    parts: list[str] = []
    for i, sc in enumerate(scenes):
        t = sc.transition_frames
        if t:
            x = g.label("x")
            if slide[i]:
                moved, base = g.label("m"), g.label("b")
                g.chains.append(f"{raws[i - 1].pop(0)}{raws[i].pop(0)}{_slide(sc.transition, t)}{moved}")
                g.chains.append(f"{under.pop()}{_hold(t)}{base}")
                g.chains.append(f"{base}{moved}overlay=format=yuv420:alpha=straight{x}")
            else:
                a, b = g.label("a"), g.label("b")
                g.chains.append(f"{comps[i - 1].pop()}format={xfmt},{_hold(t)}{a}")
                g.chains.append(f"{comps[i].pop()}format={xfmt},{_hold(t)}{b}")
                g.chains.append(f"{a}{b}xfade=transition={sc.transition}:duration={t / FPS:.6f}:offset=0,"
                                f"format={fmt}{x}")
            parts.append(x)
        h = g.label("h")
        g.chains.append(f"{comps[i].pop()}{_hold(sc.frames - t)}{h}")
        parts.append(h)
    return parts


def _moving_background(g: _Graph, scenes: list[Scene], src: str, media: MediaInputs, total_frames: int) -> str:
    """The label of the background that moves under the text layer: the picture zoomed scene by scene, or
    the clip covering the frame."""
    if media.kind == "zoom":
        n = len(scenes)
        stills = g.fan(_yuv(g, src, PIX_FMT), n, "z")
        zs = []
        for i, sc in enumerate(scenes):
            z = g.label("z")
            g.chains.append(f"{stills[i]}{zoom_chain(sc.frames, i % 2 == 0)}{z}")
            zs.append(z)
        moving = g.label("bg")
        g.chains.append("".join(zs) + f"concat=n={n}:v=1:a=0{moving}")
    else:
        moving = g.label("bg")
        g.chains.append(f"{src}{cover_chain(total_frames)}{moving}")
    return moving


def _yuv(g: _Graph, src: str, fmt: str) -> str:
    out = g.label("y")
    g.chains.append(f"{src}{_to_yuv(fmt)}{out}")
    return out


def _still_input(path: Path) -> list[str]:
    """Input options of one still: raw RGBA frames (fastest, no decoder), else an image file."""
    if path.suffix == ".rgba":
        return ["-f", "rawvideo", "-pixel_format", "rgba", "-video_size", f"{WIDTH}x{HEIGHT}",
                "-framerate", str(FPS), "-i", _ff_path(path)]
    return ["-f", "image2", "-pattern_type", "none", "-framerate", str(FPS), "-i", _ff_path(path)]


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
    media: MediaInputs | None = None,
) -> list[str]:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"]
    if threads:
        cmd += ["-filter_threads", str(threads), "-filter_complex_threads", str(threads)]
    for f in [*scene_files, intro_file]:
        cmd += _still_input(f)
    audio_input = len(scene_files) + 1
    if media is not None:
        cmd += _still_input(media.underlay)
        audio_input += 1
        if media.kind == "zoom":
            cmd += ["-f", "image2", "-pattern_type", "none", "-framerate", str(FPS), "-i", _ff_path(media.source)]
            audio_input += 1
        elif media.kind == "clip":
            # the clip's own sound, subtitles and data are not read; it repeats for as long as the graph asks
            cmd += ["-an", "-sn", "-dn", "-stream_loop", "-1", "-i", _ff_path(media.source)]
            audio_input += 1
    # the AAC priming samples count towards the audio track's length: leave room for them so the audio
    # ends with the last video frame
    audio_s = max(total_frames / FPS - AAC_PRIMING / AUDIO_RATE, 1 / FPS)
    cmd += ["-f", "lavfi", "-t", f"{audio_s:.6f}", "-i", f"anullsrc=r={AUDIO_RATE}:cl=stereo"]
    if media is None:
        graph = build_filtergraph(scenes, len(scene_files))
    else:
        graph = build_layered_filtergraph(scenes, len(scene_files), media, total_frames)
    cmd += ["-filter_complex", graph]
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
    elif path.suffix == ".rgba":
        path.write_bytes(image.convert("RGBA").tobytes())
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
    # background media is read (and any problem with it reported) before anything is written
    kind = spec.media_kind
    background = background_image(spec) if kind == "image" else None
    if kind == "clip":
        probe_clip(spec.background_media)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    total = frame_count(float(spec.length_s))
    tmp = out_path.with_name(f".{out_path.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        with work_dir(out_path.parent) as wd:
            scenes, intro = TEMPLATES[spec.format].scenes(spec)
            # BMP is the fastest to write and to decode (6 MB a still), raw RGBA for the transparent layers
            # over media (8 MB); many scenes use PNG to bound disk use
            few = len(scenes) <= BMP_MAX_SCENES
            ext = ("rgba" if kind else "bmp") if few else "png"
            files = []
            for i, sc in enumerate(scenes):
                f = wd / f"scene{i:03d}.{ext}"
                _save_still(sc.image, f)
                files.append(f)
            intro_file = wd / f"intro.{ext}"
            _save_still(intro, intro_file)
            media = None
            if kind == "image" and not spec.zooms:
                media = MediaInputs("image", wd / f"underlay.{'bmp' if few else 'png'}")
                _save_still(background, media.underlay)
            elif kind is not None:
                media = MediaInputs("zoom" if kind == "image" else "clip", wd / f"underlay.{ext}",
                                    wd / f"zoom.{'bmp' if few else 'png'}" if kind == "image"
                                    else Path(os.fspath(spec.background_media)))
                _save_still(scrim_image(Theme.from_spec(spec)), media.underlay)
                if kind == "image":
                    _save_still(background, media.source)
            cmd = build_command(files, intro_file, scenes, tmp, total_frames=total, descriptor=spec.descriptor,
                                preset=preset, threads=threads, media=media)
            run_ffmpeg(cmd, timeout_s)
        probe = accept_render(tmp, out_path, total, spec.descriptor, f"render of {spec.variant_id!r}")
    except BaseException:
        _unlink(tmp)
        raise
    return probe
