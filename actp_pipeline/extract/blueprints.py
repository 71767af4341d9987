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
import pyarrow as pa

from actp_pipeline.creative import FACTORS, LENGTH_BUCKETS
from actp_pipeline.extract.learned import UNKNOWN, FactorModels, predict_factors
from actp_pipeline.store.warehouse import Warehouse

EVIDENCE_CAP = 20  # item ids and URLs kept per blueprint, best engagement first
# the columns a blueprint's evidence reads (taken for the chosen combinations' rows only)
_EVIDENCE = ["item_id", "url", "hook", "platform", "duration_s", "views", "engagements", "hashtags", "_lift"]
# the market_items columns extraction reads (captions, durations, counts, lift, and the evidence's)
ITEM_COLUMNS = ["item_id", "platform", "url", "caption", "hashtags", "duration_s", "views", "engagements",
                "engagement_rate", "engagement_lift"]
_TAGGED_EXTRA = ["hook", *FACTORS, *(f"{f}_confidence" for f in FACTORS if f != "length_bucket")]


def market(wh: Warehouse, days: list[str]) -> pd.DataFrame:
    """The market items of `days` that extraction reads, through Arrow (no Python string per caption)."""
    return wh.read_arrow("market_items", days, ITEM_COLUMNS).to_pandas()


def length_buckets(duration_s: pd.Series) -> pd.Series:
    """Length bucket per duration; missing or non-numeric durations are "unknown", the rest are clamped
    into the known range (as creative.length_bucket does)."""
    secs = pd.to_numeric(duration_s, errors="coerce")
    edges = [lo for lo, _ in LENGTH_BUCKETS.values()][1:]
    idx = np.searchsorted(np.asarray(edges), secs.fillna(0).to_numpy(dtype=float), side="right")
    names = pa.array([*LENGTH_BUCKETS, UNKNOWN], type=pa.large_string())
    codes = np.where(secs.notna().to_numpy(), idx, len(names) - 1)
    return pd.Series(names.take(codes).to_pandas().array, index=duration_s.index)  # pandas' string dtype


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


def _factor_codes(tagged: pd.DataFrame) -> dict[str, tuple[np.ndarray, pd.Index]]:
    """Per factor: each row's level code (-1 where missing) and the levels, sorted as groupby sorts them."""
    return {f: pd.factorize(tagged[f], sort=True) for f in FACTORS}


def factor_lifts(tagged: pd.DataFrame, prior_views: float = 20_000,
                 codes: dict[str, tuple[np.ndarray, pd.Index]] | None = None) -> pd.DataFrame:
    """Per factor level: items, views and engagement rate shrunk toward the market mean, as a lift.
    Levels are factorised once per factor (`codes`, from _factor_codes) and the sums grouped on the
    integer codes: grouping the string column, or the whole tagged frame, cost several times more."""
    base = tagged["engagements"].sum() / max(tagged["views"].sum(), 1)
    sums, frames = tagged[["views", "engagements"]], []
    for f, (codes, levels) in (codes or _factor_codes(tagged)).items():
        kept = codes >= 0  # a missing level is no group (groupby drops it too); every other level is seen
        g = sums[kept].groupby(codes[kept]).sum()
        frames.append(pd.DataFrame({"factor": f, "level": levels,
                                    "items": np.bincount(codes[kept], minlength=len(levels)),
                                    "views": g["views"].to_numpy(), "engagements": g["engagements"].to_numpy()}))
    out = pd.concat(frames, ignore_index=True)
    out["er"] = (out["engagements"] + prior_views * base) / (out["views"] + prior_views)
    out["lift"] = out["er"] / base
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


def _blueprint_row(key: str, g: pd.DataFrame, top: pd.DataFrame, er: float, base: float, tags: list[str]) -> dict:
    """One blueprint from its items `g` and their best-engagement rows `top`, with their evidence."""
    urls = top["url"].where(top["url"].map(type).eq(str)).dropna().tolist() if "url" in top else []
    lifts = g["_lift"].dropna()
    return {
        "blueprint_id": "bp_" + hashlib.sha256(key.encode()).hexdigest()[:10],
        **dict(zip(FACTORS, key.split("|"))),
        "length_s": int(np.clip(round(pd.to_numeric(g["duration_s"], errors="coerce").median()), 5, 60)),
        "items": len(g),
        "views": int(g["views"].sum()),
        "engagement_rate": float(er),
        "lift": float(er / base),
        "hashtags": tags,
        "example_hook": str(top["hook"].iloc[0]),
        "platforms": sorted(g["platform"].astype(str).unique().tolist()),
        "evidence_item_ids": top["item_id"].astype(str).tolist(),
        "evidence_urls": urls,
        "evidence_lift": float(lifts.median()) if len(lifts) else float("nan"),
    }


def _blueprint_rows(evidence: pd.DataFrame, chosen: pd.DataFrame, keys: pd.Series, base: float) -> list[dict]:
    """The chosen combinations' rows. The evidence is ranked once (best engagement, then item id: a stable
    sort, so each combination's rows keep the order sorting them alone gives) and cut per combination."""
    hashtags = _top_hashtags(evidence)
    groups = dict(tuple(evidence.groupby("_key", sort=False)))
    ranked = evidence.sort_values(["engagements", "item_id"], ascending=[False, True])
    tops = dict(tuple(ranked.groupby("_key", sort=False).head(EVIDENCE_CAP).groupby("_key", sort=False)))
    return [_blueprint_row(keys[k], groups[keys[k]], tops[keys[k]], row.er, base, hashtags.get(keys[k], []))
            for k, row in zip(chosen.index, chosen.itertuples())]


def _combinations(tagged: pd.DataFrame, codes: dict[str, tuple[np.ndarray, pd.Index]],
                  ) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """The rows whose factors are all known, per such row its factor combination (numbered in order of first
    appearance, -1 where a factor is missing) and each combination's key "level|level|..." (the levels as
    str). Keys are joined for one row per combination: joining them for every row took ~0.25 s per 100k."""
    combined, span = np.zeros(len(tagged), dtype=np.int64), 1
    missing, known = np.zeros(len(tagged), dtype=bool), np.ones(len(tagged), dtype=bool)
    for f in FACTORS:
        col = tagged[f]  # a string column's levels are its str values; others are grouped as str, as keyed
        level, uniques = codes[f] if isinstance(col.dtype, pd.StringDtype) else pd.factorize(col.astype(str))
        if UNKNOWN in uniques:
            known &= level != uniques.get_loc(UNKNOWN)
        missing |= level < 0
        if span * (len(uniques) + 1) >= 2**62:  # renumber before the mixed code could overflow
            combined = pd.factorize(combined)[0].astype(np.int64)
            span = int(combined.max()) + 1
        combined, span = combined * (len(uniques) + 1) + level + 1, span * (len(uniques) + 1)
    rows = np.flatnonzero(known)
    combined, missing = combined[rows], missing[rows]
    ids = np.full(len(rows), -1, dtype=np.int64)
    ids[~missing] = pd.factorize(combined[~missing])[0]
    top = np.maximum.accumulate(ids) if len(ids) else ids
    at = rows[np.flatnonzero((ids >= 0) & np.r_[True, top[1:] > top[:-1]])]
    cols = [tagged[f].iloc[at].astype(str) for f in FACTORS]
    return rows, ids, cols[0].str.cat(cols[1:], sep="|").reset_index(drop=True)


def extract_blueprints(items: pd.DataFrame, *, top_n: int = 12, prior_views: float = 20_000,
                       min_items: int = 2, tagged: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Blueprints (factor combinations ranked by shrunk engagement rate) and the factor-level lifts.
    Pass `tagged` (from tag_factors) when the caller already tagged the items, to skip doing it twice."""
    tagged = tag_factors(items) if tagged is None else tagged
    tagged = tagged.assign(_lift=item_lift(tagged)) if not tagged.empty else tagged
    if tagged.empty:
        return pd.DataFrame(columns=BLUEPRINT_COLUMNS), pd.DataFrame()
    codes = _factor_codes(tagged)
    lifts = factor_lifts(tagged, prior_views, codes)
    rows, ids, keys = _combinations(tagged, codes)
    if len(rows) == 0:
        return pd.DataFrame(columns=BLUEPRINT_COLUMNS), lifts
    known = tagged[["views", "engagements"]].iloc[rows]
    base = known["engagements"].sum() / max(known["views"].sum(), 1)
    valid = ids >= 0  # combinations are numbered 0..k-1 in order of first appearance, as groupby(sort=False)
    sums = known[valid].groupby(ids[valid], sort=False)[["views", "engagements"]].sum()
    sums.insert(0, "items", np.bincount(ids[valid], minlength=len(sums)))
    sums = sums[sums["items"] >= min_items]
    sums["er"] = (sums["engagements"] + prior_views * base) / (sums["views"] + prior_views)
    sums["blueprint_id"] = ["bp_" + hashlib.sha256(k.encode()).hexdigest()[:10] for k in keys.to_numpy()[sums.index]]
    # rank on group sums first: the evidence rows (sorting inside a group) are built for the top_n only
    chosen = sums.assign(lift=sums["er"] / base).sort_values(["lift", "items", "blueprint_id"],
                                                             ascending=[False, False, True]).head(top_n)
    picked = np.isin(ids, chosen.index.to_numpy())
    evidence = tagged[[c for c in _EVIDENCE if c in tagged]].iloc[rows[picked]]
    rows_out = _blueprint_rows(evidence.assign(_key=keys.take(ids[picked]).to_numpy()), chosen, keys, base)
    bp = pd.DataFrame(rows_out, columns=BLUEPRINT_COLUMNS)
    bp = bp.reset_index(drop=True)
    bp["weight"] = bp["lift"] / bp["lift"].sum() if len(bp) else []
    return bp, lifts


BLUEPRINT_COLUMNS = ["blueprint_id", *FACTORS, "length_s", "items", "views", "engagement_rate", "lift",
                     "hashtags", "example_hook", "platforms", "evidence_item_ids", "evidence_urls", "evidence_lift"]
