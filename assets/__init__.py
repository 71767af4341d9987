"""Dagster assets of the main code location, one module per loop stage."""

from assets.ad_actions import ad_actions, ad_actions_succeeded
from assets.ad_plan import ad_plan, ad_plan_budgets_valid
from assets.allocation import allocation, allocation_shares_valid
from assets.attribution import (
    attribution,
    attribution_counts_sane,
    attribution_factors_sane,
    attribution_ids_unique,
    attribution_no_future_events,
)
from assets.blueprints import blueprints, blueprints_well_formed
from assets.factor_effects import factor_effects, factor_effects_consistent
from assets.post_metrics import post_metrics, post_metrics_counts_sane
from assets.publish_schedule import publish_schedule, publish_schedule_keys_unique
from assets.research import market_items, market_items_ids_unique
from assets.research_queries import research_queries, research_queries_consistent
from assets.scores import scores, scores_sane
from assets.timing_matrix import timing_matrix, timing_matrix_in_range
from assets.variants import variants, variants_ids_unique
from assets.winners import winners, winners_one_per_cell

# in loop order; blueprints, winners, ad_plan and attribution are multi-assets (with factor_lifts, decisions,
# paid_winners, attribution_factors)
LOOP_ASSETS = [market_items, blueprints, variants, publish_schedule, post_metrics, timing_matrix, scores,
               factor_effects, winners, allocation, ad_plan, ad_actions, attribution, research_queries]

LOOP_CHECKS = [market_items_ids_unique, blueprints_well_formed, variants_ids_unique, publish_schedule_keys_unique,
               post_metrics_counts_sane, timing_matrix_in_range, scores_sane, factor_effects_consistent,
               winners_one_per_cell, allocation_shares_valid, ad_plan_budgets_valid, ad_actions_succeeded,
               attribution_counts_sane, attribution_ids_unique, attribution_no_future_events, attribution_factors_sane,
               research_queries_consistent]

__all__ = ["LOOP_ASSETS", "LOOP_CHECKS", *[a.node_def.name for a in LOOP_ASSETS]]
