"""Research: which hashtags lift engagement, how crowded each one is, and ladders of them per topic.

One row per hashtag over the market items of a window (vectorised: numpy group sums over the exploded
(item, tag) pairs, no Python loop per item or tag).

Lift. An item's lift is its engagement rate relative to its author's own baseline (`engagement_lift`,
when market items carry it) or, without that column, relative to its platform's mean rate (engagements /
views over the window). Log lifts are centred per platform, so lift 1 is the platform's typical item of the
window (geometric mean): a ratio to an arithmetic mean is below 1 for most items, and shrinking toward an
uncentred 1 would lift every rarely seen tag above the well-measured ones. Per tag we pool the items' log
lifts:

- each item's log lift is clipped to +-ln(ITEM_LIFT_CAP): one viral post is a lottery ticket, not
  evidence about its tags;
- the item spread ``s2`` is the pooled within-tag variance of the clipped log lifts (floored at
  MIN_ITEM_VAR);
- prior: the tag's true log lift ~ N(0, PRIOR_SD^2), i.e. a hashtag alone rarely moves engagement by
  more than about +-20% (PRIOR_SD = 0.10: 95% of tags between 0.82x and 1.22x). With a typical item
  spread (log sd 0.4) the prior weighs as much as 16 items. The posterior mean
  ``m = mean * (n / s2) / (n / s2 + 1 / PRIOR_SD^2)`` shrinks a tag seen a few times toward lift 1, so
  a tag seen twice with a huge rate cannot top the ranking; ``lift = exp(m)``, with a 95% interval
  ``exp(m +- 1.96 se)``, ``se = (n / s2 + 1 / PRIOR_SD^2) ** -0.5`` (``lift_se`` is on the log scale).

Saturation (how crowded a tag is): `saturation` is the share of the newest day's items that carry the
tag (0.3 = three posts in ten); `share_growth` is that share over the tag's share of the window's
earlier days, each share smoothed with one pseudo-item (``(k + 1) / (n + 1)``) so it stays finite. A
tag whose saturation is high and growing is crowding: posts under it compete with many others.

Ladders: tags are grouped per topic, then tiered by usage. The topic ladder holds the topic tag
(``#`` + the topic's letters, e.g. #skincare) and every tag of which at least TOPIC_MIN_SHARE of the
items also carry the topic tag (co-occurrence); any other tag goes to its platform's ladder (the
platform most of its items come from). Within a ladder, among tags with at least MIN_LADDER_ITEMS
items: broad = usage at or above the BROAD_QUANTILE of the ladder's usage, niche = below the
NICHE_QUANTILE, mid = between. Rarer tags have tier "rare". The thresholds (in items) are columns.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

TABLE = "hashtag_stats"
ITEM_LIFT_CAP = 4.0  # an item counts at most 4x (or at least 1/4x) its baseline
PRIOR_SD = 0.10  # prior sd of a tag's log lift
MIN_ITEM_VAR = 0.01  # floor of the item spread (log scale), so a uniform market does not make every tag certain
Z95 = 1.959963984540054
TOPIC_MIN_SHARE = 0.25  # a tag joins the topic ladder when a quarter of its items also carry the topic tag
MIN_LADDER_ITEMS = 3
BROAD_QUANTILE, NICHE_QUANTILE = 0.8, 0.4
TIERS = ("broad", "mid", "niche")
RARE = "rare"
AUTHOR_LIFT, PLATFORM_LIFT = "author_baseline", "platform_mean"

COLUMNS = ["tag", "rank", "ladder", "tier", "tier_min_items", "tier_max_items", "items", "authors", "views",
           "engagements", "engagement_rate", "raw_lift", "lift", "lift_low", "lift_high", "lift_se",
           "topic_share", "platform", "newest_day", "newest_day_items", "saturation", "earlier_share",
           "share_growth", "lift_basis"]
NEEDED = ["platform", "author", "hashtags", "views", "engagements", "collected_for"]


def topic_tag(topic: str) -> str:
    """The hashtag of a topic: '#' and its letters and digits, lower case ("Skin care" -> "#skincare")."""
    return "#" + re.sub(r"\W+", "", topic.lower())


def _item_log_lift(items: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Each item's clipped log lift, centred per platform (see the module's docstring), and its baseline."""
    cap = np.log(ITEM_LIFT_CAP)
    plat, plat_names = pd.factorize(items["platform"])
    basis = PLATFORM_LIFT
    lift = pd.to_numeric(items["engagement_lift"], errors="coerce").to_numpy(float) \
        if "engagement_lift" in items else np.array([np.nan])
    if np.isfinite(lift).any():
        log_lift = np.log(np.where(np.isfinite(lift) & (lift > 0), lift, 1.0))  # no baseline: counts as average
        basis = AUTHOR_LIFT
    else:
        views = items["views"].to_numpy(float)
        eng = items["engagements"].to_numpy(float)
        mean = np.bincount(plat, eng, len(plat_names)) / np.maximum(np.bincount(plat, views, len(plat_names)), 1)
        log_lift = np.log(np.maximum(eng / np.maximum(views, 1), 1e-9) / np.maximum(mean[plat], 1e-9))
    log_lift = np.clip(log_lift, -cap, cap)
    typical = np.bincount(plat, log_lift, len(plat_names)) / np.maximum(np.bincount(plat, minlength=len(plat_names)), 1)
    return np.clip(log_lift - typical[plat], -cap, cap), basis


def _explode(arr) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item position, tag code) of every tag of every item, and the tag names by code (sorted): the Arrow
    list array flattened and dictionary-encoded, no Python loop per tag."""
    import pyarrow.compute as pc

    pos = pc.list_parent_indices(arr).to_numpy()
    enc = pc.dictionary_encode(arr.flatten())
    names = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    return pos.astype(np.int64), rank[enc.indices.to_numpy(zero_copy_only=False)], names[order]


def _tag_list(tags) -> bool:
    if tags is None or (isinstance(tags, float) and tags != tags):
        return True
    return not isinstance(tags, (str, bytes)) and hasattr(tags, "__iter__") and all(isinstance(t, str) for t in tags)


def _well_formed(items: pd.DataFrame):
    """(the items whose hashtags are a list of strings, one line per skipped item saying why, their hashtags as
    an Arrow list array). Cheap on good input: the per-element check runs only when a row is text or Arrow
    refuses the column."""
    import pyarrow as pa

    tags, kind = items["hashtags"], pa.list_(pa.string())
    if not np.fromiter((isinstance(t, (str, bytes)) for t in tags), bool, len(tags)).any():
        try:
            return items, [], pa.array(tags, type=kind, from_pandas=True)  # None / NaN: a null list, no tags
        except (pa.ArrowException, TypeError, ValueError):
            pass
    good = np.fromiter((_tag_list(t) for t in tags), bool, len(tags))
    ids = items["item_id"] if "item_id" in items else pd.Series(items.index.astype(str), index=items.index)
    skipped = [f"item {i}: hashtags {str(t)[:60]!r} are not a list of '#tag' strings"
               for i, t in zip(ids[~good], tags[~good])]
    items = items[good].reset_index(drop=True)
    return items, skipped, pa.array(items["hashtags"], type=kind, from_pandas=True)


def _shrunk(tag: np.ndarray, n_tags: int, log_lift: np.ndarray) -> dict[str, np.ndarray]:
    """Per tag: raw and shrunk lift with its interval (see the module's docstring)."""
    n = np.bincount(tag, minlength=n_tags).astype(float)
    total = np.bincount(tag, log_lift, n_tags)
    mean = total / np.maximum(n, 1)
    within = np.bincount(tag, log_lift ** 2, n_tags) - n * mean ** 2
    dof = len(tag) - n_tags
    s2 = max(float(within.sum()) / dof if dof > 0 else 0.0, MIN_ITEM_VAR)
    precision = n / s2 + 1.0 / PRIOR_SD ** 2
    m = mean * (n / s2) / precision
    se = precision ** -0.5
    return {"raw_lift": np.exp(mean), "lift": np.exp(m), "lift_low": np.exp(m - Z95 * se),
            "lift_high": np.exp(m + Z95 * se), "lift_se": se}


def _main_platform(tag: np.ndarray, n_tags: int, codes: np.ndarray, names: np.ndarray) -> np.ndarray:
    """The platform most of each tag's items come from (the first by name on a tie)."""
    counts = np.bincount(tag * len(names) + codes, minlength=n_tags * len(names)).reshape(n_tags, len(names))
    return names[counts.argmax(axis=1)]


def _author_codes(author: pd.Series) -> np.ndarray:
    """A code per author; an item without an author is its own author (one unknown is not everyone)."""
    codes = pd.factorize(author)[0]
    blank = (codes < 0) | (author.to_numpy(object) == "")
    codes = codes.astype(np.int64)
    codes[blank] = codes.max(initial=0) + 1 + np.arange(int(blank.sum()))
    return codes


def _ladders(stats: pd.DataFrame, topic: str | None) -> pd.DataFrame:
    """Ladder, tier and the tier's usage thresholds per tag (see the module's docstring)."""
    own = topic_tag(topic) if topic else None
    on_topic = (stats["topic_share"] >= TOPIC_MIN_SHARE) | (stats["tag"] == own) if own else False
    stats["ladder"] = np.where(on_topic, topic or "", "platform:" + stats["platform"].astype(str))
    stats["tier"], stats["tier_min_items"], stats["tier_max_items"] = RARE, 0, MIN_LADDER_ITEMS - 1
    for _, g in stats[stats["items"] >= MIN_LADDER_ITEMS].groupby("ladder"):
        broad = float(np.quantile(g["items"], BROAD_QUANTILE))
        niche = float(np.quantile(g["items"], NICHE_QUANTILE))
        tier = np.where(g["items"] >= broad, "broad", np.where(g["items"] < niche, "niche", "mid"))
        stats.loc[g.index, "tier"] = tier
        for name in TIERS:
            members = g["items"][tier == name]
            if len(members):
                stats.loc[members.index, "tier_min_items"] = int(members.min())
                stats.loc[members.index, "tier_max_items"] = int(members.max())
    return stats


def hashtag_stats(items: pd.DataFrame, *, topic: str | None = None) -> pd.DataFrame:
    """One row per hashtag of `items` (market items of a window): usage, lift, saturation, ladder and tier,
    ranked by shrunk lift (rank 1 = best). Empty input gives an empty table with COLUMNS. An item whose
    hashtags are not a list of strings is skipped and named in `attrs["skipped"]`."""
    absent = [c for c in NEEDED if c not in items]
    if absent:
        raise ValueError(f"hashtag_stats: market items lack the columns {absent}")
    if items.empty:
        return pd.DataFrame(columns=COLUMNS)
    items, skipped, arr = _well_formed(items.reset_index(drop=True))
    stats = _tag_table(items, arr, topic)
    stats.attrs["skipped"] = skipped
    return stats


def _tag_table(items: pd.DataFrame, arr, topic: str | None) -> pd.DataFrame:
    log_lift, basis = _item_log_lift(items)
    pos, tag, names = _explode(arr)
    if not len(tag):
        return pd.DataFrame(columns=COLUMNS)
    n_tags = len(names)
    author_codes = _author_codes(items["author"])
    span = int(author_codes.max()) + 1
    distinct = np.unique(tag * span + author_codes[pos]) // span
    own = topic_tag(topic) if topic else None
    carries_topic = np.zeros(len(items), bool)
    if own and own in names:
        carries_topic[pos[tag == int(np.searchsorted(names, own))]] = True
    day, days = pd.factorize(items["collected_for"].astype(str), sort=True)
    newest = str(days[-1])
    plat, platforms = pd.factorize(items["platform"], sort=True)
    views = np.bincount(tag, items["views"].to_numpy(float)[pos], n_tags)
    eng = np.bincount(tag, items["engagements"].to_numpy(float)[pos], n_tags)
    n = np.bincount(tag, minlength=n_tags)
    stats = pd.DataFrame({
        "tag": np.asarray(names, dtype=object), "items": n, "authors": np.bincount(distinct, minlength=n_tags),
        "views": views.astype(np.int64), "engagements": eng.astype(np.int64),
        "engagement_rate": eng / np.maximum(views, 1), **_shrunk(tag, n_tags, log_lift[pos]),
        "topic_share": np.bincount(tag, carries_topic[pos].astype(float), n_tags) / np.maximum(n, 1),
        "platform": _main_platform(tag, n_tags, plat[pos], np.asarray(platforms, dtype=object)),
        "newest_day": newest, **_saturation(tag, n_tags, day[pos] == len(days) - 1, day == len(days) - 1),
        "lift_basis": basis,
    })
    stats = _ladders(stats, topic)
    stats = stats.sort_values(["lift", "items", "tag"], ascending=[False, False, True], kind="stable")
    stats["rank"] = np.arange(1, len(stats) + 1)
    return stats[COLUMNS].reset_index(drop=True)


def _saturation(tag: np.ndarray, n_tags: int, on_newest: np.ndarray, item_on_newest: np.ndarray
                ) -> dict[str, np.ndarray]:
    """Per tag: the share of the newest day's items carrying it, and its growth over the earlier days' share
    (`on_newest`: per (item, tag) pair; `item_on_newest`: per item)."""
    n_new = int(item_on_newest.sum())
    n_old = len(item_on_newest) - n_new
    k_new = np.bincount(tag[on_newest], minlength=n_tags)
    k_old = np.bincount(tag[~on_newest], minlength=n_tags)
    growth = ((k_new + 1) / (n_new + 1)) / ((k_old + 1) / (n_old + 1)) if n_old else np.full(n_tags, np.nan)
    return {"newest_day_items": k_new, "saturation": k_new / max(n_new, 1),
            "earlier_share": k_old / n_old if n_old else np.full(n_tags, np.nan), "share_growth": growth}


def ladder_tags(stats: pd.DataFrame, n_broad: int = 1, n_mid: int = 2, n_niche: int = 2, *,
                ladder: str | None = None) -> list[str]:
    """Hashtags for one post: the best `n_broad` broad, `n_mid` mid and `n_niche` niche tags of a ladder by
    shrunk lift (reach from the broad ones, a less crowded audience from the niche ones). `ladder`: the
    topic's when the topic matched, else the platform ladder with the most tag uses; "platform:tiktok" asks for
    one platform's)."""
    if stats is None or stats.empty:
        return []
    ranked = stats[stats["tier"].isin(TIERS)]
    if ladder is None and len(ranked):
        topics = ranked.loc[~ranked["ladder"].str.startswith("platform:"), "ladder"]
        ladder = str(topics.iloc[0]) if len(topics) else \
            str(ranked.groupby("ladder")["items"].sum().sort_values(ascending=False, kind="stable").index[0])
    mine = ranked[ranked["ladder"] == ladder].sort_values(["lift", "items", "tag"], ascending=[False, False, True])
    picks: list[str] = []
    for tier, k in zip(TIERS, (n_broad, n_mid, n_niche)):
        picks += mine.loc[mine["tier"] == tier, "tag"].head(max(k, 0)).tolist()
    return picks
