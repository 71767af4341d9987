"""What this deployment tests and how strictly it judges: topic, targets, round size, winner rule,
and how the next round is allocated over the live creatives."""


import dagster as dg
from pydantic import field_validator

from actp_pipeline.score.allocation import POLICY_NAMES
from actp_pipeline.publish.publish_schedule import SlotRules, Target
from actp_pipeline.generate.variants import MatrixShape
from actp_pipeline.score.winners import WinnerRule


class LoopSettings(dg.ConfigurableResource):
    topic: str = "skincare"
    targets: list[str] = ["tiktok:main"]
    research_lookback_days: int = 7
    hook_patterns: int = 3
    angles: int = 2
    cta_styles: int = 2
    formats: int = 2
    max_length_s: int = 60
    max_posts_per_day: int = 12
    # the winner rule (defaults: WinnerRule's, the original system's gates)
    min_views: int = WinnerRule.min_views
    min_engagements: int = WinnerRule.min_engagements
    min_hours_live: float = WinnerRule.min_hours_live
    winner_margin: float = WinnerRule.margin
    winner_confidence: float = WinnerRule.confidence
    # next round: posts (max_posts_per_day per cell) and ad dollars per cell, split by a policy
    allocation_policy: str = "top_two_thompson"  # one of allocation.POLICY_NAMES
    exploration_floor: float = 0.1  # share of each round spread evenly over all creatives (bandit policies)
    daily_ad_budget: float = 10.0  # dollars per cell per day
    next_round_posts: bool = True  # publish the allocation's posts each day (repeats of the leading creatives)

    @field_validator("allocation_policy")
    @classmethod
    def _known_policy(cls, value: str) -> str:
        if value not in POLICY_NAMES:
            raise ValueError(f"unknown allocation_policy {value!r}: choose one of {', '.join(POLICY_NAMES)}")
        return value

    @field_validator("exploration_floor")
    @classmethod
    def _floor_in_range(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"exploration_floor must be within [0, 1], got {value}")
        return value

    @field_validator("daily_ad_budget")
    @classmethod
    def _budget_non_negative(cls, value: float) -> float:
        if not value >= 0.0:
            raise ValueError(f"daily_ad_budget must be >= 0, got {value}")
        return value

    def matrix_shape(self) -> MatrixShape:
        return MatrixShape(self.hook_patterns, self.angles, self.cta_styles, self.formats)

    def target_list(self) -> list[Target]:
        return [Target.parse(t) for t in self.targets]

    def slot_rules(self) -> SlotRules:
        return SlotRules(max_posts_per_day=self.max_posts_per_day)

    def winner_rule(self) -> WinnerRule:
        return WinnerRule(self.min_views, self.min_engagements, self.min_hours_live, self.winner_margin,
                          self.winner_confidence)
