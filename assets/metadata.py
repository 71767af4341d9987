"""Metadata a person reads in the UI: integers with thousands separators, rates rounded, no scientific
notation or 16-digit floats, timestamps to the second, and tables narrow enough to read."""

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

MAX_COLUMNS = 8  # a wider table is split into several, each repeating the key columns
DECIMALS = 4  # at most this many decimals anywhere


def number(x: float, decimals: int = DECIMALS) -> str:
    """A float as text: thousands separators, at most `decimals` decimals, trailing zeros dropped."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "" if x is None or math.isnan(x) else str(x)
    if float(x).is_integer() and abs(x) >= 1:
        return f"{int(x):,}"
    places = 2 if abs(x) >= 100 else decimals
    text = f"{x:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def stamp(t: Any) -> str:
    """A timestamp to the second, ISO 8601 (a `Z`-less UTC offset when it has one)."""
    t = pd.Timestamp(t)
    return t.floor("s").isoformat() if not pd.isna(t) else ""


def cell(x: Any) -> Any:
    """One value ready for a table, a JSON blob or a metadata entry."""
    if isinstance(x, (bool, np.bool_)) or x is None:
        return bool(x) if x is not None else None
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(x) else round(float(x), DECIMALS) if abs(x) < 1e15 else float(x)
    if isinstance(x, (dt.datetime, pd.Timestamp)):
        return stamp(x)
    if isinstance(x, Mapping):
        return {str(k): cell(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set, np.ndarray)):
        return [cell(v) for v in x]
    return x


def as_json(obj: Any) -> dg.MetadataValue:
    """A JSON metadata value with floats rounded and timestamps to the second."""
    return dg.MetadataValue.json(cell(obj))


def _text(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if isinstance(x, (float, np.floating)):
        return number(float(x))
    if isinstance(x, (dt.datetime, pd.Timestamp)):
        return stamp(x)
    if isinstance(x, (list, tuple, np.ndarray)):
        return ", ".join(_text(v) for v in x)
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x)


def md_table(df: pd.DataFrame, limit: int = 20, key: Sequence[str] | None = None) -> dg.MetadataValue:
    """A markdown preview of the first rows. Wider than MAX_COLUMNS, it is split into several tables
    that each repeat the `key` columns (default: the first column)."""
    if df is None or df.empty:
        return dg.MetadataValue.md("_no rows_")
    shown = df.head(limit).map(_text)
    keys = [c for c in (key or [shown.columns[0]]) if c in shown]
    rest = [c for c in shown.columns if c not in keys]
    width = max(MAX_COLUMNS - len(keys), 1)
    parts = [shown[keys + rest[i:i + width]] for i in range(0, len(rest), width)] or [shown[keys]]
    more = f"\n\n_first {limit:,} of {len(df):,} rows_" if len(df) > limit else ""
    return dg.MetadataValue.md("\n\n".join(p.to_markdown(index=False, disable_numparse=True) for p in parts) + more)



def cell_name(key) -> str:
    """A fair cell's groupby key (platform, account, window) as "platform/account/window"."""
    return "/".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
