"""What every stored table must hold, as pure comparisons: a frame in, the labels of its offending rows out.

The asset checks of both code locations are built on these (counts never negative, engagements never above
views, keys unique, no timestamp past a bound). A label is the row's key columns joined by "/", so a check
can name the rows that broke a rule, not only count them.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

ENGAGEMENT_PARTS = ("likes", "comments", "shares", "saves")  # what a platform counts as an engagement


def labels(df: pd.DataFrame, mask: pd.Series, keys: Sequence[str]) -> list[str]:
    """The "/"-joined key columns of the rows `mask` selects, each once, in row order."""
    if df.empty or not mask.any():
        return []
    cols = [k for k in keys if k in df]
    rows = df.loc[mask, cols] if cols else pd.DataFrame({"row": df.index[mask]})
    text = rows.map(_text).agg("/".join, axis=1)
    return list(dict.fromkeys(text))


def _text(v) -> str:
    """A key value as text; a missing one (None, NaN, NA, NaT) as an empty string."""
    return "" if pd.api.types.is_scalar(v) and pd.isna(v) else str(v)


def negative(df: pd.DataFrame, columns: Sequence[str], keys: Sequence[str]) -> list[str]:
    """Rows where any of `columns` (those present) is below zero; unknown values (NA) are not negative."""
    cols = [c for c in columns if c in df]
    if df.empty or not cols:
        return []
    values = df[cols].apply(pd.to_numeric, errors="coerce")
    return labels(df, (values < 0).any(axis=1).fillna(False).astype(bool), keys)


def engagements_over_views(df: pd.DataFrame, keys: Sequence[str], parts: Sequence[str] = ENGAGEMENT_PARTS,
                           views: str = "views") -> list[str]:
    """Rows whose likes + comments + shares + saves (the parts present, unknown ones as 0) exceed their views;
    rows without a known view count are not compared."""
    cols = [c for c in parts if c in df]
    if df.empty or views not in df or not cols:
        return []
    total = df[cols].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)
    seen = pd.to_numeric(df[views], errors="coerce")
    return labels(df, (seen.notna() & (total > seen)).astype(bool), keys)


def duplicates(df: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """The keys held by more than one row (each once)."""
    cols = [k for k in keys if k in df]
    if df.empty or not cols:
        return []
    return labels(df, df.duplicated(cols, keep="first"), cols)


def missing(df: pd.DataFrame, columns: Sequence[str], keys: Sequence[str]) -> list[str]:
    """Rows where any of `columns` (those present) is empty (NA or blank text)."""
    cols = [c for c in columns if c in df]
    if df.empty or not cols:
        return []
    blank = df[cols].isna() | df[cols].apply(lambda s: s.astype(str).str.strip() == "")
    return labels(df, blank.any(axis=1), keys)


def later_than(df: pd.DataFrame, columns: Sequence[str], bound: pd.Timestamp, keys: Sequence[str]) -> list[str]:
    """Rows with a timestamp in any of `columns` (naive UTC) after `bound`."""
    cols = [c for c in columns if c in df]
    if df.empty or not cols:
        return []
    after = pd.concat([pd.to_datetime(df[c], errors="coerce") > bound for c in cols], axis=1).any(axis=1)
    return labels(df, after.astype(bool), keys)


def newest(df: pd.DataFrame, columns: Sequence[str]) -> pd.Timestamp | None:
    """The latest timestamp over `columns` (those present), or None."""
    cols = [c for c in columns if c in df]
    times = [pd.to_datetime(df[c], errors="coerce").max() for c in cols] if len(df) else []
    times = [t for t in times if not pd.isna(t)]
    return max(times) if times else None
