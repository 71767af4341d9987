"""Every knob of the loop in one resource (key "loop"): what this deployment tests, how it schedules,
scores and judges, how the next round is allocated, and the ads orchestrator's rules.

Fields are grouped by prefix (schedule_*, scoring_*, winner_*, paid_*, allocation_*, ads_*); each default
is the core dataclass's (or the core function's), never retyped here; the methods return those
dataclasses. The demo and the CLI derive their defaults from `LoopSettings.model_fields`.
"""

import inspect
import json
import os
from collections.abc import Mapping
from typing import Any, Optional

import dagster as dg
from pydantic import Field, ValidationError, ValidationInfo, field_validator

from actp_pipeline.ads.actions import MAX_PLAN_AGE_H
from actp_pipeline.ads.evidence import PAID_RULE
from actp_pipeline.ads.goals import OrchestratorConfig
from actp_pipeline.ads.orchestrator import plan_pass
from actp_pipeline.generate.variants import MatrixShape, build_matrix
from actp_pipeline.generate.design import DesignShares
from actp_pipeline.publish.publish_schedule import SlotRules, Target
from actp_pipeline.score.allocation import allocate_next_round
from actp_pipeline.score.scores import ScoringRules
from actp_pipeline.score.winners import WinnerRule
from actp_pipeline.stats.bandits import POLICY_NAMES
from actp_pipeline.stats.stopping import StoppingRule

RESEARCH_LOOKBACK_DAYS = 7  # market days blueprints are extracted from (no core default: an asset's choice)


def _arg(fn, name: str) -> Any:
    """The default of a core function's keyword argument (so the number lives in one place)."""
    return inspect.signature(fn).parameters[name].default


class LoopSettings(dg.ConfigurableResource):
    # what is tested, and the round's size
    topic: str = Field("skincare", description="The product topic every hook and caption is written about.")
    targets: list[str] = Field(["tiktok:main"], description="Where variants are posted, as platform:account.")
    research_lookback_days: int = Field(RESEARCH_LOOKBACK_DAYS, description="Market days blueprints are taken from.")
    hook_patterns: int = Field(MatrixShape.hook_patterns, description="Hook patterns in each round's matrix.")
    angles: int = Field(MatrixShape.angles, description="Angles in each round's matrix.")
    cta_styles: int = Field(MatrixShape.cta_styles, description="Call-to-action styles in each round's matrix.")
    formats: int = Field(MatrixShape.formats, description="Video formats in each round's matrix.")
    max_variants: int = Field(MatrixShape.max_variants, description="Cap on the variants of one round.")
    max_length_s: int = Field(_arg(build_matrix, "max_length_s"), description="Longest video, in seconds.")
    # the round's experiment design (actp_pipeline.generate.design): shares of its arms, summing to 1
    design_control_share: float = Field(DesignShares.control, description="Share of a round in control arms "
                                        "(proven blueprints and levels).")
    design_moderate_share: float = Field(DesignShares.moderate, description="Share of a round in moderate "
                                         "exploration (one or two factors changed from a control).")
    design_aggressive_share: float = Field(DesignShares.aggressive, validate_default=True,  # checks the sum
                                           description="Share of a round in aggressive exploration (new "
                                           "blueprints, three or more factors changed).")
    landing_url: Optional[str] = Field(None, description="The landing page every post's tracked link (the hooks "
                                       "service's /r/SLUG) sends its clicks to, with UTM tags; empty = no links.")
    hooks_url: Optional[str] = Field(None, description="The public address of the hooks service (actp hooks); with a "
                                     "landing_url, each post's caption ends with its tracked link.")
    max_posts_per_day: int = Field(_arg(allocate_next_round, "posts_budget"),
                                   description="Posts per target and day; also the next round's posts per cell.")
    # posting slots
    schedule_min_gap_minutes: int = Field(SlotRules.min_gap_minutes, description="Minimum minutes between two posts "
                                                                                 "of one account.")
    schedule_lead_minutes: int = Field(SlotRules.lead_minutes, description="Never schedule closer to now than this.")
    # scoring (posterior, learning gates, fair cells)
    scoring_min_views: int = Field(ScoringRules.min_views, description="Learning gate: views before a post is scored.")
    scoring_min_engagements: int = Field(ScoringRules.min_engagements, description="Learning gate: engagements "
                                                                                   "before a post is scored.")
    scoring_post_noise_cv: Optional[float] = Field(ScoringRules.post_noise_cv, description="Per-post variation of "
                                                   "the engagement rate beyond binomial noise (caps one post's "
                                                   "evidence); empty = estimated per platform from repeated posts.")
    scoring_credible_mass: float = Field(ScoringRules.credible_mass, description="Mass of the credible interval "
                                         "(0.95: the interval holds the creative's rate in 95% of cases).")
    scoring_velocity_window_h: float = Field(ScoringRules.velocity_window_h, description="Hours over which "
                                                                                         "velocity is measured.")
    scoring_comparison_window_h: float = Field(ScoringRules.comparison_window_h, description="Posts of one account "
                                               "are compared only within this span of live times (a fair cell).")
    scoring_p_best_method: str = Field(ScoringRules.p_best_method, description="P(best) by 'integrate' or "
                                                                               "'monte_carlo'.")
    scoring_draws: int = Field(ScoringRules.draws, description="Monte Carlo draws per cell (monte_carlo only).")
    # the organic winner rule
    winner_min_views: int = Field(WinnerRule.min_views, description="Views a creative needs before it can win.")
    winner_min_engagements: int = Field(WinnerRule.min_engagements, description="Engagements before it can win.")
    winner_min_hours_live: float = Field(WinnerRule.min_hours_live, description="Hours live before it can win.")
    winner_margin: float = Field(WinnerRule.margin, description="Fraction by which a winner beats the best "
                                 "of the other creatives of its cell (0.05: its rate must be 1.05 x the best other).")
    winner_confidence: float = Field(WinnerRule.confidence, description="P(beats the best other by the "
                                     "margin) a winner must reach.")
    # the paid learning test's stopping rule
    paid_confidence: float = Field(PAID_RULE.confidence, description="P(beats the best other ad set by the "
                                   "margin) a paid winner must reach.")
    paid_margin: float = Field(PAID_RULE.margin, description="Fraction by which a paid winner beats the best "
                               "other creative of its learning campaign (the organic rule's, by default).")
    paid_min_spend: float = Field(PAID_RULE.min_spend, description="Dollars spent before an ad set is judged "
                                                                   "(or paid_min_impressions).")
    paid_min_impressions: float = Field(PAID_RULE.min_impressions, description="Impressions before an ad set is "
                                                                               "judged (or paid_min_spend).")
    paid_min_events: float = Field(PAID_RULE.min_events, description="Core events before an ad set is judged.")
    paid_min_hours_live: float = Field(PAID_RULE.min_hours_live, description="Hours live before it is judged.")
    # the next round
    allocation_policy: str = Field(_arg(allocate_next_round, "policy"),
                                   description=f"How posts and ad dollars are split: one of {', '.join(POLICY_NAMES)}.")
    allocation_exploration_floor: float = Field(_arg(allocate_next_round, "floor"), description="Share of each "
                                                "round spread evenly over all creatives (bandit policies).")
    allocation_daily_ad_budget: float = Field(_arg(allocate_next_round, "ad_budget"),
                                              description="Ad dollars per cell per day.")
    allocation_next_round_posts: bool = Field(True, description="Publish the allocation's repeat posts of the "
                                                                "leading creatives each day.")
    # the ads orchestrator
    ads_lookback_h: float = Field(_arg(plan_pass, "lookback_h"), description="Hours of insights each plan reads.")
    ads_max_plan_age_h: float = Field(MAX_PLAN_AGE_H, description="An older plan is refused at execution.")
    ads_max_candidates_per_goal: int = Field(_arg(plan_pass, "max_candidates"), description="Organic creatives "
                                             "entering a goal's learning campaign.")
    ads_overall_daily_budget: float | None = Field(OrchestratorConfig.overall_daily_budget, description="Dollars "
                                                   "per day across every account; None = only per-account caps.")
    ads_default_global_daily_budget: float = Field(OrchestratorConfig.default_global_daily_budget,
                                                   description="Per account, when its settings name none.")
    ads_max_daily_budget: float = Field(OrchestratorConfig.max_daily_budget, description="Per goal: learning and "
                                                                                          "scaling together.")
    ads_learning_share: float = Field(OrchestratorConfig.learning_share, description="Learning's share of a goal "
                                                                                     "budget once it scales.")
    ads_scaling_share: float = Field(OrchestratorConfig.scaling_share, description="A new scaling campaign's share.")
    ads_min_learning_share: float = Field(OrchestratorConfig.min_learning_share, description="Scaling never "
                                          "leaves learning less than this share of the goal budget.")
    ads_learning_split: str = Field(OrchestratorConfig.learning_split, description="Learning budget split over ad "
                                    "sets: even, top_two_thompson or thompson.")
    ads_learning_floor: float = Field(OrchestratorConfig.learning_floor, description="Share of the learning budget "
                                                                                     "spread evenly.")
    ads_promote_cooldown_h: float = Field(OrchestratorConfig.promote_cooldown_h, description="Hours between two "
                                                                                             "promotions of a creative.")
    ads_scale_step: float = Field(OrchestratorConfig.scale_step, description="Fraction a scaling budget grows by.")
    ads_scale_cooldown_h: float = Field(OrchestratorConfig.scale_cooldown_h, description="Hours between two raises "
                                                                                         "of a goal.")
    ads_loser_min_spend: float = Field(OrchestratorConfig.loser_min_spend, description="A loser spent more than "
                                                                                       "this ...")
    ads_loser_max_events: int = Field(OrchestratorConfig.loser_max_events, description="... with at most this many "
                                                                                       "core events.")
    ads_pause_min_age_h: float = Field(OrchestratorConfig.pause_min_age_h, description="Never pause an ad set live "
                                                                                       "less than this.")

    @field_validator("allocation_policy")
    @classmethod
    def _known_policy(cls, value: str) -> str:
        if value not in POLICY_NAMES:
            raise ValueError(f"unknown allocation_policy {value!r}: choose one of {', '.join(POLICY_NAMES)}")
        return value

    @field_validator("landing_url")
    @classmethod
    def _safe_landing_url(cls, value: Optional[str]) -> Optional[str]:
        from actp_pipeline.hooks.links import check_destination

        return check_destination(value) if value else None

    @field_validator("design_aggressive_share")
    @classmethod
    def _shares_sum_to_one(cls, value: float, info: ValidationInfo) -> float:
        shares = {k: info.data.get(f"design_{k}_share") for k in ("control", "moderate")}
        if None not in shares.values():  # the others failed on their own: their error says why
            DesignShares(shares["control"], shares["moderate"], value)
        return value

    @field_validator("allocation_exploration_floor")
    @classmethod
    def _floor_in_range(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"allocation_exploration_floor must be within [0, 1], got {value}")
        return value

    @field_validator("allocation_daily_ad_budget")
    @classmethod
    def _budget_non_negative(cls, value: float) -> float:
        if not value >= 0.0:
            raise ValueError(f"allocation_daily_ad_budget must be >= 0, got {value}")
        return value

    def _prefixed(self, prefix: str) -> dict[str, Any]:
        return {k.removeprefix(prefix): getattr(self, k) for k in type(self).model_fields if k.startswith(prefix)}

    def matrix_shape(self) -> MatrixShape:
        return MatrixShape(self.hook_patterns, self.angles, self.cta_styles, self.formats, self.max_variants)

    def design_shares(self) -> DesignShares:
        """The round's arm shares (the dataclass refuses shares that do not sum to 1)."""
        return DesignShares(**{k.removesuffix("_share"): v for k, v in self._prefixed("design_").items()})

    def post_link(self) -> dict[str, str] | None:
        """What each post's tracked link is made of (publish_schedule), or None when no landing page is set."""
        if not self.landing_url:
            return None
        return {"destination": self.landing_url, "campaign": self.topic,
                **({"hooks_url": self.hooks_url} if self.hooks_url else {})}

    def target_list(self) -> list[Target]:
        return [Target.parse(t) for t in self.targets]

    def slot_rules(self) -> SlotRules:
        return SlotRules(max_posts_per_day=self.max_posts_per_day, **self._prefixed("schedule_"))

    def scoring_rules(self) -> ScoringRules:
        return ScoringRules(**self._prefixed("scoring_"))

    def winner_rule(self) -> WinnerRule:
        return WinnerRule(**self._prefixed("winner_"))

    def stopping_rule(self) -> StoppingRule:
        """The paid learning test's stopping rule."""
        return StoppingRule(**self._prefixed("paid_"))

    def orchestrator_config(self) -> OrchestratorConfig:
        ads = self._prefixed("ads_")
        keep = {k: v for k, v in ads.items() if k in OrchestratorConfig.__dataclass_fields__}
        return OrchestratorConfig(**keep)


LOOP_ENV_PREFIX = "ACTP_LOOP_"


def loop_from_env(environ: Mapping[str, str] | None = None) -> LoopSettings:
    """The loop's settings with ACTP_LOOP_<FIELD> variables applied (e.g. ACTP_LOOP_TOPIC=haircare,
    ACTP_LOOP_TARGETS='["tiktok:main"]', ACTP_LOOP_HOOK_PATTERNS=2): how a deployment (compose, Helm, the code
    servers) sets what it tests without editing code. An empty value is unset; a value is read as JSON when it parses (numbers, lists,
    booleans), else as text. A variable naming no field, or a value the field refuses, stops the code location
    from loading with the variable's name: a typo must not silently run the defaults."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(LOOP_ENV_PREFIX) or raw == "":  # empty = unset (compose passes unset as "")
            continue
        field = name[len(LOOP_ENV_PREFIX):].lower()
        if field not in LoopSettings.model_fields:
            raise ValueError(f"{name}: LoopSettings has no field {field!r} (fields: "
                             f"{', '.join(sorted(LoopSettings.model_fields))})")
        try:
            values[field] = json.loads(raw)
        except ValueError:
            values[field] = raw
    try:
        return LoopSettings(**values)
    except ValidationError as e:
        bad = ", ".join(f"{LOOP_ENV_PREFIX}{str(err['loc'][0]).upper()}: {err['msg']}" for err in e.errors())
        raise ValueError(f"the loop's settings from the environment are invalid: {bad}") from None
