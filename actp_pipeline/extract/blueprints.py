"""Extract: read creative factors off market items and turn what performs into blueprints.

Factors are recognised from text cues (hook line, body structure, CTA line, angle words) and from the
duration. A blueprint is a factor combination seen in the market with its engagement rate shrunk toward
the market mean (empirical Bayes), so a combination seen once on a lucky post does not top the list.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

import numpy as np
import pandas as pd

from actp_pipeline.creative import FACTORS, length_bucket

UNKNOWN = "unknown"

_HOOK_RULES: list[tuple[str, re.Pattern]] = [
    ("pov", re.compile(r"^\s*pov\s*:", re.I)),
    ("how_to", re.compile(r"^\s*how (to|i|we)\b", re.I)),
    ("stat", re.compile(r"\d+(\.\d+)?\s*(%|x\b|percent)|\b\d+\s+out of\s+\d+|\b\d+ in \d+\b", re.I)),
    ("question", re.compile(r"\?\s*$")),
    ("bold_claim", re.compile(r"^\s*(stop\b|nobody\b|no one\b|this is the only|you'?re doing .* wrong|never\b|the truth)", re.I)),
    ("story", re.compile(r"^\s*(i|my|last (year|month|week)|when i|yesterday)\b", re.I)),
]
_CTA_RULES: list[tuple[str, re.Pattern]] = [
    ("link_in_bio", re.compile(r"link in (my )?bio", re.I)),
    ("follow", re.compile(r"^\s*follow\b", re.I)),
    ("comment", re.compile(r"^\s*comment\b|\bcomment below\b", re.I)),
    ("save", re.compile(r"^\s*save (this|it|for)\b", re.I)),
]
_ANGLE_WORDS = {
    "pain_point": ("struggl", "tired of", "frustrat", "problem", "hate when", "pain"),
    "social_proof": ("thousands", "everyone", "reviews", "customers", "people are", "viral", "5-star", "dermatologists"),
    "curiosity": ("secret", "nobody knows", "hidden", "surprising", "weird", "didn't know", "trick"),
    "transformation": ("before and after", "before & after", "changed", "transform", "glow up", "results", "weeks later"),
    "urgency": ("today only", "last chance", "ends", "limited", "hurry", "now or never", "before it's gone"),
}
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+")
_QUOTE = re.compile(r'^\s*["“].+["”]\s*$')
_ATTRIBUTION = re.compile(r"^\s*[—–-]\s*\S")


def classify_hook(hook: str) -> str:
    for name, rule in _HOOK_RULES:
        if rule.search(hook):
            return name
    return UNKNOWN


def classify_cta(line: str) -> str:
    for name, rule in _CTA_RULES:
        if rule.search(line):
            return name
    return UNKNOWN


def classify_format(body: list[str]) -> str:
    if sum(bool(_NUMBERED.match(b)) for b in body) >= 2:
        return "listicle"
    if any(_QUOTE.match(b) for b in body) and any(_ATTRIBUTION.match(b) for b in body):
        return "testimonial"
    return "text_hook" if body else UNKNOWN


def classify_angle(text: str) -> str:
    low = text.lower()
    hits = {a: sum(low.count(w) for w in words) for a, words in _ANGLE_WORDS.items()}
    best = max(hits, key=hits.get)
    return best if hits[best] > 0 else UNKNOWN


def factors_of(caption: str, duration_s: float) -> dict[str, str]:
    """The creative factors of one market item, read from its caption and duration."""
    lines = [ln.strip() for ln in caption.splitlines() if ln.strip()]
    hook = lines[0] if lines else ""
    cta_line = lines[-1] if len(lines) > 1 else ""
    cta = classify_cta(cta_line)
    body = lines[1:-1] if cta != UNKNOWN else lines[1:]
    return {
        "hook": hook[:300],
        "hook_pattern": classify_hook(hook),
        "angle": classify_angle(" ".join(lines)),
        "cta_style": cta,
        "format": classify_format(body),
        "length_bucket": length_bucket(duration_s),
    }


def tag_factors(items: pd.DataFrame) -> pd.DataFrame:
    """`items` with one column per creative factor (plus the hook line)."""
    tagged = [factors_of(c, d) for c, d in zip(items["caption"], items["duration_s"])]
    return pd.concat([items.reset_index(drop=True), pd.DataFrame(tagged, columns=["hook", *FACTORS])], axis=1)


def factor_lifts(tagged: pd.DataFrame, prior_views: float = 20_000) -> pd.DataFrame:
    """Per factor level: items, views and engagement rate shrunk toward the market mean, as a lift."""
    base = tagged["engagements"].sum() / max(tagged["views"].sum(), 1)
    frames = []
    for f in FACTORS:
        g = tagged.groupby(f, observed=True).agg(items=("item_id", "size"), views=("views", "sum"),
                                                 engagements=("engagements", "sum")).reset_index()
        g = g.rename(columns={f: "level"})
        g.insert(0, "factor", f)
        g["er"] = (g["engagements"] + prior_views * base) / (g["views"] + prior_views)
        g["lift"] = g["er"] / base
        frames.append(g)
    out = pd.concat(frames, ignore_index=True)
    return out[out["level"] != UNKNOWN].sort_values(["factor", "lift"], ascending=[True, False]).reset_index(drop=True)


def extract_blueprints(items: pd.DataFrame, *, top_n: int = 12, prior_views: float = 20_000,
                       min_items: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Blueprints (factor combinations ranked by shrunk engagement rate) and the factor-level lifts."""
    tagged = tag_factors(items)
    known = tagged[(tagged[list(FACTORS)] != UNKNOWN).all(axis=1)]
    lifts = factor_lifts(tagged, prior_views) if not tagged.empty else pd.DataFrame()
    if known.empty:
        return pd.DataFrame(columns=BLUEPRINT_COLUMNS), lifts
    base = known["engagements"].sum() / max(known["views"].sum(), 1)
    rows = []
    for combo, g in known.groupby(list(FACTORS), observed=True):
        if len(g) < min_items:
            continue
        er = (g["engagements"].sum() + prior_views * base) / (g["views"].sum() + prior_views)
        weights = Counter()
        for tags, eng in zip(g["hashtags"], g["engagements"]):
            for t in tags:
                weights[t] += int(eng)
        best = g.loc[g["engagement_rate"].idxmax()]
        key = "|".join(combo)
        rows.append({
            "blueprint_id": "bp_" + hashlib.sha256(key.encode()).hexdigest()[:10],
            **dict(zip(FACTORS, combo)),
            "length_s": int(np.clip(round(g["duration_s"].median()), 5, 60)),
            "items": len(g),
            "views": int(g["views"].sum()),
            "engagement_rate": float(er),
            "lift": float(er / base),
            "hashtags": [t for t, _ in weights.most_common(5)],
            "example_hook": str(best["hook"]),
            "platforms": sorted(g["platform"].unique().tolist()),
        })
    bp = pd.DataFrame(rows, columns=BLUEPRINT_COLUMNS)
    bp = bp.sort_values(["lift", "items"], ascending=[False, False]).head(top_n).reset_index(drop=True)
    bp["weight"] = bp["lift"] / bp["lift"].sum() if len(bp) else []
    return bp, lifts


BLUEPRINT_COLUMNS = ["blueprint_id", *FACTORS, "length_s", "items", "views", "engagement_rate", "lift",
                     "hashtags", "example_hook", "platforms"]

