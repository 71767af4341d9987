"""Learned blueprint extraction: measured accuracy on the held-out split, determinism, unknowns for text
with no cue, evidence that points at real items, and clusters for hooks outside the taxonomy."""

import numpy as np
import pandas as pd
import pytest

from actp_pipeline.extract.blueprints import BLUEPRINT_COLUMNS, extract_blueprints, tag_factors
from actp_pipeline.extract.clusters import cluster_hooks
from actp_pipeline.extract.learned import LEARNED_FACTORS, UNKNOWN, factor_models, load_labelled, predict_factors, train

FLOOR = 0.85  # the floor per factor on the held-out split (never lowered, never tuned on test)


@pytest.fixture(scope="module")
def models():
    return factor_models()


@pytest.mark.parametrize("factor", LEARNED_FACTORS)
def test_macro_f1_on_the_held_out_split_reaches_the_floor(models, factor):
    assert models.report.macro_f1[factor] >= FLOOR, models.report.per_level[factor]


def test_the_labelled_set_is_stratified_and_its_test_split_is_not_the_sandbox_market():
    data = load_labelled()
    counts = data["split"].value_counts()
    # The held-out split's size is what bounds the F1's precision: at least 400 rows, and never a token
    # share (it was 10% before train bank D; 416 of 5,216 rows = 8% now, the test rows themselves unchanged).
    assert len(data) >= 1200 and counts["test"] >= 400 and counts["test"] / len(data) >= 0.075
    for factor in LEARNED_FACTORS:
        per = data.groupby(["split", factor]).size().unstack(fill_value=0)
        assert (per > 0).all().all(), factor
    from actp_pipeline.sandbox import captions as sandbox

    sandbox_hooks = {t.split("{")[0] for ts in sandbox.HOOKS.values() for t in ts if len(t.split("{")[0]) > 12}
    test_hooks = data.loc[data["split"] == "test", "caption"].str.partition("\n")[0]
    assert not any(h.startswith(p) for h in test_hooks for p in sandbox_hooks)
    assert set(data.loc[data["split"] == "test", "caption"]).isdisjoint(data.loc[data["split"] == "train", "caption"])


def test_predictions_are_deterministic_and_retraining_gives_the_same_models(models):
    captions = load_labelled()["caption"].head(200)
    first = predict_factors(captions, models)
    again = predict_factors(captions, train())
    pd.testing.assert_frame_equal(first, again)
    assert models is factor_models()  # cached per process


def test_gibberish_and_off_topic_text_come_back_unknown(models):
    junk = pd.Series(["asdf qwerty zxcv", "xk7 pq2 zz9 wv0", "🙂🙂🙂", "", None, 42])
    out = predict_factors(junk, models)
    for factor in ("hook_pattern", "angle", "cta_style"):
        assert (out[factor] == UNKNOWN).all(), (factor, out[factor].tolist())
    clear = predict_factors(pd.Series(["POV: you finally fixed your sleep\nI was so tired of bad nights\n"
                                       "Follow for part two"]), models).iloc[0]
    assert (clear["hook_pattern"], clear["angle"], clear["cta_style"]) == ("pov", "pain_point", "follow")


@pytest.mark.xfail(reason="threshold 0.3 (cross-validated on train) lets a cue-less line with a known function "
                          "word through: 'sed do eiusmod' reads as a comment CTA at confidence ~0.85", strict=True)
def test_off_topic_text_with_common_words_comes_back_unknown(models):
    out = predict_factors(pd.Series(["lorem ipsum dolor sit amet\nconsectetur adipiscing\nsed do eiusmod"]), models)
    assert (out[["hook_pattern", "angle", "cta_style"]] == UNKNOWN).all(axis=None)


def _market(n: int = 60, with_lift: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(n):
        good = i % 2 == 0
        hook = "Why does nobody talk about this serum?" if good else "Stop buying expensive serums."
        rows.append({"item_id": f"mk_{i}", "platform": "tiktok", "url": f"https://x.test/{i}",
                     "caption": f"{hook}\nThe secret is the order you apply things in.\nFollow for more skincare tips.",
                     "duration_s": float("nan") if i == 1 else 15.0, "hashtags": ["#skincare"],
                     "views": 10_000, "engagements": int(900 if good else 300) + int(rng.integers(50)),
                     "engagement_rate": 0.09 if good else 0.03})
    items = pd.DataFrame(rows)
    return items.assign(engagement_lift=np.where(items.index % 2 == 0, 2.0, 0.5)) if with_lift else items


@pytest.mark.parametrize("with_lift", [False, True])
def test_blueprints_record_evidence_from_real_items(with_lift):
    items = _market(with_lift=with_lift)
    bp, _ = extract_blueprints(items)
    assert list(bp.columns) == [*BLUEPRINT_COLUMNS, "weight"] and len(bp) >= 1
    ids = set(items["item_id"])
    for row in bp.itertuples():
        assert 0 < len(row.evidence_item_ids) <= 20 and set(row.evidence_item_ids) <= ids
        assert len(row.evidence_urls) == len(row.evidence_item_ids)
        assert np.isfinite(row.evidence_lift)
        rows = items[items["item_id"].isin(row.evidence_item_ids)]
        assert (rows["caption"].str.partition("\n")[0] == rows["caption"].iloc[0].partition("\n")[0]).all()
    top = bp.iloc[0]
    assert top["hook_pattern"] == "question" and "mk_1" not in top["evidence_item_ids"]  # no duration: no length
    assert top["evidence_lift"] == pytest.approx(2.0) if with_lift else top["evidence_lift"] > 1
    assert bp["blueprint_id"].tolist() == extract_blueprints(items)[0]["blueprint_id"].tolist()


def test_missing_duration_is_an_unknown_length_excluded_from_length_lifts():
    tagged = tag_factors(_market())
    assert tagged.loc[1, "length_bucket"] == UNKNOWN and (tagged.drop(index=1)["length_bucket"] == "medium").all()
    _, lifts = extract_blueprints(_market())
    assert UNKNOWN not in set(lifts["level"])


def test_clustering_groups_planted_out_of_taxonomy_hooks():
    rng = np.random.default_rng(5)
    things = ["serums", "cardio", "budget apps", "cast iron", "packing cubes", "dog sweaters", "ranked mode",
              "skinny jeans", "robot vacuums", "flashcards"]
    planted = [f"unpopular opinion: {things[i % 10]} are {['overrated', 'useless', 'fine actually'][i % 3]}"
               for i in range(30)]
    others = load_labelled()["caption"].str.partition("\n")[0].sample(150, random_state=1).tolist()
    hooks = pd.Series(planted + others).sample(frac=1.0, random_state=2).reset_index(drop=True)
    lift = pd.Series(rng.lognormal(0, 0.3, len(hooks)))
    labels, table = cluster_hooks(hooks, lift)
    planted_labels = labels[hooks.str.startswith("unpopular opinion")]
    main = planted_labels.mode().iloc[0]
    assert (planted_labels == main).mean() >= 0.9
    cluster = table.set_index("cluster").loc[main]
    assert "unpopular" in cluster["top_terms"] and (labels == main).sum() <= 45
    assert all(h.startswith("unpopular opinion") for h in cluster["example_hooks"])


def _best_cpu_seconds(fn, runs: int = 2):
    """Best of `runs` CPU times of fn() and its last result: on a shared VM one run can be slowed several-fold
    by the host (steal time lands in process CPU time); a regression slows every run."""
    import time

    best, out = float("inf"), None
    for _ in range(runs):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def test_a_hundred_thousand_distinct_captions_are_tagged_in_seconds(models):
    """Guards the vectorised path: per-caption Python (the old ~28 s per 100k) or Python `re` passes over
    the text (~12 s here) fail these bounds (measured 1.8-2.5 s to tag, 0.7-1.5 s to fit, on this shared
    machine). CPU time of this process, not wall time, so other jobs sharing the cores do not make it flaky."""
    from actp_pipeline.extract.learned import fit_models

    train_rows = load_labelled().query("split == 'train'")
    rng = np.random.default_rng(0)
    suffix = pd.Series(rng.integers(0, 10**9, 100_000)).astype(str)
    captions = train_rows["caption"].sample(100_000, replace=True, random_state=0).reset_index(drop=True)
    captions = captions + " w" + suffix  # every caption distinct, and every last line too
    tagging, out = _best_cpu_seconds(lambda: predict_factors(captions, models))
    assert tagging < 5 and len(out) == 100_000, tagging
    assert (out["hook_pattern"] != UNKNOWN).mean() > 0.9
    fitting, _ = _best_cpu_seconds(lambda: fit_models(train_rows["caption"], train_rows))
    assert fitting < 4, fitting


def test_control_characters_line_breaks_and_empty_input():
    """Scraped captions carry NULs, CRLF line ends, hashtag-only and blank lines; none may move the hook."""
    models = factor_models()
    messy = pd.Series(["Why\x00does nobody talk about this?\r\n\r\n#skincare #tips\r\nFollow for more",
                       "#only #tags\n\nStop buying expensive serums.\nComment below"])
    out = predict_factors(messy, models)
    assert out["hook"].tolist() == ["Why does nobody talk about this?", "Stop buying expensive serums."]
    assert out.loc[0, "hook_pattern"] == "question" and out.loc[0, "cta_style"] == "follow"
    empty = predict_factors(pd.Series([], dtype=object), models)
    assert len(empty) == 0 and {"hook", *LEARNED_FACTORS} <= set(empty.columns)
