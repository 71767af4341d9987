"""Split a caption column into its kept lines, for the whole column at once, in Arrow's C++ kernels (RE2).

A short-form caption is a hook (first line), body lines, a call to action (last line with a word) and
hashtags. Hashtag-only and blank lines are dropped, so a caption's line numbers count only lines with
content. Format is read from the shape of the lines, so numbered, quoted and attribution lines get marker
tokens the format model learns from. Every step is one pyarrow.compute call over all lines, or numpy
arithmetic over their UTF-8 bytes (tokens); captions repeat lines, so each distinct line is shaped and
tokenised once. Python loops or `re` passes cost ~8 s per 100k captions; this path well under 0.1 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MAX_CHARS = 2000  # longer captions are cut: hooks, CTAs and formats live in the first lines and the last
_SPACE = r"[\s\p{Z}\x{200b}\x{fe0f}]"  # ASCII and Unicode spaces, plus invisible joiners
_DROPPED = rf"^{_SPACE}*(?:#\S+{_SPACE}*)*$"  # blank, or nothing but hashtags
# Shape markers, applied to each kept line in this order (each sees the line the previous one wrote).
_SHAPES = ((r"(?i)^[ \t]*(?:\d+\s*[.)]|\d\x{fe0f}?\x{20e3}|step \d+\s*:|#\d+\b)", " zznumbered "),
           (r"^([ \t]*[\"“«].*[\"”»][ \t]*)$", r" zzquoted \1"),
           (r"^[ \t]*[—–~-]+[ \t]*(\S)", r" zzattribution \1"))
_SHAPED = r"(?i)^[ \t]*(?:\d|step|#|[\"“«—–~-])"  # the lines any of _SHAPES can change: cheap to find
_CONTROL = ("\x00", "\x1e", "\x1f")  # control characters seen in scraped captions, read as spaces
_WORD = r"\p{L}\p{N}_"  # what Python's \w means for letters and digits of any script


@dataclass(frozen=True)
class Lines:
    """The kept lines of a caption column, captions in order: which caption each line belongs to and which
    distinct text it holds. Short-form captions repeat lines (CTAs, templates): each distinct text is
    tokenised once."""

    text: pa.Array  # the distinct line texts (no hashtag-only or blank lines)
    code: np.ndarray  # per kept line: the index of its text
    doc: np.ndarray  # per kept line: its caption index, non-decreasing
    n_docs: int

    @property
    def first(self) -> np.ndarray:
        """Per line: the position of its caption's first line, so line number = position - first."""
        starts = np.flatnonzero(np.r_[True, self.doc[1:] != self.doc[:-1]]) if len(self.doc) else self.doc
        return np.repeat(starts, np.diff(np.r_[starts, len(self.doc)]))


def as_text(captions: pd.Series | pa.Array) -> pa.Array:
    """The captions as an Arrow string array; a value that is not a string counts as an empty caption."""
    if isinstance(captions, pd.Series) and isinstance(captions.dtype, pd.StringDtype):
        captions = pa.array(captions.array)
    if isinstance(captions, pa.ChunkedArray):
        captions = captions.combine_chunks()
    if isinstance(captions, pa.Array):
        return pc.fill_null(captions.cast(pa.large_string()), "")
    values = pd.Series(captions).to_numpy(dtype=object)
    is_text = np.fromiter((type(v) is str for v in values), dtype=bool, count=len(values))
    return pa.array(np.where(is_text, values, ""), type=pa.large_string())


def caption_lines(captions: pd.Series | pa.Array) -> Lines:
    """Every caption cut to MAX_CHARS and split into lines; hashtag-only and blank lines are dropped.
    Captions repeat lines, so control characters and the dropped-line pattern are applied to each distinct
    line once; the distinct kept texts keep their order of first use (later sums run in that order)."""
    text = as_text(captions)
    if len(text) and pc.max(pc.binary_length(text)).as_py() > MAX_CHARS:  # bytes >= characters: else a no-op
        text = pc.utf8_slice_codeunits(text, 0, MAX_CHARS)
    split = pc.split_pattern(text, "\n")  # a "\r" left at a line end is a separator like a space
    raw = pc.dictionary_encode(pc.list_flatten(split))
    clean = raw.dictionary
    for control in _CONTROL:  # literal (not regex) passes over the distinct lines only
        clean = pc.replace_substring(clean, control, " ")
    clean = pc.dictionary_encode(clean)  # two raw lines may be one text once their controls are spaces
    code = clean.indices.to_numpy().astype(np.int64)[raw.indices.to_numpy()]
    keep = ~pc.match_substring_regex(clean.dictionary, _DROPPED).to_numpy(zero_copy_only=False)[code]
    used = pc.dictionary_encode(pa.array(code[keep]))  # renumbered in order of first use among kept lines
    return Lines(clean.dictionary.take(used.dictionary), used.indices.to_numpy().astype(np.int64),
                 pc.list_parent_indices(split).to_numpy()[keep], len(text))


def shaped(lines: pa.Array) -> pa.Array:
    """Line texts with their shape markers (a quote keeps its words: an angle may live there)."""
    mask = pc.match_substring_regex(lines, _SHAPED)
    text = lines.filter(mask)
    for pattern, marker in _SHAPES:
        text = pc.replace_substring_regex(text, pattern, marker, max_replacements=1)
    return pc.replace_with_mask(lines, mask, text)


def _byte_classes() -> np.ndarray:
    """Class of a UTF-8 lead byte: 0 separates tokens, 1 is part of a word, 2 is a token on its own."""
    lut = np.zeros(256, dtype=np.uint8)
    for lo, hi in ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A), (0xC3, 0xE1), (0xE3, 0xEE)):
        lut[lo:hi + 1] = 1  # ASCII letters and digits; letters of most scripts; CJK and the like
    lut[ord("_")] = 1
    lut[[ord(c) for c in "?%$!"]] = 2
    # 0xC2 (Latin-1 punctuation, no-break space), 0xE2 (quotes, dashes, symbols), 0xEF (variation
    # selectors, BOM) and 0xF0-0xF4 (emoji) separate, like ASCII punctuation and space
    return lut


_CLASS = _byte_classes()


def _string_buffers(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    text = text.cast(pa.large_string())
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:text.offset + len(text) + 1]
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8) if text.buffers()[2] else np.zeros(0, np.uint8)
    return offsets - offsets[0], data[offsets[0]:offsets[-1]]


def tokens(lines: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Lower-cased tokens of the shaped line texts (runs of word characters, and each of ? % $ ! on its own:
    hooks hinge on them) and the line index of each token; a line's tokens are contiguous, in order.
    Byte arithmetic over the UTF-8 buffer: a continuation byte takes the class of its lead byte."""
    offsets, data = _string_buffers(pc.utf8_lower(shaped(lines)))
    cls = _CLASS[data]
    cont = (data & 0xC0) == 0x80
    for _ in range(3):  # a UTF-8 character has at most three continuation bytes
        cls[1:] = np.where(cont[1:], cls[:-1], cls[1:])
    row_start = np.zeros(len(data) + 1, dtype=bool)
    row_start[offsets[:-1]] = True
    prev = np.r_[np.uint8(0), cls[:-1]]
    kept = cls > 0
    start = kept & (row_start[:-1] | (cls == 2) | (prev != cls))  # a continuation byte never starts one
    token_at = np.flatnonzero(start)
    bounds = np.r_[np.flatnonzero(start[kept]), kept.sum()].astype(np.int64)
    words = pa.LargeStringArray.from_buffers(len(token_at), pa.py_buffer(bounds), pa.py_buffer(data[kept].copy()))
    line = np.searchsorted(offsets, token_at, side="right") - 1
    return words, line


def hooks(lines: Lines, max_chars: int = 300) -> pa.Array:
    """Per caption: its first kept line, trimmed and cut to max_chars ("" for a caption without one).
    Trimmed once per distinct line, then taken per caption (an Arrow array: no Python strings)."""
    first = np.full(lines.n_docs, len(lines.text), dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, np.diff(lines.doc) > 0]) if len(lines.doc) else np.zeros(0, int)
    first[lines.doc[starts]] = lines.code[starts]
    trimmed = pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(lines.text), 0, max_chars)
    return pa.concat_arrays([trimmed, pa.array([""], type=trimmed.type)]).take(pa.array(first))


def has_words(lines: Lines) -> np.ndarray:
    """Per caption: whether any kept line holds a letter or digit."""
    word = pc.match_substring_regex(lines.text, f"[{_WORD}]").to_numpy(zero_copy_only=False)[lines.code]
    return np.bincount(lines.doc[word], minlength=lines.n_docs) > 0
