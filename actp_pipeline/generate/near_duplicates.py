"""Near-duplicate variants: copy that says the same thing under two factor labels tests nothing twice.

Similarity is the cosine of TF-IDF vectors (word unigrams and bigrams, sublinear term frequency) of the
copy a viewer reads: hook, body lines and CTA. Two variants are compared only within one topic and one
format: a different topic is a different product, and a different format is a different video even with
the same words (a listicle numbers the lines a text hook shows plainly).

THRESHOLD = 0.95. Measured on the project's own template copy (all 360 combinations for each of 28
topics), two different combinations of one topic and format never exceed 0.91, so the templates lose
nothing; copy at 0.95 or above repeats the same sentences with a word or two changed, which is what a
language model produces when it ignores the factor it was asked for.

Among near-duplicates the row that comes first wins: callers order rows by arm (control, then moderate,
then aggressive) and by design preference, so the earlier and larger arm keeps its variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

THRESHOLD = 0.95
CHUNK = 2048  # rows per block of the candidate product: bounds its memory
# bytes that are part of a word: ASCII letters, digits, "_" and every byte of a non-ASCII character (the
# common typographic punctuation is made a space first), plus NUL, the separator between two rows' texts
_UNICODE_PUNCTUATION = "\u201c\u201d\u2018\u2019\u2014\u2013\u2026\u00ab\u00bb\u00a0"  # quotes, dashes, ellipsis
_WORD_BYTES = bytes(c if chr(c).isalnum() or c in (0, 95) or c >= 128 else 32 for c in range(256))


@dataclass(frozen=True)
class NearDuplicates:
    """Which rows to keep, and for each removed row the kept row it duplicated."""

    keep: np.ndarray
    removed: list[dict[str, object]] = field(default_factory=list)


def copy_text(frame: pd.DataFrame) -> list[str]:
    """Hook, body lines and CTA of each row as one string (what the similarity is computed on)."""
    bodies = frame["body_lines"].tolist() if "body_lines" in frame else [[]] * len(frame)
    texts = [f"{h} {' '.join(map(str, b)) if isinstance(b, (list, tuple, np.ndarray)) else (b or '')} {c}"
             for h, b, c in zip(frame["hook"].fillna("").tolist(), bodies, frame["cta"].fillna("").tolist())]
    return [t.replace("\x00", " ") for t in texts]


def _groups(frame: pd.DataFrame) -> np.ndarray:
    """A group label per row: rows are compared only within one (topic, format)."""
    labels = np.zeros(len(frame), dtype=np.int64)
    for key in (c for c in ("topic", "format") if c in frame):
        codes, uniques = pd.factorize(frame[key].astype(str))
        labels = labels * (len(uniques) + 1) + codes
    return labels


def tfidf(texts: list[str]) -> sp.csr_matrix:
    """L2-normalised TF-IDF rows over word unigrams and bigrams with sublinear term frequency and smoothed
    idf: the vectors scikit-learn's TfidfVectorizer(token_pattern=r"\\w+", ngram_range=(1, 2),
    sublinear_tf=True) makes on ASCII text. The counts are built here with array operations (one
    byte-translation pass over all texts, no vocabulary sorting; the vectorizer's per-document Python
    n-grams and sorted vocabulary took seconds for 10,000 rows), the weighting is scikit-learn's."""
    from sklearn.feature_extraction.text import TfidfTransformer

    n = len(texts)
    # NUL first, so its code is 0 and each row's tokens follow one separator: the row is the running count
    joined = " \x00 ".join(["", *texts]).lower()
    for mark in _UNICODE_PUNCTUATION:  # a few C-speed scans: cheaper than a per-character translation
        joined = joined.replace(mark, " ")
    joined = joined.encode("utf-8", "surrogatepass").translate(_WORD_BYTES)
    codes, uniques = pd.factorize(np.array(joined.decode("utf-8", "surrogatepass").split(), dtype=object))
    sep = codes == 0
    doc = np.cumsum(sep) - 1
    words, word_doc = codes[~sep], doc[~sep]
    same = word_doc[:-1] == word_doc[1:]
    bigrams = pd.factorize(words[:-1][same].astype(np.int64) * len(uniques) + words[1:][same])[0] + len(uniques)
    rows = np.concatenate([word_doc, word_doc[:-1][same]])
    cols = np.concatenate([words, bigrams]).astype(np.int64)
    width = int(cols.max()) + 1 if len(cols) else 1
    counts = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, width))
    counts.sum_duplicates()
    return sp.csr_matrix(TfidfTransformer(sublinear_tf=True).fit_transform(counts), dtype=np.float32)


def _prefixes(matrix: sp.csr_matrix, threshold: float) -> sp.csr_matrix:
    """Each row's prefix (rarest features first) holding all but less than `threshold` of its norm: two
    rows with cosine >= threshold share a feature of both prefixes (prefix filtering), so only rows that
    do are compared."""
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    rank = np.empty(matrix.shape[1], dtype=np.int64)
    rank[np.lexsort((np.arange(matrix.shape[1]), df))] = np.arange(matrix.shape[1])
    ranked = sp.csr_matrix((matrix.data.copy(), rank[matrix.indices], matrix.indptr.copy()), shape=matrix.shape)
    ranked.sort_indices()
    sq = ranked.data.astype(np.float64) ** 2
    row = np.repeat(np.arange(matrix.shape[0]), np.diff(ranked.indptr))
    total = np.bincount(row, weights=sq, minlength=matrix.shape[0])
    before = np.cumsum(sq) - sq - np.concatenate([[0.0], np.cumsum(sq)])[ranked.indptr[:-1]][row]
    keep = total[row] - before >= threshold ** 2 - 1e-6  # the norm left from this entry on still reaches t
    return sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.float32), (row[keep], ranked.indices[keep])),
                         shape=matrix.shape)


def _pairs(matrix: sp.csr_matrix, groups: np.ndarray, threshold: float) -> tuple[np.ndarray, ...]:
    """(earlier, later, similarity) row pairs of one group at or above the threshold."""
    prefix = _prefixes(matrix, threshold)
    firsts, seconds = [], []
    for start in range(0, matrix.shape[0], CHUNK):
        shared = (prefix[start:start + CHUNK] @ prefix.T).tocoo()
        i, j = shared.row + start, shared.col
        ok = (i < j) & (groups[i] == groups[j])
        firsts.append(i[ok])
        seconds.append(j[ok])
    first, second = np.concatenate(firsts), np.concatenate(seconds)
    sim = np.asarray(matrix[first].multiply(matrix[second]).sum(axis=1)).ravel() if len(first) else np.zeros(0)
    hit = sim >= threshold - 1e-6
    return first[hit], second[hit], sim[hit]


def find_near_duplicates(frame: pd.DataFrame, threshold: float = THRESHOLD) -> NearDuplicates:
    """Keep-mask over `frame`'s rows (in order): a row is dropped when its copy is at least `threshold`
    similar to an earlier row that is kept (same topic and format). Needs hook, body_lines, cta and
    variant_id columns."""
    if not 0 < threshold <= 1:
        raise ValueError(f"near-duplicate threshold must be within (0, 1], got {threshold}")
    keep = np.ones(len(frame), dtype=bool)
    if len(frame) < 2:
        return NearDuplicates(keep)
    matrix = tfidf(copy_text(frame))
    first, second, sim = _pairs(matrix, _groups(frame), threshold)
    order = np.lexsort((first, second))  # by the later row, then the earlier: the first kept match wins
    ids = frame["variant_id"].astype(str).tolist()
    removed = []
    for a, b, s in zip(first[order].tolist(), second[order].tolist(), sim[order].tolist()):
        if keep[b] and keep[a]:
            keep[b] = False
            removed.append({"variant_id": ids[b], "duplicate_of": ids[a], "similarity": round(min(float(s), 1.0), 3)})
    return NearDuplicates(keep, removed)
