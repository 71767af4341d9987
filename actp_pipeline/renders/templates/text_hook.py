"""The text_hook template: big hook text up top, body lines as caption stickers in the lower third."""

from __future__ import annotations

from actp_pipeline.renders.layout import block_extent, fit_text
from actp_pipeline.renders.scenes import Canvas, Content, Slot, Template
from actp_pipeline.renders.spec import SAFE_AREA, Box


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
