"""The ads orchestrator's decisions, as a dry run (step 8, graduate): `ad_plan`.

`plan(...)` reads the goals of each ad account, the account's current campaigns, ad sets and insights
(DataFrames in the shape of the Meta Marketing API), the winners and the audit log of past actions, and
returns the list of actions the orchestrator would take now, each with the reason and the numbers behind
it. It changes nothing: executing the plan is `ad_actions`' job.

The rules, per goal of an account (every number an `OrchestratorConfig` field; defaults are the
original orchestrator's):

- ensure_learning: the goal has a learning campaign (ABO); create one if not.
- ensure_scaling: once the goal has winners, a scaling campaign (CBO) starting at 30 % of the goal
  budget (the goal budget is its priority share of the account's global daily budget, within its cap).
- promote: each winner's learning ad set is duplicated into the scaling campaign (targeting and creative
  kept, `promoted_from` recorded), unless the creative already runs there; 72 h cooldown per creative.
- scale: the scaling campaign's budget +20 % when the evidence says its cost per core event holds:
  P(cost over (now-24h, now] <= (1 + `cpa_stable_tolerance`) x cost over (now-48h, now-24h]) >=
  `scale_probability` (0.8), under Gamma-Poisson posteriors of each window's core events per dollar, and
  the prior window really ran (at least half the recent window's spend); 24 h cooldown per goal.
  Scaling takes budget from its goal's learning campaign but never leaves learning less than
  `min_learning_share` (30 %) of the goal budget, so a goal never spends more than its share.
- fit_budget: a scaling campaign above that room (after a budget was lowered) is cut back to it.
- rebalance / test_creative: what the scaling campaign does not take is the learning budget, split
  evenly over the learning campaign's running ad sets (minus losers about to be paused), plus a new ad
  set per candidate creative not yet tested, while each can still get the platform's minimum.
- pause_loser: an ad set is paused when P(its core events per dollar < the goal's floor) >=
  `pause_probability` (0.95). The floor is the goal's `max_cost_per_event` (as events per dollar), else
  derived: `pause_floor_share` (50 %) of the pooled rate of the goal's other ad sets once they have 10
  events, else 1 event per $10 (the original rule's). The original thresholds are gates, never triggers:
  nothing is paused that spent $10 or less, is live less than 48 h or has a daily budget under $5 (inside
  a CBO campaign: its even share of the campaign's).
- refresh_creative / refresh_needed: a running ad set whose creative is fatigued (`stats.fatigue`: its core
  events per impression decay with exposure, or its CPM rises, by day) is paused in the learning campaign
  when an untested candidate can take its place (that candidate's test_creative follows), otherwise an
  alert says a refresh is needed (never executed).
A goal has one learning and one scaling campaign (an ACTIVE one first, then the oldest); any others are
left alone, but their spend counts against the caps.

Every planned action then passes through ONE guard, `enforce`, which owns every cap, cooldown and
platform limit: account isolation, the automation switches, the pause safeguards, both cooldowns, at
most 4 budget changes per ad set (or campaign) per hour, the platform's minimum daily budget, and the
caps on planned daily spend per goal (max_daily_budget, or the goal's own lower cap), per account (its
global daily budget) and overall (across the accounts planned together). A violating action is clipped
(status "clipped") or kept but blocked (status "blocked"), with `blocked_by` naming the rule and `note`
the numbers, so a user sees "would promote X, but cooldown until T". Only "planned" and "clipped"
actions are executable. The guard applies actions in the order that frees budget first (pauses, cuts,
creations, promotions, raises). The rules only consult the same predicates to predict what will pass.

Planned daily spend is the sum of the daily budgets that would run: ACTIVE CBO campaigns' budgets and
ACTIVE ad sets' own budgets inside ACTIVE campaigns, and never less than the platform reports: the
budgets of every listed row, each id once (`listing`), count too, so no dropped row leaves the count.
The guard lets an action raise it only up to the caps; spend already above a cap is never raised (the
rules cut it instead).

Fail closed: an account whose listing is ambiguous (an id listed twice or under two accounts, an ad set
outside the listed campaigns, two active campaigns of one goal and kind, a campaign named for a goal with
an unknown kind) or that the platform already reports above its global daily budget or a goal's cap gets
an `alert` entry (status blocked, the reasons in `reason`, `note` and the summary's "alerts"), and every
creation and budget raise of that account is blocked by `fail_closed`; pauses and cuts still pass.

The audit log (`history`) drives the cooldowns and the per-hour limit: rows with status blocked,
skipped, dry_run, planned or error never reached the platform and count for nothing; failed rows start
no cooldown but do count toward the per-hour limit (the call may have reached the platform).

Accounts are planned one at a time from their own rows only (an object whose id occurs more than once,
in one account or several, is dropped as ambiguous and fails its account closed; insights count only
under their ad set's account); an error in one account or goal becomes an `error` entry and the others
are still planned. Inputs are never modified.

Times are UTC (naive timestamps are read as UTC). Money is in dollars at the edges, whole cents inside.

The package, in the order a plan is made: `inputs` (frames in, split by account), `rules` (the planned
action, the names, the pure decision rules), `ledger` (one account's state, caps, cooldowns, limits),
`listing` (is the listing consistent, what the platform reports running), `guard` (`enforce`),
`refresh` (fatigue verdicts by ad set), `planner` (`plan`), `report` (frames and JSON for display and the audit log); `figures` formats the
numbers in reasons so the evidence survives.
"""

from __future__ import annotations

from actp_pipeline.ads.plan.guard import enforce
from actp_pipeline.ads.plan.planner import plan
from actp_pipeline.ads.plan.report import PLAN_COLUMNS, plan_frame, plan_summary
from actp_pipeline.ads.plan.rules import PlannedAction

__all__ = ["PLAN_COLUMNS", "PlannedAction", "enforce", "plan", "plan_frame", "plan_summary"]
