"""Without the sandbox, schedules and sensors skip their tick with one clear line; settings keep secrets
apart; a research partition range is one run."""

import datetime as dt

import dagster as dg
import pytest

from actp_pipeline.settings import SANDBOX_API_KEY, SANDBOX_URL, Settings
from resources import LoopSettings, PlatformResource, ResearchSourcesResource, StoreResource
from resources.defaults import default_resources

DOWN = "http://127.0.0.1:9"  # the discard port: nothing listens
MESSAGE = f"platform at {DOWN} unreachable: start `actp sandbox` or set ACTP_PLATFORM_URL"


def test_schedules_skip_when_the_platform_is_unreachable():
    from sensors import metrics_schedule, research_schedule

    platform = PlatformResource(base_url=DOWN, api_key="k")
    with dg.instance_for_test() as instance:
        for schedule in (research_schedule, metrics_schedule):
            with dg.build_schedule_context(instance=instance, resources={"platform": platform},
                                           scheduled_execution_time=dt.datetime(2026, 11, 20, 7, 7,
                                                                                tzinfo=dt.UTC)) as ctx:
                result = schedule(ctx)
            assert isinstance(result, dg.SkipReason) and result.skip_message == MESSAGE


@pytest.mark.parametrize("status", [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTED])
def test_a_schedule_waits_while_its_previous_run_is_in_flight(status, monkeypatch):
    """A tick never queues a second run behind its schedule's own one still queued or running (on a busy host
    they piled up); a finished run, another schedule's run, a run of the same job launched by hand or by a
    backfill, and a run in flight for longer than STUCK_AFTER (presumed stuck) do not hold it back."""
    import sensors.schedules as schedules
    from sensors import metrics_schedule, research_schedule

    platform = PlatformResource(base_url=DOWN, api_key="k")

    def tick(schedule):
        with dg.build_schedule_context(instance=instance, resources={"platform": platform}) as ctx:
            return schedule(ctx)

    def run(run_id, job, status, **tags):
        instance.add_run(dg.DagsterRun(job_name=job, run_id=run_id, status=status, tags=tags))

    with dg.instance_for_test() as instance:
        run("by-hand", "research_job", status)
        run("backfill", "research_job", status, **{"dagster/backfill": "b1"})
        run("m-done", "metrics_job", dg.DagsterRunStatus.SUCCESS, **{"dagster/schedule_name": "metrics_schedule"})
        assert tick(research_schedule).skip_message == MESSAGE  # on to ask the platform
        run("r-going", "research_job", status, **{"dagster/schedule_name": "research_schedule"})
        held = tick(research_schedule)
        assert isinstance(held, dg.SkipReason)
        assert held.skip_message == (f"research_job run r-going of research_schedule is still "
                                     f"{status.value.lower()}: this tick waits for the next one")
        assert tick(metrics_schedule).skip_message == MESSAGE
        monkeypatch.setattr(schedules, "STUCK_AFTER", dt.timedelta(0))
        assert tick(research_schedule).skip_message == MESSAGE


def test_queue_sensors_skip_when_the_platform_is_unreachable(tmp_path):
    from actp_pipeline.ads import accounts as ad_accounts
    from local_ops.sensors import publish_queue_sensor, worker_liveness_sensor
    from sensors import ad_plan_approvals_sensor

    store = StoreResource(data_dir=str(tmp_path))
    res = {"store": store, "platform": PlatformResource(base_url=DOWN, api_key="k")}
    with dg.instance_for_test() as instance:
        tick = publish_queue_sensor(dg.build_sensor_context(instance=instance, resources=res, cursor="3"))
        assert not tick.run_requests and tick.skip_reason.skip_message == MESSAGE and tick.cursor == "3"
        live = worker_liveness_sensor(dg.build_sensor_context(instance=instance, resources=res))
        assert MESSAGE in live.skip_message
        ad_accounts.approve(store.engine(), "plan1", ["acc1"], by="test")
        tick = ad_plan_approvals_sensor(dg.build_sensor_context(instance=instance, resources=res))
        assert not tick.run_requests and tick.skip_reason.skip_message == MESSAGE and tick.cursor is None


def test_secrets_are_env_vars_or_absent_and_never_fall_back(monkeypatch):
    for name in ("ACTP_PLATFORM_API_KEY", "ACTP_ADS_ACCESS_TOKEN", "ACTP_DATABASE_URL", "ACTP_PLATFORM_URL",
                 "ACTP_ADS_URL"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.platform_url == SANDBOX_URL and s.platform_api_key == SANDBOX_API_KEY and s.ads_token == SANDBOX_API_KEY
    monkeypatch.setenv("ACTP_PLATFORM_URL", "https://api.example.com")
    monkeypatch.setenv("ACTP_PLATFORM_API_KEY", "real-platform-key")
    s = Settings()
    assert s.ads_token is None  # the platform key is never the ads token
    res = default_resources(s)
    assert isinstance(res["platform"].api_key, dg.EnvVar) and res["ads"].access_token is None
    assert res["store"].database_url is None
    with pytest.raises(dg.Failure, match="ACTP_ADS_ACCESS_TOKEN"):
        res["ads"].client()
    monkeypatch.setenv("ACTP_ADS_ACCESS_TOKEN", "real-ads-token")
    monkeypatch.setenv("ACTP_DATABASE_URL", "postgresql+psycopg2://u@h/db")
    res = default_resources(Settings())
    assert isinstance(res["ads"].access_token, dg.EnvVar) and isinstance(res["store"].database_url, dg.EnvVar)


def test_the_platform_resource_posts_natively_and_builds_its_client_without_a_key(monkeypatch):
    from actp_pipeline.publish.platforms import HttpPlatform

    for name in ("ACTP_PUBLISHER", "ACTP_PLATFORM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACTP_PLATFORM_URL", "https://api.example.com")
    res = default_resources(Settings())["platform"]
    assert res.publisher == "native" and res.api_key is None
    assert PlatformResource(base_url="https://api.example.com").publisher == "native"
    # the clock and research host's client: posting needs no platform key (each dialect has its own token)
    with res.client() as client:
        assert isinstance(client, HttpPlatform) and "authorization" not in client._http.headers


def test_one_settings_model_with_described_fields_and_core_defaults():
    from actp_pipeline.ads.evidence import PAID_RULE
    from actp_pipeline.ads.goals import OrchestratorConfig
    from actp_pipeline.publish.publish_schedule import SlotRules
    from actp_pipeline.score.scores import ScoringRules
    from actp_pipeline.score.winners import WinnerRule

    fields = LoopSettings.model_fields
    assert all(f.description for f in fields.values())
    for prefix in ("schedule_", "scoring_", "winner_", "paid_", "allocation_", "ads_"):
        assert any(name.startswith(prefix) for name in fields)
    s = LoopSettings()
    assert s.scoring_rules() == ScoringRules() and s.winner_rule() == WinnerRule() and s.stopping_rule() == PAID_RULE
    assert s.orchestrator_config() == OrchestratorConfig()
    assert s.slot_rules() == SlotRules(max_posts_per_day=s.max_posts_per_day)
    tuned = LoopSettings(scoring_comparison_window_h=24.0, winner_confidence=0.9, paid_min_spend=2.0,
                         ads_max_daily_budget=20.0)
    assert tuned.scoring_rules().comparison_window_h == 24.0 and tuned.winner_rule().confidence == 0.9
    assert tuned.stopping_rule().min_spend == 2.0 and tuned.orchestrator_config().max_daily_budget == 20.0


def test_research_start_is_configurable(monkeypatch):
    monkeypatch.setenv("ACTP_RESEARCH_START", "2026-10-01")
    assert Settings().research_start == "2026-10-01"
    monkeypatch.delenv("ACTP_RESEARCH_START")
    from actp_pipeline.settings import RESEARCH_START
    from assets.automation import DAILY

    assert Settings().research_start == RESEARCH_START
    assert DAILY.start.date().isoformat() <= "2026-11-10"  # the tests' days exist


def test_a_research_partition_range_is_one_run(tmp_path):
    from actp_pipeline.sandbox import SandboxServer, WorldConfig
    from assets.research import market_items
    from sensors.jobs import research_job

    assert market_items.backfill_policy == dg.BackfillPolicy.single_run()
    with SandboxServer(WorldConfig(seed=3, start=dt.datetime(2026, 11, 12, 6), speed=0.0)) as sb:
        store = StoreResource(data_dir=str(tmp_path))
        job = dg.Definitions(assets=[market_items], jobs=[research_job],
                             resources={"store": store, "research": ResearchSourcesResource(), "platform": PlatformResource(base_url=sb.url,
                                                                                     api_key=SANDBOX_API_KEY)}
                             ).resolve_job_def("research_job")
        with dg.instance_for_test() as instance:
            result = job.execute_in_process(instance=instance, tags={
                "dagster/asset_partition_range_start": "2026-11-10", "dagster/asset_partition_range_end": "2026-11-12"})
            assert result.success and len(instance.get_run_records()) == 1
            assert result.dagster_run.job_name == "research_job"
    assert store.warehouse().partitions("market_items") == ["2026-11-10", "2026-11-11", "2026-11-12"]
