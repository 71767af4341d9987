"""Step 8d, graduate: execute the approved ads plan, each action written to the audit log."""


import dagster as dg

from actp_pipeline.ads import audit as ads_audit
from actp_pipeline.ads.orchestrator import execute_pass
from assets.automation import OWNERS
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
                "default). Every action lands in the audit log (ads_automation_runs / ads_automation_actions).",
)
def ad_actions(context: dg.AssetExecutionContext, config: AdActionsConfig, store: StoreResource,
               platform: PlatformResource, ads: AdsResource, loop: LoopSettings) -> dg.MaterializeResult:
    engine = store.engine()
    with platform.client() as p:
        now = p.now()
    with ads.client(engine) as client:
        done = execute_pass(engine, client, now, config.plan_id, dagster_run_id=context.run.run_id,
                            max_plan_age_h=loop.ads_max_plan_age_h)
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
        "audit_log": md_table(mine[LOG_COLUMNS] if len(mine) else mine, limit=50, key=["seq", "action"]),
    })


@dg.asset_check(asset=ad_actions, description="Every action of the newest execution reached the ad platform "
                                              "(failed actions are in the audit log with their error).")
def ad_actions_succeeded(store: StoreResource) -> dg.AssetCheckResult:
    runs = ads_audit.runs(store.engine(), limit=50)
    # a refused execution (another one held the plan) sent nothing: the check is about the one that sent
    executed = runs[(runs["mode"] == ads_audit.EXECUTE) & (runs["status"] != ads_audit.REFUSED)] if len(runs) else runs
    if executed.empty:
        return dg.AssetCheckResult(passed=True, metadata={"note": "nothing executed yet"})
    last = executed.iloc[0]
    log = ads_audit.log(store.engine(), plan_id=last["plan_id"])
    failed = log[(log["run_id"] == last["run_id"]) & (log["status"] == "failed")]
    return dg.AssetCheckResult(
        passed=failed.empty, severity=dg.AssetCheckSeverity.WARN,
        metadata={"run_id": last["run_id"], "failed": len(failed),
                  "errors": md_table(failed[["seq", "account_id", "goal", "action", "error"]] if len(failed) else failed)})
