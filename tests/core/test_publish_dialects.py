"""Native publishing: the per-platform registry (publish/dialects.py), its settings, the worker routing each
post to its platform's own API (TikTok, YouTube) against the sandbox, metrics read back per platform in
its batches (unknown counts are no snapshot, never zeros), public ids recorded, and quota refusals waited
out like rate limits."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
import sqlalchemy as sa

from actp_pipeline.measure.post_metrics import collect_snapshots, posts_ledger
from actp_pipeline.publish.dialects import (
    REGISTRY,
    DialectContext,
    DialectPublisher,
    DialectUnavailable,
    available,
)
from actp_pipeline.publish.platforms import PUBLISHERS, HttpPlatform, make_metrics_reader, make_publisher
from actp_pipeline.publish.posts import PublishGuards, publish_due
from actp_pipeline.publish.publisher import PlatformError, SendRefused
from actp_pipeline.sandbox import SandboxServer, WorldConfig
from actp_pipeline.settings import SANDBOX_API_KEY, SANDBOX_URL, Settings
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.queues import publish_queue
from actp_pipeline.store.schema import utcnow

START = dt.datetime(2025, 3, 3, 17, 0, tzinfo=dt.UTC)


# ------------------------------------------------------------------------------------- settings
def test_tokens_fall_back_to_the_sandbox_key_only_on_the_sandbox(monkeypatch):
    for var in ("ACTP_TIKTOK_ACCESS_TOKEN", "ACTP_TIKTOK_BASE_URL", "ACTP_YOUTUBE_ACCESS_TOKEN", "ACTP_YOUTUBE_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    on = Settings(platform_url=SANDBOX_URL)
    assert on.dialect_token("tiktok") == SANDBOX_API_KEY and on.dialect_url("youtube") == SANDBOX_URL
    off = Settings(platform_url="https://posting.example", platform_api_key="platform-secret")
    assert off.dialect_token("tiktok") is None and off.dialect_url("tiktok") is None  # the adapter's real host
    # a platform pointed elsewhere never gets the sandbox key, nor another secret
    moved = Settings(platform_url=SANDBOX_URL, dialect_urls={"tiktok": "https://open.tiktokapis.com"},
                     dialect_tokens={"youtube": "yt-secret"})
    assert moved.dialect_token("tiktok") is None and moved.dialect_token("youtube") == "yt-secret"
    monkeypatch.setenv("ACTP_TIKTOK_ACCESS_TOKEN", "tt-secret")
    monkeypatch.setenv("ACTP_TIKTOK_BASE_URL", "http://127.0.0.1:9/")
    env = Settings(platform_url="https://posting.example")
    assert env.dialect_token("tiktok") == "tt-secret" and env.dialect_url("tiktok") == "http://127.0.0.1:9"
    assert env.dialect_token("youtube") is None


def test_registry_names_every_platform_and_a_missing_token_says_which_envvar(tmp_path):
    assert {"tiktok", "youtube", "instagram", "aggregator"} <= set(REGISTRY)
    assert all(available(p) is None for p in ("tiktok", "youtube", "instagram", "aggregator"))
    assert "no dialect registered" in available("myspace")
    pub = DialectPublisher(DialectContext(Settings(platform_url=SANDBOX_URL), tmp_path))
    with pytest.raises(DialectUnavailable) as e:
        pub.adapter("myspace", "main")
    assert not e.value.retryable and not e.value.sent
    without = DialectPublisher(DialectContext(Settings(platform_url="https://posting.example"), tmp_path))
    for platform, var in (("tiktok", "ACTP_TIKTOK_ACCESS_TOKEN"), ("instagram", "ACTP_INSTAGRAM_ACCESS_TOKEN"),
                          ("aggregator", "ACTP_AGGREGATOR_API_KEY")):
        with pytest.raises(DialectUnavailable, match=var):
            without.adapter(platform, "main")


def test_make_publisher_kinds(tmp_path):
    assert PUBLISHERS == ("native", "browser")
    settings = Settings(platform_url=SANDBOX_URL)
    with HttpPlatform("http://127.0.0.1:9", "k") as client:
        native = make_publisher("native", client, data_dir=tmp_path, settings=settings)
        assert isinstance(native, DialectPublisher) and native.ctx.data_dir == tmp_path
        # metrics are read through each platform's own API, whoever uploaded
        for kind in PUBLISHERS:
            reader = make_metrics_reader(kind, client, data_dir=tmp_path, settings=settings)
            assert isinstance(reader, DialectPublisher)
            reader.close()
        # the sandbox's own posting API is retired: "api" is no publisher any more
        for kind in ("api", "carrier-pigeon"):
            with pytest.raises(ValueError, match="native, browser"):
                make_publisher(kind, client, data_dir=tmp_path)
            with pytest.raises(ValueError, match="native, browser"):
                make_metrics_reader(kind, client, data_dir=tmp_path)
        native.close()


def test_the_browser_publisher_uses_the_site_of_actp_browser_site(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTP_BROWSER_USER", "u")
    monkeypatch.setenv("ACTP_BROWSER_PASSWORD", "p")
    with HttpPlatform("http://127.0.0.1:9", "k") as client:
        generic = make_publisher("browser", client, data_dir=tmp_path)
        # every site finds the posts it made by its own page (the generic one: /web/posts), never an API
        assert generic.site.name == "generic" and generic.lookup is None
        assert generic.base_url == client.base_url and generic.storage_state_path.name == "session.json"
        monkeypatch.setenv("ACTP_BROWSER_SITE", "tiktok")
        studio = make_publisher("browser", client, data_dir=tmp_path)
        assert studio.site.name == "tiktok" and studio.lookup is None
        assert studio.storage_state_path.name == "tiktok-session.json"
        generic.close()
        studio.close()


# ------------------------------------------------------------------------------ fakes: batches, quota
class FakeAdapter:
    def __init__(self, platform: str, log: list, behaviour=None):
        self.platform, self.log, self.behaviour = platform, log, behaviour

    def publish(self, *, idempotency_key, before_send=None, **kw):
        if self.behaviour is not None:
            raise self.behaviour
        if before_send:
            before_send()
        return {"post_id": f"{self.platform}-{idempotency_key}", "url": None, "live_at": None}

    def find_post(self, key):
        self.log.append(("find", self.platform, key))

    def metrics(self, ids):
        self.log.append((self.platform, len(ids)))
        items = [{"post_id": i, "status": "live", "views": 100, "likes": 5, "comments": 1, "shares": 0} for i in ids]
        items[0] = {"post_id": ids[0], "status": "moderation", "views": None, "likes": None, "comments": None,
                    "shares": None}
        return {"as_of": "2026-01-01T00:00:00Z", "items": items, "unknown": []}

    def close(self):
        pass


def fake_registry(log, behaviour=None):
    return {p: (lambda ctx, account, p=p: FakeAdapter(p, log, behaviour)) for p in ("tiktok", "youtube")}


def test_metrics_go_per_platform_in_its_batches_and_unknown_counts_are_no_snapshot(tmp_path):
    import pandas as pd

    log: list = []
    pub = DialectPublisher(DialectContext(Settings(platform_url=SANDBOX_URL), tmp_path), fake_registry(log))
    ledger = pd.DataFrame([{"post_id": f"{p}{i}", "idempotency_key": f"k{p}{i}", "variant_id": "v", "platform": p,
                            "account": "main", "live_at": dt.datetime(2025, 12, 31), "url": None}
                           for p, n in (("tiktok", 45), ("youtube", 120)) for i in range(n)])
    snaps, unknown = collect_snapshots(ledger, pub)
    assert log == [("tiktok", 20), ("tiktok", 20), ("tiktok", 5), ("youtube", 50), ("youtube", 50), ("youtube", 20)]
    # the first id of every batch was in moderation: no snapshot for it, never zeros
    assert len(snaps) == 165 - 6 and (snaps["views"] == 100).all() and unknown == []
    assert sorted(snaps.attrs["pending"]) == sorted(["tiktok0", "tiktok20", "tiktok40", "youtube0", "youtube50",
                                                     "youtube100"])


@pytest.fixture
def engine(tmp_path):
    return connect_store(f"sqlite:///{tmp_path / 'store.db'}")


def _enqueue(engine, path, items, at=None):
    publish_queue(engine).enqueue([
        {"variant_id": f"v{i}", "platform": platform, "account": "main", "idempotency_key": key,
         "scheduled_at": at or utcnow(), "payload": {"media_path": str(path), "caption": "POV: it works", "hashtags": ["skincare"]}}
        for i, (platform, key) in enumerate(items)], unique_column="idempotency_key")


def _rows(engine):
    t = schema.publish_queue
    with engine.connect() as c:
        return {r.idempotency_key: r for r in c.execute(sa.select(t))}


@pytest.mark.parametrize("refusal", [
    SendRefused("quota: 100 of 100 spent", reason="quota", wait_s=7200.0),
    "quota_exceeded",
])
def test_a_spent_quota_defers_the_item_until_it_resets(engine, tmp_path, refusal):
    from actp_pipeline.publish.youtube import QuotaExceeded

    if refusal == "quota_exceeded":
        refusal = QuotaExceeded("YouTube videos.insert -> HTTP 403 quotaExceeded", status=403, retryable=True,
                                retry_after_s=7200.0)
    media = tmp_path / "v.mp4"
    media.write_bytes(b"x")
    _enqueue(engine, media, [("youtube", "k-yt"), ("youtube", "k-yt2")])
    log: list = []
    pub = DialectPublisher(DialectContext(Settings(platform_url=SANDBOX_URL), tmp_path), fake_registry(log, refusal))
    now = [utcnow()]
    guards = PublishGuards.for_store(engine, lambda: now[0])
    report = publish_due(engine, pub, worker_id="w", guards=guards, clock=lambda: now[0])
    assert report.posted == [] and report.dead == [] and report.retried == [] and report.lost_lease == []
    assert "youtube:main" in report.deferred
    rows = _rows(engine)
    assert {r.status for r in rows.values()} == {"queued"} and {r.attempts for r in rows.values()} == {0}
    assert guards.breaker.allow("youtube", "main").allowed  # never a circuit-breaker failure
    # the platform is held until the quota resets: nothing is claimed meanwhile
    again = publish_due(engine, pub, worker_id="w", guards=guards, clock=lambda: now[0])
    assert again.handled == 0 and "youtube:main" in again.deferred
    assert _rows(engine)["k-yt2"].attempts == 0
    now[0] += dt.timedelta(hours=2, minutes=1)
    pub.registry = fake_registry(log)
    pub._adapters.clear()
    assert len(publish_due(engine, pub, worker_id="w", guards=guards, clock=lambda: now[0]).posted) == 2


def test_without_guards_a_quota_refusal_waits_on_the_store_clock(engine, tmp_path):
    media = tmp_path / "v.mp4"
    media.write_bytes(b"x")
    _enqueue(engine, media, [("youtube", "k-yt")])
    pub = DialectPublisher(DialectContext(Settings(platform_url=SANDBOX_URL), tmp_path),
                           fake_registry([], SendRefused("quota", reason="quota", wait_s=3600.0)))
    report = publish_due(engine, pub, worker_id="w")
    assert "youtube:main" in report.deferred and report.dead == []
    row = _rows(engine)["k-yt"]
    assert row.status == "queued" and row.attempts == 0 and row.available_at > utcnow() + dt.timedelta(minutes=50)


# --------------------------------------------------------------------------- through the sandbox
@pytest.fixture
def sandbox():
    with SandboxServer(WorldConfig(start=START, truth_token="truth-for-tests", speed=0.0)) as server:
        yield server


def _advance(server, hours):
    httpx.post(server.url + "/sandbox/clock/advance", json={"hours": hours}, timeout=30).raise_for_status()


def test_each_post_goes_through_its_platforms_api_and_its_metrics_come_back(sandbox, engine, tmp_path,
                                                                             mp4_with_descriptor):
    path, _ = mp4_with_descriptor
    key = sandbox.config.api_keys[0]
    settings = Settings(platform_url=sandbox.url, platform_api_key=key, publisher="native",
                        dialect_tokens={"tiktok": key, "youtube": key},
                        dialect_urls={"tiktok": sandbox.url, "youtube": sandbox.url})
    _enqueue(engine, path, [("tiktok", "actp-v0-tiktok-0123456789"), ("youtube", "actp-v1-youtube-0123456789")],
             at=START.replace(tzinfo=None))
    with HttpPlatform(sandbox.url, key) as client:
        pub = make_publisher("native", client, data_dir=tmp_path, settings=settings)
        try:
            report = publish_due(engine, pub, worker_id="w", clock=client.now,
                                 guards=PublishGuards.for_store(engine, client.now))
            assert sorted(report.posted) == ["actp-v0-tiktok-0123456789", "actp-v1-youtube-0123456789"], report.errors
            ledger = posts_ledger(engine)
            tiktok_id = ledger.loc[ledger["platform"] == "tiktok", "post_id"].item()
            youtube_id = ledger.loc[ledger["platform"] == "youtube", "post_id"].item()
            assert sandbox.state.get_meta(f"tiktok_publish:{tiktok_id}") is not None
            assert youtube_id in json.loads(sandbox.state.get_meta("youtube.channel.main.uploads") or "[]")
            # in moderation (TikTok) / just uploaded: unknown, never zeros
            early, _ = collect_snapshots(ledger, make_metrics_reader("native", client, data_dir=tmp_path,
                                                                     settings=settings), engine=engine)
            assert tiktok_id in early.attrs["pending"] and tiktok_id not in set(early["post_id"])
            _advance(sandbox, 6)
            reader = make_metrics_reader("native", client, data_dir=tmp_path, settings=settings)
            snaps, unknown = collect_snapshots(ledger, reader, engine=engine)
            reader.close()
        finally:
            pub.close()
    assert unknown == [] and set(snaps["post_id"]) == {tiktok_id, youtube_id}
    assert (snaps["views"] > 0).all() and snaps.attrs["pending"] == []
    # the ledger keeps the publish id; the public video id and URL are recorded once metrics reveal them
    row = _rows(engine)["actp-v0-tiktok-0123456789"]
    assert row.external_id == tiktok_id and row.payload["public_id"].isdigit() and row.post_url
    assert posts_ledger(engine).set_index("post_id").loc[tiktok_id, "url"] == row.post_url
    # a TikTok Spark Ad reaches the organic post by that public id (the ads resource's lookup)
    from actp_pipeline.ads.tiktok import TikTokAdsClient
    from actp_pipeline.publish.posts import public_video_id
    from resources.ads import AdsResource

    assert public_video_id(engine, tiktok_id) == row.payload["public_id"] and public_video_id(engine, "nope") is None
    with AdsResource(base_url=sandbox.url, access_token=key, platform="tiktok").client(engine) as ads:
        assert isinstance(ads, TikTokAdsClient) and ads.item_id_for(tiktok_id) == row.payload["public_id"]


def test_reconciling_asks_the_items_own_platform(engine, tmp_path):
    media = tmp_path / "v.mp4"
    media.write_bytes(b"x")
    _enqueue(engine, media, [("youtube", "k-yt")])
    log: list = []
    pub = DialectPublisher(DialectContext(Settings(platform_url=SANDBOX_URL), tmp_path), fake_registry(log))
    t = schema.publish_queue
    with engine.begin() as c:  # an item that failed once: looked up before it is posted again
        c.execute(t.update().values(last_error="read timeout"))
    report = publish_due(engine, pub, worker_id="w")
    assert ("find", "youtube", "k-yt") in log and report.posted == ["k-yt"]
    with pytest.raises(PlatformError):
        pub.find_post("no-platform-in-this-key")
