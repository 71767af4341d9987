"""Step 3, generate: this round's variants from its experiment design, moderated, renders queued.

The design (actp_pipeline.generate.design) splits the round into control, moderate and aggressive arms; copy
comes from the templates or, when ACTP_LLM_* configure one, a language model (falling back to the templates
per variant); near-duplicate copy is replaced. The metadata says what was asked and what was achieved.

Moderation (actp_pipeline.generate.moderation) quarantines what it rejects: the decision and its full reason
go to the approvals table, no render is queued, and the metadata shows what was found."""

import json

import dagster as dg
import pandas as pd

from actp_pipeline.generate.moderation import category_counts
from actp_pipeline.generate.variants import build_round, moderate, record_round
from actp_pipeline.research.hashtag_stats import TABLE as HASHTAG_STATS, ladder_tags
from actp_pipeline.store.invariants import duplicates, labels, missing
from assets.automation import OWNERS, when_missing
from assets.checks import verdict
from assets.metadata import as_json, md_table
from actp_pipeline.iterate.research_queries import TABLE as NEXT_ROUND, weights_from
from assets.research_queries import NEXT_ROUND_FROM
from resources import LoopSettings, StoreResource
from resources.llm import LLMResource


@dg.asset(
    deps=[dg.AssetKey("blueprints"), dg.AssetKey(HASHTAG_STATS)],
    kinds={"python", "parquet"},
    group_name="generate",
    owners=OWNERS,
    # one round a day, and the first round as soon as there are blueprints
    automation_condition=dg.AutomationCondition.on_cron("0 6 * * *") | when_missing(),
    metadata=NEXT_ROUND_FROM,
    description="Step 3, generate. The round's experiment design (control / moderate / aggressive arms, 60/25/15 by "
                "default) over hook x angle x CTA x format from the best blueprints, its levels weighted by the "
                "previous round's research_queries (factor effects); copy from templates or an OpenAI-compatible "
                "model; near-duplicates replaced; hashtags from hashtag_stats' ladder; moderated; variants whose "
                "content and strategy are approved go to the render queue.",
)
def variants(context: dg.AssetExecutionContext, store: StoreResource, loop: LoopSettings,
             llm: LLMResource) -> dg.MaterializeResult:
    wh = store.warehouse()
    bp = wh.read("blueprints")
    # what earlier rounds measured steers this one: levels with a positive effect first, untested ones
    # as average, clearly negative ones last (the generation weights research_queries wrote last round)
    weights = weights_from(wh.read(NEXT_ROUND))
    # a hashtag ladder (broad for reach, mid, niche for a less crowded audience) from hashtag_stats
    tags = ladder_tags(wh.read(HASHTAG_STATS) if wh.exists(HASHTAG_STATS) else None)
    generated = build_round(bp, topic=loop.topic, shape=loop.matrix_shape(), round_id=context.run.run_id[:8],
                            max_length_s=loop.max_length_s, weights=weights, shares=loop.design_shares(),
                            copywriter=llm.copywriter(), hashtags=tags)
    moderated = moderate(generated.matrix)  # model copy is moderated exactly like template copy
    found = {**variant_problems(moderated), "duplicates": duplicates(moderated, ["variant_id"])}
    problems = {k: v[:10] for k, v in found.items() if v}
    if problems:  # the checks run after the asset; the render queue must never see such a round
        raise dg.Failure(description=f"round not queued: {problems}", allow_retries=False)
    targets = loop.target_list()
    # the strategy fingerprint covers the targets and the blueprints the round was built from: a change to
    # either sends the round's content, schedule and ads back to review (actp_pipeline.approvals.strategy)
    counts = record_round(store.engine(), moderated, platform=targets[0].platform if targets else None,
                          targets=loop.targets, blueprints=bp)
    previous = wh.read("variants") if wh.exists("variants") else pd.DataFrame(columns=moderated.columns)
    # findings as JSON text in the warehouse: one stable parquet type whether or not a round has any
    stored = moderated.assign(moderation_findings=[json.dumps(f) for f in moderated["moderation_findings"]]) \
        if "moderation_findings" in moderated else moderated
    kept = previous[~previous["variant_id"].isin(moderated["variant_id"])]
    merged = pd.concat([kept, stored], ignore_index=True)
    wh.write("variants", merged)
    context.log.info(f"round {context.run.run_id[:8]}: {counts}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(merged),
        **counts,
        "levels_from": "own factor effects, then market blueprints" if weights else "market blueprints (no effects yet)",
        "hashtags": as_json({"tags": list(moderated["hashtags"].iloc[0]) if len(moderated) else [],
                             "from": "hashtag_stats ladder" if tags else "blueprints' strongest tags"}),
        "round": md_table(moderated[["variant_id", "arm", "hook_pattern", "angle", "cta_style", "format", "length_s",
                                     "hook", "copy_source", "moderation"]], limit=50),
        # the experiment design: arms asked vs achieved; where the copy came from; what was too alike
        "design": as_json(generated.design),
        "arms": as_json(generated.design["rows_achieved"]),
        "copy_sources": as_json({**generated.copy, "writer": llm.describe()}),
        "near_duplicates_removed": len(generated.near_duplicates),
        "near_duplicates": as_json(generated.near_duplicates[:50]),
        # quarantine: what moderation found, per category, and the rejected variants with their reasons
        "moderation_findings": as_json(category_counts(moderated)),
        "quarantined": md_table(moderated.loc[moderated["moderation"] == "rejected",
                                              ["variant_id", "hook", "moderation_reason"]], limit=20),
    })


# ------------------------------------------------------------------------------------------------ checks
FACTORS = ["hook_pattern", "angle", "cta_style", "format"]
MODERATION = {"approved", "rejected", "pending"}


def variant_problems(frame: pd.DataFrame) -> dict[str, list[str]]:
    """What would make a renderer draw the wrong video: a factor or the hook missing, a length that is not a
    positive number of seconds, a moderation status nobody knows (the offending variant ids)."""
    key = ["variant_id"]
    length = pd.to_numeric(frame["length_s"], errors="coerce") if "length_s" in frame else pd.Series(dtype=float)
    return {
        "missing_factors": missing(frame, [*FACTORS, "hook", "variant_id"], key),
        "bad_lengths": labels(frame, ~(length > 0), key) if len(frame) else [],
        "unknown_moderation": labels(frame, ~frame["moderation"].isin(MODERATION), key)
        if len(frame) and "moderation" in frame else [],
    }


@dg.asset_check(asset=variants, blocking=True, description=(
    "Variant ids are unique across rounds. Blocking: scores and attribution join posts to their creative's "
    "factors by this id."))
def variants_ids_unique(store: StoreResource) -> dg.AssetCheckResult:
    ids = store.warehouse().read("variants", columns=["variant_id"])
    return verdict({"variants": len(ids)}, {"duplicates": duplicates(ids, ["variant_id"]),
                                            "missing_ids": missing(ids, ["variant_id"], ["variant_id"])})


@dg.asset_check(asset=variants, blocking=True, description=(
    "Every variant names its factors and hook, has a positive length and a known moderation status. Blocking: "
    "renders and scores read them; the asset also refuses to queue renders for a round that breaks this."))
def variants_well_formed(store: StoreResource) -> dg.AssetCheckResult:
    frame = store.warehouse().read("variants")
    return verdict({"variants": len(frame)}, variant_problems(frame))
