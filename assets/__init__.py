"""Dagster assets of the main code location, one module per loop stage."""

from assets.ad_actions import ad_actions, ad_actions_succeeded
from assets.ad_plan import ad_plan
from assets.allocation import allocation
from assets.blueprints import blueprints
from assets.factor_effects import factor_effects
from assets.post_metrics import post_metrics
from assets.publish_schedule import publish_schedule
from assets.research import market_items
from assets.scores import scores
from assets.timing_matrix import timing_matrix
from assets.variants import variants
from assets.winners import winners

LOOP_ASSETS = [market_items, blueprints, variants, publish_schedule, post_metrics, timing_matrix, scores,
               factor_effects, winners, allocation, ad_plan, ad_actions]

LOOP_CHECKS = [ad_actions_succeeded]

__all__ = ["LOOP_ASSETS", "LOOP_CHECKS", *[a.key.path[-1] for a in LOOP_ASSETS]]
