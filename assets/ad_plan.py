"""Step 8c, graduate: the ads orchestrator's dry run, every action it would take with reason and numbers."""


import dagster as dg
import pandas as pd

from actp_pipeline.ads import accounts as ad_accounts
from actp_pipeline.ads.attributed_signals import ATTRIBUTION
from actp_pipeline.ads.orchestrator import plan_pass
from actp_pipeline.ads.plan import plan_frame, plan_summary
from actp_pipeline.store.invariants import duplicates, labels, later_than, missing, negative, newest
from assets.allocation import allocation
from assets.automation import OWNERS
from assets.checks import FUTURE_SKEW, WARN, platform_clock, verdict
from assets.metadata import as_json, md_table, stamp
from resources import AdsResource, LoopSettings, PlatformResource, StoreResource

PLAN_COLUMNS = ["account_id", "goal", "action", "rule", "status", "blocked_by", "variant_id", "old_budget",
                "new_budget", "reason", "note"]


_SHARED = dict(deps=[dg.AssetKey("decisions"), allocation], kinds={"python", "meta"}, group_name="graduate",
               owners=OWNERS, automation_condition=dg.AutomationCondition.on_cron("15 */6 * * *"))


@dg.multi_asset(
    name="ad_plan",
    specs=[
        dg.AssetSpec("paid_winners", **_SHARED, description="Step 8c, graduate. The paid learning test per goal and "
                     "creative: its evidence and the stopping rule's decision (the paid winners scaling takes)."),
        dg.AssetSpec("ad_plan", **_SHARED, description="Step 8c, graduate. Dry run of the ads orchestrator: per account "
                     "and goal, the campaigns, ad sets, promotions, budget changes and pauses it would make, each with "
                     "its reason, the numbers behind it and the guard's verdict."),
    ],
)
def ad_plan(context: dg.AssetExecutionContext, store: StoreResource, platform: PlatformResource,
            ads: AdsResource, loop: LoopSettings):
    engine, wh = store.engine(), store.warehouse()
    with platform.client() as p:
        now = p.now()
    with ads.client(engine) as client:
        done = plan_pass(engine, client, now, decisions=wh.read("decisions"),
                         allocation=wh.read("allocation"),
                         rule=loop.stopping_rule(), config=loop.orchestrator_config(),
                         max_candidates=loop.ads_max_candidates_per_goal, lookback_h=loop.ads_lookback_h,
                         dagster_run_id=context.run.run_id)
    if done.plan_id is None:
        yield dg.MaterializeResult(asset_key="paid_winners", metadata={"dagster/row_count": 0})
        yield dg.MaterializeResult(asset_key="ad_plan", metadata={
            "plan_id": "none", "dagster/row_count": 0,
            "note": "no ad account has an active goal: add one with `actp ads goal ACCOUNT GOAL --priority 3`"})
        return
    frame = plan_frame(done.actions).assign(plan_id=done.plan_id, as_of=now)
    wh.write("ad_plan", frame)
    wh.write("paid_winners", done.paid.assign(as_of=now))
    summary = plan_summary(done.actions)
    for e in summary["errors"]:
        context.log.warning(e)
    approved = ad_accounts.approvals(engine, done.plan_id)
    waiting = sorted({a.account_id for a in done.actions if a.executable} - set(approved))
    paid = done.paid
    yield dg.MaterializeResult(asset_key="paid_winners", metadata={
        "dagster/row_count": len(paid),
        "paid_learning": md_table(paid.drop(columns=["evidence"]) if len(paid) else paid, limit=30, key=["variant_id"]),
    })
    yield dg.MaterializeResult(asset_key="ad_plan", metadata={
        "plan_id": done.plan_id,
        "as_of": stamp(now),
        "dagster/row_count": len(frame),
        "summary": as_json({k: v for k, v in summary.items() if k != "errors"}),
        "errors": len(summary["errors"]),
        "auto_execute": ", ".join(sorted(a for a, by in approved.items() if by == "auto_execute")) or "none",
        "awaiting_approval": f"{', '.join(waiting)}: `actp ads approve {done.plan_id}`" if waiting else "none",
        "actions": md_table(frame[PLAN_COLUMNS], limit=50, key=["account_id", "goal", "action"]),
        "candidates": md_table(done.candidates),
        "scaling": md_table(done.scaling, key=["account_id", "goal"]),
        # per ad set, where each goal's core signal came from: "platform" (its insights) or "ACTP attribution"
        # (purchases/leads/signups through the ad's paid tracked link; no link = unknown, never 0)
        "signal_sources": md_table(done.signal_sources, limit=50, key=["account_id", "goal", "ad_set_id"]),
        "attributed_ad_sets": _attributed_count(done.signal_sources),
        "paid_evidence": dg.MetadataValue.md("\n".join(
            f"- {acc}/{g}: {ev}" for acc, g, ev in paid.drop_duplicates(["account_id", "goal"])[
                ["account_id", "goal", "evidence"]].itertuples(index=False)) if len(paid) else "_no learning ad sets yet_"),
    })


def _attributed_count(sources: pd.DataFrame) -> str:
    """How many ad sets are judged on ACTP's attribution, and how many of those have no paid link (unknown)."""
    if sources is None or not len(sources):
        return "none"
    mine = sources[sources["source"] == ATTRIBUTION]
    unknown = int((mine["note"] != "").sum())  # the note says why an attributed signal is unknown
    return f"{len(mine)} of {len(sources)} ad sets, {unknown} without a paid link (unknown)"


# ------------------------------------------------------------------------------------------------ checks
ACTION_KEY = ["account_id", "goal", "action", "variant_id"]
PAID_KEY = ["account_id", "goal", "variant_id"]


@dg.asset_check(asset="ad_plan", description=(
    "No planned budget is negative; every action names its account. Warns only: the plan is a dry run, and "
    "the orchestrator's guard refuses such an action before it is sent."))
def ad_plan_budgets_valid(store: StoreResource) -> dg.AssetCheckResult:
    frame = store.warehouse().read("ad_plan")
    return verdict({"actions": len(frame)}, {
        "negative_budgets": negative(frame, ["old_budget", "new_budget"], ACTION_KEY),
        "no_account": missing(frame, ["account_id"], ACTION_KEY)}, severity=WARN)


@dg.asset_check(asset="ad_plan", description=(
    f"The plan and its paid evidence are not dated after the platform's clock (+{FUTURE_SKEW}). Warns only."))
def ad_plan_no_future_plan(store: StoreResource, platform: PlatformResource) -> dg.AssetCheckResult:
    wh = store.warehouse()
    frames = {"ad_plan": wh.read("ad_plan"), "paid_winners": wh.read("paid_winners")}
    clock = platform_clock(platform)
    future = [f"{name}/{label}" for name, df in frames.items()
              for label in (later_than(df, ["as_of"], clock.bound, ["plan_id", *ACTION_KEY])
                            if clock.bound is not None else [])]
    return verdict({"actions": len(frames["ad_plan"]), **clock.metadata(),
                    "as_of": stamp(newest(frames["ad_plan"], ["as_of"]))}, {"future_plans": future}, severity=WARN)


@dg.asset_check(asset="paid_winners", description=(
    "One row per account, goal and creative; no impressions, events, spend or hours negative; P(best) within "
    "[0, 1]. Warns only (see ad_plan_budgets_valid)."))
def paid_winners_sane(store: StoreResource) -> dg.AssetCheckResult:
    paid = store.warehouse().read("paid_winners")
    p_best = pd.to_numeric(paid["p_best"], errors="coerce") if "p_best" in paid else pd.Series(dtype=float)
    return verdict({"rows": len(paid)}, {
        "duplicates": duplicates(paid, PAID_KEY),
        "negative_counts": negative(paid, ["impressions", "events", "spend", "hours_live"], PAID_KEY),
        "p_best_out_of_range": labels(paid, (p_best < 0) | (p_best > 1), PAID_KEY) if len(paid) else []},
        severity=WARN)
