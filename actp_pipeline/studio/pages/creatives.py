"""Creatives: the gallery of every creative the user sees with its video, factors, cell, the posterior interval of
its engagement rate next to its rivals', P(best), and the decision with its reason in words; one creative's own
page with the full chart of each of its cells and its posts; and the rendered MP4 itself, streamed with range
requests so a browser plays and seeks it.

Every read goes through gallery.Gallery, which admits only the variants scope.py says the user sees; the video
route answers 404 for a creative of another account exactly as for an unknown id, so ids are not confirmed.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from actp_pipeline.store import schema
from actp_pipeline.studio.access import Access
from actp_pipeline.studio.gallery import CELL_KEY, PAGE_SIZE, Filters, Gallery, render_states, with_page
from actp_pipeline.studio.intervals import Interval, cell_chart_svg, compact_svg
from actp_pipeline.studio.scope import variant_accounts
from actp_pipeline.studio.users import ALL
from actp_pipeline.studio.web import Studio, guarded, page, refusal, render, studio_of

log = logging.getLogger(__name__)
VARIANT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
CARD_ROWS = 12  # intervals drawn on a card: the cell's best by mean, and always the card's own creative
CHART_ROWS = 40  # on a creative's own page
DECISION_WORDS = {
    "winner": "winner of its cell",
    "not_yet": "not yet: no winner declared for it",
    "insufficient_data": "insufficient data: below the learning gate",
    None: "no decision yet: scored, but the winner rule has not run",
}


class NotVisible(LookupError):
    """An unknown creative, or one of an account the user does not see (the same answer for both)."""


def _num(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _intervals(rivals: list[dict[str, Any]], highlight: str, limit: int) -> tuple[list[Interval], int]:
    """The cell's intervals to draw (best means first, at most `limit`, the highlighted creative always kept)."""
    ids = [str(r["variant_id"]) for r in rivals]
    keep = set(ids[:limit] if highlight in ids[:limit] else [*ids[:limit - 1], highlight])
    rows = [Interval(str(r["variant_id"]), float(r["er_low"]), float(r["er_mean"]), float(r["er_high"]))
            for r in rivals if str(r["variant_id"]) in keep]
    return rows, [r.label for r in rows].index(highlight)


def _by_cell(rivals: pd.DataFrame) -> dict[tuple, list[dict[str, Any]]]:
    """Rivals grouped by cell as plain rows (per-card pandas indexing cost ~1 ms a card)."""
    out: dict[tuple, list[dict[str, Any]]] = {}
    for r in rivals.to_dict("records"):
        out.setdefault(tuple(r[k] for k in CELL_KEY), []).append(r)
    return out


def _card(row: dict[str, Any], rivals: dict[tuple, list[dict[str, Any]]], renders: dict[str, str]) -> dict[str, Any]:
    vid = str(row["variant_id"])
    scored = _text(row.get("cell_window")) is not None
    decision = _text(row.get("decision"))
    card = {"variant_id": vid, "account": row["account"], "render": renders.get(vid),
            "factors": {k: _text(row.get(k)) for k in ("hook_pattern", "angle", "cta_style", "format")},
            "length_s": _num(row.get("length_s")), "hook": _text(row.get("hook")), "caption": _text(row.get("caption")),
            "topic": _text(row.get("topic")), "scored": scored, "svg": None}
    if not scored:
        return card
    card.update({k: _text(row.get(k)) for k in ("platform", "platform_account", "cell_window", "reason",
                                                  "cell_reason", "mode", "mode_reason")})
    card.update({k: _num(row.get(k)) for k in ("er_low", "er_mean", "er_high", "credible_mass", "p_best", "share",
                                                "next_round_posts", "posts", "views", "n_cells")})
    card["decision"], card["decision_words"] = decision, DECISION_WORDS.get(decision, decision)
    cell = rivals.get(tuple(row[k] for k in CELL_KEY))
    if cell is not None and card["er_low"] is not None and any(str(r["variant_id"]) == vid for r in cell):
        rows, at = _intervals(cell, vid, CARD_ROWS)
        card["svg"], card["rivals"] = compact_svg(rows, at), len(cell) - 1
    return card


def build(studio: Studio, access: Access, request: Request) -> dict[str, Any]:
    f = Filters.parse(request.query_params)
    with Gallery(studio.warehouse, studio.engine, access) as g:
        total = g.count(f)
        rows = g.page(f)
        rivals_frame = g.rivals(rows.dropna(subset=["cell_window"])) if "cell_window" in rows else pd.DataFrame()
        options = g.options()
        tables = g.tables
    rivals = _by_cell(rivals_frame) if len(rivals_frame) else {}
    renders = render_states(studio.engine, rows["variant_id"].astype(str).tolist())
    cards = [_card(r, rivals, renders) for r in rows.to_dict("records")]
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return {"filters": f, "options": options, "cards": cards, "total": total, "pages": pages,
            "prev": with_page(f, f.page - 1).link(f.page - 1) if f.page > 1 else None,
            "next": with_page(f, f.page + 1).link(f.page + 1) if f.page < pages else None,
            "missing": [t for t in ("variants", "scores", "decisions", "allocation") if t not in tables],
            "scored_any": any(c["scored"] for c in cards), "creative": None}


def _detail(studio: Studio, access: Access, variant_id: str) -> dict[str, Any]:
    if not VARIANT_ID.match(variant_id):
        raise NotVisible(variant_id)
    with Gallery(studio.warehouse, studio.engine, access) as g:
        try:
            row, cells = g.creative(variant_id)
        except LookupError:
            raise NotVisible(variant_id) from None
        rivals = g.rivals(cells)
        posts = g.posts(variant_id)
    renders = render_states(studio.engine, [variant_id])
    card = _card({**row, **(cells.iloc[0].to_dict() if len(cells) else {}), "n_cells": len(cells)},
                 {}, renders)
    charts, by_cell = [], _by_cell(rivals)
    for cell in cells.to_dict("records"):
        members = by_cell.get(tuple(cell[k] for k in CELL_KEY), [])
        if _num(cell.get("er_low")) is None or not any(str(r["variant_id"]) == variant_id for r in members):
            continue
        shown, at = _intervals(members, variant_id, CHART_ROWS)
        title = f"{cell['platform']} · {cell['platform_account']} · window from {cell['cell_window']}"
        charts.append({**{k: _text(cell.get(k)) for k in (*CELL_KEY, "decision", "reason", "cell_reason")},
                       "decision_words": DECISION_WORDS.get(_text(cell.get("decision")), cell.get("decision")),
                       "p_best": _num(cell.get("p_best")), "er_low": _num(cell.get("er_low")),
                       "er_mean": _num(cell.get("er_mean")), "er_high": _num(cell.get("er_high")),
                       "rivals": len(members) - 1, "shown": len(shown), "svg": cell_chart_svg(shown, at, title)})
    return {"creative": card, "charts": charts, "posts": posts.to_dict("records"), "filters": Filters(),
            "cards": [], "options": {}, "missing": [], "scored_any": bool(charts)}


async def detail(request: Request, access: Access) -> Response:
    """One creative, larger, with the full chart of each of its cells (404 when unknown or not the user's)."""
    vid = request.path_params["variant_id"]
    try:
        context = await run_in_threadpool(_detail, studio_of(request), access, vid)
    except NotVisible:
        return refusal(request, 404, f"no creative {vid!r} you can see")
    return render(request, "creatives.html", context)


def _render_job(studio: Studio, variant_id: str) -> tuple[str, str | None] | None:
    t = schema.render_jobs
    with studio.engine.connect() as conn:
        row = conn.execute(sa.select(t.c.status, t.c.output_path).where(t.c.variant_id == variant_id)).first()
    return (row.status, row.output_path) if row else None


def video_file(studio: Studio, access: Access, variant_id: str) -> Path:
    """The creative's rendered MP4 inside media_dir. NotVisible (404) when the id is unknown or of an account the
    user does not see; FileNotFoundError (404) when not rendered yet; PermissionError (403) for a path outside."""
    if not VARIANT_ID.match(variant_id):
        raise NotVisible(variant_id)
    job = _render_job(studio, variant_id)
    account = variant_accounts(studio.engine, [variant_id]).get(variant_id)
    if job is None and account is None:  # neither approved nor queued for rendering: unknown
        raise NotVisible(variant_id)
    if not access.sees(account or ALL):
        raise NotVisible(variant_id)
    if job is None or job[0] != "succeeded" or not job[1]:
        raise FileNotFoundError(f"creative {variant_id} is not rendered yet (render job: {job[0] if job else 'none'})")
    media = studio.media_dir.resolve()
    path = Path(job[1]) if Path(job[1]).is_absolute() else media / job[1]
    resolved = path.resolve()
    if not resolved.is_relative_to(media):
        log.warning("render of %s points outside the media directory %s: %s", variant_id, media, resolved)
        raise PermissionError(f"the render of {variant_id} is outside the media directory: refused")
    if not resolved.is_file():
        raise FileNotFoundError(f"the render of {variant_id} is recorded but its file is missing")
    return resolved


async def video(request: Request, access: Access) -> Response:
    """The MP4 (FileResponse answers Range requests with 206, so the browser's player seeks)."""
    vid = request.path_params["variant_id"]
    try:
        path = await run_in_threadpool(video_file, studio_of(request), access, vid)
    except NotVisible:
        return refusal(request, 404, f"no creative {vid!r} you can see")
    except FileNotFoundError as exc:
        return refusal(request, 404, str(exc))
    except PermissionError as exc:
        return refusal(request, 403, str(exc))
    return FileResponse(path, media_type="video/mp4")


ROUTES = [Route("/", page("creatives.html", build), methods=["GET"]),
          Route("/creative/{variant_id}", guarded(detail), methods=["GET"]),
          Route("/video/{variant_id}", guarded(video), methods=["GET"])]
