"""Operations: alerts as rows in the store, and to a Slack-compatible webhook without storms.

A condition is something wrong that has a key (`worker_dead:w1`, `run_failure:score_job`): the store keeps
ONE open alert per key (a repeat bumps its count and last_seen); a condition that clears is resolved, and
one that comes back later opens a new row. The conditions and their thresholds (conditions.py):

- run_failure: a Dagster run failed (the run-failure sensor, both code locations), one alert per job;
  resolved by a later successful run of that job.
- worker_dead: a worker marked offline, or online but silent for OFFLINE_AFTER_S (120 s, the liveness
  sensor's rule, actp_pipeline/worker/heartbeats.py) on the database's clock; a graceful stop is not dead.
- circuit_open: a publish circuit breaker whose stored state is open or half_open (not yet recovered).
- spend_pacing: an ad account's spend today (UTC day of the platform's clock) above 1.5 x its plan so far:
  the day's plan is the most daily budget the platform reported running at any reading that day (the
  plan's own count, ads/plan/listing.py), prorated by the share of the day elapsed (at least 2 h counted),
  once at least $1 was spent.
- velocity_outlier: a recent post whose early view velocity is far outside its fair cell: |log(1 + v) -
  median| / (1.4826 x MAD) > 3.5 (the modified z-score of Iglewicz and Hoaglin) AND at least 2x away from
  the cell's median, in cells of at least 5 posts with a velocity.

Delivery (notify.py) sends at most one webhook message per tick: a digest of every alert not yet sent,
and of alerts still firing whose last message is older than the repeat window (1 h). No URL
(ACTP_ALERT_WEBHOOK_URL unset) = rows only. Nothing here imports dagster.
"""

from actp_pipeline.alerts.conditions import Candidate
from actp_pipeline.alerts.store import open_alerts, raise_alert, raise_alerts, resolve, sync

__all__ = ["Candidate", "open_alerts", "raise_alert", "raise_alerts", "resolve", "sync"]
