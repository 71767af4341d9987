"""The listicle template: the hook as a title card, then numbered slides sliding in one after another."""

from __future__ import annotations

from actp_pipeline.renders.layout import fit_text
from actp_pipeline.renders.scenes import Canvas, Content, Slot, Template
from actp_pipeline.renders.spec import SAFE_AREA, Box


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
