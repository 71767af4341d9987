"""Learned factor extraction: one TF-IDF + logistic-regression model per creative factor, trained on the
labelled caption set the project ships (extract/labelled/), scored on its held-out split.

Features come from one tokenisation pass over all captions (features.py): each factor's classifier reads
the part of the caption where its cue lives (hook line, hook + body for the angle, last line, every line
with shape markers for the format). A prediction whose top class probability is below
CONFIDENCE_THRESHOLD becomes "unknown", and so does a part with no word the model knows. C and the
threshold were chosen by 5-fold cross-validation on the train split only (tuning.py; PROVENANCE.md).
Fitted models are cached per process, keyed by the labelled file's hash, so a run trains once (~1 s CPU).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from actp_pipeline.extract.captions import caption_lines, has_words, hooks
from actp_pipeline.extract.features import PartFeatures, PartRows, fit_features

LABELLED_PATH = Path(__file__).with_name("labelled") / "captions.jsonl"
UNKNOWN = "unknown"
# From `python -m actp_pipeline.extract.tuning` (train split only, cross-bank folds): the threshold and C
# that maximised out-of-fold macro-F1 with "unknown" counted as a miss (0.3 for every factor at C=30).
CONFIDENCE_THRESHOLD = 0.3
LEARNED_FACTORS = ("hook_pattern", "angle", "cta_style", "format")
# The caption parts each factor is read from (features.PARTS) and its inverse regularisation C (tuning.py).
FACTOR_PARTS: dict[str, tuple[str, ...]] = {"hook_pattern": ("hook",), "angle": ("hook", "body"),
                                            "cta_style": ("cta",), "format": ("all",)}
FACTOR_C: dict[str, float] = {"hook_pattern": 30.0, "angle": 30.0, "cta_style": 30.0, "format": 30.0}


@dataclass(frozen=True)
class ExtractionReport:
    """Held-out accuracy of the factor models and what they were trained on."""

    macro_f1: dict[str, float]
    per_level: dict[str, dict[str, dict[str, float]]]
    train_size: int
    test_size: int
    data_hash: str
    threshold: float = CONFIDENCE_THRESHOLD
    unknown_share_test: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FactorModels:
    """The shared features, the fitted classifier per factor, and the report of their held-out accuracy."""

    features: PartFeatures
    models: dict
    report: ExtractionReport


def load_labelled(path: Path = LABELLED_PATH) -> pd.DataFrame:
    """The labelled set as a frame; a malformed line is an error naming the file and line."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from None
        missing = [k for k in ("caption", "split", *LEARNED_FACTORS) if not isinstance(row.get(k), str)]
        if missing or row["split"] not in ("train", "test"):
            raise ValueError(f"{path}:{n}: missing or bad fields {missing or ['split']}")
        rows.append(row)
    return pd.DataFrame(rows)


def classifier(c: float):
    """The per-factor classifier: one-vs-rest logistic regression (liblinear: ~10x faster to fit than
    multinomial lbfgs on these sparse features), balanced class weights."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    return OneVsRestClassifier(LogisticRegression(C=c, solver="liblinear", class_weight="balanced"))


def fit_models(captions: pd.Series, labels: pd.DataFrame, c: dict[str, float] | None = None,
               ) -> tuple[PartFeatures, dict]:
    """Features and one fitted classifier per factor from training captions and their labels. BLAS is held
    to one thread: these small fits gain nothing from a second one, whose spin-waiting doubled the CPU."""
    from threadpoolctl import threadpool_limits

    lines = caption_lines(captions)
    features = fit_features(lines)
    x = features.transform(lines)
    c = c or FACTOR_C
    with threadpool_limits(limits=1, user_api="blas"):
        models = {f: classifier(c[f]).fit(features.read(x, FACTOR_PARTS[f]), labels[f].to_numpy())
                  for f in LEARNED_FACTORS}
    return features, models


def _scores(models: dict, x: PartRows) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per factor: (index of the top level in classes_, its probability) per distinct row the factor reads,
    and the row each caption reads. Probability 0 where the factor's parts have no known word. The features
    are finite by construction (idf >= 1, l2-normalised), so sklearn's finiteness scan per estimator is off."""
    from sklearn import config_context

    out = {}
    for f in LEARNED_FACTORS:
        part, row = x.read(FACTOR_PARTS[f])
        with config_context(assume_finite=True):
            proba = models[f].predict_proba(part)
        conf = np.where(np.diff(part.indptr) > 0, proba.max(axis=1), 0.0)
        out[f] = (proba.argmax(axis=1), conf, row)
    return out


def factor_proba(features: PartFeatures, models: dict, x: dict | PartRows,
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per factor: (top level, its probability) per row of x (features.transform's blocks, or the
    distinct rows of features.rows); 0 where the factor's parts have no known word."""
    x = x if isinstance(x, PartRows) else PartRows.of(x)
    return {f: (models[f].classes_[top][row], conf[row]) for f, (top, conf, row) in _scores(models, x).items()}


def _per_level(truth: pd.Series, predicted: np.ndarray, levels: list[str]) -> dict[str, dict[str, float]]:
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=levels, zero_division=0)
    return {lvl: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4), "f1": round(float(f[i]), 4),
                  "support": int(s[i])} for i, lvl in enumerate(levels)}


def train(path: Path = LABELLED_PATH) -> FactorModels:
    """Fit every factor model on the train split and measure macro-F1 on the held-out test split.
    An "unknown" (below the threshold) counts as a miss; the unknown share is reported beside it."""
    from sklearn.metrics import f1_score

    data = load_labelled(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    train_rows, test_rows = data[data["split"] == "train"], data[data["split"] == "test"]
    features, models = fit_models(train_rows["caption"], train_rows)
    found = factor_proba(features, models, features.transform(test_rows["caption"]))
    f1, per_level, unknown = {}, {}, {}
    for factor in LEARNED_FACTORS:
        level, conf = found[factor]
        predicted = np.where(conf >= CONFIDENCE_THRESHOLD, level, UNKNOWN)
        truth = test_rows[factor]
        levels = sorted(models[factor].classes_)
        f1[factor] = round(float(f1_score(truth, predicted, labels=levels, average="macro", zero_division=0)), 4)
        per_level[factor] = _per_level(truth, predicted, levels)
        unknown[factor] = round(float((predicted == UNKNOWN).mean()), 4)
    report = ExtractionReport(f1, per_level, len(train_rows), len(test_rows), digest, unknown_share_test=unknown)
    return FactorModels(features, models, report)


@lru_cache(maxsize=4)
def _cached(path: str, digest: str) -> FactorModels:
    return train(Path(path))


def factor_models(path: Path = LABELLED_PATH) -> FactorModels:
    """The fitted models, trained at most once per process for a given labelled file content."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return _cached(str(path), digest)


def predict_factors(captions: pd.Series, models: FactorModels | None = None) -> pd.DataFrame:
    """Per caption: the hook line, each learned factor (or "unknown" below the confidence threshold) and
    its confidence. Vectorised: one pass for all factors, and each distinct line, hook, body, CTA and whole
    caption is featurised and scored once (features.rows), then taken per caption."""
    models = models or factor_models()
    if len(captions) == 0:  # the classifiers refuse zero rows
        columns = ["hook", *(c for f in LEARNED_FACTORS for c in (f, f"{f}_confidence"))]
        return pd.DataFrame({c: pd.Series(dtype=float if c.endswith("_confidence") else object) for c in columns},
                            index=captions.index)
    lines = caption_lines(captions)
    out = {"hook": hooks(lines).to_pandas().array}  # Arrow-backed: pandas' own string dtype, no Python strings
    has_text = has_words(lines)
    found = _scores(models.models, models.features.rows(lines))
    for factor in LEARNED_FACTORS:
        top, conf, row = found[factor]
        names = pa.array([*models.models[factor].classes_, UNKNOWN], type=pa.large_string())
        level = np.where((conf[row] >= CONFIDENCE_THRESHOLD) & has_text, top[row], len(names) - 1)
        out[factor] = names.take(level).to_pandas().array
        out[f"{factor}_confidence"] = np.round(conf, 4)[row]
    return pd.DataFrame(out, index=captions.index)
