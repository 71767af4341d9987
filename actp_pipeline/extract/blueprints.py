"""Extract: read creative factors off market items and turn what performs into blueprints.

Hook pattern, angle, CTA style and format come from the learned models (extract/learned.py, trained on the
labelled caption set with its held-out accuracy); length comes from the duration (no duration = unknown
length). A blueprint is a factor combination seen in the market with its engagement rate shrunk toward
the market mean (empirical Bayes), so a combination seen once on a lucky post does not top the list, and
it carries its evidence: the market items behind it, their URLs and their engagement lift.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from actp_pipeline.creative import FACTORS, LENGTH_BUCKETS
from actp_pipeline.extract.learned import UNKNOWN, FactorModels, predict_factors

EVIDENCE_CAP = 20  # item ids and URLs kept per blueprint, best engagement first
_TAGGED_EXTRA = ["hook", *FACTORS, *(f"{f}_confidence" for f in FACTORS if f != "length_bucket")]


def length_buckets(duration_s: pd.Series) -> pd.Series:
    """Length bucket per duration; missing or non-numeric durations are "unknown", the rest are clamped
    into the known range (as creative.length_bucket does)."""
    secs = pd.to_numeric(duration_s, errors="coerce")
    edges = [lo for lo, _ in LENGTH_BUCKETS.values()][1:]
    idx = np.searchsorted(np.asarray(edges), secs.fillna(0).to_numpy(dtype=float), side="right")
    names = np.asarray(list(LENGTH_BUCKETS))
    return pd.Series(np.where(secs.notna(), names[idx], UNKNOWN), index=duration_s.index)


def tag_factors(items: pd.DataFrame, models: FactorModels | None = None) -> pd.DataFrame:
    """`items` with one column per creative factor, each learned factor's confidence, and the hook line."""
    base = items.reset_index(drop=True).drop(columns=[c for c in _TAGGED_EXTRA if c in items])
    predicted = predict_factors(base["caption"], models).reset_index(drop=True)
    predicted["length_bucket"] = length_buckets(base["duration_s"]) if "duration_s" in base else UNKNOWN
    return pd.concat([base, predicted[[c for c in _TAGGED_EXTRA if c in predicted]]], axis=1)


def item_lift(tagged: pd.DataFrame) -> pd.Series:
    """Each item's engagement lift: relative to its author's baseline when research supplied it
    (`engagement_lift`), else its engagement rate over the market's."""
    if "engagement_lift" in tagged and pd.to_numeric(tagged["engagement_lift"], errors="coerce").notna().any():
        return pd.to_numeric(tagged["engagement_lift"], errors="coerce")
    base = tagged["engagements"].sum() / max(tagged["views"].sum(), 1)
    er = pd.to_numeric(tagged.get("engagement_rate", tagged["engagements"] / tagged["views"].clip(lower=1)),
                       errors="coerce")
    return er / base if base > 0 else er * np.nan


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


def _top_hashtags(known: pd.DataFrame) -> dict[str, list[str]]:
    """The five hashtags carrying the most engagement per blueprint key."""
    tags = known[["_key", "hashtags", "engagements"]].explode("hashtags").dropna(subset=["hashtags"])
    tags = tags[tags["hashtags"].map(type).eq(str)]
    if tags.empty:
        return {}
    sums = tags.groupby(["_key", "hashtags"], sort=False)["engagements"].sum().reset_index()
    sums = sums.sort_values(["_key", "engagements", "hashtags"], ascending=[True, False, True])
    return sums.groupby("_key")["hashtags"].apply(lambda s: s.head(5).tolist()).to_dict()


def _blueprint_row(key: str, combo: tuple, g: pd.DataFrame, er: float, base: float, tags: list[str]) -> dict:
    top = g.sort_values(["engagements", "item_id"], ascending=[False, True]).head(EVIDENCE_CAP)
    urls = top["url"].where(top["url"].map(type).eq(str)).dropna().tolist() if "url" in top else []
    lifts = g["_lift"].dropna()
    return {
        "blueprint_id": "bp_" + hashlib.sha256(key.encode()).hexdigest()[:10],
        **dict(zip(FACTORS, combo)),
        "length_s": int(np.clip(round(pd.to_numeric(g["duration_s"], errors="coerce").median()), 5, 60)),
        "items": len(g),
        "views": int(g["views"].sum()),
        "engagement_rate": float(er),
        "lift": float(er / base),
        "hashtags": tags,
        "example_hook": str(top.iloc[0]["hook"]),
        "platforms": sorted(g["platform"].astype(str).unique().tolist()),
        "evidence_item_ids": top["item_id"].astype(str).tolist(),
        "evidence_urls": urls,
        "evidence_lift": float(lifts.median()) if len(lifts) else float("nan"),
    }


def extract_blueprints(items: pd.DataFrame, *, top_n: int = 12, prior_views: float = 20_000,
                       min_items: int = 2, tagged: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Blueprints (factor combinations ranked by shrunk engagement rate) and the factor-level lifts.
    Pass `tagged` (from tag_factors) when the caller already tagged the items, to skip doing it twice."""
    tagged = tag_factors(items) if tagged is None else tagged
    tagged = tagged.assign(_lift=item_lift(tagged)) if not tagged.empty else tagged
    known = tagged[(tagged[list(FACTORS)] != UNKNOWN).all(axis=1)] if not tagged.empty else tagged
    lifts = factor_lifts(tagged, prior_views) if not tagged.empty else pd.DataFrame()
    if known.empty:
        return pd.DataFrame(columns=BLUEPRINT_COLUMNS), lifts
    cols = [known[f].astype(str) for f in FACTORS]  # str.cat is vectorised; a row-wise join took ~60 s per 100k
    known = known.assign(_key=cols[0].str.cat(cols[1:], sep="|"))
    base = known["engagements"].sum() / max(known["views"].sum(), 1)
    sums = known.groupby("_key", sort=False).agg(items=("views", "size"), views=("views", "sum"),
                                                 engagements=("engagements", "sum"))
    sums = sums[sums["items"] >= min_items]
    sums["er"] = (sums["engagements"] + prior_views * base) / (sums["views"] + prior_views)
    sums["blueprint_id"] = ["bp_" + hashlib.sha256(k.encode()).hexdigest()[:10] for k in sums.index]
    # rank on group sums first: the evidence rows (sorting inside a group) are built for the top_n only
    chosen = sums.assign(lift=sums["er"] / base).sort_values(["lift", "items", "blueprint_id"],
                                                             ascending=[False, False, True]).head(top_n)
    known = known[known["_key"].isin(chosen.index)]
    hashtags = _top_hashtags(known)
    groups = dict(tuple(known.groupby("_key", sort=False)))
    rows = [_blueprint_row(key, tuple(key.split("|")), groups[key], row.er, base, hashtags.get(key, []))
            for key, row in zip(chosen.index, chosen.itertuples())]
    bp = pd.DataFrame(rows, columns=BLUEPRINT_COLUMNS)
    bp = bp.reset_index(drop=True)
    bp["weight"] = bp["lift"] / bp["lift"].sum() if len(bp) else []
    return bp, lifts


BLUEPRINT_COLUMNS = ["blueprint_id", *FACTORS, "length_s", "items", "views", "engagement_rate", "lift",
                     "hashtags", "example_hook", "platforms", "evidence_item_ids", "evidence_urls", "evidence_lift"]
