"""Faults around every side effect of `ad_actions`, against the sandbox's ads API with a fault injector in front.

Each account's stored plan creates a learning campaign, four ad sets with their ads and one promotion (a copy
of an ad set). Every plan is executed by two executors at the same moment (the approvals sensor and eager
automation), while writes are refused before the platform acts (503) or carried out with their answer lost
(502), and lookups fail now and then; then the plan is executed again until nothing is pending (a resumed
crash). Measured from the platform afterwards, without faults: objects created twice (same name, or an orphan
copy), active budgets above what the plan allows (cap breaches), and actions the audit log calls a success
whose ad set or ad is not delivering (silent loss).

Used by tests/faults/test_ads_faults.py (small, in CI) and benchmarks/faults.py (larger).
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from actp_pipeline import creative
from actp_pipeline.ads import audit as ads_audit
from actp_pipeline.ads.actions import execute_plan
from actp_pipeline.ads.meta import MetaAdsClient
from actp_pipeline.ads.plan.rules import (
    CREATE_AD_SET, CREATE_CAMPAIGN, DUPLICATE_AD_SET, ENSURE_LEARNING, TEST_CREATIVE, PlannedAction,
)
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.store import connect_store, schema
from tests import sandbox_posts
from tests.faults.tiktok_faults import SECRET, FaultCounts, send_json as _json
from tests.media import make_mp4, variant

NOW = dt.datetime(2026, 11, 21, 10)
VARIANTS = ("v1", "v2", "v3", "v4")
BUDGET = 5.0
CAP = BUDGET * (len(VARIANTS) + 1)  # four learning ad sets and one promoted copy


class AdsFaults:
    """ASGI middleware on the Graph routes: 503 before a write, 502 after one (answer lost), 503 on reads."""

    def __init__(self, app, rng: random.Random, counts: FaultCounts):
        self.app, self.rng, self.counts, self.enabled = app, rng, counts, True

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.enabled or not scope["path"].startswith("/graph"):
            return await self.app(scope, receive, send)
        roll = self.rng.random()
        write = scope["method"] in ("POST", "DELETE")
        if write and roll < 0.08:
            self.counts.injected["ads_refused_503"] += 1
            return await _json(send, 503, {"error": {"message": "injected 503", "type": "OAuthException",
                                                     "code": 2, "is_transient": True}})
        if write and roll < 0.18:
            self.counts.injected["ads_lost_answer"] += 1

            async def swallow(message):
                return None

            await self.app(scope, receive, swallow)
            return await _json(send, 502, {"error": {"message": "injected: answer lost", "code": 2,
                                                     "is_transient": True}})
        if not write and roll < 0.04:
            self.counts.injected["ads_read_503"] += 1
            return await _json(send, 503, {"error": {"message": "injected 503", "code": 2, "is_transient": True}})
        return await self.app(scope, receive, send)


def _posts(sb: SandboxServer, tmp: Path) -> dict[str, str]:
    """One Instagram Reel published the way the pipeline publishes (Graph's container, upload and
    media_publish), promoted by every ad as the pipeline promotes an Instagram post: "instagram:<IG media
    id>" (a creative with source_instagram_media_id)."""
    media = make_mp4(tmp / "ad.mp4", creative.descriptor_json(variant()), seconds=3.5)  # Reels: 3 s at least
    post = sandbox_posts.publish(sb.url, sb.config.api_keys[0], media, tmp / "publisher", platform="instagram",
                                 idempotency_key="ad-post", truth_token=sb.truth_token)
    return {vid: f"instagram:{post['post_id']}" for vid in VARIANTS}


def _plan(engine, acc: str) -> str:
    camp = f"new:{acc}:streams:learning"
    actions = [PlannedAction(acc, "streams", CREATE_CAMPAIGN, ENSURE_LEARNING, target_id=camp,
                             params={"kind": "learning", "budget_mode": "ABO", "objective": "OUTCOME_TRAFFIC",
                                     "daily_budget": None, "status": "ACTIVE"})]
    actions += [PlannedAction(acc, "streams", CREATE_AD_SET, TEST_CREATIVE, target_id=f"new:{acc}:streams:adset:{v}",
                              variant_id=v, params={"campaign_id": camp, "variant_id": v, "daily_budget": BUDGET,
                                                    "status": "ACTIVE"}) for v in VARIANTS]
    actions.append(PlannedAction(acc, "streams", DUPLICATE_AD_SET, "promote_winner",
                                 target_id=f"new:{acc}:streams:adset:v1", variant_id="v1",
                                 params={"campaign_id": camp, "daily_budget": BUDGET, "status": "ACTIVE"}))
    return ads_audit.record_plan(engine, actions, as_of=NOW, trigger="faults")


def _execute_twice_at_once(engine, sb, plan_id: str, acc: str, posts: dict, counts: FaultCounts) -> None:
    start = threading.Barrier(2)

    def one() -> None:
        with MetaAdsClient(sb.url + "/graph", sb.config.api_keys[0]) as client:
            start.wait()
            try:
                execute_plan(engine, client, plan_id, now=NOW, approved={acc: "faults"}, post_for_variant=posts.get,
                             trigger="faults")
            except Exception:  # noqa: BLE001 - an execution may fail; what it left is measured below
                pass

    threads = [threading.Thread(target=one) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    counts.injected["concurrent_execution"] += 1


def _pending(engine, plan_id: str) -> int:
    t = schema.ads_automation_actions
    with engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).where(t.c.plan_id == plan_id, t.c.run_id != plan_id,
                                                          t.c.status == ads_audit.PENDING)).scalar_one()


def _resume(engine, sb, plan_id: str, acc: str, posts: dict) -> None:
    for _ in range(5):
        if not _pending(engine, plan_id):
            return
        from actp_pipeline.ads import executor_claim

        with engine.begin() as c:  # the crashed executor's lease has run out
            c.execute(schema.ads_plan_claims.update().where(schema.ads_plan_claims.c.plan_id == plan_id)
                      .values(lease_expires_at=dt.datetime(2000, 1, 1)))
        with MetaAdsClient(sb.url + "/graph", sb.config.api_keys[0]) as client:
            try:
                execute_plan(engine, client, plan_id, now=NOW, approved={acc: "faults"},
                             post_for_variant=posts.get, trigger="faults", lease_s=executor_claim.LEASE_S)
            except Exception:  # noqa: BLE001
                time.sleep(0.1)


def _measure(engine, sb, accounts: list[str], plans: dict[str, str], posts: dict[str, str]) -> dict[str, int]:
    out = Counter()
    t = schema.ads_automation_actions
    with engine.connect() as c:
        # every executable action of every plan ends settled: a success, or a failure / skip with its reason
        keys = dict(c.execute(sa.select(t.c.action_key, t.c.status).where(t.c.action_key.is_not(None))).all())
        out["items_lost"] += sum(1 for st in keys.values()
                                 if st not in (ads_audit.SUCCESS, ads_audit.FAILED, ads_audit.SKIPPED))
        out["items_lost"] += sum(len(_executable(engine, plan_id)) for plan_id in plans.values()) - len(keys)
        made = {str(r.result_id) for r in c.execute(
            sa.select(t.c.result_id).where(t.c.status == ads_audit.SUCCESS, t.c.result_id.is_not(None),
                                           t.c.action.in_([CREATE_AD_SET, DUPLICATE_AD_SET])))}
    with MetaAdsClient(sb.url + "/graph", sb.config.api_keys[0]) as reader:
        for acc in accounts:
            camps, sets = reader.campaigns(acc), reader.ad_sets(acc)
            names = Counter(list(camps["name"]) + list(sets["name"]))
            out["duplicate_platform_calls"] += sum(n - 1 for n in names.values() if n > 1)
            out["duplicate_platform_calls"] += sum(1 for n in sets["name"] if " - Copy" in n or "[copy ->" in n)
            active = sets[sets["status"] == "ACTIVE"]
            spend = float(active["daily_budget"].fillna(0).sum()) if "daily_budget" in active else 0.0
            out["cap_breaches"] += int(spend > CAP + 1e-6)
            delivering = set()
            for _, s in active.iterrows():
                ads = reader._ads(acc, [{"field": "adset.id", "operator": "EQUAL", "value": s["id"]}])
                if any(a.get("status") == "ACTIVE" for a in ads):
                    delivering.add(str(s["id"]))
            ids = {str(i) for i in sets["id"]}
            # spending that the audit log does not call a success, or a success that does not deliver
            out["silent_data_loss"] += len({str(i) for i in active["id"]} - made)
            out["silent_data_loss"] += len((made & ids) - delivering)
            # an ad set whose ad promotes anything but the published Instagram post of its variant
            out["silent_data_loss"] += sum(1 for _, s in active.iterrows() if s["post_id"] != posts[s["variant_id"]])
    return {k: int(out[k]) for k in ("duplicate_platform_calls", "cap_breaches", "silent_data_loss", "items_lost")}


def _executable(engine, plan_id: str) -> list:
    return [a for _, a in ads_audit.plan_actions(engine, plan_id) if a.executable]


def run(store_url: str, tmp: Path, *, seed: int = 1, accounts: int = 6) -> dict:
    started = time.monotonic()
    counts = FaultCounts()
    engine = connect_store(store_url)
    world = WorldConfig(seed=seed, speed=0.0, start=NOW.replace(tzinfo=dt.UTC), api_keys=(SECRET,))
    with SandboxServer(world) as sb:
        posts = _posts(sb, tmp)
        sb.api.app = injector = AdsFaults(sb.api.app, random.Random(seed), counts)
        names = [f"faults{i:02d}" for i in range(accounts)]
        plans = {acc: _plan(engine, acc) for acc in names}
        for acc in names:
            _execute_twice_at_once(engine, sb, plans[acc], acc, posts, counts)
            _resume(engine, sb, plans[acc], acc, posts)
        injector.enabled = False
        out = _measure(engine, sb, names, plans, posts)
    return {**out, "accounts": accounts, "faults": counts.total, "by_fault": dict(counts.injected),
            "seconds": round(time.monotonic() - started, 1)}
