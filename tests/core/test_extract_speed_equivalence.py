"""The fast extraction path computes each distinct line, hook, body, CTA and whole caption once and takes the
results per caption; here it is checked bit for bit against the direct computation it replaced (one row
per caption, every step in its original order), so a speed-up can never move a prediction or a blueprint."""

import hashlib

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest
import scipy.sparse as sp

from actp_pipeline.creative import FACTORS
from actp_pipeline.extract import captions as cap
from actp_pipeline.extract.blueprints import extract_blueprints, tag_factors
from actp_pipeline.extract.features import PARTS, _part_masks, _tokenize
from actp_pipeline.extract.learned import UNKNOWN, factor_models, load_labelled, predict_factors


@pytest.fixture(scope="module")
def models():
    return factor_models()


@pytest.fixture(scope="module")
def captions() -> pd.Series:
    """Labelled captions, sandbox-market captions recombined from shared lines (so hooks, bodies and CTAs
    repeat while whole captions rarely do), exact repeats and scraped mess."""
    rng = np.random.default_rng(7)
    labelled = load_labelled()["caption"]
    split = labelled.str.split("\n")
    hooks, ctas = split.str[0], split.str[-1]
    bodies = split.map(lambda parts: "\n".join(parts[1:-1]))
    n = 1500
    mixed = (hooks.sample(n, replace=True, random_state=1).to_numpy() + "\n"
             + bodies.sample(n, replace=True, random_state=2).to_numpy() + "\n"
             + ctas.sample(n, replace=True, random_state=3).to_numpy())
    messy = ["Why\x00does nobody talk about this?\r\n\r\n#skincare #tips\r\nFollow for more", "#only #tags\n\n",
             "", "x" * 2500 + "\nSave this", "one line", "1. a\n2. b\n3. c\nComment below", "🙂 " * 900]
    out = pd.Series([*labelled.sample(600, random_state=4), *mixed, *messy, *mixed[:50]], dtype=object)
    return out.iloc[rng.permutation(len(out))].reset_index(drop=True)


def _direct_lines(captions: pd.Series) -> cap.Lines:
    """Controls replaced and the dropped-line pattern matched on every line of every caption."""
    text = pc.utf8_slice_codeunits(cap.as_text(captions), 0, cap.MAX_CHARS)
    for control in cap._CONTROL:
        text = pc.replace_substring(text, control, " ")
    split = pc.split_pattern(text, "\n")
    flat, doc = pc.list_flatten(split), pc.list_parent_indices(split)
    keep = pc.invert(pc.match_substring_regex(flat, cap._DROPPED))
    distinct = pc.dictionary_encode(flat.filter(keep))
    return cap.Lines(distinct.dictionary, distinct.indices.to_numpy().astype(np.int64),
                     doc.filter(keep).to_numpy(), len(text))


def _direct_tfidf(features, captions: pd.Series) -> dict[str, sp.csr_matrix]:
    """One row per caption: (caption x line) @ (line x term) counts, then tf-idf row by row."""
    t = _tokenize(_direct_lines(captions))
    uni, bi = features._ids(t)
    lines, n_text = t.lines, len(t.lines.text)
    rows = np.r_[t.line[uni >= 0], t.line[t.pair][bi >= 0]]
    per_line = sp.csr_matrix((np.ones(len(rows)), (rows, np.r_[uni[uni >= 0], bi[bi >= 0]])),
                             shape=(n_text, features.width))
    out = {}
    for k, (part, mask) in enumerate(zip(PARTS, _part_masks(t))):
        select = sp.csr_matrix((np.ones(int(mask.sum())), (lines.doc[mask], lines.code[mask])),
                               shape=(lines.n_docs, n_text))
        x = select @ per_line
        x.data = (1.0 + np.log(x.data)) * features.idf[k * features.width:(k + 1) * features.width][x.indices]
        row = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        x.data /= np.sqrt(np.bincount(row, weights=x.data**2, minlength=x.shape[0]))[row]
        out[part] = x
    return out


def test_lines_match_the_per_line_computation(captions):
    fast, direct = cap.caption_lines(captions), _direct_lines(captions)
    assert fast.text.equals(direct.text) and fast.n_docs == direct.n_docs
    assert np.array_equal(fast.code, direct.code) and np.array_equal(fast.doc, direct.doc)
    assert np.array_equal(fast.first, np.searchsorted(direct.doc, direct.doc))


def test_features_match_the_per_caption_computation_bit_for_bit(models, captions):
    fast, direct = models.features.transform(captions), _direct_tfidf(models.features, captions)
    rows = models.features.rows(captions)
    assert sum(b.shape[0] for b in rows.blocks.values()) < 3 * len(captions)  # shared parts computed once
    for part in PARTS:
        a, b = fast[part], direct[part]
        assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices), part
        assert np.array_equal(a.data.view(np.int64), b.data.view(np.int64)), part


def test_predictions_do_not_depend_on_the_other_captions(models, captions):
    together = predict_factors(captions, models)
    picked = np.random.default_rng(2).choice(len(captions), 40, replace=False)
    alone = pd.concat([predict_factors(captions.iloc[[i]], models) for i in picked])
    pd.testing.assert_frame_equal(together.iloc[picked], alone, check_exact=True)
    shuffled = captions.sample(frac=1.0, random_state=5)
    pd.testing.assert_frame_equal(predict_factors(shuffled, models), together.loc[shuffled.index], check_exact=True)


def _market(captions: pd.Series) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = len(captions)
    views = rng.integers(1_000, 90_000, n)
    return pd.DataFrame({"item_id": [f"mk_{i}" for i in range(n)], "platform": rng.choice(["tiktok", "reels"], n),
                         "url": [f"https://x.test/{i}" if i % 7 else None for i in range(n)], "caption": captions,
                         "duration_s": np.where(rng.random(n) < 0.05, np.nan, rng.uniform(4, 70, n)),
                         "hashtags": [["#a", "#b"][: i % 3] for i in range(n)], "views": views,
                         "engagements": (views * rng.uniform(0.01, 0.1, n)).astype(np.int64)})


def test_blueprints_match_grouping_on_joined_keys(captions):
    items = _market(captions)
    bp, lifts = extract_blueprints(items, top_n=40, min_items=1)
    tagged = tag_factors(items)
    known = tagged[(tagged[list(FACTORS)] != UNKNOWN).all(axis=1)]
    key = known[FACTORS[0]].str.cat([known[f] for f in FACTORS[1:]], sep="|")
    sums = known.groupby(key, sort=False).agg(items=("views", "size"), views=("views", "sum"))
    base = known["engagements"].sum() / max(known["views"].sum(), 1)
    er = (known.groupby(key, sort=False)["engagements"].sum() + 20_000 * base) / (sums["views"] + 20_000)
    assert len(bp) == min(40, len(sums))
    for row in bp.itertuples():
        k = "|".join(getattr(row, f) for f in FACTORS)
        assert row.blueprint_id == "bp_" + hashlib.sha256(k.encode()).hexdigest()[:10]
        assert (row.items, row.views, row.engagement_rate) == (sums.loc[k, "items"], sums.loc[k, "views"], er[k])
        group = known[key == k].sort_values(["engagements", "item_id"], ascending=[False, True])
        assert row.evidence_item_ids == group["item_id"].head(20).tolist()
        assert row.example_hook == group["hook"].iloc[0]
    assert bp["lift"].is_monotonic_decreasing
    for f in FACTORS:
        direct = tagged.groupby(f)["views"].agg(["size", "sum"]).drop(index=UNKNOWN, errors="ignore")
        mine = lifts[lifts["factor"] == f].set_index("level").loc[direct.index]
        assert mine["items"].tolist() == direct["size"].tolist() and mine["views"].tolist() == direct["sum"].tolist()
