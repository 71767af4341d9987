"""The testimonial template: a quote card whose lines are revealed one after another, with an attribution."""

from __future__ import annotations

from actp_pipeline.renders.layout import fit_text, load_font
from actp_pipeline.renders.scenes import Canvas, Content, Slot, Template, ink_box
from actp_pipeline.renders.spec import SAFE_AREA, Box
from actp_pipeline.renders.theme import RGB


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
