"""The three render templates, one per creative format, and the timeline they share.

A render is a short list of scenes. Each scene is one still frame drawn here with Pillow (background,
text, cards) that ffmpeg holds for a number of frames; scenes are joined by short xfade transitions
(crossfade, slide, wipe). Holding stills costs the encoder almost nothing and keeps every pixel of text
under our control: the layout functions measure each line, so nothing can leave the safe area.

Timeline for a render of N frames (30 fps): the hook scene first (~2.5 s), the body lines evenly over
the middle (one slide per line, or several lines per slide when there are more lines than seconds),
the CTA end card last (~2.5 s). Short renders scale hook and CTA down to 30% of the length each.

Over background media (an image or a clip) the scenes are drawn as transparent text layers instead
(RGBA, nothing but the text, stickers and cards) and the background goes under them in ffmpeg, behind a
dark scrim whose opacity is computed so that white text keeps a set contrast even over a white picture.
A layer is drawn twice, on black and on white, and its alpha is recovered from the difference, so every
antialiased edge and translucent fill comes out exactly as it would be drawn over an opaque colour.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from PIL import Image, ImageChops, ImageDraw, ImageOps

from actp_pipeline.renders.layout import (
    TextBlock,
    block_extent,
    clean_text,
    draw_block,
    fit_text,
    load_font,
)
from actp_pipeline.renders.spec import (
    FPS,
    HEIGHT,
    SAFE_AREA,
    WIDTH,
    ZOOM_MAX,
    Box,
    RenderError,
    RenderSpec,
    frame_count,
    parse_hex_color,
)

RGB = tuple[int, int, int]

HOOK_S = 2.5  # hook scene length in a normal-length render
CTA_S = 2.5  # CTA end card length
EDGE_SHARE = 0.3  # in short renders hook and CTA each take at most this share of the length
MIN_SLIDE_FRAMES = FPS  # a body slide stays up at least 1 s; more lines than that share a slide
MAX_SLIDES = 60  # bounds the number of stills (ffmpeg inputs) in very long renders
TRANSITION_FRAMES = 9  # 0.3 s between scenes
INTRO_FRAMES = 12  # 0.4 s: the accent decoration wipes in while the hook is already readable


# --------------------------------------------------------------------------------------------- colours


def _lin(c: int) -> float:
    s = c / 255
    return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4


def luminance(rgb: RGB) -> float:
    r, g, b = (_lin(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: RGB, b: RGB) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


WHITE: RGB = (255, 255, 255)
INK: RGB = (17, 24, 39)


def readable_on(bg: RGB) -> RGB:
    """White or near-black, whichever contrasts more with `bg`."""
    return WHITE if contrast_ratio(WHITE, bg) >= contrast_ratio(INK, bg) else INK


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


BLACK: RGB = (0, 0, 0)

# Over background media: the text is white, and the scrim under it is dark enough that white text keeps
# TEXT_CONTRAST (WCAG AA for normal text; all our text is large, where AA asks 3:1) over any picture, even
# a pure white one; muted text (listicle header, attribution) keeps MUTED_CONTRAST (AA for large text).
SCRIM_MIN_CONTRAST = 7.0  # the scrim colour itself against white: the spec's background, darkened to this
TEXT_CONTRAST = 4.5
MUTED_CONTRAST = 3.0
MEDIA_MUTED_MIX = 0.15  # muted text over media: this much of the scrim colour in white
SCRIM_MARGIN = 0.03  # extra opacity for YUV rounding and chroma subsampling
SCRIM_TOP_SHARE = 0.45  # at the very top the scrim has this share of its opacity, ramping up to the safe area


def composite(over: RGB, under: RGB, alpha: float) -> RGB:
    """`over` at opacity `alpha` on top of `under` (sRGB values, as Pillow and ffmpeg blend them)."""
    return mix(under, over, alpha)


@dataclass(frozen=True)
class Theme:
    background: RGB
    text: RGB
    muted: RGB
    accent: RGB
    on_accent: RGB
    card: RGB
    scrim: RGB | None = None  # over background media: the scrim colour (`background` is then this colour)
    scrim_alpha: float = 0.0  # ... and its opacity over the safe area

    @classmethod
    def from_spec(cls, spec: RenderSpec) -> Theme:
        bg = parse_hex_color(spec.background)
        accent = parse_hex_color(spec.accent)
        if spec.background_media is not None:
            return cls.over_media(bg, accent)
        text = readable_on(bg)
        return cls(
            background=bg,
            text=text,
            muted=mix(text, bg, 0.35),
            accent=accent,
            on_accent=readable_on(accent),
            card=mix(bg, text, 0.10),
        )

    @classmethod
    def over_media(cls, bg: RGB, accent: RGB) -> Theme:
        """White text over a scrim tinted by `bg` (darkened until it is a dark colour)."""
        scrim = bg
        t = 0.0
        while contrast_ratio(WHITE, scrim) < SCRIM_MIN_CONTRAST and t < 1.0:
            t = min(1.0, t + 0.05)
            scrim = mix(bg, BLACK, t)
        muted = mix(WHITE, scrim, MEDIA_MUTED_MIX)
        return cls(
            background=scrim,
            text=WHITE,
            muted=muted,
            accent=accent,
            on_accent=readable_on(accent),
            card=mix(scrim, WHITE, 0.10),
            scrim=scrim,
            scrim_alpha=scrim_alpha(scrim, ((WHITE, TEXT_CONTRAST), (muted, MUTED_CONTRAST))),
        )


def scrim_alpha(scrim: RGB, needs: tuple[tuple[RGB, float], ...]) -> float:
    """The least opacity of `scrim` over a pure white picture at which every (text colour, contrast) in
    `needs` holds, plus a margin: over any darker pixel the contrast is only higher."""
    for step in range(256):
        a = step / 255
        under = composite(scrim, WHITE, a)
        if all(contrast_ratio(fg, under) >= need for fg, need in needs):
            return min(1.0, a + SCRIM_MARGIN)
    raise RenderError(f"no scrim opacity gives the text enough contrast over the scrim colour {scrim}")


def worst_case_contrast(theme: Theme, colour: RGB | None = None) -> float:
    """Contrast of `colour` (default: the text colour) against the scrim over a pure white picture."""
    return contrast_ratio(colour or theme.text, composite(theme.scrim or theme.background, WHITE, theme.scrim_alpha))


def scrim_profile(theme: Theme) -> list[float]:
    """The scrim's opacity per row: full over the safe area and below it (where the platforms put their own
    white captions), easing off towards the top edge so that more of the picture shows there."""
    a = theme.scrim_alpha
    top = SAFE_AREA.y0
    out = []
    for y in range(HEIGHT):
        if y >= top:
            out.append(a)
        else:
            u = y / top
            out.append(a * (SCRIM_TOP_SHARE + (1 - SCRIM_TOP_SHARE) * u * u * (3 - 2 * u)))
    return out


def scrim_image(theme: Theme) -> Image.Image:
    """The scrim as an RGBA frame (scrim colour, opacity by row)."""
    col = Image.new("L", (1, HEIGHT))
    col.putdata([round(255 * a) for a in scrim_profile(theme)])
    alpha = col.resize((WIDTH, HEIGHT), Image.Resampling.NEAREST)
    im = Image.new("RGBA", (WIDTH, HEIGHT), (*(theme.scrim or theme.background), 0))
    im.putalpha(alpha)
    return im


# --------------------------------------------------------------------------------------------- media


def zoom_size() -> tuple[int, int]:
    """Size of an image background prepared for the zoom: the frame at ZOOM_MAX (even sides), so the most
    zoomed-in frame is a 1:1 crop and every other frame a slight downscale (never an upscale)."""
    return 2 * round(WIDTH * ZOOM_MAX / 2), 2 * round(HEIGHT * ZOOM_MAX / 2)


def load_image(path: str | os.PathLike, size: tuple[int, int], fill: RGB = BLACK) -> Image.Image:
    """The picture at `path` turned upright (EXIF), flattened onto `fill` if it has transparency, scaled to
    cover `size` and centre-cropped to it. RenderError naming the file if it cannot be read."""
    name = os.fspath(path)
    try:
        with Image.open(name) as im:
            w, h = im.size
            # the scale that covers `size` whichever way the EXIF orientation turns the picture
            s = max(size[0] / w, size[1] / h, size[0] / h, size[1] / w)
            if s < 1 and im.format == "JPEG":
                im.draft("RGB", (max(1, int(w * s + 1)), max(1, int(h * s + 1))))  # decode at 1/2, 1/4 or 1/8
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                flat = Image.new("RGBA", rgba.size, (*fill, 255))
                flat.alpha_composite(rgba)
                im = flat
            return ImageOps.fit(im.convert("RGB"), size, Image.Resampling.BICUBIC, centering=(0.5, 0.5))
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise RenderError(f"background_media {name}: cannot read the image: {exc}") from None


def background_image(spec: RenderSpec, theme: Theme | None = None) -> Image.Image:
    """The still under the text of an image-background render. Without zoom: the picture at frame size with
    the scrim composited in. With zoom: the bare picture at zoom_size() (the scrim then rides on the text
    layer, so that it does not zoom)."""
    if spec.background_media is None or spec.media_kind != "image":
        raise ValueError("background_image needs an image background")
    theme = theme or Theme.from_spec(spec)
    if spec.zooms:
        return load_image(spec.background_media, zoom_size(), parse_hex_color(spec.background))
    im = load_image(spec.background_media, (WIDTH, HEIGHT), parse_hex_color(spec.background)).convert("RGBA")
    im.alpha_composite(scrim_image(theme))
    return im.convert("RGB")


# --------------------------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class Slot:
    kind: str  # "hook" | "body" | "cta"
    start: int  # first frame
    frames: int
    index: int = 0  # body slide number (0-based)
    lines: tuple[int, ...] = ()  # body line indexes on this slide


def plan_slots(n_body: int, total_frames: int, has_cta: bool = True) -> list[Slot]:
    """Split `total_frames` into hook, body slides and CTA; frame counts add up exactly."""
    edge_cap = max(1, round(total_frames * EDGE_SHARE))
    hook = min(round(HOOK_S * FPS), edge_cap)
    cta = min(round(CTA_S * FPS), edge_cap) if has_cta else 0
    if cta >= total_frames - hook:
        cta = 0
    body = total_frames - hook - cta
    n_slides = min(n_body, body // MIN_SLIDE_FRAMES, MAX_SLIDES) if n_body else 0
    if n_body and n_slides == 0 and body >= FPS // 2:
        n_slides = 1  # short render: all body lines on one slide rather than none
    if n_slides == 0:
        hook, body = hook + body, 0
    slots = [Slot("hook", 0, hook)]
    start = hook
    for k in range(n_slides):
        end = hook + round((k + 1) * body / n_slides)
        lo, hi = round(k * n_body / n_slides), round((k + 1) * n_body / n_slides)
        slots.append(Slot("body", start, end - start, k, tuple(range(lo, hi))))
        start = end
    if cta:
        slots.append(Slot("cta", start, cta))
    return slots


# --------------------------------------------------------------------------------------------- scenes


@dataclass(frozen=True, eq=False)
class Scene:
    """One held still: `frames` frames from `start`, entered by `transition` over its first
    `transition_frames` frames from the previous scene's image (or from `intro_from` for the first)."""

    name: str
    start: int
    frames: int
    image: Image.Image
    transition: str = ""
    transition_frames: int = 0
    text_boxes: tuple[Box, ...] = ()  # extents of all text drawn (for checks)


class _Both:
    """Forwards every drawing call to two ImageDraw objects (the black and the white copy of a layer)."""

    def __init__(self, a: ImageDraw.ImageDraw, b: ImageDraw.ImageDraw) -> None:
        self._a, self._b = a, b

    def __getattr__(self, name: str):
        fa, fb = getattr(self._a, name), getattr(self._b, name)
        if not callable(fa):
            return fa

        def both(*args, **kwargs):
            fa(*args, **kwargs)
            return fb(*args, **kwargs)

        return both


def unmatte(on_black: Image.Image, on_white: Image.Image) -> Image.Image:
    """The RGBA layer that, drawn over black and over white, gives these two RGB images: where a layer of
    colour c and opacity a is drawn, on_black = a*c and on_white = a*c + (1-a)*255."""
    alpha = ImageChops.add(on_black.convert("L"), ImageChops.invert(on_white.convert("L")))
    out = Image.new("RGBA", on_black.size, (0, 0, 0, 0))
    box = alpha.getbbox()  # only the part with something drawn needs un-premultiplying
    if box is not None:
        part = Image.merge("RGBa", (*on_black.crop(box).split(), alpha.crop(box)))
        out.paste(part.convert("RGBA"), box[:2])
    return out


@dataclass
class Canvas:
    image: Image.Image
    draw: ImageDraw.ImageDraw
    text_boxes: list[Box] = field(default_factory=list)
    on_white: Image.Image | None = None  # a transparent layer: `image` is its copy on black, this on white

    @classmethod
    def layer(cls) -> Canvas:
        """A transparent canvas: everything drawn goes on a black and a white copy."""
        k = Image.new("RGB", (WIDTH, HEIGHT), BLACK)
        w = Image.new("RGB", (WIDTH, HEIGHT), WHITE)
        return cls(k, _Both(ImageDraw.Draw(k, "RGBA"), ImageDraw.Draw(w, "RGBA")), on_white=w)  # type: ignore[arg-type]

    def result(self) -> Image.Image:
        """The picture: RGB over an opaque colour, RGBA for a transparent layer."""
        return self.image if self.on_white is None else unmatte(self.image, self.on_white)

    def text(
        self, block: TextBlock, box: Box, fill: RGB, *, valign: str = "center", only: int | None = None
    ) -> Box | None:
        ext = draw_block(self.draw, block, box, fill, valign=valign, only_paragraphs=only)
        if ext is not None:
            self.text_boxes.append(ext)
        return ext


@dataclass(frozen=True)
class Content:
    """The spec's words, cleaned, plus theme; what a template draws from."""

    spec: RenderSpec
    theme: Theme
    hook: str
    body: tuple[str, ...]
    cta: str
    attribution: str


def scene_content(spec: RenderSpec, template: Template) -> Content:
    """Clean the spec's words for `template`; a testimonial's attribution may come from a "- name" last line."""
    # one body line = one paragraph (the testimonial reveals paragraph by paragraph)
    body = tuple(b for b in (clean_text(x).replace("\n", " ") for x in spec.body_lines) if b)
    attribution = clean_text(spec.attribution)
    if template.uses_attribution and not attribution and body and re.match(r"^[-\u2013\u2014~]\s*\S", body[-1]):
        attribution, body = re.sub(r"^[-\u2013\u2014~]\s*", "", body[-1]), body[:-1]
    if template.uses_attribution and not attribution:
        attribution = "Customer review"
    return Content(spec, Theme.from_spec(spec), clean_text(spec.hook), body, clean_text(spec.cta), attribution)


def ink_box(font_size: int, text: str) -> tuple[int, int, int, int]:
    """Tight ink box of `text` drawn at the origin with anchor 'la' (Pillow's getbbox includes the baseline)."""
    font = load_font(font_size)
    l, t, r, b = font.getbbox(text, anchor="la")
    im = Image.new("L", (max(1, r - min(l, 0)) + 4, max(1, b - min(t, 0)) + 4))
    ImageDraw.Draw(im).text((2 - min(l, 0), 2 - min(t, 0)), text, font=font, fill=255, anchor="la")
    bb = im.getbbox() or (0, 0, 0, 0)
    dx, dy = 2 - min(l, 0), 2 - min(t, 0)
    return bb[0] - dx, bb[1] - dy, bb[2] - dx, bb[3] - dy


class Template:
    """Base: subclasses draw the hook scene, a body slide and the CTA card."""

    name = ""
    description = ""
    intro_transition = "wiperight"
    body_transition = "fade"
    cta_transition = "fade"
    uses_attribution = False

    # ---- layout shared by all templates
    def cta_card(self, c: Content, cv: Canvas) -> None:
        if not c.cta:
            return
        s, pad = SAFE_AREA, 56
        block = fit_text(c.cta, s.width - 2 * pad, 560, max_size=100, min_size=40, max_lines=5)
        w = min(s.width, max(block.width + 2 * pad, round(s.width * 0.7)))
        h = block.height + 2 * pad
        card = Box(round(s.cx - w / 2), round(s.cy - h / 2), round(s.cx - w / 2) + w, round(s.cy - h / 2) + h)
        cv.draw.rounded_rectangle((card.x0, card.y0, card.x1 - 1, card.y1 - 1), radius=40, fill=c.theme.accent)
        cv.text(block, card.inset(pad), c.theme.on_accent)

    def new_canvas(self, c: Content) -> Canvas:
        if c.spec.background_media is not None:
            return Canvas.layer()
        im = Image.new("RGB", (WIDTH, HEIGHT), c.theme.background)
        return Canvas(im, ImageDraw.Draw(im))

    # ---- per template
    def prepare(self, c: Content) -> dict:
        return {}

    def draw_hook(self, c: Content, cv: Canvas, lay: dict, *, decor: bool = True) -> None:
        raise NotImplementedError

    def draw_body(self, c: Content, cv: Canvas, lay: dict, slot: Slot, n_slides: int) -> None:
        raise NotImplementedError

    def draw_cta(self, c: Content, cv: Canvas, lay: dict) -> None:
        self.cta_card(c, cv)

    # ---- assembly
    def scenes(self, spec: RenderSpec) -> tuple[list[Scene], Image.Image]:
        """The scenes of a render and the image the first scene's intro transition starts from.
        With background media these are transparent RGBA text layers, otherwise opaque RGB frames."""
        c = scene_content(spec, self)
        lay = self.prepare(c)
        slots = plan_slots(len(c.body), frame_count(spec.length_s), bool(c.cta))
        n_slides = sum(1 for s in slots if s.kind == "body")
        scenes: list[Scene] = []
        for slot in slots:
            cv = self.new_canvas(c)
            if slot.kind == "hook":
                self.draw_hook(c, cv, lay)
                tr, t = self.intro_transition, min(INTRO_FRAMES, slot.frames // 3)
            elif slot.kind == "body":
                self.draw_body(c, cv, lay, slot, n_slides)
                tr, t = self.body_transition, min(TRANSITION_FRAMES, slot.frames // 3)
            else:
                self.draw_cta(c, cv, lay)
                tr, t = self.cta_transition, min(TRANSITION_FRAMES, slot.frames // 3)
            name = slot.kind if slot.kind != "body" else f"body{slot.index + 1}"
            scenes.append(Scene(name, slot.start, slot.frames, cv.result(), tr if t >= 2 else "",
                                t if t >= 2 else 0, tuple(cv.text_boxes)))
        intro = self.new_canvas(c)
        self.draw_hook(c, intro, lay, decor=False)
        return scenes, intro.result()


# --------------------------------------------------------------------------------------------- text_hook


class TextHookTemplate(Template):
    """Big hook text in the upper part of the frame; body lines as caption stickers in the lower third."""

    name = "text_hook"
    description = "big hook text over the background, body captions in the lower third, CTA end card"
    intro_transition = "wiperight"
    body_transition = "fade"
    cta_transition = "slideup"

    HOOK_AREA = Box(SAFE_AREA.x0, SAFE_AREA.y0, SAFE_AREA.x1, 1000)
    CAPTION_AREA = Box(SAFE_AREA.x0, 1080, SAFE_AREA.x1, SAFE_AREA.y1)
    BAR_GAP, BAR_H, BAR_W = 30, 14, 180
    PAD = 34

    def prepare(self, c: Content) -> dict:
        a = self.HOOK_AREA
        text_box = Box(a.x0, a.y0, a.x1, a.y1 - self.BAR_GAP - self.BAR_H)
        hook = fit_text(c.hook, text_box.width, text_box.height, max_size=128, min_size=44)
        return {"hook": hook, "hook_box": text_box}

    def draw_hook(self, c: Content, cv: Canvas, lay: dict, *, decor: bool = True) -> None:
        ext = cv.text(lay["hook"], lay["hook_box"], c.theme.text)
        if decor:
            y = (ext.y1 if ext else round(lay["hook_box"].cy)) + self.BAR_GAP
            x = round(SAFE_AREA.cx - self.BAR_W / 2)
            cv.draw.rounded_rectangle((x, y, x + self.BAR_W, y + self.BAR_H), radius=7, fill=c.theme.accent)

    def draw_body(self, c: Content, cv: Canvas, lay: dict, slot: Slot, n_slides: int) -> None:
        self.draw_hook(c, cv, lay)
        a, pad = self.CAPTION_AREA, self.PAD
        text = "\n".join(c.body[i] for i in slot.lines)
        block = fit_text(text, a.width - 2 * pad, a.height - 2 * pad, max_size=76, min_size=34)
        inner = a.inset(pad)
        ext = block_extent(block, inner)
        if ext is None:
            return
        sticker = Box(max(a.x0, ext.x0 - pad), max(a.y0, ext.y0 - pad),
                      min(a.x1, ext.x1 + pad), min(a.y1, ext.y1 + pad))
        cv.draw.rounded_rectangle((sticker.x0, sticker.y0, sticker.x1 - 1, sticker.y1 - 1), radius=24,
                                  fill=c.theme.text)
        cv.text(block, inner, c.theme.background)


# --------------------------------------------------------------------------------------------- listicle


class ListicleTemplate(Template):
    """Hook as a title card, then numbered slides (one body line each) sliding in one after another."""

    name = "listicle"
    description = "hook title card, then numbered body lines as slides that slide in one after another, CTA end card"
    intro_transition = "wiperight"
    body_transition = "slideleft"
    cta_transition = "slideleft"

    HEADER = Box(SAFE_AREA.x0, SAFE_AREA.y0, SAFE_AREA.x1, SAFE_AREA.y0 + 112)
    PROGRESS_Y = SAFE_AREA.y0 + 160
    ITEMS = Box(SAFE_AREA.x0, SAFE_AREA.y0 + 220, SAFE_AREA.x1, SAFE_AREA.y1)
    BAR_W, BAR_H, BAR_GAP = 260, 14, 44

    def prepare(self, c: Content) -> dict:
        s = SAFE_AREA
        title_box = s.inset(0, 2 * (self.BAR_GAP + self.BAR_H))
        return {
            "title": fit_text(c.hook, title_box.width, title_box.height, max_size=132, min_size=44),
            "title_box": title_box,
            "header": fit_text(c.hook, self.HEADER.width, self.HEADER.height, max_size=46, min_size=26, max_lines=2),
        }

    def draw_hook(self, c: Content, cv: Canvas, lay: dict, *, decor: bool = True) -> None:
        ext = cv.text(lay["title"], lay["title_box"], c.theme.text)
        if decor and ext is not None:
            x = round(SAFE_AREA.cx - self.BAR_W / 2)
            for y in (ext.y0 - self.BAR_GAP - self.BAR_H, ext.y1 + self.BAR_GAP):
                cv.draw.rounded_rectangle((x, y, x + self.BAR_W, y + self.BAR_H), radius=7, fill=c.theme.accent)

    def _progress(self, c: Content, cv: Canvas, k: int, n: int) -> None:
        y = self.PROGRESS_Y
        if n <= 1:
            return
        if n <= 12:
            d, step = 20, 44
            x0 = round(SAFE_AREA.cx - (step * (n - 1)) / 2)
            for i in range(n):
                x = x0 + i * step
                box = (x - d // 2, y - d // 2, x + d // 2, y + d // 2)
                if i <= k:
                    cv.draw.ellipse(box, fill=c.theme.accent)
                else:
                    cv.draw.ellipse(box, outline=c.theme.muted, width=3)
        else:
            w = 480
            x0 = round(SAFE_AREA.cx - w / 2)
            cv.draw.rounded_rectangle((x0, y - 6, x0 + w, y + 6), radius=6, fill=c.theme.card)
            cv.draw.rounded_rectangle((x0, y - 6, x0 + round(w * (k + 1) / n), y + 6), radius=6, fill=c.theme.accent)

    def draw_body(self, c: Content, cv: Canvas, lay: dict, slot: Slot, n_slides: int) -> None:
        cv.text(lay["header"], self.HEADER, c.theme.muted, valign="top")
        self._progress(c, cv, slot.index, n_slides)
        items = slot.lines
        area = self.ITEMS
        sub_h = area.height // max(1, len(items))
        for j, idx in enumerate(items):
            sub = Box(area.x0, area.y0 + j * sub_h, area.x1, area.y0 + (j + 1) * sub_h)
            d = max(48, min(180, round(sub.height * 0.30)))
            gap = max(12, d // 6)
            block = fit_text(c.body[idx], sub.width, sub.height - d - gap - 8, max_size=96, min_size=30)
            group_h = d + gap + block.height
            top = round(sub.cy - group_h / 2)
            cx = round(sub.cx)
            cv.draw.ellipse((cx - d // 2, top, cx + d // 2, top + d), fill=c.theme.accent)
            num = str(idx + 1)
            nf = fit_text(num, round(d * 0.72), round(d * 0.62), max_size=round(d * 0.56), min_size=12)
            cv.text(nf, Box(cx - d // 2, top, cx + d // 2, top + d), c.theme.on_accent)
            cv.text(block, Box(sub.x0, top + d + gap, sub.x1, top + d + gap + block.height), c.theme.text)


# --------------------------------------------------------------------------------------------- testimonial


class TestimonialTemplate(Template):
    """A quote card: accent quote marks, the quote's lines revealed one after another, an attribution line."""

    __test__ = False  # not a pytest class despite the name

    name = "testimonial"
    description = "quote card with quote marks, lines revealed over the body, attribution line, CTA end card"
    intro_transition = "wipedown"
    body_transition = "fade"
    cta_transition = "fade"
    uses_attribution = True

    PAD = 56
    QUOTE_SIZE = 200
    ATTR_H = 120
    RULE_W = 14

    def prepare(self, c: Content) -> dict:
        s = SAFE_AREA
        hook_box = Box(s.x0 + self.RULE_W + 40, s.y0, s.x1, s.y1)
        hook = fit_text(c.hook, hook_box.width, hook_box.height, max_size=116, min_size=44)
        open_ink = ink_box(self.QUOTE_SIZE, "\u201c")
        close_ink = ink_box(self.QUOTE_SIZE, "\u201d")
        qh = open_ink[3] - open_ink[1]
        gap = 20
        inner_w = s.width - 2 * self.PAD
        text_max_h = s.height - self.ATTR_H - 2 * self.PAD - 2 * (qh + gap)
        quote = fit_text("\n".join(c.body), inner_w, text_max_h, max_size=78, min_size=30, spacing=1.18)
        card_h = 2 * self.PAD + 2 * (qh + gap) + quote.height
        top = round(s.y0 + (s.height - self.ATTR_H - card_h) / 2)
        card = Box(s.x0, top, s.x1, top + card_h)
        attr = fit_text("\u2014 " + c.attribution, s.width, self.ATTR_H - 30, max_size=48, min_size=26, max_lines=2)
        return {
            "hook": hook,
            "hook_box": hook_box,
            "quote": quote,
            "card": card,
            "quote_box": Box(card.x0 + self.PAD, card.y0 + self.PAD + qh + gap, card.x1 - self.PAD,
                             card.y0 + self.PAD + qh + gap + quote.height),
            "open_ink": open_ink,
            "close_ink": close_ink,
            "attr": attr,
            "attr_box": Box(s.x0, card.y1 + 30, s.x1, min(s.y1, card.y1 + self.ATTR_H)),
        }

    def draw_hook(self, c: Content, cv: Canvas, lay: dict, *, decor: bool = True) -> None:
        ext = cv.text(lay["hook"], lay["hook_box"], c.theme.text)
        if decor and ext is not None:
            x = SAFE_AREA.x0
            cv.draw.rounded_rectangle((x, ext.y0, x + self.RULE_W, ext.y1), radius=7, fill=c.theme.accent)

    def _mark(self, cv: Canvas, glyph: str, ink: tuple[int, int, int, int], x: int, y: int, fill: RGB) -> None:
        """Draw a quote glyph so that its ink's top-left corner lands on (x, y)."""
        cv.draw.text((x - ink[0], y - ink[1]), glyph, font=load_font(self.QUOTE_SIZE), fill=fill, anchor="la")
        cv.text_boxes.append(Box(x, y, x + ink[2] - ink[0], y + ink[3] - ink[1]))

    def draw_body(self, c: Content, cv: Canvas, lay: dict, slot: Slot, n_slides: int) -> None:
        card = lay["card"]
        cv.draw.rounded_rectangle((card.x0, card.y0, card.x1 - 1, card.y1 - 1), radius=44, fill=c.theme.card)
        oi, ci = lay["open_ink"], lay["close_ink"]
        self._mark(cv, "\u201c", oi, card.x0 + self.PAD, card.y0 + self.PAD, c.theme.accent)
        shown = slot.lines[-1] + 1 if slot.lines else 0
        cv.text(lay["quote"], lay["quote_box"], c.theme.text, only=shown)
        if slot.index == n_slides - 1:
            qh = ci[3] - ci[1]
            self._mark(cv, "\u201d", ci, card.x1 - self.PAD - (ci[2] - ci[0]), card.y1 - self.PAD - qh, c.theme.accent)
            cv.text(lay["attr"], lay["attr_box"], c.theme.muted, valign="top")


TEMPLATES: dict[str, Template] = {
    t.name: t for t in (TextHookTemplate(), ListicleTemplate(), TestimonialTemplate())
}
