"""Part-aware TF-IDF features for whole caption columns in one tokenisation pass, at C speed.

sklearn's vectorizers run a Python loop per caption (about 30 s per 100k captions for four factors); here
the lines of all captions are tokenised by Arrow's C++ kernels (captions.py), tokens become vocabulary ids
by one hash lookup (pyarrow.compute.index_in), and every later step (part of each token, bigram ids,
counts, sublinear tf, idf, l2 norm) is array arithmetic. Training and prediction share this one tokeniser.
Each token is counted in the parts it belongs to: hook (first line), body (lines between; the whole text
when there are fewer than three lines), cta (last line with a word) and all (every line, with the shape
markers from captions.py). A factor's classifier reads the columns of its parts, so one pass serves all.
Bigrams join adjacent words of one line. The vocabulary and idf are fitted on the training captions only.
Captions share hooks, CTAs and bodies: each part's distinct line selections are counted, weighted and scored
once (PartRows) and taken per caption, with every sum in the same order as row by row, so bit for bit equal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from actp_pipeline.extract.captions import Lines, caption_lines, tokens

PARTS = ("cta", "hook", "body", "all")  # hook and body adjacent: a factor may read the two together


@dataclass(frozen=True)
class _Tokens:
    words: pa.Array  # token text, distinct lines in order
    line: np.ndarray  # distinct-line index of each token
    pair: np.ndarray  # token positions i where token i and i+1 are adjacent on one line
    lines: Lines


def _tokenize(captions: pd.Series | Lines) -> _Tokens:
    """Tokens of the distinct lines of a caption column, or of its Lines already computed by the caller."""
    lines = captions if isinstance(captions, Lines) else caption_lines(captions)
    words, line = tokens(lines.text)
    return _Tokens(words, line, np.flatnonzero(line[1:] == line[:-1]), lines)


def _part_masks(t: _Tokens) -> list[np.ndarray]:
    """Per kept line: whether it is read in each part (PARTS order). The cta is the last line with a
    token; the body is the lines between hook and cta, or the whole text when there are fewer than three."""
    lines = t.lines
    number = np.arange(len(lines.doc)) - lines.first
    worded = np.flatnonzero((np.bincount(t.line, minlength=len(lines.text)) > 0)[lines.code])
    last = np.full(lines.n_docs, -1, dtype=np.int64)
    if len(worded):
        ends = worded[np.r_[np.flatnonzero(np.diff(lines.doc[worded])), len(worded) - 1]]
        last[lines.doc[ends]] = number[ends]
    last = last[lines.doc]
    body = ((number > 0) & (number < last)) | (last <= 1)
    return [number == last, number == 0, body, np.ones(len(lines.doc), dtype=bool)]


@dataclass
class PartFeatures:
    """Vocabulary (unigrams, then bigrams as sorted id pairs) and idf per column; columns are part-major."""

    unigrams: pa.Array  # sorted
    bigram_keys: np.ndarray
    idf: np.ndarray

    @property
    def width(self) -> int:
        return len(self.unigrams) + len(self.bigram_keys)

    def read(self, x: dict[str, sp.csr_matrix], parts: tuple[str, ...]) -> sp.csr_matrix:
        """The matrix a classifier reads: the blocks of its parts side by side, in PARTS order."""
        unknown = set(parts) - set(PARTS)
        if unknown:
            raise ValueError(f"unknown caption parts {sorted(unknown)}; known: {PARTS}")
        blocks = [x[p] for p in PARTS if p in parts]
        return blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")

    def _ids(self, t: _Tokens) -> tuple[np.ndarray, np.ndarray]:
        uni = pc.index_in(t.words, value_set=self.unigrams).fill_null(-1).to_numpy().astype(np.int64)
        a, b = uni[t.pair], uni[t.pair + 1]
        ok = (a >= 0) & (b >= 0)
        keys = a[ok].astype(np.int64) * len(self.unigrams) + b[ok]
        at = np.searchsorted(self.bigram_keys, keys)
        found = at < len(self.bigram_keys)
        found[found] = self.bigram_keys[at[found]] == keys[found]
        bi = np.full(len(t.pair), -1, dtype=np.int64)
        bi[np.flatnonzero(ok)[found]] = len(self.unigrams) + at[found]
        return uni, bi

    def _distinct_counts(self, t: _Tokens) -> tuple[dict[str, sp.csr_matrix], dict[str, np.ndarray]]:
        """Per part: raw counts of each distinct selection of lines ((selection x line) @ (line x term)) and,
        per caption, which one it reads. Captions share hooks, CTAs and bodies: each is counted once."""
        uni, bi = self._ids(t)
        n_text, lines = len(t.lines.text), t.lines
        rows = np.r_[t.line[uni >= 0], t.line[t.pair][bi >= 0]]
        per_line = sp.csr_matrix((np.ones(len(rows)), (rows, np.r_[uni[uni >= 0], bi[bi >= 0]])),
                                 shape=(n_text, self.width))
        blocks, row = {}, {}
        for part, mask in zip(PARTS, _part_masks(t)):
            doc = lines.doc[mask]  # non-decreasing: the selection is built as CSR, then made canonical
            indptr = np.r_[0, np.cumsum(np.bincount(doc, minlength=lines.n_docs))]
            select = sp.csr_matrix((np.ones(len(doc)), lines.code[mask], indptr), shape=(lines.n_docs, n_text))
            select.sum_duplicates()
            distinct, row[part] = _distinct_rows(select)
            blocks[part] = distinct @ per_line
        return blocks, row

    def counts(self, captions: pd.Series | Lines | _Tokens) -> dict[str, sp.csr_matrix]:
        """Raw counts per part, one row per caption."""
        t = captions if isinstance(captions, _Tokens) else _tokenize(captions)
        blocks, row = self._distinct_counts(t)
        return {part: blocks[part][row[part]] for part in PARTS}

    def rows(self, captions: pd.Series | Lines | _Tokens) -> PartRows:
        """Per part: sublinear tf x idf of each distinct row, l2-normalised (rows without a known term stay
        empty), and the row each caption reads."""
        t = captions if isinstance(captions, _Tokens) else _tokenize(captions)
        blocks, row = self._distinct_counts(t)
        for k, x in enumerate(blocks.values()):
            tf = x.data  # raw counts; 1 + log(1) = 1 exactly, so the logarithm is taken of the larger ones only
            x.data = self.idf[k * self.width:(k + 1) * self.width][x.indices]
            many = np.flatnonzero(tf > 1.0)
            x.data[many] *= 1.0 + np.log(tf[many])
            # each row's sum of squares, added in the row's own order from 0 (a sparse product with ones)
            squares = sp.csr_matrix((np.square(x.data), x.indices, x.indptr), shape=x.shape)
            x.data /= np.repeat(np.sqrt(squares @ np.ones(x.shape[1])), np.diff(x.indptr))
        return PartRows(blocks, row)

    def transform(self, captions: pd.Series | Lines) -> dict[str, sp.csr_matrix]:
        """Per part: the tf-idf rows (as rows()), one per caption."""
        return self.rows(captions).full()


def _first_use(keys: pa.Array | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per key (bytes in Arrow, or integers): the index of its distinct value (in order of first use), and
    where each distinct value is first used."""
    if isinstance(keys, np.ndarray):
        code = pd.factorize(keys)[0].astype(np.int64)  # pandas hashes integers about twice as fast as Arrow
    else:
        code = pc.dictionary_encode(keys).indices.to_numpy().astype(np.int64)
    top = np.maximum.accumulate(code) if len(code) else code
    return code, np.flatnonzero(np.r_[True, top[1:] > top[:-1]]) if len(code) else code


def _distinct_rows(select: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """The distinct rows of a canonical line selection (CSR, whole-number counts), and per row the index of
    its distinct row. A row's key is its (line, count) pairs as bytes, hashed by Arrow in one pass."""
    pairs = np.empty((select.nnz, 2), dtype=np.int32)  # columns and counts: whole numbers of lines
    pairs[:, 0], pairs[:, 1] = select.indices, select.data
    offsets = select.indptr.astype(np.int64) * 8
    keys = pa.Array.from_buffers(pa.large_binary(), select.shape[0], [None, pa.py_buffer(offsets), pa.py_buffer(pairs)])
    code, first = _first_use(keys)
    return (select if len(first) == select.shape[0] else select[first]), code


@dataclass(frozen=True)
class PartRows:
    """Features of a caption column, stored once per distinct row: per part the distinct tf-idf rows and,
    per caption, the row it reads."""

    blocks: dict[str, sp.csr_matrix]
    row: dict[str, np.ndarray]

    @classmethod
    def of(cls, x: dict[str, sp.csr_matrix]) -> PartRows:
        """Blocks with one row per caption (transform's output)."""
        return cls(x, {p: np.arange(b.shape[0]) for p, b in x.items()})

    def full(self) -> dict[str, sp.csr_matrix]:
        return {p: b[self.row[p]] for p, b in self.blocks.items()}

    def read(self, parts: tuple[str, ...]) -> tuple[sp.csr_matrix, np.ndarray]:
        """The distinct rows a classifier reads (its parts side by side, in PARTS order) and, per caption,
        the one it reads."""
        unknown = set(parts) - set(PARTS)
        if unknown:
            raise ValueError(f"unknown caption parts {sorted(unknown)}; known: {PARTS}")
        used = [p for p in PARTS if p in parts]
        if len(used) == 1:
            return self.blocks[used[0]], self.row[used[0]]
        code = np.zeros(len(self.row[used[0]]), dtype=np.int64)
        for p in used:  # renumbered after each part, so the key stays below the number of captions squared
            code, first = _first_use(code * self.blocks[p].shape[0] + self.row[p])
        return sp.hstack([self.blocks[p][self.row[p][first]] for p in used], format="csr"), code


def fit_features(captions: pd.Series | Lines) -> PartFeatures:
    """Vocabulary and idf from training captions (every word and within-line bigram seen in them)."""
    t = _tokenize(captions)
    unigrams = pc.unique(t.words)
    unigrams = unigrams.take(pc.sort_indices(unigrams))
    uni = pc.index_in(t.words, value_set=unigrams).to_numpy().astype(np.int64)
    keys = np.unique(uni[t.pair] * len(unigrams) + uni[t.pair + 1])
    feats = PartFeatures(unigrams, keys, np.ones((len(unigrams) + len(keys)) * len(PARTS)))
    df = np.concatenate([np.bincount(x.indices, minlength=x.shape[1]) for x in feats.counts(t).values()])
    feats.idf = np.log((1.0 + t.lines.n_docs) / (1.0 + df)) + 1.0
    return feats
