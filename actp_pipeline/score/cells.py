"""Fair cells: where creatives may be compared at all.

Organic reach is not randomised, so creatives are only compared inside a fair cell (`CELL`): the same
platform, the same account, and an overlapping time window. Windows are formed per (platform, account)
by walking the posts in `live_at` order: the first post opens a window, and every post that went live
at most `comparison_window_h` hours (default 72) after that first post belongs to it; the first post
later than that opens the next window. So every two posts of a cell went live at most
`comparison_window_h` apart, every post is in exactly one cell, and posts going live later never move
an earlier post to another cell (a post backfilled with an earlier live time can). `cell_window` names
the window by its first post's live time ("2026-11-17T09:30", UTC minutes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CELL = ["platform", "account", "cell_window"]
WINDOW_FORMAT = "%Y-%m-%dT%H:%M"


def comparison_windows(platform: pd.Series, account: pd.Series, live_at: pd.Series,
                       window_h: float) -> tuple[np.ndarray, np.ndarray]:
    """(cell id, window start) per row: the fair cell of each post (see the module doc for the rule).

    Cell ids are 0..n_cells-1 in (platform, account, window start) order; window starts are
    datetime64[ns]. Rows without a live time form one window of their own per (platform, account).
    """
    n = len(live_at)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype="datetime64[ns]")
    pair = (pd.DataFrame({"platform": platform.to_numpy(), "account": account.to_numpy()})
            .groupby(["platform", "account"], sort=True, dropna=False).ngroup().to_numpy())
    t = pd.to_datetime(live_at, utc=True).dt.tz_localize(None).to_numpy().astype("datetime64[ns]")  # naive = UTC
    missing = np.isnat(t)
    never = np.iinfo(np.int64).max
    ns = np.where(missing, never, t.astype(np.int64))  # unknown live times sort last within their pair
    order = np.lexsort((ns, pair))
    pair_s, ns_s = pair[order], ns[order]
    width = int(round(window_h * 3600e9))
    start = np.zeros(n, dtype=bool)
    bounds = (np.flatnonzero(np.diff(pair_s)) + 1).tolist()
    for lo, hi in zip([0, *bounds], [*bounds, n]):  # one pass per (platform, account), one step per window
        seg, i = ns_s[lo:hi], lo
        while i < hi:
            start[i] = True
            if ns_s[i] == never:  # the rows without a live time share one window
                break
            i = lo + int(np.searchsorted(seg, ns_s[i] + width, side="right"))
    cell_sorted = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    win_sorted = ns_s[first][cell_sorted]
    cell = np.empty(n, dtype=np.int64)
    cell[order] = cell_sorted
    win = np.empty(n, dtype=np.int64)
    win[order] = win_sorted
    win_t = win.astype("datetime64[ns]")
    win_t[missing] = np.datetime64("NaT")
    return cell, win_t


def window_labels(cell: np.ndarray, window_start: np.ndarray) -> np.ndarray:
    """"2026-11-17T09:30" per row, formatting each cell's start once."""
    if len(cell) == 0:
        return np.zeros(0, dtype=object)
    ids, first = np.unique(cell, return_index=True)
    starts = pd.DatetimeIndex(window_start[first])
    labels = np.asarray(starts.strftime(WINDOW_FORMAT), dtype=object)
    labels[pd.isna(starts)] = "unknown"
    lookup = np.empty(int(ids.max()) + 1, dtype=object)
    lookup[ids] = labels
    return lookup[cell]


def fair_cells(scored: pd.DataFrame) -> pd.DataFrame:
    """One row per fair cell of a scored table: platform, account, cell_window, the first and last live
    time of its posts, posts and scored posts (past the learning gates)."""
    cols = [*CELL, "window_start", "window_end", "posts", "scored_posts"]
    if scored.empty:
        return pd.DataFrame(columns=cols)
    g = scored.assign(_scored=scored["status"] == "scored").groupby(CELL, sort=True)
    out = g.agg(window_start=("live_at", "min"), window_end=("live_at", "max"), posts=("post_id", "size"),
                scored_posts=("_scored", "sum")).reset_index()
    out["scored_posts"] = out["scored_posts"].astype("int64")
    return out[cols]
