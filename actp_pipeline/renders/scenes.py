"""The timeline and the scenes every template shares, and the `Template` base the families subclass.

A render is a short list of scenes. Each scene is one still frame drawn with Pillow (background, text,
cards) that ffmpeg holds for a number of frames; scenes are joined by short xfade transitions
(crossfade, slide, wipe).

Timeline for a render of N frames (30 fps): the hook scene first (~2.5 s), the body lines evenly over
the middle (one slide per line, or several lines per slide when there are more lines than seconds),
the CTA end card last (~2.5 s). Short renders scale hook and CTA down to 30% of the length each.

Over background media the scenes are drawn as transparent text layers instead (RGBA, nothing but the
text, stickers and cards) and the background goes under them in ffmpeg. A layer is drawn twice, on black
and on white, and its alpha is recovered from the difference, so every antialiased edge and translucent
fill comes out exactly as it would be drawn over an opaque colour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from PIL import Image, ImageChops, ImageDraw

from actp_pipeline.renders.layout import TextBlock, clean_text, draw_block, fit_text, load_font
from actp_pipeline.renders.spec import FPS, HEIGHT, SAFE_AREA, WIDTH, Box, RenderSpec, frame_count
from actp_pipeline.renders.theme import BLACK, RGB, WHITE, Theme

HOOK_S = 2.5  # hook scene length in a normal-length render
CTA_S = 2.5  # CTA end card length
EDGE_SHARE = 0.3  # in short renders hook and CTA each take at most this share of the length
MIN_SLIDE_FRAMES = FPS  # a body slide stays up at least 1 s; more lines than that share a slide
MAX_SLIDES = 60  # bounds the number of stills (ffmpeg inputs) in very long renders
TRANSITION_FRAMES = 9  # 0.3 s between scenes
INTRO_FRAMES = 12  # 0.4 s: the accent decoration wipes in while the hook is already readable


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
