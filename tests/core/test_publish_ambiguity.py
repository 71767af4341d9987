"""Any failure after a create may have left the machine is `unknown` and looked up, never re-posted blind
(issue 9, class 4c): against a platform over real HTTP that does NOT dedupe idempotency keys."""

import contextlib
import datetime as dt

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from actp_pipeline.publish.platforms import HttpPlatform
from actp_pipeline.publish.posts import PublishGuards, publish_due
from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError
from actp_pipeline.serving import BackgroundServer
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.queues import publish_queue
from actp_pipeline.store.schema import utcnow


class NoDedupe:
    """A posting API without idempotency: every create is a new post. `poll` / `create` script its answers."""

    def __init__(self, create_status: int = 200, poll_status: int = 429):
        self.posts: list[dict] = []
        self.create_status, self.poll_status = create_status, poll_status

    def app(self) -> Starlette:
        async def media(request: Request):
            await request.body()
            return JSONResponse({"media_id": "m1"})

        async def create(request: Request):
            body = await request.json()
            post = {"post_id": f"p{len(self.posts) + 1}", "status": "processing", "url": "u",
                    "live_at": "2026-11-01T00:00:00Z", "idempotency_key": body["idempotency_key"]}
            self.posts.append(post)  # carried out, whatever the answer says
            if self.create_status != 200:
                return JSONResponse({"error": {"code": "upstream", "message": "gateway"}}, self.create_status)
            return JSONResponse(post)

        async def poll(request: Request):
            return JSONResponse({"error": {"code": "rate_limited", "message": "slow down"}}, self.poll_status,
                                headers={"Retry-After": "1"})

        async def find(request: Request):
            key = request.query_params.get("idempotency_key")
            return JSONResponse({"items": [dict(p, status="published") for p in self.posts
                                           if p["idempotency_key"] == key][:1]})

        return Starlette(routes=[Route("/v1/media", media, methods=["POST"]),
                                 Route("/v1/posts", create, methods=["POST"]),
                                 Route("/v1/posts", find, methods=["GET"]),
                                 Route("/v1/posts/{post_id}", poll, methods=["GET"])])


@contextlib.contextmanager
def serving(app):
    server = BackgroundServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store(tmp_path):
    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    media = tmp_path / "v.mp4"
    media.write_bytes(b"x")
    publish_queue(engine).enqueue([{"variant_id": "v0", "platform": "tiktok", "account": "main",
                                    "idempotency_key": "k0", "scheduled_at": utcnow(),
                                    "payload": {"media_path": str(media), "caption": "c"}}],
                                  unique_column="idempotency_key")
    return engine, media


def _settle_twice(engine, client):
    """Two worker passes with the real guards (rate limits, breakers), as `actp worker` runs them."""
    guards = PublishGuards.for_store(engine, utcnow)
    first = publish_due(engine, client, worker_id="w", clock=utcnow, guards=guards)
    t = schema.publish_queue
    with engine.begin() as c:  # past the reconcile delay
        c.execute(t.update().values(available_at=utcnow() - dt.timedelta(seconds=1)))
    second = publish_due(engine, client, worker_id="w", clock=utcnow, guards=guards)
    with engine.connect() as c:
        status = c.execute(sa.select(t.c.status)).scalar()
    return first, second, status


@pytest.mark.parametrize("create_status,poll_status", [(200, 429), (200, 503), (502, 429), (504, 429)])
def test_a_failure_after_the_create_is_looked_up_not_reposted(store, create_status, poll_status):
    engine, _ = store
    platform = NoDedupe(create_status, poll_status)
    with serving(platform.app()) as server, HttpPlatform(server.url, "k") as client:
        first, second, status = _settle_twice(engine, client)
    assert first.ambiguous == ["k0"]
    assert second.reconciled == ["k0"] and status == "posted"
    assert len(platform.posts) == 1  # one create call reached the platform, ever


def test_the_poll_and_the_create_raise_ambiguity(store):
    _, media = store
    platform = NoDedupe(create_status=200, poll_status=429)
    with serving(platform.app()) as server, HttpPlatform(server.url, "k") as client:
        with pytest.raises(AmbiguousOutcome, match="was created; reading its status failed"):
            client.publish(media_path=media, platform="tiktok", account="main", caption="c", hashtags=[],
                           scheduled_at=None, idempotency_key="k1")
        platform.create_status = 503
        with pytest.raises(AmbiguousOutcome):
            client.create_post(media_id="m1", platform="tiktok", account="main", caption="c", hashtags=[],
                               scheduled_at=None, idempotency_key="k2")
        platform.create_status = 429  # a refusal: nothing was done, a plain PlatformError
        with pytest.raises(PlatformError) as refused:
            client.create_post(media_id="m1", platform="tiktok", account="main", caption="c", hashtags=[],
                               scheduled_at=None, idempotency_key="k3")
        assert not isinstance(refused.value, AmbiguousOutcome) and refused.value.status == 429
