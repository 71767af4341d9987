"""The hooks service (`actp hooks`): a Starlette app on uvicorn.

  GET  /r/{slug}                 a post's tracked link: the click is committed, then 302 to its destination
  GET  /snippet.js               the landing page's snippet (hooks/snippet.py)
  POST /e/pv, /e/conversion      page views and conversions from the snippet (text/plain JSON, CORS *)
  POST /s2s/conversion           a conversion from the shop's server (Bearer ACTP_HOOKS_TOKEN)
  POST /webhooks/stripe          Stripe-Signature t=,v1= (several secrets during rotation)
  GET  /webhooks/meta            Meta's subscription challenge (hub.verify_token)
  POST /webhooks/meta            X-Hub-Signature-256
  POST /webhooks/tiktok          TikTok-Signature t=,s=
  GET  /healthz

Every write goes to the operational store (SQLite or Postgres). A webhook is verified on its raw body,
queued once per event id and answered at once; processing runs after the answer. A source whose secret
is not configured answers 404: nothing unsigned is ever accepted. Secrets come from EnvVars only
(HooksConfig.from_env) and are never logged or echoed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from actp_pipeline.hooks import events, links, signatures
from actp_pipeline.hooks.click_log import ClickLog
from actp_pipeline.hooks.snippet import SNIPPET_JS
from actp_pipeline.store.schema import utcnow

MAX_BODY = 1 << 20  # a webhook or event body larger than 1 MiB is refused (413)
LINK_CACHE = 100_000
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "86400"}


def _secret_list(name: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in (os.environ.get(name) or "").split(",") if s.strip())


@dataclass(frozen=True)
class HooksConfig:
    """The service's secrets (each absent = that source is off) and limits."""

    stripe_secrets: tuple[str, ...] = ()
    meta_app_secret: str | None = field(default=None, repr=False)
    meta_verify_token: str | None = field(default=None, repr=False)
    tiktok_secret: str | None = field(default=None, repr=False)
    s2s_token: str | None = field(default=None, repr=False)
    tolerance_s: int = 300

    def __repr__(self) -> str:  # never the secrets, only which sources are on
        on = [n for n, v in (("stripe", self.stripe_secrets), ("meta", self.meta_app_secret),
                             ("tiktok", self.tiktok_secret), ("s2s", self.s2s_token)) if v]
        return f"HooksConfig(sources={on})"

    @classmethod
    def from_env(cls) -> HooksConfig:
        return cls(stripe_secrets=_secret_list("ACTP_STRIPE_WEBHOOK_SECRETS"),
                   meta_app_secret=os.environ.get("ACTP_META_APP_SECRET") or None,
                   meta_verify_token=os.environ.get("ACTP_META_VERIFY_TOKEN") or None,
                   tiktok_secret=os.environ.get("ACTP_TIKTOK_CLIENT_SECRET") or None,
                   s2s_token=os.environ.get("ACTP_HOOKS_TOKEN") or None)


def _error(status: int, code: str, message: str, field: str | None = None, headers: dict | None = None) -> Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if field:
        body["error"]["field"] = field
    return JSONResponse(body, status, headers=headers)


class TooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class HooksService:
    """The app's state: the store, the click log, a cache of links (immutable once made)."""

    def __init__(self, engine: Engine, config: HooksConfig | None = None,
                 clock: Callable[[], dt.datetime] = utcnow):
        self.engine = engine
        # what a click, page view or conversion is stamped with (naive UTC): the wall clock in production; the
        # sandbox's simulated clock in the demo, so the funnel's times are the platform's like every other time
        self.clock = clock
        self.config = config or HooksConfig()
        self.clicks = ClickLog(engine)
        self._links: dict[str, links.Link] = {}
        self._salt = secrets.token_bytes(16)  # visitor hashes mean nothing outside this process's life
        self._processing = threading.Lock()

    def close(self) -> None:
        self.clicks.close()

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/r/{slug}", self.redirect, methods=["GET"]),
            Route("/snippet.js", self.snippet, methods=["GET"]),
            Route("/e/pv", self.page_view, methods=["POST", "OPTIONS"]),
            Route("/e/conversion", self.page_conversion, methods=["POST", "OPTIONS"]),
            Route("/s2s/conversion", self.server_conversion, methods=["POST"]),
            Route("/webhooks/stripe", self.stripe, methods=["POST"]),
            Route("/webhooks/meta", self.meta, methods=["GET", "POST"]),
            Route("/webhooks/tiktok", self.tiktok, methods=["POST"]),
            Route("/healthz", self.health, methods=["GET"]),
        ])

    # ------------------------------------------------------------------------------- redirects
    async def _link(self, slug: str) -> links.Link | None:
        link = self._links.get(slug)
        if link is None:
            def load() -> links.Link | None:
                with self.engine.connect() as conn:
                    return links.load_link(conn, slug)
            link = await run_in_threadpool(load)
            if link is not None:
                if len(self._links) >= LINK_CACHE:
                    self._links.clear()
                self._links[slug] = link
        return link

    async def redirect(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        if not links.SLUG_RE.fullmatch(slug):
            return _error(404, "unknown_link", "no such tracked link")
        try:  # an ad's URL tags are accepted and dropped; only the platform's click id is kept
            clicked = links.platform_click(list(request.query_params.multi_items()))
        except links.BadClickParameters:
            return _error(400, "unexpected_parameter", "a tracked link takes no parameters but the ad platform's "
                          "click id (fbclid, ttclid, gclid) and the ad's URL tags; its destination is fixed")
        link = await self._link(slug)
        if link is None:
            return _error(404, "unknown_link", "no such tracked link")
        click_id = secrets.token_hex(12)
        try:
            target = links.location(link, click_id, clicked)
        except links.BadDestination:
            return _error(500, "unsafe_destination", "this link's stored destination is refused; see the links table")
        agent, ref = request.headers.get("user-agent"), request.headers.get("referer")
        ip = request.client.host if request.client else ""
        row = {"click_id": click_id, "slug": slug, "at": self.clock(),
               "platform_click_id": clicked[1] if clicked else None,
               "referrer": ref[:500] if ref else None, "user_agent": agent[:300] if agent else None,
               "visitor": hashlib.sha256(self._salt + ip.encode()).hexdigest()[:32]}
        try:
            await self.clicks.record(row)
        except Exception:
            return _error(503, "store_unavailable", "the click could not be recorded; try again",
                          headers={"Retry-After": "1"})
        return Response(status_code=302, headers={"Location": target, "Cache-Control": "no-store",
                                                  "Referrer-Policy": "strict-origin-when-cross-origin"})

    # ----------------------------------------------------------------------- page and server events
    async def snippet(self, request: Request) -> Response:
        return Response(SNIPPET_JS, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})

    async def _json(self, request: Request) -> dict[str, Any] | Response:
        try:
            body = json.loads(await _body(request))
        except TooLarge:
            return _error(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
        except ValueError:
            return _error(400, "bad_json", "the body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "bad_json", "the body must be a JSON object")
        return body

    async def page_view(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=CORS)
        body = await self._json(request)
        if isinstance(body, Response):
            return _with_cors(body)
        try:
            row = events.check_page_view(body, self.clock())
        except events.BadEvent as e:
            return _with_cors(_error(422, "bad_event", str(e), e.field))
        if not await run_in_threadpool(events.store_page_view, self.engine, row):
            return _with_cors(_error(404, "unknown_click", "no click has this id", "click_id"))
        return Response(status_code=204, headers=CORS)

    async def page_conversion(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=CORS)
        return _with_cors(await self._conversion(request, "page"))

    async def server_conversion(self, request: Request) -> Response:
        token = self.config.s2s_token
        if not token:
            return _error(404, "off", "server-to-server conversions are off: set ACTP_HOOKS_TOKEN")
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return _error(401, "unauthorized", "Authorization: Bearer <ACTP_HOOKS_TOKEN> is missing or wrong")
        return await self._conversion(request, "server")

    async def _conversion(self, request: Request, source: str) -> Response:
        body = await self._json(request)
        if isinstance(body, Response):
            return body
        try:
            row = events.check_conversion(body, source, self.clock())
        except events.BadEvent as e:
            return _error(422, "bad_event", str(e), e.field)
        outcome = await run_in_threadpool(events.store_conversion, self.engine, row)
        if outcome == "unknown_click":
            return _error(404, "unknown_click", "no click has this id", "click_id")
        return JSONResponse({"status": outcome}, 201 if outcome == "stored" else 200)

    # ---------------------------------------------------------------------------------- webhooks
    async def _accept(self, provider: str, event_id: str, event_type: str | None, body: bytes) -> Response:
        new = await run_in_threadpool(events.queue_webhook, self.engine, provider, event_id, event_type, body)
        return JSONResponse({"received": True, "duplicate": not new},
                            background=BackgroundTask(self._process) if new else None)

    def _process(self) -> None:
        if self._processing.acquire(blocking=False):  # one processor at a time; rows settle once anyway
            try:
                events.process_webhooks(self.engine)
            finally:
                self._processing.release()

    async def _signed(self, request: Request, check) -> bytes | Response:
        try:
            body = await _body(request)
            check(body)
        except TooLarge:
            return _error(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
        except signatures.SignatureError as e:
            return _error(400, e.reason, str(e))
        return body

    async def stripe(self, request: Request) -> Response:
        if not self.config.stripe_secrets:
            return _error(404, "off", "Stripe webhooks are off: set ACTP_STRIPE_WEBHOOK_SECRETS")
        header = request.headers.get("stripe-signature")
        body = await self._signed(request, lambda b: signatures.verify_stripe(
            b, header, self.config.stripe_secrets, now=time.time(), tolerance_s=self.config.tolerance_s))
        if isinstance(body, Response):
            return body
        try:
            event = json.loads(body)
            event_id, kind = str(event["id"]), event.get("type")
        except (ValueError, KeyError, TypeError):
            return _error(400, "bad_event", "a Stripe event is a JSON object with an id")
        return await self._accept("stripe", event_id, kind, body)

    async def meta(self, request: Request) -> Response:
        if not self.config.meta_app_secret:
            return _error(404, "off", "Meta webhooks are off: set ACTP_META_APP_SECRET and ACTP_META_VERIFY_TOKEN")
        if request.method == "GET":
            try:
                challenge = signatures.meta_challenge(dict(request.query_params), self.config.meta_verify_token or "")
            except signatures.SignatureError as e:
                return _error(403, e.reason, str(e))
            return PlainTextResponse(challenge)
        header = request.headers.get("x-hub-signature-256")
        body = await self._signed(request, lambda b: signatures.verify_meta(b, header, self.config.meta_app_secret))
        if isinstance(body, Response):
            return body
        kind = _field(body, "object")
        return await self._accept("meta", "sha256:" + hashlib.sha256(body).hexdigest(), kind, body)

    async def tiktok(self, request: Request) -> Response:
        if not self.config.tiktok_secret:
            return _error(404, "off", "TikTok webhooks are off: set ACTP_TIKTOK_CLIENT_SECRET")
        header = request.headers.get("tiktok-signature")
        body = await self._signed(request, lambda b: signatures.verify_tiktok(
            b, header, self.config.tiktok_secret, now=time.time(), tolerance_s=self.config.tolerance_s))
        if isinstance(body, Response):
            return body
        return await self._accept("tiktok", "sha256:" + hashlib.sha256(body).hexdigest(), _field(body, "event"), body)

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "clicks_committed": self.clicks.rows, "commits": self.clicks.commits})


def _field(body: bytes, name: str) -> str | None:
    try:
        value = json.loads(body).get(name)
    except (ValueError, AttributeError):
        return None
    return str(value) if value is not None else None


def _with_cors(resp: Response) -> Response:
    resp.headers.update(CORS)
    return resp
