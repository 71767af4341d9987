"""Alerting: the webhook alerts go to (a secret, from the environment) and the thresholds of the conditions."""


import dagster as dg
from pydantic import Field

from actp_pipeline.alerts.conditions import AlertRules
from actp_pipeline.alerts.notify import WebhookPolicy

_R, _W = AlertRules(), WebhookPolicy()


class AlertsResource(dg.ConfigurableResource):
    webhook_url: str | None = Field(None, description="ACTP_ALERT_WEBHOOK_URL (an EnvVar: a secret): a "
                                                      "Slack-compatible incoming webhook; absent = store rows only.")
    repeat_minutes: float = Field(_W.repeat_s / 60, description="An alert still firing is sent again at most once "
                                                                "per this many minutes.")
    webhook_attempts: int = Field(_W.attempts, description="Tries per message (5xx, 429 and timeouts are retried "
                                                           "with backoff).")
    pacing_ratio: float = Field(_R.pacing_ratio, description="Alert when an ad account's spend today is above this "
                                                             "x its running daily budgets prorated to the hour.")
    pacing_every_minutes: float = Field(10.0, description="How often the ad platform is asked for today's spend.")
    velocity_k: float = Field(_R.velocity_k, description="Modified z-score of log(1 + views/h) within its fair cell "
                                                         "beyond which a post is far outside its cell.")
    velocity_min_ratio: float = Field(_R.velocity_min_ratio, description="... and at least this factor from the "
                                                                         "cell's median velocity.")
    velocity_min_posts: int = Field(_R.velocity_min_posts, description="Posts with a velocity a cell needs to be "
                                                                       "judged.")

    def rules(self) -> AlertRules:
        return AlertRules(pacing_ratio=self.pacing_ratio, velocity_k=self.velocity_k,
                          velocity_min_ratio=self.velocity_min_ratio, velocity_min_posts=self.velocity_min_posts)

    def policy(self) -> WebhookPolicy:
        return WebhookPolicy(attempts=self.webhook_attempts, repeat_s=self.repeat_minutes * 60)
