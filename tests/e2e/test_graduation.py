"""The whole graduation path against the sandbox's ads API, over HTTP, on both store backends:
learning campaigns created, the winner promoted, the scaling budget raised, losers paused, every action
in the audit log once; a crash between the call and its log entry does not repeat the call."""

import datetime as dt
import os
import subprocess
import sys
import textwrap

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from actp_pipeline import creative
from actp_pipeline.ads import accounts as ad_accounts, audit as ads_audit
from actp_pipeline.ads.goals import OrchestratorConfig
from actp_pipeline.ads.orchestrator import execute_pass, plan_pass
from actp_pipeline.ads.meta import MetaAdsClient
from actp_pipeline.publish.platforms import HttpPlatform
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.store import connect_store, schema
from tests.media import make_mp4, variant
from tests.sandbox_posts import advance_clock, native, record_post

ACCOUNT = "grad1"
LEAD_PIXEL = "offsite_conversion.fb_pixel_lead"  # a conversion no creative ever earns here: only losers

LEVELS = [("question", "pain_point", "comment", "text_hook"), ("stat", "social_proof", "save", "testimonial"),
          ("pov", "urgency", "link_in_bio", "listicle"), ("story", "social_proof", "save", "listicle"),
          ("question", "urgency", "link_in_bio", "testimonial"), ("stat", "pain_point", "comment", "listicle")]


def _publish(tmp_path, sb, platform, engine) -> list[str]:
    """Six creatives posted as Instagram Reels through the native publisher (Meta's ads promote an Instagram
    post by its IG media id), each recorded in the posts ledger as the publish worker records it; `platform`
    (HttpPlatform) is the sandbox's clock."""
    ids = []
    pub = native(sb.url, sb.config.api_keys[0], tmp_path / "native")
    try:
        for i, (h, a, c, f) in enumerate(LEVELS):
            v = variant(hook_pattern=h, angle=a, cta_style=c, format=f, length_s=15)
            path = make_mp4(tmp_path / f"v{i}.mp4", creative.descriptor_json(v), seconds=3.5)  # a Reel: >= 3 s
            key = f"{v['variant_id']}:instagram:main"
            post = pub.publish(media_path=path, platform="instagram", account="main", caption=v["hook"],
                               hashtags=[], scheduled_at=None, idempotency_key=key)
            now = platform.now()
            record_post(engine, key, v["variant_id"], post, now)
            ids.append(v["variant_id"])
    finally:
        pub.close()
    return ids



def _spread(sb, ids: list[str]) -> list[str]:
    """Three creatives far apart in true appeal (evaluation code may read the truth; the pipeline never does)."""
    truth = pd.DataFrame(httpx.get(f"{sb.url}/sandbox/truth/posts", headers={"X-Truth-Token": sb.truth_token}).json()["items"])
    truth = truth[truth["variant_id"].isin(ids)].sort_values("true_er", ascending=False)
    ordered = list(truth["variant_id"])
    return [ordered[0], ordered[len(ordered) // 2], ordered[-1]]


@pytest.mark.slow
def test_graduation_path_against_the_sandbox_ads_api(tmp_path, store_url):
    engine = connect_store(store_url)
    world = WorldConfig(seed=11, speed=0.0, start=dt.datetime(2026, 11, 1, 6))
    with SandboxServer(world) as sb, HttpPlatform(sb.url, world.api_keys[0]) as platform, \
            MetaAdsClient(sb.url + "/graph", world.api_keys[0]) as ads:
        ids = _publish(tmp_path, sb, platform, engine)
        picked = _spread(sb, ids)
        allocation = pd.DataFrame({"variant_id": picked, "share": [0.5, 0.3, 0.2]})
        decisions = pd.DataFrame({"variant_id": picked, "decision": "not_yet", "p_best": [0.5, 0.3, 0.2]})
        ad_accounts.set_account(engine, ACCOUNT, global_daily_budget=40.0, auto_execute=True,
                                auto_scale_winners=True, auto_pause_losers=True)
        ad_accounts.set_goal(engine, ACCOUNT, "virality", priority=3)  # core signal: thruplay
        ad_accounts.set_goal(engine, ACCOUNT, "leads", priority=2, core_signal=LEAD_PIXEL)
        config = OrchestratorConfig()
        plans = []
        for _ in range(14):  # seven simulated days, planned and executed every 12 hours
            now = advance_clock(sb, 12)
            p = plan_pass(engine, ads, now, decisions=decisions, allocation=allocation, config=config,
                          max_candidates=3, trigger="test")
            assert not p.unreadable
            plans.append(p)
            done = execute_pass(engine, ads, now, p.plan_id, trigger="test")
            assert done is not None and not done.failures, done.failures
        log = ads_audit.log(engine, limit=10_000)
        done_rows = log[(log["mode"] == "execute") & (log["status"] == "success")]
        kinds = done_rows.groupby(["action", "rule"]).size().to_dict()

        # learning campaigns (one per goal, once) with an ad set per creative
        assert kinds[("create_campaign", "ensure_learning")] == 2
        assert kinds[("create_ad_set", "test_creative")] == 6
        # the truly best creative won the paid learning test of virality and was promoted into scaling
        truth = pd.DataFrame(httpx.get(f"{sb.url}/sandbox/truth/ads", headers={"X-Truth-Token": sb.truth_token}).json()["items"])
        assert kinds[("create_campaign", "ensure_scaling")] == 1
        promoted = done_rows[done_rows["action"] == "duplicate_ad_set"]
        assert list(promoted["variant_id"]) == [picked[0]]
        sets = ads.ad_sets(ACCOUNT)
        copy = sets[sets["id"] == promoted["result_id"].iloc[0]].iloc[0]
        assert copy["promoted_from"] == promoted["target_id"].iloc[0] and copy["variant_id"] == picked[0]
        # its budget was scaled by 20 % once the cost per thruplay held steady; each plan says why or why not
        trends = pd.concat([p.scaling for p in plans if len(p.scaling)], ignore_index=True)
        assert trends["raise_ok"].any() and trends["verdict"].str.contains("too little history|no delivery").any()
        scaled = done_rows[done_rows["rule"] == "scale"]
        assert len(scaled) >= 1
        first = [a for p in plans for a in p.actions if a.rule == "scale" and a.executable][0]
        assert first.params["new_budget"] == pytest.approx(round(first.params["old_budget"] * 1.2, 2), abs=0.011)
        # the leads ad sets never converted: paused once they spent > $10 over >= 48 h
        paused = done_rows[done_rows["action"] == "pause_ad_set"]
        assert len(paused) == 3
        lead_sets = sets[sets["id"].isin(paused["target_id"])]
        assert set(lead_sets["status"]) == {"PAUSED"}
        # never twice: one create per goal, each action key once, and spend within the account's budget
        assert log["plan_id"].notna().all()
        keys = log.loc[log["mode"] == "execute", "plan_id"].astype(str) + ":" + log.loc[log["mode"] == "execute", "seq"].astype(str)
        assert keys.is_unique
        assert truth["spend_to_date"].sum() <= 40.0 * 7 + 1e-6
        learning = truth[truth["adset_id"].isin(sets.loc[sets["name"].str.contains("virality | learning", regex=False), "id"])]
        best = learning.loc[learning["rates"].map(lambda r: r["thruplay"]).idxmax(), "variant_id"]
        assert best == picked[0]  # the promoted creative is the truly best in the ad platform too
        # every plan's planned daily spend respected the caps (the guard's statuses say so)
        for p in plans:
            assert all(a.status in ("planned", "clipped", "blocked", "error") for a in p.actions)
    engine.dispose()


CRASH_SCRIPT = textwrap.dedent("""
    import datetime as dt, sys
    from actp_pipeline.ads.orchestrator import execute_pass
    from actp_pipeline.ads.meta import MetaAdsClient
    from actp_pipeline.store import connect_store
    engine = connect_store(sys.argv[1])
    with MetaAdsClient(sys.argv[2], sys.argv[3]) as ads:
        execute_pass(engine, ads, dt.datetime.fromisoformat(sys.argv[4]), sys.argv[5], trigger="test")
""")


@pytest.mark.parametrize("point", ["ad_actions.after_call", "ad_actions.before_call"])
def test_a_crash_mid_execution_is_recovered_without_repeating_the_call(tmp_path, point):
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = connect_store(store_url)
    world = WorldConfig(seed=5, speed=0.0, start=dt.datetime(2026, 11, 1, 6))
    with SandboxServer(world) as sb, HttpPlatform(sb.url, world.api_keys[0]) as platform, \
            MetaAdsClient(sb.url + "/graph", world.api_keys[0]) as ads:
        ids = _publish(tmp_path, sb, platform, engine)[:2]
        ad_accounts.set_account(engine, ACCOUNT, global_daily_budget=20.0, auto_execute=True)
        ad_accounts.set_goal(engine, ACCOUNT, "virality", priority=3)
        now = platform.now()
        p = plan_pass(engine, ads, now, allocation=pd.DataFrame({"variant_id": ids, "share": [0.6, 0.4]}),
                      trigger="test")
        assert [a.action for a in p.actions] == ["create_campaign", "create_ad_set", "create_ad_set"]
        env = {**os.environ, "ACTP_FAILPOINTS": point}
        res = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, store_url, sb.url + "/graph", world.api_keys[0],
                              now.isoformat(), p.plan_id], env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == -9, res.stderr  # killed at the failpoint, like a power cut
        with engine.connect() as conn:
            t = schema.ads_automation_actions
            assert conn.execute(sa.select(t.c.status).where(t.c.action_key == f"{p.plan_id}:0")).scalar() == "pending"
        # the next execution reconciles the pending action by the name it gave the campaign, then goes on
        done = execute_pass(engine, ads, now, p.plan_id, trigger="test")
        assert not done.failures
        camps = ads.campaigns(ACCOUNT)
        assert len(camps) == 1  # created exactly once
        assert len(ads.ad_sets(ACCOUNT)) == 2
        log = ads_audit.log(engine, plan_id=p.plan_id)
        assert (log[log["mode"] == "execute"]["status"] == "success").all()
        assert done.results[0]["recovered"] is True
        # a third execution does nothing: every action already succeeded
        again = execute_pass(engine, ads, now, p.plan_id, trigger="test")
        assert again.counts == {"already_success": 3}
    engine.dispose()


def test_plans_change_nothing_until_approved_then_execute_once(tmp_path):
    """auto_execute is off by default: the dry run touches no ad object and execution waits for approval."""
    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    world = WorldConfig(seed=3, speed=0.0, start=dt.datetime(2026, 11, 1, 6))
    with SandboxServer(world) as sb, HttpPlatform(sb.url, world.api_keys[0]) as platform, \
            MetaAdsClient(sb.url + "/graph", world.api_keys[0]) as ads:
        ids = _publish(tmp_path, sb, platform, engine)[:2]
        ad_accounts.set_goal(engine, ACCOUNT, "streams", priority=4)
        allocation = pd.DataFrame({"variant_id": ids, "share": [0.5, 0.5]})
        now = platform.now()
        first = plan_pass(engine, ads, now, allocation=allocation, trigger="test")
        second = plan_pass(engine, ads, now, allocation=allocation, trigger="test")
        assert [a.action for a in first.actions] == [a.action for a in second.actions]
        assert ads.campaigns(ACCOUNT).empty and ads.ad_sets(ACCOUNT).empty  # the dry run sent nothing
        refused = execute_pass(engine, ads, now, second.plan_id, trigger="test")
        assert refused.run_id is None and "not approved" in refused.refused[ACCOUNT]
        assert ads.campaigns(ACCOUNT).empty
        ad_accounts.approve(engine, second.plan_id, [ACCOUNT], by="tester")
        done = execute_pass(engine, ads, now, second.plan_id, trigger="test")
        assert done.counts == {"success": len(second.actions)} and not done.refused
        assert len(ads.campaigns(ACCOUNT)) == 1 and len(ads.ad_sets(ACCOUNT)) == 2
        # the older plan is now stale: another plan's actions reached the account after it was made
        ad_accounts.approve(engine, first.plan_id, [ACCOUNT], by="tester")
        stale = execute_pass(engine, ads, now, first.plan_id, trigger="test")
        assert "stale" in stale.refused[ACCOUNT] and len(ads.campaigns(ACCOUNT)) == 1
        runs = ads_audit.runs(engine)
        assert set(runs["mode"]) == {"dry_run", "execute"} and (runs.loc[runs["mode"] == "execute", "status"] == "success").all()
    engine.dispose()


class _LostAnswers(httpx.HTTPTransport):
    """Sends every request, but loses the answer to the first POST of each given path suffix (a timeout
    after the platform acted): the executor must look before it calls the action a failure."""

    def __init__(self, lose: tuple[str, ...]):
        super().__init__()
        self.lose = set(lose)

    def handle_request(self, request):
        resp = super().handle_request(request)
        hit = next((s for s in self.lose if request.method == "POST" and request.url.path.endswith(s)), None)
        if hit:
            self.lose.discard(hit)
            resp.read()
            raise httpx.ReadTimeout("answer lost after the request was sent", request=request)
        return resp


def test_an_answer_lost_after_the_platform_acted_is_reconciled_not_repeated(tmp_path):
    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    world = WorldConfig(seed=6, speed=0.0, start=dt.datetime(2026, 11, 1, 6))
    with SandboxServer(world) as sb, HttpPlatform(sb.url, world.api_keys[0]) as platform, \
            MetaAdsClient(sb.url + "/graph", world.api_keys[0]) as reader, \
            MetaAdsClient(sb.url + "/graph", world.api_keys[0], transport=_LostAnswers(("/campaigns", "/adsets"))) as ads:
        ids = _publish(tmp_path, sb, platform, engine)[:1]
        ad_accounts.set_account(engine, ACCOUNT, global_daily_budget=10.0, auto_execute=True)
        ad_accounts.set_goal(engine, ACCOUNT, "virality", priority=3)
        now = platform.now()
        p = plan_pass(engine, reader, now, allocation=pd.DataFrame({"variant_id": ids, "share": [1.0]}), trigger="test")
        done = execute_pass(engine, ads, now, p.plan_id, trigger="test")
        assert done.counts == {"success": 2} and not done.failures
        assert all(r["recovered"] for r in done.results)
        assert len(reader.campaigns(ACCOUNT)) == 1  # the lost answers were not followed by second creates
        sets = reader.ad_sets(ACCOUNT)
        assert len(sets) == 1 and sets["variant_id"].iloc[0] == ids[0]  # its ad was created on reconciliation
        log = ads_audit.log(engine, plan_id=p.plan_id)
        assert log.loc[log["mode"] == "execute", "error"].str.startswith("recovered after").all()
    engine.dispose()
