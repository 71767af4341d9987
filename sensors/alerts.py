"""Operations: a run-failure sensor over BOTH code locations, and the alerts sensor that checks the
conditions and sends the webhook messages (actp_pipeline/alerts says what each condition compares).

Both live in the main code location: `monitor_all_code_locations=True` makes the one run-failure sensor
see the runs of local_ops (renders, uploads) too, since both locations share the Dagster instance."""


import datetime as dt
import json

import dagster as dg

from actp_pipeline.ads.audit import safe_error
from actp_pipeline.alerts import raise_alerts
from actp_pipeline.alerts.checks import evaluate, open_run_failures, resolve_recovered, scores_if_changed
from actp_pipeline.alerts.conditions import run_failure
from actp_pipeline.alerts.notify import deliver
from actp_pipeline.alerts.spend import read_spend, record_spend, within
from resources import AdsResource, AlertsResource, LoopSettings, PlatformResource, StoreResource

SPEND_DEADLINE_S = 20.0  # the ad platform's share of a tick (the webhook's: 3 tries x 5 s at most)


def _root(error):
    """The error that started it (a step's user error sits under Dagster's wrapper as its cause)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message.strip()


def _failure_text(context: dg.RunFailureSensorContext) -> str:
    """The first failed step's error, else the run failure's own (a run can fail before any step)."""
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error
        if error is not None:
            return f"{event.step_key}: {_root(error)}"
    error = getattr(context.failure_event.event_specific_data, "error", None)
    return _root(error) if error is not None else (context.failure_event.message or "run failed")


@dg.run_failure_sensor(monitor_all_code_locations=True, default_status=dg.DefaultSensorStatus.RUNNING,
                       minimum_interval_seconds=30,
                       description="Raises one alert per failing job (any code location), with the run's error; "
                                   "a later successful run of the job resolves it (alerts_sensor).")
def run_failure_alerts(context: dg.RunFailureSensorContext, store: StoreResource) -> None:
    run = context.dagster_run
    location = run.remote_job_origin.location_name if run.remote_job_origin is not None else None
    candidate = run_failure(run.job_name, run.run_id, safe_error(_failure_text(context)) or "", location)
    raise_alerts(store.engine(), [candidate])
    context.log.info(f"alert raised: {candidate.key}")


def _spend(cursor: dict, store: StoreResource, platform: PlatformResource, ads: AdsResource, loop: LoopSettings,
           every_s: float):
    """(spend frame, the platform's now, a note): the frame when a reading is due and succeeds, else None."""
    last = cursor.get("spend_at", 0.0)
    wall = dt.datetime.now(dt.UTC).timestamp()
    if wall - last < every_s:
        return None, None, None
    cursor["spend_at"] = wall
    down = platform.unreachable()
    if down:
        return None, None, f"spend not read: {down}"
    engine = store.engine()
    try:
        with platform.client() as p:
            now = p.now()
        spend, errors = within(SPEND_DEADLINE_S, lambda: read_spend(lambda: ads.client(engine), engine, now,
                                                                    loop.orchestrator_config()))
    except Exception as e:  # noqa: BLE001 - no token, a refusal, a timeout: pacing waits, the rest goes on
        return None, None, f"spend not read: {safe_error(f'{type(e).__name__}: {e}')}"
    spend = record_spend(engine, spend, now)  # planned: the day's peak budgets, the plan paced against
    note = f"spend read; accounts not read: {errors}" if errors else None
    return spend, now, note


def _recovered_jobs(context: dg.SensorEvaluationContext, engine) -> list[str]:
    """Open run-failure alerts whose job has succeeded since: resolved."""
    done = []
    for a in open_run_failures(engine):
        since = a["last_seen"].replace(tzinfo=dt.UTC)
        ok = context.instance.get_run_ids(dg.RunsFilter(job_name=a["job"], statuses=[dg.DagsterRunStatus.SUCCESS],
                                                        created_after=since), limit=1)
        if ok:
            done.append(a["key"])
    return resolve_recovered(engine, done)


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Checks dead workers, open circuit breakers, spend pacing (above 1.5x the plan) and posts "
                       "far outside their cell; resolves what cleared; sends due alerts to the webhook "
                       "(ACTP_ALERT_WEBHOOK_URL) as one message per tick.")
def alerts_sensor(context: dg.SensorEvaluationContext, store: StoreResource, platform: PlatformResource,
                  ads: AdsResource, loop: LoopSettings, alerts: AlertsResource) -> dg.SensorResult:
    cursor = json.loads(context.cursor) if context.cursor else {}
    engine = store.engine()
    scores, cursor["scores"] = scores_if_changed(store.warehouse(), cursor.get("scores"))
    spend, spend_now, note = _spend(cursor, store, platform, ads, loop, alerts.pacing_every_minutes * 60)
    checked = evaluate(engine, scores=scores, spend=spend, spend_now=spend_now, rules=alerts.rules())
    recovered = _recovered_jobs(context, engine)
    sent = deliver(engine, alerts.webhook_url, alerts.policy())
    if sent.error and alerts.webhook_url:
        context.log.warning(f"alerts not delivered: {sent.error}")
    summary = (f"firing {checked['firing'] or 'nothing'}; resolved {len(checked['resolved']) + len(recovered)}; "
               f"{sent.due} due, {'sent' if sent.sent else 'not sent'}" + (f"; {note}" if note else ""))
    return dg.SensorResult(skip_reason=summary, cursor=json.dumps(cursor))
