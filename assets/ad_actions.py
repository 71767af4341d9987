"""Step 8d, graduate: execute the approved ads plan, each action written to the audit log."""


import dagster as dg
import pandas as pd

from actp_pipeline.ads import audit as ads_audit
from actp_pipeline.ads.ad_links import AdLinks
from actp_pipeline.ads.orchestrator import execute_pass
from actp_pipeline.store.invariants import duplicates, labels, later_than
from assets.automation import OWNERS
from assets.checks import FUTURE_SKEW, WARN, platform_clock, verdict
from assets.metadata import as_json, md_table
from resources import AdsResource, LoopSettings, PlatformResource, StoreResource

LOG_COLUMNS = ["seq", "account_id", "goal", "action", "rule", "status", "target_id", "result_id", "error", "reason"]


class AdActionsConfig(dg.Config):
    plan_id: str | None = None  # None = the newest plan


@dg.asset(
    deps=[dg.AssetKey("ad_plan")],
    kinds={"python", "meta"},
    group_name="graduate",
    owners=OWNERS,
    automation_condition=dg.AutomationCondition.eager(),
    description="Step 8d, graduate. Executes the newest ads plan for the accounts that approved it (or have auto_execute on; off by "
                "default). Every action lands in the audit log (ads_automation_runs / ads_automation_actions). With a "
                "landing_url and a hooks_url each new ad sends its clicks through its creative's paid tracked link.",
)
def ad_actions(context: dg.AssetExecutionContext, config: AdActionsConfig, store: StoreResource,
               platform: PlatformResource, ads: AdsResource, loop: LoopSettings) -> dg.MaterializeResult:
    engine = store.engine()
    with platform.client() as p:
        now = p.now()
    links = AdLinks.from_settings(loop.landing_url, loop.hooks_url, loop.topic)  # None: ads without links
    with ads.client(engine) as client:
        done = execute_pass(engine, client, now, config.plan_id, dagster_run_id=context.run.run_id,
                            max_plan_age_h=loop.ads_max_plan_age_h, ad_links=links)
    if done is None:
        return dg.MaterializeResult(metadata={"note": "no plan yet: materialize ad_plan first", "failed": 0})
    if done.busy:  # another execution holds the plan (one executor per plan): this one sent nothing
        context.log.warning(done.busy)
    for f in done.failures:
        context.log.warning(f)
    for acc, why in done.refused.items():
        context.log.info(f"account {acc}: {why}")
    log = ads_audit.log(engine, plan_id=done.plan_id)
    mine = log[log["run_id"] == done.run_id] if done.run_id and len(log) else log.iloc[0:0]
    return dg.MaterializeResult(metadata={
        "plan_id": done.plan_id,
        "run_id": done.run_id or "none",
        "counts": as_json(done.counts),
        "failed": done.counts.get("failed", 0),
        "refused": as_json(done.refused),
        "another_execution_running": done.busy or "no",
        "paid_links": "each new ad links through its creative's paid tracked link" if links else
                      "off: set landing_url and hooks_url to give ads tracked links",
        "audit_log": md_table(mine[LOG_COLUMNS] if len(mine) else mine, limit=50, key=["seq", "action"]),
    })


# ------------------------------------------------------------------------------------------------ checks
ACTION = ["seq", "account_id", "action"]


def newest_execution(store: StoreResource):
    """The newest execution that sent something (a refused one, another execution held the plan, sent nothing)
    and its audit log rows; (None, empty) before the first."""
    runs = ads_audit.runs(store.engine(), limit=50)
    executed = runs[(runs["mode"] == ads_audit.EXECUTE) & (runs["status"] != ads_audit.REFUSED)] if len(runs) else runs
    if executed.empty:
        return None, pd.DataFrame(columns=[*ACTION, "run_id", "status", "at", "error", "goal"])
    last = executed.iloc[0]
    log = ads_audit.log(store.engine(), plan_id=last["plan_id"])
    return last, log[log["run_id"] == last["run_id"]]


@dg.asset_check(asset=ad_actions, description="Every action of the newest execution reached the ad platform "
                                              "(failed actions are in the audit log with their error). Warns only: "
                                              "the audit log and the alerts carry the failure.")
def ad_actions_succeeded(store: StoreResource) -> dg.AssetCheckResult:
    last, log = newest_execution(store)
    if last is None:
        return verdict({"note": "nothing executed yet"}, {"failed": []}, severity=WARN)
    failed = log[log["status"] == "failed"]
    errors = md_table(failed[["seq", "account_id", "goal", "action", "error"]])
    return verdict({"run_id": last["run_id"], "actions": len(log)},
                   {"failed": labels(log, log["status"] == "failed", ACTION)}, severity=WARN, extra={"errors": errors})


@dg.asset_check(asset=ad_actions, description=(
    f"The newest execution holds each planned action once and dates none after the platform's clock "
    f"(+{FUTURE_SKEW}). Warns only: the store's action key already refuses a second execution of an action."))
def ad_actions_log_sane(store: StoreResource, platform: PlatformResource) -> dg.AssetCheckResult:
    last, log = newest_execution(store)
    clock = platform_clock(platform)
    future = later_than(log, ["at"], clock.bound, ACTION) if clock.bound is not None else []
    return verdict({"run_id": last["run_id"] if last is not None else "none", "actions": len(log), **clock.metadata()},
                   {"repeated_actions": duplicates(log, ["seq"]), "future_actions": future}, severity=WARN)
