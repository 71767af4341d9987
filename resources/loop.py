"""What this deployment tests and how strictly it judges: topic, targets, round size, winner rule."""


import dagster as dg

from actp_pipeline.publish_schedule import SlotRules, Target
from actp_pipeline.variants import MatrixShape
from actp_pipeline.winners import WinnerRule


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
    min_views: int = 1500
    min_engagements: int = 3
    min_hours_live: float = 24.0
    winner_margin: float = 0.15
    winner_confidence: float = 0.95

    def matrix_shape(self) -> MatrixShape:
        return MatrixShape(self.hook_patterns, self.angles, self.cta_styles, self.formats)

    def target_list(self) -> list[Target]:
        return [Target.parse(t) for t in self.targets]

    def slot_rules(self) -> SlotRules:
        return SlotRules(max_posts_per_day=self.max_posts_per_day)

    def winner_rule(self) -> WinnerRule:
        return WinnerRule(self.min_views, self.min_engagements, self.min_hours_live, self.winner_margin,
                          self.winner_confidence)
