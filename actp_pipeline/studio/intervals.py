"""Pictures of a cell's engagement-rate posteriors: each creative's credible interval as a horizontal line with
its posterior mean as a dot, the creative being looked at highlighted among its rivals.

Two renderings of the same numbers. `compact_svg` is a small SVG written directly from the numbers (a few
microseconds), so every card of the gallery can carry its cell's picture without slowing the page;
`cell_chart_svg` is the full matplotlib chart (axis, labels) of the creative's own page, where one chart per
request is affordable. Both are cached by a digest of their input numbers (memo.Lru): a cell's
numbers change only when the loop scores again.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import PercentFormatter  # noqa: E402

from actp_pipeline.studio.charts import draw_lock  # noqa: E402
from actp_pipeline.studio.memo import Lru  # noqa: E402

CACHE_SIZE = 512
HIGHLIGHT = "#1565c0"
RIVAL = "#9aa5b1"


@dataclass(frozen=True)
class Interval:
    """One creative of a cell: its label (a variant id, shown only on the full chart) and its posterior."""

    label: str
    low: float
    mean: float
    high: float


_compact_cache: Lru[str] = Lru(CACHE_SIZE)
_chart_cache: Lru[str] = Lru(128)


def digest(rows: Sequence[Interval], highlight: int, kind: str) -> str:
    """A key for a chart's input: its kind, the highlighted row and every row's label and rounded numbers."""
    text = kind + f"|{highlight}|" + ";".join(f"{r.label},{r.low:.6g},{r.mean:.6g},{r.high:.6g}" for r in rows)
    return hashlib.sha256(text.encode()).hexdigest()


def _span(rows: Sequence[Interval]) -> tuple[float, float]:
    lo = min(r.low for r in rows)
    hi = max(r.high for r in rows)
    pad = max((hi - lo) * 0.05, 1e-4)
    return max(lo - pad, 0.0), hi + pad


def _check(rows: Sequence[Interval], highlight: int) -> None:
    if not rows:
        raise ValueError("an interval chart needs at least one creative")
    if not 0 <= highlight < len(rows):
        raise ValueError(f"highlighted row {highlight} is not among the chart's {len(rows)} rows")
    bad = [r.label for r in rows if not r.low <= r.mean <= r.high]
    if bad:
        raise ValueError(f"interval rows with low <= mean <= high broken: {bad[:3]}")


def compact_svg(rows: Sequence[Interval], highlight: int, width: int = 280) -> str:
    """A small inline SVG of the cell's intervals (highlighted row in blue), built from numbers only."""
    _check(rows, highlight)
    return _compact_cache.get_or_make(digest(rows, highlight, f"compact{width}"),
                                      lambda: _draw_compact(rows, highlight, width))


def _draw_compact(rows: Sequence[Interval], highlight: int, width: int) -> str:
    step, top, bottom, left, right = 9, 4, 16, 4, 4
    height = top + step * len(rows) + bottom
    lo, hi = _span(rows)

    def x(value: float) -> float:
        return left + (value - lo) / (hi - lo) * (width - left - right)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="intervals" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="engagement-rate intervals of the cell">']
    for i, r in enumerate(rows):
        y = top + step * i + step / 2
        on = i == highlight
        color, stroke, radius = (HIGHLIGHT, 3, 3.2) if on else (RIVAL, 1.5, 2.2)
        parts.append(f'<line x1="{x(r.low):.1f}" x2="{x(r.high):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="{color}" stroke-width="{stroke}"/>'
                     f'<circle cx="{x(r.mean):.1f}" cy="{y:.1f}" r="{radius}" fill="{color}"/>')
    base = height - bottom + 3
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{base}" y2="{base}" stroke="#c7ced6"/>'
                 f'<text x="{left}" y="{height - 2}" font-size="10" fill="#5f6b78">{lo:.2%}</text>'
                 f'<text x="{width - right}" y="{height - 2}" font-size="10" fill="#5f6b78" '
                 f'text-anchor="end">{hi:.2%}</text></svg>')
    return "".join(parts)


def cell_chart_svg(rows: Sequence[Interval], highlight: int, title: str) -> str:
    """The full matplotlib chart of a cell: one labelled interval per creative, the highlighted one in blue."""
    _check(rows, highlight)
    key = digest(rows, highlight, "chart|" + title)
    def make() -> str:
        with draw_lock:  # charts.py draws under matplotlib's global rc state: never at the same time
            return _draw_chart(rows, highlight, title)
    return _chart_cache.get_or_make(key, make)


def _draw_chart(rows: Sequence[Interval], highlight: int, title: str) -> str:
    fig = Figure(figsize=(7.0, 0.9 + 0.32 * len(rows)))
    ax = fig.add_subplot()
    ys = list(range(len(rows)))[::-1]  # the first row on top
    for y, (i, r) in zip(ys, enumerate(rows)):
        color = HIGHLIGHT if i == highlight else RIVAL
        ax.hlines(y, r.low, r.high, color=color, linewidth=4 if i == highlight else 2)
        ax.plot([r.mean], [y], "o", color=color, markersize=6)
    ax.set_yticks(ys, [r.label for r in rows], fontsize=8)
    ax.set_xlim(*_span(rows))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.set_xlabel("engagement rate: posterior mean (dot) and credible interval (line)", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", color="#e3e7ec")
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog and doctype: the chart is put inline in the page
