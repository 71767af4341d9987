"""The creative factors every stage speaks about.

A creative is a point in a small factor space (hook pattern x angle x CTA style x format, plus length).
Research extracts these factors from market items, generation crosses them into variants, the renderer
draws them, scoring attributes performance to them. Keeping the vocabulary in one module is what lets
those stages agree without importing each other.
"""

from __future__ import annotations

import hashlib
import json
from typing import Final

PLATFORMS: Final = ("tiktok", "instagram", "youtube")

# How the first 1-3 seconds grab attention.
HOOK_PATTERNS: Final = ("question", "bold_claim", "stat", "story", "pov", "how_to")

# The message angle of the body.
ANGLES: Final = ("pain_point", "social_proof", "curiosity", "transformation", "urgency")

# What the viewer is asked to do at the end.
CTA_STYLES: Final = ("follow", "link_in_bio", "comment", "save")

# Visual format; each maps to one render template.
FORMATS: Final = ("text_hook", "listicle", "testimonial")

# Length buckets in seconds (short-form sweet spots).
LENGTH_BUCKETS: Final = {"short": (0.0, 12.0), "medium": (12.0, 20.0), "long": (20.0, 61.0)}
DEFAULT_LENGTH_S: Final = {"short": 9, "medium": 15, "long": 24}

FACTORS: Final = ("hook_pattern", "angle", "cta_style", "format", "length_bucket")

# The levels of each factor, in FACTORS order (the sandbox world and factor effects build on this).
FACTOR_LEVELS: Final[dict[str, tuple[str, ...]]] = dict(
    zip(FACTORS, (HOOK_PATTERNS, ANGLES, CTA_STYLES, FORMATS, tuple(LENGTH_BUCKETS)), strict=True))

# Key under which the renderer embeds the creative descriptor in the MP4's `comment` metadata.
DESCRIPTOR_KEY: Final = "actp"

# The fields of that descriptor (what a viewer of the video can know about the creative).
DESCRIPTOR_FIELDS: Final = ("variant_id", "hook_pattern", "angle", "cta_style", "format", "length_s", "hook")


def length_bucket(seconds: float) -> str:
    """Bucket a duration; anything outside the known range is clamped to the nearest bucket."""
    for name, (lo, hi) in LENGTH_BUCKETS.items():
        if lo <= seconds < hi:
            return name
    return "short" if seconds < 0 else "long"


def variant_id(hook_pattern: str, angle: str, cta_style: str, format: str, length_s: int, topic: str) -> str:
    """Stable id of a variant: the same factor combination for the same topic is the same variant."""
    key = json.dumps([hook_pattern, angle, cta_style, format, int(length_s), topic.strip().lower()])
    return "v_" + hashlib.sha256(key.encode()).hexdigest()[:12]


def descriptor_json(variant: dict) -> str:
    """The JSON the renderer writes into the video so a viewer (the sandbox audience) knows what it saw."""
    return json.dumps({DESCRIPTOR_KEY: {k: variant.get(k) for k in DESCRIPTOR_FIELDS}}, ensure_ascii=False)
