"""Generate: a round of variants from its experiment design, written as copy and moderated.

The design (generate.design) splits the round into control, moderate and aggressive arms over the factors
(hook pattern x angle x CTA style x format), balanced so that scoring can later separate the factors'
effects. Copy comes from the templates below, or from a language model (generate.llm_copy) when one is
configured; near-duplicate copy (generate.near_duplicates) is replaced by the design's next candidates.
Ids are stable: the same combination for the same topic is the same variant, so re-running generation
never duplicates work downstream.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from actp_pipeline.creative import DEFAULT_LENGTH_S, FACTOR_LEVELS, variant_id
from actp_pipeline.generate.design import ARMS, DesignShares, design_summary, plan_round
from actp_pipeline.generate.llm_copy import PROMPT_FIELDS, CopyReport, ModelCopywriter
from actp_pipeline.generate.near_duplicates import THRESHOLD as NEAR_DUPLICATE_THRESHOLD, find_near_duplicates
from actp_pipeline.generate.moderation import ModerationRules, moderate  # re-exported: brand safety lives there
from actp_pipeline.generate.round_record import record_round  # re-exported: moved with approvals per scope

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


def _hashtags(blueprints: pd.DataFrame, topic: str) -> list[str]:
    """The market's strongest tags (blueprints in rank order), else one made of the topic."""
    tags: list[str] = []
    if not blueprints.empty and "hashtags" in blueprints:
        for row_tags in blueprints["hashtags"]:
            tags += [t for t in (row_tags if row_tags is not None else []) if t not in tags]
    return tags[:5] or ["#" + re.sub(r"\W+", "", topic.lower())]


def _rows(combos: pd.DataFrame, *, topic: str, round_id: str, lengths: Mapping[str, int], tags: list[str],
          max_length_s: int) -> list[dict[str, object]]:
    """One variant row (factors, design, stable id; no copy yet) per designed combination."""
    rows = []
    for c in combos.itertuples(index=False):
        length_s = min(int(lengths.get(c.format, DEFAULT_LENGTH_S["medium"])), max_length_s)
        rows.append({
            "variant_id": variant_id(c.hook_pattern, c.angle, c.cta_style, c.format, length_s, topic),
            "round_id": round_id, "topic": topic, "hook_pattern": c.hook_pattern, "angle": c.angle,
            "cta_style": c.cta_style, "format": c.format, "length_s": length_s, "hashtags": list(tags),
            "arm": c.arm, "blueprint_id": c.blueprint_id, "design_note": c.design_note,
        })
    return rows


def _write_all(rows: list[dict[str, object]], copywriter: ModelCopywriter | None, report: CopyReport) -> None:
    """Copy for each row, in place: the model's when one is configured and its answer is valid, else the
    template's (the refusal's reason counted in `report`)."""
    answers = copywriter.write([{k: str(r[k]) for k in PROMPT_FIELDS} for r in rows]) if copywriter else \
        [(None, None)] * len(rows)
    for row, (copy, reason) in zip(rows, answers):
        if copy is not None:
            row.update(copy, copy_source="model")
            report.model += 1
            continue
        row.update(write_copy(str(row["hook_pattern"]), str(row["angle"]), str(row["cta_style"]),
                              str(row["format"]), str(row["topic"])))
        if reason is None:
            row["copy_source"] = "template"
            report.template += 1
        else:
            row["copy_source"] = "fallback"
            report.fallback += 1
            report.reasons[reason] += 1


def _refill(removed_arms: list[str], reserve: pd.DataFrame, used: set[int]) -> list[int]:
    """Reserve positions replacing removed rows: the next unused one of the same arm, else of any arm."""
    picks = []
    arms = reserve["arm"].tolist()
    for arm in removed_arms:
        free = [i for i in range(len(arms)) if i not in used]
        same = [i for i in free if arms[i] == arm]
        if not free:
            break
        picks.append((same or free)[0])
        used.add(picks[-1])
    return picks


@dataclass(frozen=True)
class Round:
    """One generated round: the variants, and what the metadata reports about how they were made."""

    matrix: pd.DataFrame
    design: dict[str, object]
    copy: dict[str, object]
    near_duplicates: list[dict[str, object]]


def build_round(blueprints: pd.DataFrame, *, topic: str, shape: MatrixShape = MatrixShape(), round_id: str = "",
                max_length_s: int = 60, weights: Mapping[str, Mapping[str, float]] | None = None,
                shares: DesignShares = DesignShares(), copywriter: ModelCopywriter | None = None,
                near_duplicate_threshold: float = NEAR_DUPLICATE_THRESHOLD,
                hashtags: Sequence[str] = ()) -> Round:
    """The round's variants from its experiment design (generate.design), with copy (templates, or the model
    when `copywriter` is given) and near-duplicates replaced by the design's next candidates. `hashtags`: the
    tags every variant carries (hashtag_stats' ladder); none given, the blueprints' strongest tags."""
    blueprints = blueprints if blueprints is not None else pd.DataFrame()
    design = plan_round(blueprints, vocabulary=FACTOR_LEVELS, max_variants=shape.max_variants, shares=shares,
                        weights=weights, core_levels={"hook_pattern": shape.hook_patterns, "angle": shape.angles,
                                                      "cta_style": shape.cta_styles, "format": shape.formats})
    lengths = {}
    if not blueprints.empty and {"format", "length_s"} <= set(blueprints):
        lengths = blueprints.groupby("format")["length_s"].median().round().astype(int).to_dict()
    make = dict(topic=topic, round_id=round_id, lengths=lengths, tags=list(hashtags) or _hashtags(blueprints, topic),
                max_length_s=max_length_s)
    report = CopyReport()
    rows = _rows(design.chosen, **make)
    _write_all(rows, copywriter, report)
    removed: list[dict[str, object]] = []
    used: set[int] = set()
    order = {a: i for i, a in enumerate(ARMS)}
    for _ in range(MAX_REFILLS):
        rows.sort(key=lambda r: order[str(r["arm"])])  # stable: the earlier and larger arm wins a duplicate
        found = find_near_duplicates(pd.DataFrame(rows, columns=VARIANT_COLUMNS), near_duplicate_threshold)
        if not found.removed:
            break
        removed += found.removed
        gone = [r for r, k in zip(rows, found.keep) if not k]
        rows = [r for r, k in zip(rows, found.keep) if k]
        extra = _rows(design.reserve.iloc[_refill([str(r["arm"]) for r in gone], design.reserve, used)], **make)
        _write_all(extra, copywriter, report)
        rows += extra
    matrix = pd.DataFrame(rows, columns=VARIANT_COLUMNS)
    return Round(matrix, design_summary(design, matrix, shares), report.as_dict(), removed)


def build_matrix(blueprints: pd.DataFrame, *, topic: str, shape: MatrixShape = MatrixShape(),
                 round_id: str = "", max_length_s: int = 60,
                 weights: Mapping[str, Mapping[str, float]] | None = None,
                 shares: DesignShares = DesignShares(), copywriter: ModelCopywriter | None = None) -> pd.DataFrame:
    """The round's variants, one row per variant (see build_round). `weights` (per factor, per level; see
    factor_effects.generation_weights) carry what earlier rounds measured into this one."""
    return build_round(blueprints, topic=topic, shape=shape, round_id=round_id, max_length_s=max_length_s,
                       weights=weights, shares=shares, copywriter=copywriter).matrix


MAX_REFILLS = 5  # near-duplicate passes; each replaces the removed rows from the design's reserve
VARIANT_COLUMNS = ["variant_id", "round_id", "topic", "hook_pattern", "angle", "cta_style", "format", "length_s",
                   "hashtags", "hook", "body_lines", "cta", "caption", "arm", "blueprint_id", "design_note",
                   "copy_source"]
