"""Step 7b, score: which creative factors drive engagement, with intervals (what the next round uses); and the
same model read on conversions (conversion_effects, step 9: which factors turn a click into a conversion)."""

import dagster as dg
import pandas as pd

from actp_pipeline.attribution import ALL
from actp_pipeline.attribution.conversion_effects import MIN_CLICKS, OUTCOME, estimate_conversion_effects
from actp_pipeline.score.factor_effects import (
    EFFECT_COLUMNS,
    UNMEASURED_HALF_WIDTH,
    estimate_factor_effects,
    generation_weights,
)
from assets.automation import OWNERS, follow_checked
from assets.metadata import as_json, md_table
from assets.scores import scores
from assets.variants import variants
from resources import StoreResource

CONVERSION_MEANINGS = [
    ("Rows", "One row per creative factor level (hook pattern, angle, CTA style, format, length, posting time): "
             "its effect on the conversion rate per click, relative to the factor's average level."),
    ("Outcome", "Per post, converting clicks / human clicks (attribution_posts, event `*`: a conversion of any "
                "event; a click counts once however often it converted). It says which factors turn a click into "
                "a conversion, not which factors earn clicks (that is engagement: factor_effects)."),
    ("effect, low, high", "Multiplicative lift on the conversion rate per click at the data's baseline rate: "
                          "+0.40 = +40% vs the factor's average level, with its 95% interval [low, high]. The "
                          "logit_* columns are the same on the model's scale."),
    ("Model", "A linear mixed model on the logit of each post's conversion rate: a free baseline per platform and "
              "account (posts are only compared within one), the factor levels as fixed effects, a random effect "
              "per creative (posts of one creative are not independent), Student-t intervals (factor_effects' "
              "model with another outcome)."),
    ("Learning gate", f"A post counts once it has {MIN_CLICKS} human clicks; there is no gate on conversions "
                      "(keeping only posts that converted would inflate every effect)."),
    ("Not measurable yet", "A level whose interval is wider than +-100% says so instead of printing a number; "
                           "findings list such levels last."),
    ("clicks, converting_clicks", "Summed over the posts carrying the level (the model weighs posts, not sums)."),
]


@dg.asset(
    deps=[scores],
    kinds={"python", "parquet"},
    group_name="score",
    owners=OWNERS,
    automation_condition=follow_checked(),
    description="Step 7b, score. Lift of each factor level on engagement (a mixed model on the engagement logit: fair cells "
                "as fixed effects, a random effect per creative), with 95% intervals (the level is in every label), and the "
                "generation weights it implies (the next round reads them through research_queries).",
)
def factor_effects(context: dg.AssetExecutionContext, store: StoreResource) -> dg.MaterializeResult:
    wh = store.warehouse()
    scored = wh.read("scores")
    # no scores yet (a day whose uploads all failed): an empty table WITH its columns, which readers can open
    effects = estimate_factor_effects(scored) if len(scored) else pd.DataFrame(columns=EFFECT_COLUMNS)
    wh.write("factor_effects", effects)
    reason = effects.attrs.get("reason", "no scores yet") if len(scored) else "no scores yet"
    weights = generation_weights(effects) if len(effects) else {}
    meta = {"dagster/row_count": len(effects), "generation_weights": as_json(weights)}
    if len(effects):
        meta |= _effects_metadata(effects)
    else:
        meta["reason"] = reason
    return dg.MaterializeResult(metadata=meta)


def _effects_metadata(effects: pd.DataFrame) -> dict:
    """findings (labels, measurable levels first, largest effect first) and the effects as a table."""
    unmeasured = (effects["high"] - effects["low"]) / 2 > UNMEASURED_HALF_WIDTH
    best = effects.assign(_unmeasured=unmeasured).sort_values(["_unmeasured", "effect"], ascending=[True, False])
    return {"findings": dg.MetadataValue.md("\n".join(f"- {label}" for label in best["label"].head(10))),
            "effects": md_table(effects[["factor", "level", "effect", "low", "high", "interval_level", "n_posts"]],
                                limit=40)}


@dg.asset(
    deps=[dg.AssetKey("attribution_posts"), variants],
    kinds={"python", "parquet"},
    group_name="attribute",
    owners=OWNERS,
    automation_condition=follow_checked(),
    description="Step 9, attribute. Lift of each factor level on the conversion rate per click (converting clicks / "
                "human clicks per post, any conversion event), with 95% intervals: factor_effects' mixed model "
                "(fair cells as fixed effects, a random effect per creative) read on conversions instead of "
                f"engagement. A post counts once it has {MIN_CLICKS} clicks.",
)
def conversion_effects(store: StoreResource) -> dg.MaterializeResult:
    wh = store.warehouse()
    posts = wh.read("attribution_posts") if wh.exists("attribution_posts") else pd.DataFrame()
    variant_rows = wh.read("variants") if wh.exists("variants") else None
    effects = estimate_conversion_effects(posts, variant_rows, event=ALL)
    wh.write("conversion_effects", effects)
    a = effects.attrs
    meta = {"dagster/row_count": len(effects), "outcome": OUTCOME, "event": "any (*)",
            **{k: a[k] for k in ("posts_read", "posts_over_gate", "min_clicks", "clicks", "converting_clicks")},
            "what_the_numbers_mean": dg.MetadataValue.md("\n".join(f"- **{name}**: {text}"
                                                                   for name, text in CONVERSION_MEANINGS))}
    if len(effects):
        meta |= _effects_metadata(effects)
        meta["baseline_rate"] = round(float(a["baseline_rate"]), 4)
    else:
        meta["reason"] = ("no per-post funnel yet (attribution_posts)" if posts.empty else
                          f"{a['reason']} ({a['posts_over_gate']} of {a['posts_read']} posts have {a['min_clicks']}+ "
                          f"clicks; {a['clicks']} clicks in all)")
    return dg.MaterializeResult(metadata=meta)


def _consistent(table: str, store: StoreResource) -> dg.AssetCheckResult:
    e = store.warehouse().read(table)
    if e.empty:
        return dg.AssetCheckResult(passed=True, metadata={"effects": 0})
    outside = int(((e["effect"] < e["low"] - 1e-9) | (e["effect"] > e["high"] + 1e-9)).sum())
    dupes = int(e.duplicated(["factor", "level"]).sum())
    return dg.AssetCheckResult(passed=outside == 0 and dupes == 0,
                               metadata={"effects": len(e), "outside_interval": outside, "duplicate_levels": dupes})


@dg.asset_check(asset=factor_effects, description="Each effect lies within its interval; one row per factor level.")
def factor_effects_consistent(store: StoreResource) -> dg.AssetCheckResult:
    return _consistent("factor_effects", store)


@dg.asset_check(asset=conversion_effects, description="Each effect lies within its interval; one row per factor "
                                                      "level.")
def conversion_effects_consistent(store: StoreResource) -> dg.AssetCheckResult:
    return _consistent("conversion_effects", store)
