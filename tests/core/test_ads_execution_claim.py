"""One executor per ads plan, against the real sandbox ads API over HTTP, on SQLite and PostgreSQL: two
executions of one stored plan started at the same moment (two threads, two processes) send it once and
the other is refused with the reason; a killed executor's plan is resumed once its lease expired, without
a second create; the audit log holds reasons, never SQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import httpx
import pytest
import sqlalchemy as sa

from actp_pipeline import creative
from actp_pipeline.ads import audit as ads_audit, executor_claim
from actp_pipeline.ads.actions import execute_plan
from actp_pipeline.ads.meta import MetaAdsClient
from actp_pipeline.ads.plan.rules import CREATE_AD_SET, CREATE_CAMPAIGN, ENSURE_LEARNING, TEST_CREATIVE, PlannedAction
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.store import connect_store, schema
from tests.media import make_mp4, other_variant, variant
from tests.sandbox_posts import publish

ACC = "claim1"
NOW = dt.datetime(2026, 11, 21, 10)
CAMPAIGN = f"new:{ACC}:streams:learning"
VARIANTS = ("v1", "v2", "v3", "v4")
SQL_WORDS = ("[SQL", "INSERT", "UPDATE", "[parameters")


class Counting(httpx.HTTPTransport):
    """Sends every request, counts the POSTs by their last path segment, and paces them (`delay_s`) so
    an execution lasts long enough for another to meet it."""

    def __init__(self, counts: dict[str, int], lock: threading.Lock, delay_s: float = 0.0):
        super().__init__()
        self.counts, self.lock, self.delay_s = counts, lock, delay_s

    def handle_request(self, request):
        if request.method == "POST":
            with self.lock:
                key = request.url.path.rsplit("/", 1)[-1]
                self.counts[key] = self.counts.get(key, 0) + 1
            time.sleep(self.delay_s)
        return super().handle_request(request)


@pytest.fixture
def sandbox():
    world = WorldConfig(seed=21, speed=0.0, start=NOW.replace(tzinfo=dt.UTC))
    with SandboxServer(world) as sb:
        yield sb


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Two MP4 creatives long enough for an Instagram Reel (3 s)."""
    d = tmp_path_factory.mktemp("claim_clips")
    return [make_mp4(d / f"{name}.mp4", creative.descriptor_json(v), seconds=3.5, color=color)
            for name, v, color in (("a", variant(), "black"), ("b", other_variant(), "white"))]


@pytest.fixture
def posts(sandbox, clips, tmp_path) -> dict[str, str]:
    """variant id -> a sandbox post (published as a Reel through the Graph dialect) to run as its ad (two posts,
    shared round robin)."""
    out = [publish(sandbox.url, sandbox.config.api_keys[0], path, tmp_path / "publish", idempotency_key=f"k{i}",
                   truth_token=sandbox.truth_token)["sandbox_post_id"] for i, path in enumerate(clips)]
    return {v: out[i % 2] for i, v in enumerate(VARIANTS)}


def _stored_plan(engine) -> str:
    """A learning campaign and its four ad sets (one per creative)."""
    actions = [PlannedAction(ACC, "streams", CREATE_CAMPAIGN, ENSURE_LEARNING, target_id=CAMPAIGN,
                             params={"kind": "learning", "budget_mode": "ABO", "objective": "OUTCOME_TRAFFIC",
                                     "daily_budget": None, "status": "ACTIVE"})]
    actions += [PlannedAction(ACC, "streams", CREATE_AD_SET, TEST_CREATIVE, target_id=f"new:{ACC}:streams:adset:{v}",
                              variant_id=v, params={"campaign_id": CAMPAIGN, "variant_id": v, "daily_budget": 5.0,
                                                    "status": "ACTIVE"})
                for v in VARIANTS]
    return ads_audit.record_plan(engine, actions, as_of=NOW, trigger="test")


def _execute(engine, client, plan_id, posts, **kw):
    return execute_plan(engine, client, plan_id, now=NOW, approved={ACC: "me"}, post_for_variant=posts.get,
                        trigger="test", **kw)


def _audit_text(engine) -> str:
    """Every text the audit log and the claims hold (errors, reasons, summaries)."""
    out = []
    with engine.connect() as conn:
        for t in (schema.ads_automation_runs, schema.ads_automation_actions, schema.ads_plan_claims):
            out += [json.dumps({k: str(v) for k, v in r.items()}) for r in conn.execute(sa.select(t)).mappings()]
    return "\n".join(out)


def _assert_sent_once(sandbox, counts):
    with MetaAdsClient(sandbox.url + "/graph", sandbox.config.api_keys[0]) as reader:
        camps, sets = reader.campaigns(ACC), reader.ad_sets(ACC)
        assert len(camps) == 1 and len(sets) == 4, (camps, sets)  # the campaign ends with all its ad sets
        assert sorted(sets["variant_id"]) == list(VARIANTS) and (sets["status"] == "ACTIVE").all()
        assert (sets["campaign_id"] == camps["id"].iloc[0]).all()
    # each create reached the platform once
    assert (counts.get("campaigns"), counts.get("adsets"), counts.get("ads")) == (1, 4, 4), counts


def test_two_executions_at_once_in_two_threads_send_the_plan_once(store_url, sandbox, posts):
    engine = connect_store(store_url)
    plan_id = _stored_plan(engine)
    counts, lock = {}, threading.Lock()
    start, results, errors = threading.Barrier(2), [], []

    def executor():
        try:
            with MetaAdsClient(sandbox.url + "/graph", sandbox.config.api_keys[0],
                               transport=Counting(counts, lock, delay_s=0.25)) as client:
                start.wait()
                results.append(_execute(engine, client, plan_id, posts))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=executor) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    sent = [r for r in results if r.busy is None]
    refused = [r for r in results if r.busy is not None]
    assert len(sent) == 1 and len(refused) == 1
    assert sent[0].counts == {"success": 5} and not sent[0].failures
    why = refused[0].refused[ACC]
    assert why.startswith(f"another execution of plan {plan_id} is running (run {sent[0].run_id} since ")
    assert refused[0].results == [] and refused[0].counts == {}
    _assert_sent_once(sandbox, counts)
    runs = ads_audit.runs(engine).set_index("run_id")
    assert runs.loc[sent[0].run_id, "status"] == "success"
    assert runs.loc[refused[0].run_id, "status"] == "refused"
    assert runs.loc[refused[0].run_id, "summary"]["reason"] == why  # the audit row says why
    text = _audit_text(engine)
    assert not any(w in text for w in SQL_WORDS), text
    assert executor_claim.holder(engine, plan_id) is None  # released
    engine.dispose()


PROCESS_SCRIPT = textwrap.dedent("""
    import datetime as dt, json, os, sys, threading, time
    from actp_pipeline.ads.actions import execute_plan
    from actp_pipeline.ads.meta import MetaAdsClient
    from actp_pipeline.store import connect_store
    from tests.core.test_ads_execution_claim import ACC, NOW, Counting
    store, graph, key, plan_id, posts, at = sys.argv[1:7]
    lease_s = float(sys.argv[7]) if len(sys.argv) > 7 else 600.0
    engine = connect_store(store)
    counts = {}
    with MetaAdsClient(graph, key, transport=Counting(counts, threading.Lock(), delay_s=0.25)) as client:
        if os.path.isdir(at):  # a start line: each process says it is ready and waits for the other
            open(os.path.join(at, str(os.getpid())), "w").close()
            while len(os.listdir(at)) < 2:
                time.sleep(0.001)
        out = execute_plan(engine, client, plan_id, now=NOW, approved={ACC: "me"},
                           post_for_variant=json.loads(posts).get, trigger="test", lease_s=lease_s)
    print(json.dumps({"busy": out.busy, "run_id": out.run_id, "counts": out.counts, "sent": counts}))
""")


def _spawn(store_url, sandbox, plan_id, posts, at, env=None, lease_s=600.0):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return subprocess.Popen(
        [sys.executable, "-c", PROCESS_SCRIPT, store_url, sandbox.url + "/graph", sandbox.config.api_keys[0], plan_id,
         json.dumps(posts), str(at), str(lease_s)],
        cwd=root, env={**os.environ, "PYTHONPATH": root, **(env or {})}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def test_two_executions_at_once_in_two_processes_send_the_plan_once(store_url, sandbox, posts, tmp_path):
    engine = connect_store(store_url)
    plan_id = _stored_plan(engine)
    start = tmp_path / "start"  # both start when both are ready (after their imports)
    start.mkdir()
    procs = [_spawn(store_url, sandbox, plan_id, posts, start) for _ in range(2)]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=180)
        assert p.returncode == 0, stderr
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    sent = [o for o in outs if o["busy"] is None]
    refused = [o for o in outs if o["busy"] is not None]
    assert len(sent) == 1 and len(refused) == 1, outs
    assert sent[0]["counts"] == {"success": 5} and refused[0]["sent"] == {}
    assert f"another execution of plan {plan_id} is running (run {sent[0]['run_id']} since" in refused[0]["busy"]
    _assert_sent_once(sandbox, sent[0]["sent"])
    text = _audit_text(engine)
    assert not any(w in text for w in SQL_WORDS), text
    engine.dispose()


def test_a_killed_executor_is_resumed_once_its_lease_expired(store_url, sandbox, posts):
    engine = connect_store(store_url)
    plan_id = _stored_plan(engine)
    # killed (kill -9) right after its first call: the campaign exists, its row is pending, the claim held
    p = _spawn(store_url, sandbox, plan_id, posts, "now", env={"ACTP_FAILPOINTS": "ad_actions.after_call"},
               lease_s=3.0)
    p.communicate(timeout=120)
    assert p.returncode == -signal.SIGKILL
    killed = executor_claim.holder(engine, plan_id)
    assert killed is not None
    with engine.begin() as conn:  # as if it ran on another host: only its lease says when it is gone
        conn.execute(schema.ads_plan_claims.update().values(claimed_by="elsewhere:4242"))
    counts, lock = {}, threading.Lock()
    with MetaAdsClient(sandbox.url + "/graph", sandbox.config.api_keys[0], transport=Counting(counts, lock)) as client:
        early = _execute(engine, client, plan_id, posts)
        assert early.busy is not None and f"(run {killed.run_id} since" in early.busy and counts == {}
        time.sleep(max(0.0, (killed.lease_expires_at - schema.utcnow()).total_seconds()) + 0.2)
        done = _execute(engine, client, plan_id, posts)
    assert done.busy is None and done.counts == {"success": 5} and not done.failures
    assert done.results[0]["recovered"] is True  # the pending campaign was found, not created again
    with MetaAdsClient(sandbox.url + "/graph", sandbox.config.api_keys[0]) as reader:
        assert len(reader.campaigns(ACC)) == 1 and len(reader.ad_sets(ACC)) == 4
    assert (counts.get("campaigns"), counts.get("adsets"), counts.get("ads")) == (None, 4, 4)
    log = ads_audit.log(engine, plan_id=plan_id)
    assert (log.loc[log["mode"] == "execute", "status"] == "success").all() and len(log[log["mode"] == "execute"]) == 5
    engine.dispose()


# -- the claim itself -----------------------------------------------------------------------------------
def test_a_claim_is_held_extended_taken_over_when_expired_and_lost_by_its_old_holder(tmp_path):
    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    assert executor_claim.claim(engine, "p1", "run-a", lease_s=60) is None
    held = executor_claim.claim(engine, "p1", "run-b", lease_s=60)
    assert held is not None and held.run_id == "run-a" and "run run-a since" in held.reason("p1")
    assert executor_claim.extend(engine, "p1", "run-a", lease_s=60)
    with engine.begin() as conn:  # run-a's lease ran out (it hung), on another host
        conn.execute(schema.ads_plan_claims.update().values(
            claimed_by="elsewhere:1", lease_expires_at=schema.utcnow() - dt.timedelta(seconds=1)))
    assert executor_claim.claim(engine, "p1", "run-b", lease_s=60) is None  # taken over
    assert not executor_claim.extend(engine, "p1", "run-a")  # run-a learns it lost the plan
    executor_claim.release(engine, "p1", "run-a")  # a stale release changes nothing
    assert executor_claim.holder(engine, "p1").run_id == "run-b"
    executor_claim.release(engine, "p1", "run-b")
    assert executor_claim.holder(engine, "p1") is None


def test_a_dead_process_on_this_host_loses_its_claim_at_once(tmp_path):
    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert executor_claim.claim(engine, "p1", "run-a", lease_s=600) is None
    with engine.begin() as conn:
        conn.execute(schema.ads_plan_claims.update().values(claimed_by=f"{socket.gethostname()}:{gone.pid}"))
    assert executor_claim.claim(engine, "p1", "run-b") is None
    # a live process of this host (this one, another thread) keeps it
    assert executor_claim.claim(engine, "p1", "run-c").run_id == "run-b"


def test_an_action_key_recorded_by_another_execution_is_not_sent_and_raises_nothing(tmp_path):
    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    plan_id = _stored_plan(engine)
    (seq, a), = [(s, x) for s, x in ads_audit.plan_actions(engine, plan_id) if s == 0]
    assert ads_audit.begin_action_once(engine, "run-a", plan_id, seq, a, a.target_id, a.params, NOW)
    assert not ads_audit.begin_action_once(engine, "run-b", plan_id, seq, a, a.target_id, a.params, NOW)
    assert ads_audit.executed(engine, plan_id)[f"{plan_id}:0"]["run_id"] == "run-a"
