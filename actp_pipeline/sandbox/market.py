"""Market items of the sandbox world: competitor posts and ad library entries, some malformed on purpose.

Each item is drawn from its own named random stream (seed, day, platform, index), its factors are
spelled out in the caption with the cues described in captions.py, and its engagement comes from the
same appeal model as the pipeline's own posts, so the winners in the market hint at what works.
A share of items (malformed_rate) is then corrupted in one of four ways: a missing field, a wrong type,
an absurd number, or hostile text; the record keeps the kind so evaluation code can check validation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from . import captions
from .clock import iso
from .seeding import derive_hex, stream
from .model import ENGAGEMENT_SPLIT, FACTOR_LEVELS, HOURLY_REACH, SPLIT_CONCENTRATION, WorldModel

MARKET_REACH_SCALE = 3.0  # competitor posts reach this many times the sandbox account's audience (median)
CREATOR_SIZE_SD = 0.9  # lognormal sd of creator size (hides reach signal, keeps rate signal)
MARKET_VIEW_NOISE_SD = 0.3
MARKET_ER_NOISE_SD = 0.20
AD_PLATFORM_WEIGHTS = {"instagram": 0.5, "tiktok": 0.3, "youtube": 0.2}
SPEND_BANDS_USD = ((0, 100), (100, 500), (500, 1000), (1000, 5000), (5000, 10000), (10000, 50000), (50000, 100000))
LENGTH_RANGES_S = {"short": (6.0, 11.9), "medium": (12.0, 19.9), "long": (20.0, 45.0)}
MALFORMED_KINDS = ("missing_field", "wrong_type", "absurd_number", "hostile_text")
REQUIRED_FIELDS = ("id", "platform", "kind", "author", "url", "caption", "hashtags", "posted_at", "duration_s",
                   "views", "likes", "comments", "shares", "saves")

_HANDLE_PREFIX = ("glow", "daily", "the", "real", "simply", "honest", "clear", "fresh", "its", "just")
_HANDLE_CORE = ("{slug}", "skin", "beauty", "routine", "care", "selfcare", "{slug}diary")
_HANDLE_SUFFIX = ("", "_", "hq", "club", "life", "lab", "with{name}", "by{name}")
_BRANDS = ("Lumen", "Dewdrop", "Verde", "Solace", "Northwind", "Petal & Co", "Clearline", "Halo", "Bloom Lab", "Kindred")


@dataclass(frozen=True)
class MarketRecord:
    """One market item as served, plus what evaluation code may know about it."""

    item: dict[str, Any]
    factors: dict[str, str]
    true_er: float
    malformed: str | None = None
    malformed_detail: str | None = None

    def truth(self, index: int) -> dict[str, Any]:
        return {
            "index": index,
            "id": self.item.get("id") if isinstance(self.item.get("id"), str) else None,
            "kind": "ad" if "impressions" in self.item or self.item.get("kind") == "ad" else "post",
            "factors": self.factors,
            "true_er": self.true_er,
            "malformed": self.malformed,
            "malformed_detail": self.malformed_detail,
        }


def _handle(rng: np.random.Generator, topic: str) -> str:
    slug = captions.topic_slug(topic)
    name = captions.FIRST_NAMES[int(rng.integers(len(captions.FIRST_NAMES)))].lower()
    parts = [
        _HANDLE_PREFIX[int(rng.integers(len(_HANDLE_PREFIX)))],
        _HANDLE_CORE[int(rng.integers(len(_HANDLE_CORE)))],
        _HANDLE_SUFFIX[int(rng.integers(len(_HANDLE_SUFFIX)))],
    ]
    handle = "".join(parts).format(slug=slug, name=name)
    if rng.random() < 0.3:
        handle += str(int(rng.integers(1, 100)))
    return handle


def _posting_time(rng: np.random.Generator, day_start: datetime) -> datetime:
    weights = np.array(HOURLY_REACH) / sum(HOURLY_REACH)
    hour = int(rng.choice(24, p=weights))
    return day_start + timedelta(hours=hour, seconds=int(rng.integers(3600)))


def _draw_creative(world: WorldModel, rng: np.random.Generator, platform: str) -> tuple[dict[str, str], str, str, float, dict]:
    factors = {f: levels[int(rng.integers(len(levels)))] for f, levels in FACTOR_LEVELS.items()}
    lo, hi = LENGTH_RANGES_S[factors["length_bucket"]]
    length_s = round(float(rng.uniform(lo, hi)), 1)
    caption, hook = captions.compose(rng, factors, world.config.topic)
    descriptor = {k: factors[k] for k in ("hook_pattern", "angle", "cta_style", "format")}
    descriptor.update(length_bucket=factors["length_bucket"], length_s=length_s, hook=hook)
    app = world.true_appeal(descriptor, platform)
    return factors, caption, hook, length_s, app


def _engagement(rng: np.random.Generator, views: int, true_er: float) -> dict[str, int]:
    er = min(true_er * math.exp(rng.normal(-(MARKET_ER_NOISE_SD**2) / 2.0, MARKET_ER_NOISE_SD)), 0.9)
    split = rng.dirichlet([SPLIT_CONCENTRATION * w for w in ENGAGEMENT_SPLIT.values()])
    return {name: int(rng.binomial(views, min(er * float(s), 1.0))) for name, s in zip(ENGAGEMENT_SPLIT, split)}


def market_records(world: WorldModel, day: str, platform: str) -> list[MarketRecord]:
    cfg = world.config
    day_start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    drafts = []
    for i in range(int(cfg.market_items_per_day)):
        rng = stream(cfg.seed, "market", day, platform, i)
        factors, caption, _hook, length_s, app = _draw_creative(world, rng, platform)
        posted_at = _posting_time(rng, day_start)
        views = (
            cfg.audience_of(platform) * MARKET_REACH_SCALE * rng.lognormal(0.0, CREATOR_SIZE_SD)
            * app["reach_multiplier"] * world.hour_effect(posted_at, platform) * rng.lognormal(0.0, MARKET_VIEW_NOISE_SD)
        )
        views = max(int(round(views)), 50)
        item_id = "mk_" + derive_hex(cfg.seed, "market", day, platform, i, length=14)
        author = _handle(rng, cfg.topic)
        item = {
            "id": item_id,
            "platform": platform,
            "kind": "post",
            "author": author,
            "url": f"https://sandbox.actp.local/{platform}/@{author}/video/{item_id}",
            "caption": caption,
            "hashtags": captions.hashtags(rng, cfg.topic, platform, factors["angle"]),
            "posted_at": iso(posted_at),
            "duration_s": length_s,
            "views": views,
            **_engagement(rng, views, app["true_er"]),
        }
        drafts.append((posted_at, item_id, i, item, factors, app["true_er"]))
    drafts.sort(key=lambda d: (d[0], d[1]))
    return [_finish(cfg, ("market", day, platform, i), item, factors, er) for _, _, i, item, factors, er in drafts]


def ad_records(world: WorldModel, day: str) -> list[MarketRecord]:
    cfg = world.config
    day_start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    platforms = list(cfg.platforms)
    weights = np.array([AD_PLATFORM_WEIGHTS.get(p, 0.2) for p in platforms], dtype=float)
    weights /= weights.sum()
    drafts = []
    for i in range(int(cfg.ads_per_day)):
        rng = stream(cfg.seed, "ads", day, i)
        platform = platforms[int(rng.choice(len(platforms), p=weights))]
        factors, caption, _hook, length_s, app = _draw_creative(world, rng, platform)
        appeal = app["appeal_logit"]
        # Ads that work keep running: active days grow with appeal.
        active_days = int(np.clip(round(float(rng.lognormal(math.log(6.0) + 1.5 * appeal, 0.6))), 1, 90))
        started = day_start - timedelta(days=active_days - 1) + timedelta(seconds=int(rng.integers(86400)))
        daily_spend = float(rng.lognormal(math.log(60.0), 0.8))
        spend = daily_spend * active_days
        lo, hi = next(((a, b) for a, b in SPEND_BANDS_USD if a <= spend < b), SPEND_BANDS_USD[-1])
        cpm = 9.0 * math.exp(-0.4 * appeal) * float(rng.lognormal(0.0, 0.2))
        impressions = max(int(spend / cpm * 1000.0), 100)
        view_rate = float(np.clip(0.35 * app["reach_multiplier"] * rng.lognormal(0.0, 0.15), 0.05, 0.95))
        views = max(int(impressions * view_rate), 10)
        brand = _BRANDS[int(rng.integers(len(_BRANDS)))]
        page_name = f"{brand} {cfg.topic.strip().title()}"
        author = captions.topic_slug(brand + cfg.topic)
        item_id = "ad_" + derive_hex(cfg.seed, "ads", day, i, length=14)
        item = {
            "id": item_id,
            "platform": platform,
            "kind": "ad",
            "author": author,
            "url": f"https://sandbox.actp.local/ads/{platform}/{item_id}",
            "caption": caption,
            "hashtags": captions.hashtags(rng, cfg.topic, platform, factors["angle"]),
            "posted_at": iso(started),
            "duration_s": length_s,
            "views": views,
            **_engagement(rng, views, app["true_er"]),
            "impressions": impressions,
            "spend_usd": float((lo + hi) / 2),
            "active_days": active_days,
            "page_name": page_name,
        }
        drafts.append((started, item_id, i, item, factors, app["true_er"]))
    drafts.sort(key=lambda d: (d[0], d[1]))
    return [_finish(cfg, ("ads", day, i), item, factors, er) for _, _, i, item, factors, er in drafts]


def _finish(cfg, key: tuple, item: dict[str, Any], factors: dict[str, str], true_er: float) -> MarketRecord:
    rng = stream(cfg.seed, "malformed", *key)
    if rng.random() < float(cfg.malformed_rate):
        kind, detail = corrupt(rng, item)
        return MarketRecord(item, factors, true_er, kind, detail)
    return MarketRecord(item, factors, true_er)


def corrupt(rng: np.random.Generator, item: dict[str, Any]) -> tuple[str, str]:
    """Damage the item in place in one of the MALFORMED_KINDS ways; returns (kind, detail)."""
    kind = MALFORMED_KINDS[int(rng.integers(len(MALFORMED_KINDS)))]
    choice = int(rng.integers(1 << 30))
    if kind == "missing_field":
        name = ("id", "caption", "views", "posted_at", "platform", "likes", "hashtags")[choice % 7]
        item.pop(name, None)
        return kind, f"{name} missing"
    if kind == "wrong_type":
        options = [
            ("views", "lots"),
            ("hashtags", " ".join(item.get("hashtags") or ["#fyp"])),
            ("likes", "12k"),
            ("posted_at", 1700000000),
            ("duration_s", "long"),
            ("caption", 12345),
        ]
        name, value = options[choice % len(options)]
        item[name] = value
        return kind, f"{name} has type {type(value).__name__}"
    if kind == "absurd_number":
        variant = choice % 4
        if variant == 0:
            item["views"] = 10**15
            return kind, "views is 10**15"
        if variant == 1:
            item["views"] = -abs(int(item["views"])) - 1
            return kind, "views is negative"
        if variant == 2:
            item["likes"] = int(item["views"]) * 3 + 100
            return kind, "likes exceed views"
        item["comments"] = -7
        return kind, "comments is negative"
    # hostile_text
    variant = choice % 4
    caption = str(item.get("caption", ""))
    if variant == 0:
        unit = caption.replace("\n", " ") + " "
        item["caption"] = (unit * (20000 // max(len(unit), 1) + 1))[:20000]
        return "hostile_text", "caption is 20000 characters"
    if variant == 1:
        lines = caption.split("\n")
        lines.insert(1, "<script>alert('actp')</script>")
        item["caption"] = "\n".join(lines)
        return "hostile_text", "caption contains a script tag"
    if variant == 2:
        item["caption"] = caption.replace(" ", "\x00", 3)
        return "hostile_text", "caption contains NUL bytes"
    item["caption"] = "'; DROP TABLE market_items; --\n" + caption
    return "hostile_text", "caption contains SQL"
