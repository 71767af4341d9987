"""The studio's charts: matplotlib drawn on the server into an inline SVG string, readable without JavaScript.

Every chart is made from numbers only (labels pass through matplotlib, which escapes them in the SVG) and cached
by a digest of those numbers (memo.Lru): a page asks for the same chart on every load, and drawing one costs tens of
milliseconds, so the cache is what keeps a page under its 200 ms budget. The cache is shared by the threads that build
pages; a lock guards the drawing (matplotlib's rc state is global). Figures are made with `matplotlib.figure.Figure`, never pyplot, so no figure is ever kept alive by
a global registry.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

from actp_pipeline.studio.memo import Lru  # noqa: E402

CACHE_SIZE = 256
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # pandas' day_of_week: Monday = 0
RC = {"svg.fonttype": "none", "svg.hashsalt": "actp-studio", "font.size": 9, "axes.spines.top": False,
      "axes.spines.right": False}  # text stays text (small, selectable); ids stable across renders

_cache: Lru[str] = Lru(CACHE_SIZE)
draw_lock = threading.Lock()  # matplotlib's rc state is global: one drawing at a time (intervals.py too)
stats = {"renders": 0}  # read by tests: a cached chart is not drawn again


def _number(x: Any) -> Any:
    """A JSON-safe, canonical form of one input value (NaN and inf as text, floats rounded to 1e-9)."""
    if isinstance(x, float):
        return repr(x) if not math.isfinite(x) else round(x, 9)
    if isinstance(x, dict):
        return {str(k): _number(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_number(v) for v in x]
    if hasattr(x, "item"):  # numpy scalars
        return _number(x.item())
    return x


def digest(kind: str, payload: Any) -> str:
    """The cache key: the chart kind and a SHA-256 of its input numbers and labels."""
    text = json.dumps([kind, _number(payload)], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG goes inline in HTML


def cached(kind: str, payload: Any, draw: Callable[[Any], Figure]) -> str:
    """The SVG of `draw(payload)`, drawn once per distinct payload while it stays in the cache."""
    def make() -> str:
        with draw_lock, matplotlib.rc_context(RC):
            stats["renders"] += 1
            return _svg(draw(payload))
    return _cache.get_or_make(digest(kind, payload), make)


def clear() -> None:
    _cache.clear()


# ------------------------------------------------------------------------------------------------ forest plot
def _draw_forest(p: dict) -> Figure:
    labels, eff, low, high = p["labels"], p["effect"], p["low"], p["high"]
    n = len(labels)
    fig = Figure(figsize=(6.4, 0.45 * n + 0.9))
    ax = fig.add_subplot()
    ys = list(range(n))[::-1]
    for y, e, lo, hi, wide in zip(ys, eff, low, high, p["unmeasured"]):
        color = "#9aa5b1" if wide else "#1f5fa8"
        ax.plot([lo * 100, hi * 100], [y, y], color=color, linewidth=2)
        ax.plot([e * 100], [y], "o", color=color, markersize=6)
    ax.axvline(0, color="#5f6b78", linewidth=1, linestyle="--")
    ax.set_yticks(ys, labels)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel(p["xlabel"])
    ax.set_title(p["title"], loc="left")
    return fig


def forest(title: str, labels: Sequence[str], effect: Sequence[float], low: Sequence[float],
           high: Sequence[float], xlabel: str, unmeasured: Sequence[bool] | None = None) -> str:
    """One factor's levels: a dot at each effect (relative, 0.18 = +18%) and a line over its interval;
    levels in `unmeasured` (intervals too wide to act on) are grey."""
    payload = {"title": title, "labels": list(labels), "effect": list(effect), "low": list(low),
               "high": list(high), "xlabel": xlabel,
               "unmeasured": list(unmeasured) if unmeasured is not None else [False] * len(labels)}
    return cached("forest", payload, _draw_forest)


# -------------------------------------------------------------------------------------------- stacked shares
def _draw_shares(p: dict) -> Figure:
    windows, series = p["windows"], p["series"]
    fig = Figure(figsize=(7.2, 3.2))
    ax = fig.add_subplot()
    xs = list(range(len(windows)))
    bottom = [0.0] * len(windows)
    colors = matplotlib.colormaps["tab20"]
    for i, (name, shares) in enumerate(series):
        vals = [s * 100 for s in shares]
        ax.bar(xs, vals, bottom=bottom, width=0.7, label=name,
               color="#c9d1d9" if name == "other" else colors(i % 20))
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xticks(xs, windows, rotation=30 if len(windows) > 4 else 0, ha="right" if len(windows) > 4 else "center")
    ax.set_ylim(0, 100)
    ax.set_ylabel("share of the next round (%)")
    ax.set_title(p["title"], loc="left")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)
    return fig


def shares(title: str, windows: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]) -> str:
    """Each cell window's allocation as a stacked bar: one segment per creative (and "other")."""
    payload = {"title": title, "windows": list(windows), "series": [[n, list(s)] for n, s in series]}
    return cached("shares", payload, _draw_shares)


# ------------------------------------------------------------------------------------------------- heat map
def _draw_heat(p: dict) -> Figure:
    grid = [[v * 100 if v is not None and math.isfinite(v) else math.nan for v in row] for row in p["grid"]]
    finite = [abs(v) for row in grid for v in row if math.isfinite(v)]
    span = max(max(finite, default=0.0), 1.0)
    fig = Figure(figsize=(8.0, 2.8))
    ax = fig.add_subplot()
    image = ax.imshow(grid, cmap="RdBu", vmin=-span, vmax=span, aspect="auto")
    ax.set_yticks(range(7), WEEKDAYS)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("hour (UTC)")
    ax.set_title(p["title"], loc="left")
    for (wd, h) in p["posted"]:
        ax.plot([h], [wd], ".", color="#1d232a", markersize=3)
    fig.colorbar(image, ax=ax, label="lift vs. an average slot (%)", fraction=0.04)
    return fig


def heatmap(title: str, grid: Sequence[Sequence[float]], posted: Sequence[tuple[int, int]] = ()) -> str:
    """A 7 x 24 grid (weekday x hour) of lifts (0.25 = +25%), blue above an average slot, red below; a dot
    marks each slot that has posts of its own."""
    payload = {"title": title, "grid": [list(r) for r in grid], "posted": [list(x) for x in posted]}
    return cached("heat", payload, _draw_heat)


# --------------------------------------------------------------------------------------------- funnel bars
def _draw_funnel(p: dict) -> Figure:
    steps, counts = p["steps"], p["counts"]
    fig = Figure(figsize=(6.0, 0.5 * len(steps) + 0.8))
    ax = fig.add_subplot()
    ys = list(range(len(steps)))[::-1]
    ax.barh(ys, counts, color="#1f5fa8", height=0.6)
    top = max(counts, default=0) or 1
    for y, c in zip(ys, counts):
        ax.text(c + top * 0.01, y, f"{c:,.0f}", va="center")
    ax.set_yticks(ys, steps)
    ax.set_xlim(0, top * 1.15)
    ax.set_title(p["title"], loc="left")
    return fig


def funnel(title: str, steps: Sequence[str], counts: Sequence[float]) -> str:
    """The funnel's steps as horizontal bars with their counts."""
    return cached("funnel", {"title": title, "steps": list(steps), "counts": [float(c) for c in counts]},
                  _draw_funnel)
