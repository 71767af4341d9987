"""Brand safety: every variant is read before anything is rendered, and a variant with a finding is
quarantined (stored as "rejected" in the approvals table, never queued for rendering, never published).

Why it lives here and not in the asset: the same rules decide a generated round, a human's edit and a test
case, so they are plain Python over text. What is checked, each finding naming its category, field and the
text it matched (the product spec's Brand safety section):

- `banned_term` / `brand_term`: the default banned list (plus `extra_banned`) and a brand's own terms.
- `profanity`: a short built-in list (moderation_terms.PROFANITY).
- `pii_email`, `pii_phone`, `pii_address`: contact details and street or PO-box addresses.
- `risky_claim_health`, `risky_claim_finance`, `risky_claim_guarantee`: claims an ad may not make.
- `length`: a hook or caption over the platform's limit.

Normalisation, exactly (all text): Unicode NFKC (full-width and compatibility letters become plain ones),
zero-width characters and soft hyphens are removed, and matching is case-insensitive. For the word lists
(banned, brand, profanity) a term also matches
- on word boundaries only ("assess", "Scunthorpe" and "class" are clean), with an optional plural (-s/-es)
  for banned and brand terms and -s/-es/-ed/-ing/-in/-er/-ers/-y for profanity;
- with l33t stand-ins for letters (moderation_terms.LEET: 4/@ a, 8 b, 3 e, 9 g, 1/!/| i, 1/| l, 0 o,
  5/$ s, 7/+ t), so "cur3" reads as "cure";
- with one separator repeated between every letter of a word: a dot, asterisk, underscore, hyphen, slash
  or backslash (optionally with a space either side), or a single space ("g.u.a.r.a.n.t.e.e.d",
  "f u c k"); words of a multi-word term may be joined by any run of such separators or none ("getrich");
- with the last letter of a word stretched ("shittt", "crappy") and `*` masking any letter but the first
  ("f**k");
- only when the match holds at least one real letter and two characters that are not `*` (so "455" is
  not "ass" and "a**" is not flagged).
Homoglyphs from other scripts (a Cyrillic "а") are not normalised.

A finding's text is quoted after normalisation. The caption repeats the hook, body and CTA, so a caption
finding with the same category and text as one in those fields is reported once, under the first field.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field

import pandas as pd

from actp_pipeline.generate import moderation_terms as terms

CATEGORIES: frozenset[str] = frozenset({
    "banned_term", "brand_term", "profanity", "pii_email", "pii_phone", "pii_address",
    "risky_claim_health", "risky_claim_finance", "risky_claim_guarantee", "length"})
FIELDS: tuple[str, ...] = ("hook", "body_lines", "cta", "caption", "hashtags")  # the order findings are reported in
PASSED = "passed moderation rules"

# category -> (what the finding is called, why it is not allowed)
_LABELS: dict[str, tuple[str, str]] = {
    "banned_term": ("banned term", "banned"), "brand_term": ("brand-excluded term", "brand rule"),
    "profanity": ("profanity", "profanity"), "pii_email": ("email address", "PII"),
    "pii_phone": ("phone number", "PII"), "pii_address": ("address", "PII"),
    "risky_claim_health": ("health claim", "risky claim"), "risky_claim_finance": ("financial claim", "risky claim"),
    "risky_claim_guarantee": ("guarantee claim", "risky claim"),
}
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"  # zero-width characters and the soft hyphen: removed
_ROW_BREAK = "\x00"  # joins the rows of one field for a single regex pass; no pattern can match it


@dataclass(frozen=True)
class ModerationRules:
    """What moderation enforces. `categories` switches checks on and off by category name (CATEGORIES)."""

    max_hook_chars: int = 120
    max_caption_chars: int = 2200  # TikTok's caption limit
    banned: tuple[str, ...] = terms.DEFAULT_BANNED
    extra_banned: tuple[str, ...] = field(default_factory=tuple)
    brand_terms: tuple[str, ...] = field(default_factory=tuple)  # a brand's own banned terms (competitors...)
    categories: frozenset[str] = CATEGORIES

    def __post_init__(self) -> None:
        for name in ("banned", "extra_banned", "brand_terms"):  # hashable, so compiled patterns can be cached
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "categories", frozenset(self.categories))
        if unknown := self.categories - CATEGORIES:
            raise ValueError(f"unknown moderation categories: {sorted(unknown)}")


@dataclass(frozen=True)
class Finding:
    """One reason a variant may not be published."""

    category: str
    text: str
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class _Detector:
    """One category's compiled regex and what narrows the rows it must read: `anchors` (literals, one of
    which every match holds; searched in the lowercased text, or the folded one when `folded`) and/or a
    `trigger` regex that is fast because it starts with a digit. Neither: every row is read."""

    category: str
    regex: re.Pattern[str]
    accept: Callable[[re.Match[str]], bool]
    canonical: Callable[[re.Match[str]], str | None]  # the listed term a word-list match reads as
    anchors: tuple[str, ...] | tuple[bytes, ...] = ()  # bytes when folded
    folded: bool = False
    trigger: re.Pattern[str] | None = None


# ------------------------------------------------------------------------------------------------ patterns
_SEP = r"(?:\s?[.*_/\\-]\s?|\s)"
_WORD_GAP = r"[\s.*_/\\-]*"


def _char(ch: str, first: bool, last: bool) -> str:
    """One character of a listed term: a letter with its l33t stand-ins and `*` masking it unless first,
    repeatable when it ends a word ("shittt", "crappy"); anything else literally."""
    if not ch.isalpha():
        return re.escape(ch)
    options = ch + terms.LEET.get(ch, "") + ("" if first else "*")
    return "[" + "".join("\\" + c if c in "\\]^-[" else c for c in options) + "]" + ("+" if last else "")


def _term(term: str, index: int) -> str:
    """A listed term as a regex group named t<index>; each word's separator is group s<index>_<word>, defined
    at the word's first gap and repeated at every other (so "c.u.r.e" and "cure" match, "cu re" does not)."""
    words = [w for w in re.split(r"[\s-]+", term.lower().strip()) if w]
    out = []
    for w, word in enumerate(words):
        if w:
            out.append(_WORD_GAP)
        for j, ch in enumerate(word):
            if j:
                out.append(f"(?P=s{index}_{w})" if j > 1 else f"(?P<s{index}_{w}>{_SEP}?)")
            out.append(_char(ch, first=(w == 0 and j == 0), last=(j == len(word) - 1)))
    return f"(?P<t{index}>{''.join(out)})"


def _word_list(listed: Iterable[str], suffix: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    listed = tuple(dict.fromkeys(t.lower().strip() for t in listed if t.strip()))
    order = sorted(range(len(listed)), key=lambda i: -len(listed[i]))
    body = "|".join(_term(listed[i], i) for i in order)
    return re.compile(rf"(?<![^\W_])(?:{body}){suffix}(?![^\W_])", re.I), listed


def _real_enough(m: re.Match[str]) -> bool:
    text = m.group()
    return any(c.isalpha() for c in text) and sum(c not in "* " for c in text) >= 2


def _accept_phone(m: re.Match[str]) -> bool:
    text = m.group()
    digits = sum(c.isdigit() for c in text)
    return digits <= 15 and (digits >= 7 or sum(c.isupper() for c in text) >= 3)


def _always(m: re.Match[str]) -> bool:
    return True


def _no_term(m: re.Match[str]) -> None:
    return None


def _join(sources: tuple[str, ...], flags: int = re.I) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{s})" for s in sources), flags)


_FIXED: tuple[_Detector, ...] = (
    _Detector("pii_email", _join(terms.EMAIL), _always, _no_term, anchors=terms.EMAIL_ANCHORS),
    _Detector("pii_phone", _join(terms.PHONE), _accept_phone, _no_term, trigger=re.compile(terms.PHONE_TRIGGER)),
    _Detector("pii_address", _join(terms.ADDRESS, 0), _always, _no_term, anchors=terms.ADDRESS_ANCHORS,
              trigger=re.compile(terms.ADDRESS_TRIGGER)),
    _Detector("risky_claim_health", _join(terms.HEALTH), _always, _no_term, anchors=terms.HEALTH_ANCHORS),
    _Detector("risky_claim_finance", _join(terms.FINANCE), _always, _no_term, anchors=terms.FINANCE_ANCHORS),
    _Detector("risky_claim_guarantee", _join(terms.GUARANTEE), _always, _no_term, anchors=terms.GUARANTEE_ANCHORS),
)
# Folding, for the word lists' anchors only, on ASCII bytes (non-ASCII characters become "?", one byte each,
# so offsets hold): l33t stand-ins become their letter ("l" and "1" both become "i"), separators and
# whitespace go; "*" stays (a row holding one is always read, a mask hides letters).
_FOLD_MAP = {**{c: letter for letter, subs in terms.LEET.items() for c in subs}, "1": "i", "|": "i", "l": "i"}
_FOLD_TABLE = bytes.maketrans("".join(_FOLD_MAP).encode(), "".join(_FOLD_MAP.values()).encode())
_FOLD_DELETE = b"._/\\- \t\n\r\f\v"


def _fold(text: str) -> bytes:
    return text.encode("ascii", "replace").translate(_FOLD_TABLE, _FOLD_DELETE)


_PROFANITY = _word_list(terms.PROFANITY, r"(?:s|es|ed|ing|in|er|ers|y)?")


@functools.lru_cache(maxsize=32)
def _detectors(rules: ModerationRules) -> tuple[_Detector, ...]:
    """One compiled regex per enabled category (the word lists depend on the rules, so they are cached)."""
    suffix = r"(?:e?s)?"
    lists = {"banned_term": (*rules.banned, *rules.extra_banned), "brand_term": rules.brand_terms}
    found = []
    for category, listed in lists.items():
        if category in rules.categories and any(t.strip() for t in listed):
            found.append(_listed_detector(category, _word_list(listed, suffix)))
    if "profanity" in rules.categories:
        found.append(_listed_detector("profanity", _PROFANITY))
    return (*found, *(d for d in _FIXED if d.category in rules.categories))


def _listed_detector(category: str, compiled: tuple[re.Pattern[str], tuple[str, ...]]) -> _Detector:
    regex, listed = compiled
    anchors = tuple(dict.fromkeys(_fold(t) for t in listed)) + (b"*",)
    return _Detector(category, regex, _real_enough, lambda m: listed[int((m.lastgroup or "t0")[1:])],
                     anchors=anchors, folded=True)


# ------------------------------------------------------------------------------------------------ matching
def _clean(value: object, joiner: str) -> str:
    """A field's value as one normalised string (lists such as body_lines and hashtags are joined)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if not isinstance(value, str):
        value = joiner.join(str(v) for v in value) if isinstance(value, Iterable) else str(value)
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
        for ch in _INVISIBLE:
            if ch in value:
                value = value.replace(ch, "")
    return value.replace(_ROW_BREAK, " ") if _ROW_BREAK in value else value


def _reason(category: str, field_name: str, text: str, term: str | None) -> str:
    label, why = _LABELS[category]
    if term is not None and text.lower() != term:
        why = f"{why}, reads as '{term}'"
    return f"{field_name}: {label} '{text}' ({why})"


def _row_starts(joined: str | bytes) -> list[int]:
    brk = _ROW_BREAK if isinstance(joined, str) else _ROW_BREAK.encode()
    starts, i = [0], joined.find(brk)
    while i != -1:
        starts.append(i + 1)
        i = joined.find(brk, i + 1)
    return starts


def _candidates(det: _Detector, views: dict[bool, tuple[str | bytes, list[int]]]) -> set[int] | None:
    """The rows `det` must read (None: all of them), found at string-search speed."""
    if not det.anchors and det.trigger is None:
        return None
    rows: set[int] = set()
    text, starts = views[det.folded]
    for anchor in det.anchors:
        i = text.find(anchor)
        while i != -1:  # one hit is enough for a row: go on from the next row
            row = bisect.bisect_right(starts, i) - 1
            rows.add(row)
            i = text.find(anchor, starts[row + 1]) if row + 1 < len(starts) else -1
    if det.trigger is not None:
        lowered, low_starts = views[False]
        m = det.trigger.search(lowered)
        while m is not None:
            row = bisect.bisect_right(low_starts, m.start()) - 1
            rows.add(row)
            m = det.trigger.search(lowered, low_starts[row + 1]) if row + 1 < len(low_starts) else None
    return rows


def _scan_field(texts: list[str], field_name: str, detectors: tuple[_Detector, ...]) -> list[list[Finding]]:
    """Every finding in one field for all rows: per category, the rows that may match (see _candidates) are
    joined and read in one regex pass, each match mapped back to its row by offset."""
    lowered = _ROW_BREAK.join(texts).lower()
    folded = _fold(lowered)
    starts = [0, *itertools.accumulate(len(t) + 1 for t in texts)]  # lower() rarely changes a length
    views: dict[bool, tuple[str | bytes, list[int]]] = {
        False: (lowered, starts if len(lowered) == starts[-1] - 1 else _row_starts(lowered)),
        True: (folded, _row_starts(folded))}
    per_row: list[list[Finding]] = [[] for _ in texts]
    for det in detectors:
        chosen = _candidates(det, views)
        rows = range(len(texts)) if chosen is None else sorted(chosen)
        if not rows:
            continue
        joined = _ROW_BREAK.join(texts[r] for r in rows)
        offsets = [0, *itertools.accumulate(len(texts[r]) + 1 for r in rows)]
        for m in det.regex.finditer(joined):
            text = m.group().strip()
            if not text or _ROW_BREAK in text or not det.accept(m):
                continue
            row = rows[bisect.bisect_right(offsets, m.start()) - 1]
            per_row[row].append(Finding(det.category, text, field_name,
                                        _reason(det.category, field_name, text, det.canonical(m))))
    return per_row


def _length_findings(texts_by_field: Mapping[str, list[str]], rules: ModerationRules, n: int) -> list[list[Finding]]:
    out: list[list[Finding]] = [[] for _ in range(n)]
    if "length" not in rules.categories:
        return out
    for name, limit in (("hook", rules.max_hook_chars), ("caption", rules.max_caption_chars)):
        for i, text in enumerate(texts_by_field.get(name, [])):
            if len(text) > limit:
                out[i].append(Finding("length", f"{len(text)} characters", name,
                                      f"{name}: {len(text)} characters (max {limit})"))
    return out


def _batch(texts_by_field: Mapping[str, list[str]], rules: ModerationRules, n: int) -> list[list[Finding]]:
    """Findings per row, fields in FIELDS order, a caption's repeats of other fields' findings dropped."""
    detectors = _detectors(rules)
    rows = _length_findings(texts_by_field, rules, n)
    for name in [f for f in FIELDS if f in texts_by_field] + [f for f in texts_by_field if f not in FIELDS]:
        for i, found in enumerate(_scan_field(texts_by_field[name], name, detectors)):
            if not found:
                continue
            seen = {(f.category, f.text.lower()) for f in rows[i] if f.field != "caption"}
            rows[i] += [f for f in dict.fromkeys(found)
                        if name != "caption" or (f.category, f.text.lower()) not in seen]
    return rows


def findings(text_by_field: Mapping[str, object], rules: ModerationRules = ModerationRules()) -> list[Finding]:
    """Everything wrong with one piece of copy, e.g. findings({"hook": "...", "body_lines": [...]})."""
    texts = {name: [_clean(value, "\n" if name == "body_lines" else " ")] for name, value in text_by_field.items()}
    return _batch(texts, rules, 1)[0]


def moderate(variants: pd.DataFrame, rules: ModerationRules = ModerationRules()) -> pd.DataFrame:
    """Approve or reject each variant. Adds `moderation` ("approved" / "rejected"), `moderation_reason` (every
    finding's reason, joined with "; ", or PASSED) and `moderation_findings` (a JSON-serialisable list of
    {category, text, field, reason} per variant). Rejected variants are quarantined, never rendered."""
    texts = {name: [_clean(v, "\n" if name == "body_lines" else " ") for v in variants[name]]
             for name in FIELDS if name in variants}
    rows = _batch(texts, rules, len(variants))
    out = variants.copy()
    out["moderation"] = ["rejected" if found else "approved" for found in rows]
    out["moderation_reason"] = ["; ".join(f.reason for f in found) or PASSED for found in rows]
    out["moderation_findings"] = [[f.as_dict() for f in found] for found in rows]
    return out


def category_counts(moderated: pd.DataFrame) -> dict[str, int]:
    """How many findings of each category a moderated frame holds (for the asset's metadata)."""
    counts: dict[str, int] = {}
    for found in moderated.get("moderation_findings", pd.Series(dtype=object)):
        for f in found if isinstance(found, list) else []:
            counts[f["category"]] = counts.get(f["category"], 0) + 1
    return dict(sorted(counts.items()))
