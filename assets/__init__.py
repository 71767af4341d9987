"""Dagster assets of the main code location, one module per loop stage."""

from assets.ad_actions import ad_actions, ad_actions_log_sane, ad_actions_succeeded
from assets.ad_plan import ad_plan, ad_plan_budgets_valid, ad_plan_no_future_plan, paid_winners_sane
from assets.allocation import allocation, allocation_counts_sane, allocation_shares_valid
from assets.attribution import (
    attribution,
    attribution_counts_sane,
    attribution_factors_sane,
    attribution_ids_unique,
    attribution_no_future_events,
    attribution_posts_sane,
)
from assets.blueprints import blueprints, blueprints_ids_unique, blueprints_well_formed, factor_lifts_sane
from assets.factor_effects import (
    conversion_effects,
    conversion_effects_consistent,
    factor_effects,
    factor_effects_consistent,
)
from assets.hashtag_stats import hashtag_stats, hashtag_stats_counts_sane, hashtag_stats_lifts_finite
from assets.post_metrics import (
    post_metrics,
    post_metrics_counts_sane,
    post_metrics_ids_unique,
    post_metrics_no_future_snapshots,
)
from assets.publish_schedule import publish_schedule, publish_schedule_items_sane, publish_schedule_keys_unique
from assets.research import (
    market_items,
    market_items_counts_sane,
    market_items_ids_unique,
    market_items_no_future_posts,
    market_items_volume_steady,
)
from assets.research_queries import research_queries, research_queries_consistent, research_queries_ids_unique
from assets.scores import scores, scores_no_future_snapshots, scores_probabilities_valid, scores_sane
from assets.timing_matrix import timing_matrix, timing_matrix_cells_unique, timing_matrix_in_range
from assets.variants import variants, variants_ids_unique, variants_well_formed
from assets.winners import decisions_one_per_post, winners, winners_one_per_cell

# in loop order; blueprints, winners, ad_plan and attribution are multi-assets (with factor_lifts, decisions,
# paid_winners, attribution_factors and attribution_posts)
LOOP_ASSETS = [market_items, hashtag_stats, blueprints, variants, publish_schedule, post_metrics, timing_matrix, scores,
               factor_effects, winners, allocation, ad_plan, ad_actions, attribution, conversion_effects,
               research_queries]

# in loop order; the blocking ones (market_items, variants, post_metrics, scores) stop their followers
LOOP_CHECKS = [market_items_ids_unique, market_items_counts_sane, market_items_no_future_posts,
               market_items_volume_steady, hashtag_stats_lifts_finite, hashtag_stats_counts_sane,
               blueprints_well_formed, blueprints_ids_unique, factor_lifts_sane,
               variants_ids_unique, variants_well_formed,
               publish_schedule_keys_unique, publish_schedule_items_sane,
               post_metrics_counts_sane, post_metrics_ids_unique, post_metrics_no_future_snapshots,
               timing_matrix_in_range, timing_matrix_cells_unique,
               scores_sane, scores_probabilities_valid, scores_no_future_snapshots,
               factor_effects_consistent, conversion_effects_consistent,
               winners_one_per_cell, decisions_one_per_post,
               allocation_shares_valid, allocation_counts_sane,
               ad_plan_budgets_valid, ad_plan_no_future_plan, paid_winners_sane,
               ad_actions_succeeded, ad_actions_log_sane,
               attribution_counts_sane, attribution_ids_unique, attribution_no_future_events, attribution_factors_sane,
               attribution_posts_sane,
               research_queries_consistent, research_queries_ids_unique]

__all__ = ["LOOP_ASSETS", "LOOP_CHECKS", *[a.node_def.name for a in LOOP_ASSETS]]
