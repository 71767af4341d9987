"""What a render is asked to produce: the spec, the output format, the safe area, colours.

Everything here is plain data with no ffmpeg or decoder behind it, so the templates, the ffmpeg driver
and the checks can share one set of numbers.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import PurePath

from actp_pipeline import creative

# The one output format every render has (9:16 vertical, what TikTok, Reels and Shorts all want).
WIDTH = 1080
HEIGHT = 1920
FPS = 30
VIDEO_CODEC = "h264"
AUDIO_CODEC = "aac"
AUDIO_RATE = 48_000
PIX_FMT = "yuv420p"

# Renders shorter than this are refused; every platform's floor is 3 s, 1 s keeps tiny test renders possible.
MIN_LENGTH_S = 1.0
MAX_LENGTH_S = 600.0

# Where text may go: clear of TikTok's right rail (like/comment/share buttons), the caption and
# sound-name zone at the bottom and the tab bar at the top. Reels and Shorts overlay similar areas.
SAFE_X0_FRAC, SAFE_X1_FRAC = 0.08, 0.92
SAFE_Y0_FRAC, SAFE_Y1_FRAC = 0.12, 0.78

# Background media: what `RenderSpec.background_media` may name, by file extension.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
CLIP_EXTENSIONS = (".mp4", ".mov", ".webm", ".m4v")
# Ken Burns zoom of image backgrounds: the scale goes 1 -> ZOOM_MAX over a scene (and back over the next).
ZOOM_MAX = 1.08


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in pixels, x1/y1 exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    def inset(self, dx: int, dy: int | None = None) -> Box:
        dy = dx if dy is None else dy
        return Box(self.x0 + dx, self.y0 + dy, self.x1 - dx, self.y1 - dy)

    def contains(self, other: Box) -> bool:
        return self.x0 <= other.x0 and self.y0 <= other.y0 and other.x1 <= self.x1 and other.y1 <= self.y1


SAFE_AREA = Box(
    round(WIDTH * SAFE_X0_FRAC), round(HEIGHT * SAFE_Y0_FRAC), round(WIDTH * SAFE_X1_FRAC), round(HEIGHT * SAFE_Y1_FRAC)
)


class RenderError(Exception):
    """A render could not be made or its output failed the checks. The message says why (ffmpeg's stderr tail)."""


@dataclass(frozen=True)
class RenderSpec:
    """One variant as the renderer sees it: the words on screen, the template, the length and the colours."""

    variant_id: str
    hook: str  # shown in the first ~2.5 s
    body_lines: tuple[str, ...]  # captions timed evenly over the middle
    cta: str  # end card (last ~2.5 s), on an accent-coloured box
    format: str  # one of creative.FORMATS, picks the template
    length_s: float  # total duration; rounded to whole frames at 30 fps
    background: str = "#1f2937"
    accent: str = "#facc15"
    descriptor: str = ""  # JSON, embedded verbatim as the MP4 `comment` tag
    attribution: str = ""  # testimonial only: who said it (falls back to a "- name" last body line)
    # A picture (.jpg/.png/.webp) or a clip (.mp4/.mov/.webm/.m4v) under the text instead of the flat
    # `background` colour: scaled to cover the frame (centre crop) under a dark scrim; a clip is looped or
    # trimmed to the render's length and its sound is dropped. `background` then tints the scrim.
    background_media: str | None = None
    # Slow Ken Burns zoom of an image background (1 -> ZOOM_MAX over one scene, back over the next). Opt-in:
    # its per-frame scaling costs about 1.7x a bare encode's CPU (benchmarks/render.py, image_zoom);
    # ignored for colour and clip backgrounds.
    zoom: bool = False

    @property
    def media_kind(self) -> str | None:
        """"image", "clip" or None (a flat colour background), from background_media's extension."""
        return media_kind(self.background_media)

    @property
    def zooms(self) -> bool:
        """Whether the background gets the Ken Burns zoom."""
        return self.media_kind == "image" and self.zoom is True


_HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def parse_hex_color(value: str) -> tuple[int, int, int]:
    """'#abc' or '#aabbcc' (the '#' optional) to an RGB triple; ValueError otherwise."""
    m = _HEX.match(value.strip()) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"not a hex colour: {value!r}")
    digits = m.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def media_kind(path: str | os.PathLike | None) -> str | None:
    """"image" or "clip" by the extension of `path`, None for no path; ValueError for any other extension."""
    if path is None:
        return None
    ext = PurePath(os.fspath(path)).suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in CLIP_EXTENSIONS:
        return "clip"
    raise ValueError(f"background_media {os.fspath(path)!r}: unknown extension {ext or '(none)'!r}; expected one of "
                     f"{', '.join(IMAGE_EXTENSIONS + CLIP_EXTENSIONS)}")


def frame_count(length_s: float) -> int:
    """Frames in a render of `length_s` seconds (nearest whole frame)."""
    return max(1, round(length_s * FPS))


def spec_problems(spec: RenderSpec) -> list[str]:
    """Why a spec cannot be rendered ([] = it can)."""
    problems: list[str] = []
    if spec.format not in creative.FORMATS:
        problems.append(f"unknown format {spec.format!r}; expected one of {', '.join(creative.FORMATS)}")
    try:
        length = float(spec.length_s)
    except (TypeError, ValueError):
        problems.append(f"length_s is not a number: {spec.length_s!r}")
    else:
        if not math.isfinite(length) or not MIN_LENGTH_S <= length <= MAX_LENGTH_S:
            problems.append(f"length_s {spec.length_s!r} outside {MIN_LENGTH_S:g}..{MAX_LENGTH_S:g} s")
    for name in ("background", "accent"):
        try:
            parse_hex_color(getattr(spec, name))
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    for name in ("variant_id", "hook", "cta", "descriptor", "attribution"):
        if not isinstance(getattr(spec, name), str):
            problems.append(f"{name} must be a string")
    if isinstance(spec.body_lines, str) or not all(isinstance(x, str) for x in spec.body_lines):
        problems.append("body_lines must be a sequence of strings")
    if isinstance(spec.descriptor, str) and "\x00" in spec.descriptor:
        problems.append("descriptor contains a NUL character")
    media = spec.background_media
    if media is not None:
        path = os.fspath(media) if isinstance(media, (str, os.PathLike)) else None
        if not isinstance(path, str) or not path or "\x00" in path:
            problems.append(f"background_media must be a file path or None, not {media!r}")
        else:
            try:
                media_kind(path)
            except ValueError as exc:
                problems.append(str(exc))
    if not isinstance(spec.zoom, bool):
        problems.append(f"zoom must be True or False, not {spec.zoom!r}")
    return problems
