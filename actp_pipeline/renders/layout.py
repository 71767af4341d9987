"""Text layout: clean, wrap and fit text into a box, measured with the same font engine that draws it.

Text is drawn by Pillow (with libraqm when present, which gives bidi and Arabic shaping), never by
ffmpeg, so no caption ever passes through a filter graph. Every size here is the ink and advance box of
real glyphs: a block that `fit_text` returns is guaranteed to lie inside the box it was fitted to.
"""

from __future__ import annotations

import math
import os
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageDraw, ImageFont

from actp_pipeline.renders.spec import Box, RenderError

FONT_ENV = "ACTP_RENDER_FONT"
FONT_FILE = "DejaVuSans-Bold.ttf"
FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
    "/Library/Fonts",
)
ELLIPSIS = "\u2026"
MAX_FIELD_CHARS = 2000  # longer input could never fit a 1080x1920 frame; clipped before measuring

_cache = threading.local()  # FreeType faces are not shared between threads


def font_path() -> Path | None:
    """The bold sans font used for all text: $ACTP_RENDER_FONT, else DejaVu Sans Bold in the usual places."""
    env = os.environ.get(FONT_ENV)
    if env:
        if not Path(env).is_file():
            raise RenderError(f"{FONT_ENV}={env} is not a file")
        return Path(env)
    for d in FONT_DIRS:
        p = Path(d) / FONT_FILE
        if p.is_file():
            return p
    return None  # fall back to Pillow's bundled font (Latin only)


def load_font(size: int) -> ImageFont.FreeTypeFont:
    fonts = getattr(_cache, "fonts", None)
    if fonts is None:
        fonts = _cache.fonts = {}
    font = fonts.get(size)
    if font is None:
        path = font_path()
        if path is not None:
            font = ImageFont.truetype(str(path), size)
        else:
            font = ImageFont.load_default(size)
            if not isinstance(font, ImageFont.FreeTypeFont):
                raise RenderError(f"no TrueType font: install {FONT_FILE} (fonts-dejavu-core) or set {FONT_ENV}")
        fonts[size] = font
    return font


def clean_text(text: str) -> str:
    """NFC-normalise, unify newlines, drop control characters (not format characters such as ZWJ or RLM),
    collapse runs of spaces and strip each line. Paragraph breaks (newlines) are kept."""
    text = unicodedata.normalize("NFC", str(text)[:MAX_FIELD_CHARS])
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    out = []
    for ch in text:
        if ch == "\n":
            out.append(ch)
        elif ch == "\t" or unicodedata.category(ch) == "Zs":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn"):
            continue  # controls, lone surrogates, private use, unassigned
        else:
            out.append(ch)
    lines = [" ".join(line.split()) for line in "".join(out).split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _joins_previous(ch: str) -> bool:
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or cp == 0x200D  # zero-width joiner
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0x1F3FB <= cp <= 0x1F3FF  # skin tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tag characters (flag sequences)
    )


def clusters(text: str) -> list[str]:
    """Split into user-perceived characters, roughly: a base plus its combining marks, ZWJ sequences,
    variation selectors and regional-indicator pairs stay together, so a hard break never splits them."""
    out: list[str] = []
    for ch in text:
        if out and (_joins_previous(ch) or out[-1].endswith("\u200d")):
            out[-1] += ch
        elif (
            out
            and 0x1F1E6 <= ord(ch) <= 0x1F1FF
            and len(out[-1]) == 1
            and 0x1F1E6 <= ord(out[-1]) <= 0x1F1FF
        ):
            out[-1] += ch  # flag = two regional indicators
        else:
            out.append(ch)
    return out


@dataclass(frozen=True)
class LineMetrics:
    left: int  # relative to the pen origin (anchor 'la'); extents cover both ink and advance
    right: int
    top: int  # ink top relative to the line's top (ascender line)
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left


def measure(font: ImageFont.FreeTypeFont, line: str) -> LineMetrics:
    if not line:
        return LineMetrics(0, 0, 0, 0)
    l, t, r, b = font.getbbox(line, anchor="la")
    adv = font.getlength(line)
    return LineMetrics(min(0, int(l)), max(int(r), int(adv + 0.999)), int(t), int(b))


def line_width(font: ImageFont.FreeTypeFont, line: str) -> int:
    return measure(font, line).width


def _hard_break(font: ImageFont.FreeTypeFont, word: str, max_width: int) -> list[str]:
    """Break a word that is wider than a line at character (cluster) boundaries."""
    pieces: list[str] = []
    current = ""
    for c in clusters(word):
        if current and line_width(font, current + c) > max_width:
            pieces.append(current)
            current = c
        else:
            current += c
    if current:
        pieces.append(current)
    # a single cluster wider than the line (cannot happen at sane sizes) is dropped rather than overflow
    return [p for p in pieces if line_width(font, p) <= max_width]


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[tuple[int, str]]:
    """Greedy word wrap of cleaned text to `max_width` pixels; returns (paragraph index, line) pairs.
    Newlines start a new paragraph; a word longer than a line is broken between characters."""
    out: list[tuple[int, str]] = []
    for p, paragraph in enumerate(text.split("\n")):
        current = ""
        for word in paragraph.split(" "):
            if not word:
                continue
            candidate = f"{current} {word}" if current else word
            if line_width(font, candidate) <= max_width:
                current = candidate
                continue
            if current:
                out.append((p, current))
                current = ""
            if line_width(font, word) <= max_width:
                current = word
            else:
                pieces = _hard_break(font, word, max_width)
                out.extend((p, piece) for piece in pieces[:-1])
                current = pieces[-1] if pieces else ""
        if current:
            out.append((p, current))
    return out


@dataclass(frozen=True)
class TextBlock:
    """Wrapped lines at one font size, with their measured extents (pixels, relative to the block's top-left)."""

    lines: tuple[str, ...]
    paragraphs: tuple[int, ...]  # paragraph index of each line
    font_size: int
    line_height: int
    metrics: tuple[LineMetrics, ...]
    width: int  # widest line
    height: int  # from the first line's ink top to the last line's ink bottom
    top: int  # ink top of the first line relative to the first line's ascender line (may be < 0)
    truncated: bool

    @property
    def font(self) -> ImageFont.FreeTypeFont:
        return load_font(self.font_size)


def _block(lines: list[tuple[int, str]], size: int, spacing: float, truncated: bool) -> TextBlock:
    font = load_font(size)
    ascent, descent = font.getmetrics()
    lh = max(1, round((ascent + descent) * spacing))
    ms = [measure(font, line) for _, line in lines]
    if ms:
        top = min(0, *(i * lh + m.top for i, m in enumerate(ms) if lines[i][1]))
        bottom = max(i * lh + max(m.bottom, ascent + descent) for i, m in enumerate(ms))
        height = bottom - top
    else:
        top, height = 0, 0
    return TextBlock(
        lines=tuple(line for _, line in lines),
        paragraphs=tuple(p for p, _ in lines),
        font_size=size,
        line_height=lh,
        metrics=tuple(ms),
        width=max((m.width for m in ms), default=0),
        height=height,
        top=top,
        truncated=truncated,
    )


def _sizes(max_size: int, min_size: int) -> list[int]:
    sizes, s = [], float(max_size)
    while s > min_size:
        sizes.append(int(s))
        s *= 0.92
    sizes.append(min_size)
    return sorted(set(sizes), reverse=True)


def fit_text(
    text: str,
    box_width: int,
    box_height: int,
    *,
    max_size: int,
    min_size: int = 28,
    spacing: float = 1.12,
    max_lines: int | None = None,
) -> TextBlock:
    """The largest font size (from max_size down to min_size) at which `text`, wrapped to box_width,
    fits box_height (and max_lines). At min_size it is cut to the lines that fit, the last one ending
    in an ellipsis, so the block never exceeds the box."""
    text = clean_text(text)
    if not text:
        return _block([], max_size, spacing, False)
    # Cheap lower bound to skip sizes that cannot fit: wrapping never makes the text narrower in total
    # than its advance (less the spaces that become line breaks), and widths scale with the font size.
    flat = text.replace("\n", " ")
    top_font = load_font(max_size)
    total = top_font.getlength(flat) - flat.count(" ") * top_font.getlength(" ")
    for size in _sizes(max_size, min_size):
        font = load_font(size)
        ascent, descent = font.getmetrics()
        min_lines = max(1, math.ceil(0.9 * total * size / max_size / max(1, box_width)))
        if size > min_size and (min_lines - 1) * round((ascent + descent) * spacing) + ascent + descent > box_height:
            continue
        if size > min_size and max_lines is not None and min_lines > max_lines:
            continue
        lines = wrap_text(text, font, box_width)
        if max_lines is not None and len(lines) > max_lines:
            continue
        block = _block(lines, size, spacing, False)
        if block.height <= box_height and block.width <= box_width:
            return block
    # Even the smallest size overflows: keep what fits and mark the cut.
    font = load_font(min_size)
    lines = wrap_text(text, font, box_width)
    while lines:
        keep = lines if max_lines is None else lines[:max_lines]
        block = _block(keep, min_size, spacing, True)
        if block.height <= box_height:
            break
        lines = lines[:-1]
    else:
        return _block([], min_size, spacing, True)
    keep = list(keep)
    p, last = keep[-1]
    cl = clusters(last)
    while cl and line_width(font, "".join(cl).rstrip() + ELLIPSIS) > box_width:
        cl.pop()
    keep[-1] = (p, "".join(cl).rstrip() + ELLIPSIS)
    return _block(keep, min_size, spacing, True)


def block_origin(block: TextBlock, box: Box, *, valign: str = "center") -> int:
    """The y of the first line's ascender line so that the block's ink sits in `box` (top/center/bottom)."""
    if valign == "top":
        return box.y0 - block.top
    if valign == "bottom":
        return box.y1 - block.height - block.top
    return round(box.cy - block.height / 2) - block.top


def line_boxes(block: TextBlock, box: Box, *, valign: str = "center") -> list[tuple[int, int, Box]]:
    """Where each line goes: (pen x, pen y, extent box) with lines centred horizontally in `box`."""
    y = block_origin(block, box, valign=valign)
    out = []
    for i, m in enumerate(block.metrics):
        x = round(box.cx - m.width / 2) - m.left
        ly = y + i * block.line_height
        out.append((x, ly, Box(x + m.left, ly + m.top, x + m.right, ly + m.bottom)))
    return out


def draw_block(
    draw: ImageDraw.ImageDraw,
    block: TextBlock,
    box: Box,
    fill: tuple[int, int, int] | tuple[int, int, int, int],
    *,
    valign: str = "center",
    only_paragraphs: int | None = None,
) -> Box | None:
    """Draw the block centred in `box`; `only_paragraphs=k` draws just the first k paragraphs (the layout
    stays that of the whole block). Returns the union of the drawn lines' extents."""
    font = block.font
    drawn: Box | None = None
    for (x, y, ext), line, p in zip(line_boxes(block, box, valign=valign), block.lines, block.paragraphs):
        if only_paragraphs is not None and p >= only_paragraphs:
            continue
        if line:
            draw.text((x, y), line, font=font, fill=fill, anchor="la")
            drawn = ext if drawn is None else Box(
                min(drawn.x0, ext.x0), min(drawn.y0, ext.y0), max(drawn.x1, ext.x1), max(drawn.y1, ext.y1)
            )
    return drawn


def block_extent(block: TextBlock, box: Box, *, valign: str = "center") -> Box | None:
    """The union of every line's extent when the block is placed in `box`."""
    boxes = [ext for (_, _, ext), line in zip(line_boxes(block, box, valign=valign), block.lines) if line]
    if not boxes:
        return None
    return Box(min(b.x0 for b in boxes), min(b.y0 for b in boxes), max(b.x1 for b in boxes), max(b.y1 for b in boxes))
