"""Generate: a factorial matrix of variants from the best blueprints, written as copy and moderated.

The matrix crosses the strongest levels of each factor (hook pattern x angle x CTA style x format) so
that scoring can later separate the factors' effects. Ids are stable: the same combination for the same
topic is the same variant, so re-running generation never duplicates work downstream.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from actp_pipeline.creative import ANGLES, CTA_STYLES, DEFAULT_LENGTH_S, FORMATS, HOOK_PATTERNS, variant_id
from actp_pipeline.generate.moderation import ModerationRules, moderate  # re-exported: brand safety lives there

__all__ = ["MatrixShape", "ModerationRules", "VARIANT_COLUMNS", "build_matrix", "moderate", "record_round",
           "write_copy"]


@dataclass(frozen=True)
class MatrixShape:
    """How many levels of each factor enter the matrix (their product is the round's size)."""

    hook_patterns: int = 3
    angles: int = 2
    cta_styles: int = 2
    formats: int = 2
    max_variants: int = 48


_HOOKS = {
    "question": ["Why does nobody talk about {angle_q} {topic}?", "Ever wondered about {angle_q} {topic}?",
                 "What if your {topic} could {angle_v}?"],
    "bold_claim": ["Stop doing {topic} like this.", "Nobody tells you this about {topic}.",
                   "This is the only {topic} tip you need."],
    "stat": ["9 out of 10 people get {topic} wrong.", "73% of people {angle_v} with this {topic} fix.",
             "3x better {topic} in one week."],
    "story": ["I almost gave up on {topic} until this.", "My {topic} changed when I tried this.",
              "Last year I {angle_past} my {topic}."],
    "pov": ["POV: your {topic} finally {angle_v}.", "POV: you found the {topic} trick everyone hides.",
            "POV: {topic} without the guesswork."],
    "how_to": ["How to fix your {topic} in 3 steps.", "How I {angle_past} my {topic} for good.",
               "How to get better {topic} results today."],
}
_ANGLE_WORDS = {
    "pain_point": {"q": "the struggle with", "v": "stop being a struggle", "past": "stopped struggling with",
                   "body": ["Tired of {topic} that never works?", "The real problem is the order of steps.",
                            "Fix that and the frustration goes."]},
    "social_proof": {"q": "what thousands of people use for", "v": "get the reviews right",
                     "past": "copied what thousands did for",
                     "body": ["Thousands of people switched this month.", "The reviews say the same thing.",
                              "Here is what they all do."]},
    "curiosity": {"q": "the secret behind", "v": "reveal its secret", "past": "found the secret to",
                  "body": ["There is one hidden step.", "Most people skip it.", "It is the weird trick that works."]},
    "transformation": {"q": "the before and after of", "v": "transform in weeks", "past": "transformed",
                       "body": ["Before: nothing worked.", "After: visible results in weeks.",
                                "Same person, different routine."]},
    "urgency": {"q": "the last chance for", "v": "change today", "past": "stopped waiting on",
                "body": ["Start today, not next month.", "This only works if you start now.",
                         "Last chance before the season ends."]},
}
_CTAS = {
    "follow": "Follow for more {topic} tips",
    "link_in_bio": "Link in bio for the full routine",
    "comment": "Comment 'ROUTINE' and I'll send it",
    "save": "Save this for your next {topic} day",
}
_TESTIMONIAL_BY = "— a customer, 3 weeks in"


def _pick(options: list[str], seed: str) -> str:
    return options[int(hashlib.sha256(seed.encode()).hexdigest(), 16) % len(options)]


def write_copy(hook_pattern: str, angle: str, cta_style: str, format: str, topic: str) -> dict[str, object]:
    """Hook, body lines, CTA and caption for one variant (deterministic for the same inputs)."""
    words = _ANGLE_WORDS[angle]
    seed = f"{hook_pattern}|{angle}|{cta_style}|{format}|{topic}"
    hook = _pick(_HOOKS[hook_pattern], seed).format(topic=topic, angle_q=words["q"], angle_v=words["v"],
                                                   angle_past=words["past"])
    body = [b.format(topic=topic) for b in words["body"]]
    if format == "listicle":
        body = [f"{i}. {b}" for i, b in enumerate(body, 1)]
    elif format == "testimonial":
        body = [f"\u201c{body[1]} {body[2]}\u201d", _TESTIMONIAL_BY]
    cta = _CTAS[cta_style].format(topic=topic)
    return {"hook": hook, "body_lines": body, "cta": cta, "caption": "\n".join([hook, *body, cta])}


def _top_levels(blueprints: pd.DataFrame, factor: str, n: int, vocabulary: tuple[str, ...],
                weights: Mapping[str, float] | None = None) -> list[str]:
    """The n levels to cross: ranked by our own measured effect where there is one (`weights`, from
    factor_effects.generation_weights: untested levels count as average, so they keep their chance),
    then by blueprint weight in the market; the vocabulary fills in when the market is thin."""
    ranked: list[str] = []
    if not blueprints.empty:
        w = blueprints.groupby(factor)["weight"].sum().sort_values(ascending=False)
        ranked = [lvl for lvl in w.index if lvl in vocabulary]
    ranked += [lvl for lvl in vocabulary if lvl not in ranked]
    if weights:
        average = 1.0 / len(weights)
        ranked = sorted(ranked, key=lambda lvl: -weights.get(lvl, average))  # stable: market order breaks ties
    return ranked[:n]


def build_matrix(blueprints: pd.DataFrame, *, topic: str, shape: MatrixShape = MatrixShape(),
                 round_id: str = "", max_length_s: int = 60,
                 weights: Mapping[str, Mapping[str, float]] | None = None) -> pd.DataFrame:
    """The factorial matrix of variants for one round, one row per variant. `weights` (per factor, per
    level; see factor_effects.generation_weights) carry what earlier rounds measured into this one."""
    weights = weights or {}
    hooks = _top_levels(blueprints, "hook_pattern", shape.hook_patterns, HOOK_PATTERNS, weights.get("hook_pattern"))
    angles = _top_levels(blueprints, "angle", shape.angles, ANGLES, weights.get("angle"))
    ctas = _top_levels(blueprints, "cta_style", shape.cta_styles, CTA_STYLES, weights.get("cta_style"))
    formats = _top_levels(blueprints, "format", shape.formats, FORMATS, weights.get("format"))
    length_by_format = {}
    if not blueprints.empty:
        length_by_format = blueprints.groupby("format")["length_s"].median().round().astype(int).to_dict()
    tags = []
    for row in blueprints.itertuples() if not blueprints.empty else []:
        tags += [t for t in row.hashtags if t not in tags]
    tags = tags[:5] or ["#" + re.sub(r"\W+", "", topic.lower())]
    rows = []
    for hook_pattern, angle, cta_style, fmt in itertools.islice(itertools.product(hooks, angles, ctas, formats), shape.max_variants):
        length_s = min(int(length_by_format.get(fmt, DEFAULT_LENGTH_S["medium"])), max_length_s)
        copy = write_copy(hook_pattern, angle, cta_style, fmt, topic)
        rows.append({
            "variant_id": variant_id(hook_pattern, angle, cta_style, fmt, length_s, topic),
            "round_id": round_id, "topic": topic, "hook_pattern": hook_pattern, "angle": angle,
            "cta_style": cta_style, "format": fmt, "length_s": length_s, "hashtags": tags, **copy,
        })
    return pd.DataFrame(rows, columns=VARIANT_COLUMNS)


VARIANT_COLUMNS = ["variant_id", "round_id", "topic", "hook_pattern", "angle", "cta_style", "format", "length_s",
                   "hashtags", "hook", "body_lines", "cta", "caption"]


_PALETTES = {"text_hook": ("#111827", "#facc15"), "listicle": ("#1e3a8a", "#f472b6"), "testimonial": ("#3f3f46", "#34d399")}


def record_round(engine, moderated: pd.DataFrame, *, platform: str | None = None) -> dict[str, int]:
    """Store each new variant's moderation decision and queue renders for the approved ones.

    Variants already decided keep their decision (a human may have overridden it); only new ids count. A
    rejected variant is quarantined: its row carries every finding's reason (`moderation_reason`) for the
    reviewer, and no render is queued for it.
    """
    import sqlalchemy as sa

    from actp_pipeline.store import schema
    from actp_pipeline.store.queues import render_queue
    from actp_pipeline.store.schema import utcnow

    t = schema.approvals
    now = utcnow()
    with engine.begin() as conn:
        known = set(conn.execute(sa.select(t.c.variant_id).where(t.c.variant_id.in_(moderated["variant_id"].tolist()))).scalars())
        new = moderated[~moderated["variant_id"].isin(known)]
        if len(new):
            conn.execute(t.insert(), [
                {"variant_id": r.variant_id, "status": r.moderation, "reason": r.moderation_reason,
                 "decided_by": "moderation-rules", "decided_at": now} for r in new.itertuples()])
        approved = set(conn.execute(sa.select(t.c.variant_id).where(
            t.c.variant_id.in_(moderated["variant_id"].tolist()), t.c.status == "approved")).scalars())
    jobs = []
    chosen = moderated[moderated["variant_id"].isin(approved)].drop(
        columns=["moderation", "moderation_reason", "moderation_findings"], errors="ignore")
    for payload in json.loads(chosen.to_json(orient="records")):  # JSON-safe: no numpy scalars or arrays
        background, accent = _PALETTES.get(payload["format"], _PALETTES["text_hook"])
        payload.update(background=background, accent=accent, platform=platform)
        jobs.append({"variant_id": payload["variant_id"], "payload": payload})
    queued = render_queue(engine).enqueue(jobs, unique_column="variant_id")
    return {"new_variants": len(new), "approved": len(approved), "renders_queued": queued,
            "rejected": int((new["moderation"] == "rejected").sum())}
