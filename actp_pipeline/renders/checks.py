"""Look at a rendered file the way a platform would: decode it with PyAV and check it against the house
format (H.264 1080x1920 30 fps + AAC) and each platform's published upload limits."""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from actp_pipeline.renders.spec import AUDIO_CODEC, FPS, HEIGHT, PIX_FMT, VIDEO_CODEC, WIDTH, RenderError

DURATION_TOLERANCE_S = 0.15
FPS_TOLERANCE = 0.01
MB = 1_000_000

# Upload limits per platform (keys are creative.PLATFORMS). Where two published numbers disagree the
# stricter one is used. Sources:
# - tiktok: Content Posting API media requirements (MP4/MOV/WebM, H.264/H.265, 3..600 s, 23..60 fps,
#   sides 360..4096 px); size: the app's 287.6 MB upload cap (the API itself accepts up to 4 GB).
# - instagram: Graph API Reels publishing spec (MP4/MOV, moov atom at the front, no edit lists,
#   H.264/HEVC 4:2:0, AAC <= 48 kHz mono/stereo, 23..60 fps, width <= 1920 px, 3 s..15 min, 300 MB).
# - youtube: Shorts are square or vertical videos up to 3 minutes (since 2024-10-15; 60 s before).
PLATFORM_SPECS: dict[str, dict] = {
    "tiktok": {
        "label": "TikTok",
        "video_codecs": ("h264", "hevc"),
        "audio_codecs": ("aac",),
        "min_duration_s": 3.0,
        "max_duration_s": 600.0,
        "max_bytes": 287_600_000,
        "min_fps": 23.0,
        "max_fps": 60.0,
        "min_side_px": 360,
        "max_side_px": 4096,
    },
    "instagram": {
        "label": "Instagram Reels",
        "video_codecs": ("h264", "hevc"),
        "audio_codecs": ("aac",),
        "min_duration_s": 3.0,
        "max_duration_s": 900.0,
        "max_bytes": 300 * MB,
        "min_fps": 23.0,
        "max_fps": 60.0,
        "max_width_px": 1920,
        "pix_fmts": ("yuv420p", "yuvj420p"),
        "max_audio_rate": 48_000,
        "max_audio_channels": 2,
        "moov_first": True,
        "no_edit_lists": True,
    },
    "youtube": {
        "label": "YouTube Shorts",
        "video_codecs": ("h264", "hevc", "vp9", "av1"),
        "audio_codecs": ("aac", "opus"),
        "min_duration_s": 0.0,
        "max_duration_s": 180.0,
        "max_bytes": 256 * 1024**3,
        "max_fps": 60.0,
        "portrait_or_square": True,
    },
}


@dataclass(frozen=True)
class VideoProbe:
    codec: str
    width: int
    height: int
    fps: float
    duration_s: float
    size_bytes: int
    has_audio: bool
    audio_codec: str | None
    comment: str | None  # the embedded descriptor
    pix_fmt: str | None = None
    frame_count: int | None = None  # from the container index
    audio_channels: int | None = None
    audio_sample_rate: int | None = None
    moov_first: bool | None = None  # index before media data ("faststart")
    edit_lists: int | None = None  # number of tracks with an edit list


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _boxes(data: bytes, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def mp4_layout(path: Path) -> tuple[bool | None, int | None]:
    """(moov before mdat?, number of tracks with an edit list) from the MP4 box structure; Nones if unreadable."""
    order: list[bytes] = []
    moov = b""
    try:
        with open(path, "rb") as f:
            total = os.fstat(f.fileno()).st_size
            pos = 0
            while pos + 8 <= total:
                f.seek(pos)
                head = f.read(16)
                if len(head) < 8:
                    break
                size, kind = struct.unpack(">I4s", head[:8])
                if size == 1 and len(head) >= 16:
                    size = struct.unpack(">Q", head[8:16])[0]
                elif size == 0:
                    size = total - pos
                if size < 8:
                    break
                order.append(kind)
                if kind == b"moov" and size <= 256 * MB:
                    f.seek(pos)
                    moov = f.read(size)
                pos += size
    except OSError:
        return None, None
    if b"moov" not in order or b"mdat" not in order:
        return None, None
    moov_first = order.index(b"moov") < order.index(b"mdat")
    edits = 0
    for kind, s, e in _boxes(moov, 8, len(moov)):
        if kind != b"trak":
            continue
        for k2, s2, e2 in _boxes(moov, s, e):
            if k2 == b"edts" and any(k3 == b"elst" for k3, _, _ in _boxes(moov, s2, e2)):
                edits += 1
    return moov_first, edits


def _codec_name(stream) -> str:
    """The codec's canonical name ('h264', 'aac', 'mp3'), not the decoder's ('mp3float')."""
    codec = stream.codec_context.codec
    return getattr(codec, "canonical_name", None) or codec.name


def media_duration_s(container, stream) -> float | None:
    """A PyAV container's duration in seconds: the container's own, else `stream`'s, else None."""
    if container.duration is not None:
        return container.duration / 1_000_000
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def probe_video(path: Path) -> VideoProbe:
    """Open `path` with PyAV, read the stream parameters and metadata, and decode the first video frame.
    Raises RenderError when the file cannot be opened or no video frame decodes."""
    import av  # imported here: PyAV loads the FFmpeg libraries

    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh, av.open(fh, mode="r") as container:
            vs = next((s for s in container.streams if s.type == "video"), None)
            if vs is None:
                raise RenderError(f"{path.name}: no video stream")
            aus = next((s for s in container.streams if s.type == "audio"), None)
            rate = vs.average_rate or vs.guessed_rate or vs.base_rate
            duration = media_duration_s(container, vs) or 0.0
            comment = container.metadata.get("comment")
            decoded = None
            for frame in container.decode(vs):
                decoded = frame
                break
            if decoded is None:
                raise RenderError(f"{path.name}: no video frame could be decoded")
            probe = VideoProbe(
                codec=_codec_name(vs),
                width=decoded.width,
                height=decoded.height,
                fps=float(rate) if rate else 0.0,
                duration_s=duration,
                size_bytes=size,
                has_audio=aus is not None,
                audio_codec=_codec_name(aus) if aus is not None else None,
                comment=comment,
                pix_fmt=decoded.format.name if decoded.format is not None else None,
                frame_count=vs.frames or None,
                audio_channels=aus.codec_context.channels if aus is not None else None,
                audio_sample_rate=aus.codec_context.sample_rate if aus is not None else None,
            )
    except RenderError:
        raise
    except (OSError, av.FFmpegError, StopIteration, ValueError) as exc:
        raise RenderError(f"cannot decode {path.name}: {exc}") from exc
    moov_first, edits = mp4_layout(path)
    return VideoProbe(**{**probe.__dict__, "moov_first": moov_first, "edit_lists": edits})


def check_video(
    probe: VideoProbe, platform: str | None = None, *, expected_duration_s: float | None = None
) -> list[str]:
    """Problems with a probed video ([] = fine): the house format (H.264 1080x1920 30 fps yuv420p with an
    AAC track), the expected duration, and, given a platform, that platform's upload limits."""
    p = house_format_problems(probe, expected_duration_s)
    if platform is None:
        return p
    spec = PLATFORM_SPECS.get(platform)
    if spec is None:
        return p + [f"unknown platform {platform!r}; known: {', '.join(PLATFORM_SPECS)}"]
    return p + platform_problems(probe, spec)


def house_format_problems(probe: VideoProbe, expected_duration_s: float | None = None) -> list[str]:
    """What keeps a probed video from the house format (and from the expected duration, when given)."""
    p: list[str] = []
    if probe.codec != VIDEO_CODEC:
        p.append(f"video codec is {probe.codec}, expected {VIDEO_CODEC}")
    if (probe.width, probe.height) != (WIDTH, HEIGHT):
        p.append(f"frame size is {probe.width}x{probe.height}, expected {WIDTH}x{HEIGHT}")
    if abs(probe.fps - FPS) > FPS_TOLERANCE:
        p.append(f"frame rate is {probe.fps:.3f} fps, expected {FPS}")
    if probe.pix_fmt is not None and probe.pix_fmt != PIX_FMT:
        p.append(f"pixel format is {probe.pix_fmt}, expected {PIX_FMT}")
    if not probe.has_audio:
        p.append("no audio track (an AAC track is expected)")
    elif probe.audio_codec != AUDIO_CODEC:
        p.append(f"audio codec is {probe.audio_codec}, expected {AUDIO_CODEC}")
    if expected_duration_s is not None and abs(probe.duration_s - expected_duration_s) > DURATION_TOLERANCE_S:
        p.append(f"duration is {probe.duration_s:.3f} s, expected {expected_duration_s:.3f} s "
                 f"(+-{DURATION_TOLERANCE_S} s)")
    if probe.size_bytes <= 0:
        p.append("file is empty")
    return p


def platform_problems(probe: VideoProbe, spec: dict) -> list[str]:
    """What a platform's upload limits (one entry of PLATFORM_SPECS) refuse in a probed video."""
    p: list[str] = []
    name = spec["label"]
    if probe.codec not in spec["video_codecs"]:
        p.append(f"{name}: video codec {probe.codec} not accepted ({', '.join(spec['video_codecs'])})")
    if probe.has_audio and probe.audio_codec not in spec["audio_codecs"]:
        p.append(f"{name}: audio codec {probe.audio_codec} not accepted ({', '.join(spec['audio_codecs'])})")
    if probe.duration_s < spec["min_duration_s"]:
        p.append(f"{name}: {probe.duration_s:.2f} s is shorter than the minimum {spec['min_duration_s']:g} s")
    if probe.duration_s > spec["max_duration_s"]:
        p.append(f"{name}: {probe.duration_s:.2f} s is longer than the maximum {spec['max_duration_s']:g} s")
    if probe.size_bytes > spec["max_bytes"]:
        p.append(f"{name}: {probe.size_bytes} bytes is over the {spec['max_bytes']} byte limit")
    if "min_fps" in spec and probe.fps < spec["min_fps"]:
        p.append(f"{name}: {probe.fps:.2f} fps is below {spec['min_fps']:g}")
    if "max_fps" in spec and probe.fps > spec["max_fps"]:
        p.append(f"{name}: {probe.fps:.2f} fps is above {spec['max_fps']:g}")
    if "min_side_px" in spec and min(probe.width, probe.height) < spec["min_side_px"]:
        p.append(f"{name}: {probe.width}x{probe.height} has a side under {spec['min_side_px']} px")
    if "max_side_px" in spec and max(probe.width, probe.height) > spec["max_side_px"]:
        p.append(f"{name}: {probe.width}x{probe.height} has a side over {spec['max_side_px']} px")
    if "max_width_px" in spec and probe.width > spec["max_width_px"]:
        p.append(f"{name}: width {probe.width} px is over {spec['max_width_px']} px")
    if spec.get("portrait_or_square") and probe.width > probe.height:
        p.append(f"{name}: {probe.width}x{probe.height} is landscape; Shorts must be vertical or square")
    if "pix_fmts" in spec and probe.pix_fmt is not None and probe.pix_fmt not in spec["pix_fmts"]:
        p.append(f"{name}: pixel format {probe.pix_fmt} is not 4:2:0")
    if "max_audio_rate" in spec and probe.audio_sample_rate and probe.audio_sample_rate > spec["max_audio_rate"]:
        p.append(f"{name}: audio sample rate {probe.audio_sample_rate} Hz is over {spec['max_audio_rate']} Hz")
    if "max_audio_channels" in spec and probe.audio_channels and probe.audio_channels > spec["max_audio_channels"]:
        p.append(f"{name}: {probe.audio_channels} audio channels, at most {spec['max_audio_channels']}")
    if spec.get("moov_first") and probe.moov_first is False:
        p.append(f"{name}: the moov atom is not at the front of the file (faststart)")
    if spec.get("no_edit_lists") and probe.edit_lists:
        p.append(f"{name}: {probe.edit_lists} track(s) carry an edit list")
    return p


def accept_render(tmp: Path, out_path: Path, total_frames: int, descriptor: str, what: str) -> VideoProbe:
    """Decode a freshly rendered temp file and move it into place only if it passes every check."""
    probe = probe_video(tmp)
    problems = render_problems(probe, total_frames, descriptor)
    if problems:
        raise RenderError(f"{what} failed its checks: " + "; ".join(problems))
    os.replace(tmp, out_path)
    return probe


def render_problems(probe: VideoProbe, total_frames: int, descriptor: str) -> list[str]:
    """Why a freshly rendered file must not count: spec checks, exact frame count, descriptor round trip."""
    problems = check_video(probe, expected_duration_s=total_frames / FPS)
    if probe.frame_count is not None and probe.frame_count != total_frames:
        problems.append(f"{probe.frame_count} video frames, expected {total_frames}")
    if descriptor and probe.comment != descriptor:
        problems.append("embedded descriptor does not read back identical")
    return problems
