"""Surface hook patterns outside the taxonomy: cluster the hook lines the classifiers could not place.

Items whose hook pattern came back "unknown" or with low confidence are the ones the taxonomy may be
missing (an "unpopular opinion:" trend, say). Their hook lines are clustered on word TF-IDF with
average-linkage agglomerative clustering (cosine); each cluster gets its size, top terms, example hooks and engagement lift, so a person can
decide whether it deserves a level. Cost is bounded by MAX_ITEMS (a deterministic sample beyond it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MAX_ITEMS = 2_000  # average-linkage cost grows with the square of this
DISTANCE = 0.85  # cosine distance under which hook groups merge
REVIEW_CONFIDENCE = 0.7  # below this the hook is "low confidence" and goes to review with the unknowns
CLUSTER_COLUMNS = ["cluster", "items", "top_terms", "example_hooks", "lift"]


def cluster_hooks(hooks: pd.Series, lift: pd.Series, *, k: int | None = None, seed: int = 0,
                  max_items: int = MAX_ITEMS) -> tuple[pd.Series, pd.DataFrame]:
    """(cluster label per hook, -1 where not clustered; one row per cluster of two or more, largest
    first). `lift` is each item's engagement relative to its baseline (1 = average); `k` fixes the
    number of clusters instead of cutting the tree at DISTANCE; `seed` picks the sample beyond max_items."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer

    labels = pd.Series(-1, index=hooks.index, dtype=int)
    text = hooks.fillna("").astype(str).str.strip()
    text = text[text.str.contains(r"\w", regex=True)]
    if len(text) > max_items:
        text = text.sample(max_items, random_state=seed).sort_index()
    if len(text) < 4:
        return labels, pd.DataFrame(columns=CLUSTER_COLUMNS)
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, stop_words="english",
                          token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z']+\b")
    try:
        x = vec.fit_transform(text)
    except ValueError:  # every term below min_df: nothing in common to cluster on
        return labels, pd.DataFrame(columns=CLUSTER_COLUMNS)
    has_terms = x.getnnz(axis=1) > 0  # a hook sharing no term with any other has nothing to cluster on
    text, x = text[has_terms], x[has_terms]
    if len(text) < 4:
        return labels, pd.DataFrame(columns=CLUSTER_COLUMNS)
    model = AgglomerativeClustering(n_clusters=k, distance_threshold=None if k else DISTANCE,
                                    metric="cosine", linkage="average").fit(x.toarray())
    found = model.labels_
    labels.loc[text.index] = found
    terms = np.asarray(vec.get_feature_names_out())
    rows = []
    for c in np.unique(found):
        members = text.index[found == c]
        if len(members) < 2:  # a singleton is not a pattern
            continue
        top = terms[np.argsort(np.asarray(x[found == c].mean(axis=0)).ravel())[::-1][:5]]
        rows.append({"cluster": c, "items": len(members), "top_terms": ", ".join(top),
                     "example_hooks": list(text.loc[members][:3]),
                     "lift": float(np.nanmedian(lift.reindex(members).to_numpy(dtype=float)))
                     if lift.reindex(members).notna().any() else float("nan")})
    table = pd.DataFrame(rows, columns=CLUSTER_COLUMNS).sort_values(["items", "cluster"], ascending=[False, True])
    return labels, table.reset_index(drop=True)


def review_clusters(tagged: pd.DataFrame, lift: pd.Series) -> pd.DataFrame:
    """Clusters of the hooks that the hook classifier marked unknown or placed with low confidence."""
    if tagged.empty or "hook_pattern_confidence" not in tagged:
        return pd.DataFrame(columns=CLUSTER_COLUMNS)
    doubtful = (tagged["hook_pattern"] == "unknown") | (tagged["hook_pattern_confidence"] < REVIEW_CONFIDENCE)
    _, table = cluster_hooks(tagged.loc[doubtful, "hook"], lift.loc[doubtful])
    return table
