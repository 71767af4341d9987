"""The sandbox world's model: a seeded account of how audiences respond to creatives.

Everything here is pure and deterministic given the seed: the latent appeal of every factor level, the
trajectory of every post (given its id, platform, account, go-live time and creative). The market of
every day (market.py) and its caches (world.py) build on this module. Nothing here knows about HTTP or
storage, nor about the real date: the clock starts at `WorldConfig.start`, a fixed instant by default.

The model
---------
- Engagement rate (likes+comments+shares+saves over views) is a logistic function of
  base + sum of factor-level effects + interaction effects + a creative-level random effect
  + a platform shift. Factor effects are drawn once per seed (sd ER_FACTOR_SD on the logit scale),
  kept at least MIN_LEVEL_GAP apart within a factor so the ground truth is learnable, and centred so
  the base rate stays the typical rate. The platform shift moves the base to the platform's published
  typical rate (PLATFORM_BASE_ER) plus a small seeded jitter. The creative effect's sd
  (WorldConfig.creative_sd) and a post's noise around its creative's rate (WorldConfig.post_er_noise_sd)
  are per world.
- Reach multiplies an audience size: exp(sum of reach effects) x hour-of-day curve x account factor
  x lognormal post noise.
- A post's counts approach their final values along F(age) = 1 - exp(-age_h / tau); tau is shorter
  for more appealing creatives.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Mapping

import numpy as np

from actp_pipeline import creative

from .clock import DEFAULT_START
from .seeding import stream

FACTOR_LEVELS = creative.FACTOR_LEVELS

# ------------------------------------------------------------------ calibration (issue 10, item 9)
# Engagement per view (likes + comments + shares + saves over views) of a typical short-form video.
# The ranges are published ones as recalled (no web access when this was set; not re-checked), and every
# point value is an ASSUMPTION picked inside its range:
# - TikTok: Socialinsider's TikTok benchmarks and annual Social Media Benchmarks reports (2022-2024
#   editions) put the average engagement rate by views at roughly 3-6%. Picked: 4.5%.
# - Instagram Reels: Socialinsider's Instagram benchmarks (2023-2024) put Reels well below TikTok, roughly
#   1.5-3% of views/reach; Rival IQ's Social Media Industry Benchmark Report (2023-2024) likewise has
#   Instagram's per-follower rate at a fraction of TikTok's. Picked: 2.5%.
# - YouTube Shorts: no report I can cite with confidence; an ASSUMPTION that Shorts engage per view about
#   as TikTok does (third-party comparisons commonly say so). Picked: 4.0%.
# Before this calibration the world had 5% everywhere, and factor effects large enough that the creatives
# the pipeline converges on sat at 10-16% (single posts up to ~20%): far above every published figure.
PLATFORM_BASE_ER = {"tiktok": 0.045, "instagram": 0.025, "youtube": 0.040}
BASE_ER = 0.035  # platform-neutral rate of a neutral creative (between the platforms' rates; assumption)
PLATFORM_ER_SD = 0.05  # sd of the seeded jitter of each platform's shift around its published rate (logit)
ER_FACTOR_SD = 0.12  # sd of factor-level effects on the logit of the engagement rate (was 0.25)
REACH_FACTOR_SD = 0.15  # sd of factor-level effects on log reach
MIN_LEVEL_GAP = 0.06  # minimum logit distance between two levels of one factor (was 0.08)
INTERACTION_RANGE = (0.08, 0.15)  # absolute size of the interaction effects (logit; was 0.15-0.30)
# Default between-creative spread: the sd of the creative-level random effect (logit scale), i.e. what two
# creatives with the same factor levels differ by (talent, first frame, audio, edit). ASSUMPTION: 0.15 (was
# 0.10), so that with the factor effects random creatives span about 2x from the 10th to the 90th percentile
# of engagement per view, and the best of the factor space sits about 2x above the median creative (before:
# 2.5-3.3x), i.e. at 7-10% per view on TikTok rather than 12-17%. Per world: WorldConfig.creative_sd.
CREATIVE_SD = 0.15
# Default post noise: mean-one lognormal sd of a post's engagement rate around its creative's rate. The
# same creative posted twice meets a different audience mix, feed ranking and trend, so its rate moves;
# the old 0.05 made one post almost as good as the creative's true rate. Assumption: 0.15 (a post-to-post
# coefficient of variation of ~15% at equal views). Per world: WorldConfig.post_er_noise_sd; this name is
# kept as the default the benchmarks import.
POST_ER_NOISE_SD = 0.15
ENGAGEMENT_SPLIT = {"likes": 0.70, "comments": 0.10, "shares": 0.10, "saves": 0.10}
SPLIT_CONCENTRATION = 400.0  # Dirichlet concentration of the per-post split (higher = less noise)
VIEW_NOISE_SD = 0.30  # lognormal sd of a post's final views around its expectation
TAU_BASE_H = 12.0  # velocity time constant of a neutral creative (hours)
TAU_RANGE_H = (6.0, 18.0)
TAU_APPEAL_SLOPE = 0.6  # tau = TAU_BASE_H * exp(-slope * appeal logit) * noise, clipped
BASE_COMPLETION = {"short": 0.55, "medium": 0.42, "long": 0.30}
FOLLOW_RATE = 0.0015  # followers gained per view for a neutral creative
DEFAULT_AUDIENCE = {"tiktok": 20000, "instagram": 12000, "youtube": 8000}
FALLBACK_AUDIENCE = 10000

# Reach multiplier by hour of day (UTC), evening peak at 20h, trough around 4h; linearly interpolated.
HOURLY_REACH: tuple[float, ...] = (
    0.85, 0.72, 0.62, 0.55, 0.50, 0.53, 0.60, 0.68,  # 0-7
    0.76, 0.82, 0.86, 0.90, 0.95, 0.96, 0.94, 0.96,  # 8-15
    1.02, 1.10, 1.19, 1.27, 1.30, 1.26, 1.13, 0.99,  # 16-23
)

COUNT_FIELDS = ("views", "likes", "comments", "shares", "saves", "followers_gained")


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _platform_base_shift(platform: str) -> float:
    """Logit distance from BASE_ER to the platform's published typical rate (0 for an unknown platform)."""
    return _logit(PLATFORM_BASE_ER.get(platform, BASE_ER)) - _logit(BASE_ER)


@dataclass
class WorldConfig:
    seed: int = 7
    platforms: tuple[str, ...] = tuple(creative.PLATFORMS)
    accounts: dict[str, list[str]] = field(default_factory=lambda: {p: ["main"] for p in creative.PLATFORMS})
    audience: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_AUDIENCE))
    topic: str = "skincare"
    market_items_per_day: int = 120  # competitor posts per platform per day
    ads_per_day: int = 30  # ad library items per day (all platforms)
    malformed_rate: float = 0.03
    # the simulated clock at first start (UTC): a fixed instant, never derived from the real date, so a seed
    # and a start give the same world on any day
    start: datetime = DEFAULT_START
    speed: float = 0.0  # simulated seconds per real second; 0 = the clock moves only when advanced
    api_keys: tuple[str, ...] = ("sandbox-key",)
    truth_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    max_upload_bytes: int = 300 * 1024 * 1024
    # the web upload site (/web/...): who may log in, and how long a login session lasts (wall-clock seconds)
    web_users: dict[str, str] = field(default_factory=lambda: {"creator": "sandbox-pass"})
    web_session_ttl_s: float = 24 * 3600.0
    # real seconds a new post stays `processing` before it is scheduled/live, the way aggregator APIs
    # process uploads asynchronously (clients poll the post); 0 = ready at once
    processing_s: float = 0.0
    # between-creative spread (sd of the creative-level random effect, logit scale) and post noise (mean-one
    # lognormal sd of a post's engagement rate around its creative's rate); see CREATIVE_SD, POST_ER_NOISE_SD
    creative_sd: float = CREATIVE_SD
    post_er_noise_sd: float = POST_ER_NOISE_SD

    def __post_init__(self) -> None:
        self.platforms = tuple(self.platforms)
        self.api_keys = tuple(self.api_keys)
        accounts = {p: list(v) for p, v in dict(self.accounts).items()}
        for p in self.platforms:
            accounts.setdefault(p, ["main"])
        self.accounts = accounts
        if not 0.0 <= float(self.malformed_rate) <= 1.0:
            raise ValueError("malformed_rate must be within [0, 1]")
        if self.speed < 0:
            raise ValueError("speed must be >= 0")
        if self.start.tzinfo is None:
            self.start = self.start.replace(tzinfo=UTC)
        self.start = self.start.astimezone(UTC)
        if not self.truth_token:
            raise ValueError("truth_token must not be empty")
        self.web_users = {str(u): str(pw) for u, pw in dict(self.web_users).items()}
        for name in ("creative_sd", "post_er_noise_sd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 2.0:
                raise ValueError(f"{name} must be a number within [0, 2]")
            setattr(self, name, float(value))
        if not (self.web_session_ttl_s > 0 and math.isfinite(self.web_session_ttl_s)):
            raise ValueError("web_session_ttl_s must be a positive number of seconds")

    def audience_of(self, platform: str) -> int:
        return int(self.audience.get(platform, FALLBACK_AUDIENCE))


def normalize_descriptor(descriptor: Mapping[str, Any] | None, duration_s: float | None = None) -> dict[str, Any]:
    """The creative's factor levels (None where unknown), its length and identity.

    Accepts the flat descriptor or the {"actp": {...}} wrapper the renderer embeds. Unknown levels are
    treated as neutral (None). The length bucket comes from the descriptor's length_s, else from the
    video's duration when a descriptor exists; a video without any descriptor is fully neutral.
    """
    if descriptor and creative.DESCRIPTOR_KEY in descriptor and isinstance(descriptor[creative.DESCRIPTOR_KEY], Mapping):
        descriptor = descriptor[creative.DESCRIPTOR_KEY]
    d = dict(descriptor or {})
    out: dict[str, Any] = {}
    for factor, levels in FACTOR_LEVELS.items():
        value = d.get(factor)
        out[factor] = value if isinstance(value, str) and value in levels else None
    length_s = d.get("length_s")
    if isinstance(length_s, bool) or not isinstance(length_s, (int, float)) or not math.isfinite(length_s) or length_s <= 0:
        length_s = None
    if out["length_bucket"] is None and d:
        basis = length_s if length_s is not None else duration_s
        if basis is not None and basis > 0:
            out["length_bucket"] = creative.length_bucket(float(basis))
    out["length_s"] = float(length_s) if length_s is not None else None
    vid = d.get("variant_id")
    hook = d.get("hook")
    out["variant_id"] = vid if isinstance(vid, str) and vid else None
    out["hook"] = hook if isinstance(hook, str) and hook else None
    return out


def _draw_level_effects(rng: np.random.Generator, levels: tuple[str, ...], sd: float, min_gap: float) -> dict[str, float]:
    raw = rng.normal(0.0, sd, len(levels))
    order = np.argsort(-raw, kind="stable")
    vals = raw[order].copy()
    for i in range(1, len(vals)):
        if vals[i - 1] - vals[i] < min_gap:
            vals[i] = vals[i - 1] - min_gap
    vals -= vals.mean()
    placed = np.empty_like(vals)
    placed[order] = vals
    return {lvl: round(float(v), 4) + 0.0 for lvl, v in zip(levels, placed)}


@dataclass(frozen=True)
class Trajectory:
    """The whole life of one post: final counts and the saturating curve that leads to them."""

    post_id: str
    platform: str
    live_at: datetime
    tau_h: float
    final: dict[str, int]
    final_watch_time_s: float
    true_er: float
    expected_views: float

    def fraction(self, at: datetime) -> float:
        age_h = (at - self.live_at).total_seconds() / 3600.0
        if age_h <= 0:
            return 0.0
        return 1.0 - math.exp(-age_h / self.tau_h)

    def counts_at(self, at: datetime) -> dict[str, Any]:
        f = self.fraction(at)
        counts: dict[str, Any] = {k: int(math.floor(v * f)) for k, v in self.final.items()}
        counts["watch_time_s"] = math.floor(self.final_watch_time_s * f * 10.0) / 10.0
        return counts


class WorldModel:
    """Latent appeal and post trajectories of one seeded world (World adds the market)."""

    def __init__(self, config: WorldConfig | None = None):
        self.config = config or WorldConfig()
        seed = self.config.seed
        rng = stream(seed, "factor_effects")
        self.factor_effects = {
            f: _draw_level_effects(rng, levels, ER_FACTOR_SD, MIN_LEVEL_GAP) for f, levels in FACTOR_LEVELS.items()
        }
        rng = stream(seed, "reach_effects")
        self.reach_effects = {f: _draw_level_effects(rng, levels, REACH_FACTOR_SD, 0.0) for f, levels in FACTOR_LEVELS.items()}
        self.interactions = self._draw_interactions(stream(seed, "interactions"))
        rng = stream(seed, "platforms")
        self.platform_er_shift = {p: round(_platform_base_shift(p) + float(rng.normal(0.0, PLATFORM_ER_SD)), 4)
                                  for p in self.config.platforms}
        self.platform_hour_shift = {p: int(rng.integers(-1, 2)) for p in self.config.platforms}
        self.base_logit = _logit(BASE_ER)

    # ----------------------------------------------------------------------------------- appeal
    @staticmethod
    def _draw_interactions(rng: np.random.Generator) -> list[dict[str, Any]]:
        pairs = [("hook_pattern", "format"), ("angle", "cta_style"), ("hook_pattern", "angle"), ("format", "length_bucket")]
        chosen = rng.permutation(len(pairs))[:2]
        out = []
        for idx in chosen:
            f1, f2 = pairs[int(idx)]
            l1 = FACTOR_LEVELS[f1][int(rng.integers(len(FACTOR_LEVELS[f1])))]
            l2 = FACTOR_LEVELS[f2][int(rng.integers(len(FACTOR_LEVELS[f2])))]
            size = float(rng.uniform(*INTERACTION_RANGE)) * (1 if rng.random() < 0.5 else -1)
            out.append({"factors": {f1: l1, f2: l2}, "effect": round(size, 4)})
        return out

    def creative_effect(self, key: str | None) -> float:
        """The creative-level random effect of a variant (keyed by variant id, else by hook text)."""
        if not key:
            return 0.0
        return round(float(stream(self.config.seed, "creative", key).normal(0.0, self.config.creative_sd)), 4)

    def true_appeal(
        self, descriptor: Mapping[str, Any] | None, platform: str | None = None, duration_s: float | None = None
    ) -> dict[str, Any]:
        """Expected engagement rate and reach of a creative (platform-neutral when platform is None)."""
        d = normalize_descriptor(descriptor, duration_s)
        factors = {f: d[f] for f in FACTOR_LEVELS}
        logit = self.base_logit
        reach_log = 0.0
        for f, level in factors.items():
            if level is not None:
                logit += self.factor_effects[f][level]
                reach_log += self.reach_effects[f][level]
        for inter in self.interactions:
            if all(factors.get(f) == lvl for f, lvl in inter["factors"].items()):
                logit += inter["effect"]
        creative_key = d["variant_id"] or d["hook"]
        c_eff = self.creative_effect(creative_key)
        logit += c_eff
        appeal_logit = logit - self.base_logit  # platform-free appeal, drives completion and velocity
        if platform is not None:
            logit += self.platform_er_shift.get(platform, 0.0)
        bucket = factors["length_bucket"] or "medium"
        completion = _sigmoid(_logit(BASE_COMPLETION[bucket]) + appeal_logit)
        length_s = d["length_s"] or duration_s or float(creative.DEFAULT_LENGTH_S[bucket])
        return {
            "true_er": _sigmoid(logit),
            "er_logit": logit,
            "appeal_logit": appeal_logit,
            "reach_multiplier": math.exp(reach_log),
            "completion": completion,
            "length_s": float(length_s),
            "length_bucket": factors["length_bucket"],
            "factors": factors,
            "creative_effect": c_eff,
            "variant_id": d["variant_id"],
            "hook": d["hook"],
        }

    def hour_effect(self, when: datetime, platform: str | None = None) -> float:
        """Reach multiplier of going live at this time of day (UTC), within [0.5, 1.3]."""
        when = when.astimezone(UTC)
        h = when.hour + when.minute / 60.0 + when.second / 3600.0
        h = (h - self.platform_hour_shift.get(platform, 0)) % 24.0
        lo = int(h) % 24
        hi = (lo + 1) % 24
        w = h - int(h)
        return HOURLY_REACH[lo] * (1.0 - w) + HOURLY_REACH[hi] * w

    def account_factor(self, platform: str, account: str) -> float:
        if account == "main":
            return 1.0
        return float(stream(self.config.seed, "account", platform, account).lognormal(0.0, 0.3))

    # ------------------------------------------------------------------------------ trajectories
    def expected_views(
        self, platform: str, account: str, live_at: datetime, descriptor: Mapping[str, Any] | None, duration_s: float | None = None
    ) -> float:
        app = self.true_appeal(descriptor, platform, duration_s)
        return self._expected_views(platform, account, live_at, app)

    def _expected_views(self, platform: str, account: str, live_at: datetime, app: Mapping[str, Any]) -> float:
        median = (
            self.config.audience_of(platform)
            * self.account_factor(platform, account)
            * app["reach_multiplier"]
            * self.hour_effect(live_at, platform)
        )
        return median * math.exp(VIEW_NOISE_SD**2 / 2.0)

    def trajectory(
        self,
        post_id: str,
        platform: str,
        account: str,
        live_at: datetime,
        descriptor: Mapping[str, Any] | None,
        duration_s: float | None = None,
    ) -> Trajectory:
        """The post's final counts and velocity, a function of the seed and these arguments only."""
        live_at = live_at.astimezone(UTC)
        app = self.true_appeal(descriptor, platform, duration_s)
        rng = stream(self.config.seed, "post", post_id)
        expected = self._expected_views(platform, account, live_at, app)
        views = int(round(expected * math.exp(-(VIEW_NOISE_SD**2) / 2.0) * rng.lognormal(0.0, VIEW_NOISE_SD)))
        views = max(views, 1)
        noise_sd = self.config.post_er_noise_sd
        er = app["true_er"] * math.exp(rng.normal(-(noise_sd**2) / 2.0, noise_sd))
        er = min(er, 0.9)
        split = rng.dirichlet([SPLIT_CONCENTRATION * w for w in ENGAGEMENT_SPLIT.values()])
        final = {"views": views}
        for (name, _), share in zip(ENGAGEMENT_SPLIT.items(), split):
            final[name] = int(rng.binomial(views, min(er * float(share), 1.0)))
        follow_p = min(FOLLOW_RATE * app["true_er"] / BASE_ER, 0.05)
        final["followers_gained"] = int(rng.binomial(views, follow_p))
        completion = float(np.clip(app["completion"] * rng.lognormal(0.0, 0.1), 0.02, 1.0))
        length = duration_s if duration_s and duration_s > 0 else app["length_s"]
        tau = TAU_BASE_H * math.exp(-TAU_APPEAL_SLOPE * app["appeal_logit"]) * float(rng.lognormal(0.0, 0.2))
        tau = float(np.clip(tau, *TAU_RANGE_H))
        return Trajectory(
            post_id=post_id,
            platform=platform,
            live_at=live_at,
            tau_h=tau,
            final=final,
            final_watch_time_s=round(views * float(length) * completion, 1),
            true_er=app["true_er"],
            expected_views=expected,
        )

    # ------------------------------------------------------------------------------------- truth
    def truth_summary(self) -> dict[str, Any]:
        return {
            "base_er": BASE_ER,
            "platform_base_er": {p: PLATFORM_BASE_ER.get(p, BASE_ER) for p in self.config.platforms},
            "creative_sd": self.config.creative_sd,
            "post_er_noise_sd": self.config.post_er_noise_sd,
            "factor_effects": self.factor_effects,
            "reach_effects": self.reach_effects,
            "interactions": self.interactions,
            "platform_er_shift": self.platform_er_shift,
            "platform_hour_shift": self.platform_hour_shift,
        }
