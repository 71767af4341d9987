"""The ads API (Meta Marketing API shape; the sandbox's by default) and the orchestrator's knobs."""


import dagster as dg

from actp_pipeline.ads.goals import OrchestratorConfig
from actp_pipeline.score.allocation import StoppingRule


class AdsResource(dg.ConfigurableResource):
    base_url: str
    access_token: str
    api_version: str = "v21.0"
    lookback_h: float = 96.0  # hours of insights each plan reads
    max_plan_age_h: float = 6.0  # an older plan is refused at execution: plan again
    max_candidates_per_goal: int = 4  # creatives from the organic test entering a learning campaign
    overall_daily_budget: float | None = None  # across every account; None = only per-account caps
    max_daily_budget: float = 50.0  # per goal (the original's default)
    # the paid learning test's stopping rule (original exposure gates: $5 or 1,500 impressions, 3 events, 24 h)
    winner_confidence: float = 0.95
    winner_margin: float = 0.0  # over the learning campaign's median: its creatives are already the finalists
    min_spend: float = 5.0
    min_impressions: float = 1500
    min_events: float = 3
    min_hours_live: float = 24.0

    def client(self):
        from actp_pipeline.ads.meta import MetaAdsClient

        return MetaAdsClient(self.base_url, self.access_token, api_version=self.api_version)

    def orchestrator_config(self) -> OrchestratorConfig:
        return OrchestratorConfig(overall_daily_budget=self.overall_daily_budget, max_daily_budget=self.max_daily_budget)

    def stopping_rule(self) -> StoppingRule:
        return StoppingRule(confidence=self.winner_confidence, margin=self.winner_margin, min_spend=self.min_spend,
                            min_impressions=self.min_impressions, min_events=self.min_events,
                            min_hours_live=self.min_hours_live)
