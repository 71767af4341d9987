"""A fault injector in front of the sandbox's TikTok Content Posting API, as the native TikTok adapter
(actp_pipeline/publish/tiktok.py, tiktok_upload.py) calls it:

    POST /v2/post/publish/creator_info/query/   nothing is created (before the send gate)
    POST /v2/post/publish/video/init/           a publish is created (publish_id, upload_url): no post yet
    PUT  <upload_url> (/v2/upload/video/)       the final chunk turns the publish into the post
    POST /v2/post/publish/status/fetch/         a read (the adapter's wait, and find_post's journal check)
    POST /v2/video/list/                        a read (find_post's scan of the titles for the key marker)

Each call can fail before the platform acts (TikTok's 429 rate_limit_exceeded, a 503, the connection
dropped before any answer, a gateway timeout) or after it acted (the answer lost as a 502, the connection
dropped mid-answer, a gateway timeout after the work was done); slow answers hold a worker past its lease,
and a worker process can be SIGKILLed right before or right after a call takes effect, or paused
(SIGSTOP) right after one. Errors are in
TikTok's envelope ({"data": {}, "error": {"code", "message", "log_id"}}), the shape the adapter reads.

Used by tests/faults/publish_faults.py; `FaultCounts`, `send_json` and `SECRET` by ads_faults.py too.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
from collections import Counter
from dataclasses import dataclass, field

SECRET = "plat-faults-7c1e9a04d2b35f68"  # the platform API key of every suite; scanned for afterwards
HANG_S = 1.0  # a hung answer: past the thread workers' client timeout, far below the lease
SLOW_S = 3.0  # a slow call before the send gate: longer than the lease (the worker is as good as paused)

PATHS = {
    ("POST", "/v2/post/publish/creator_info/query"): "creator_info",
    ("POST", "/v2/post/publish/video/init"): "init",
    ("PUT", "/v2/upload/video"): "chunk",
    ("POST", "/v2/post/publish/status/fetch"): "status",
    ("POST", "/v2/video/list"): "lookup",
}
# faults that never let the request reach the platform, and those injected after it acted
BEFORE = ("refuse_429", "fail_503", "drop_before", "timeout_before")
AFTER = ("lost_answer", "drop_after", "timeout_after")
# call -> [(fault, probability)]; the create calls (init, the final chunk) get every fault, the reads those
# that make sense for a read (a read's "after" is the same as its "before": nothing changed)
RATES: dict[str, list[tuple[str, float]]] = {
    "creator_info": [("refuse_429", 0.05), ("fail_503", 0.04), ("drop_before", 0.03)],
    "init": [("refuse_429", 0.04), ("fail_503", 0.04), ("drop_before", 0.03), ("timeout_before", 0.02),
             ("lost_answer", 0.06), ("drop_after", 0.04), ("timeout_after", 0.03)],
    "chunk": [("refuse_429", 0.02), ("fail_503", 0.04), ("drop_before", 0.03), ("timeout_before", 0.02),
              ("lost_answer", 0.06), ("drop_after", 0.04), ("timeout_after", 0.03)],
    "status": [("refuse_429", 0.05), ("fail_503", 0.05), ("drop_after", 0.03)],
    "lookup": [("refuse_429", 0.03), ("fail_503", 0.05)],
}
# worker processes sleep out a 429 on status/fetch for TikTok's whole minute (the adapter's documented wait,
# in real seconds): not injected while they run, so a round stays seconds long
PROCESS_SKIPS = {("status", "refuse_429")}
CODES = {429: "rate_limit_exceeded", 502: "internal_error", 503: "internal_error", 504: "internal_error"}


@dataclass
class FaultCounts:
    injected: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.injected.values())


@dataclass
class Kill:
    """Signal `pid` at the next `call`: SIGKILL before the platform acts or right after it (the answer never
    sent); SIGSTOP (`when` "after" only) once the answer is on its way (paused before its next call)."""

    pid: int
    call: str
    when: str  # "before" | "after"
    sig: int = signal.SIGKILL
    done: bool = False


class TikTokFaults:
    """ASGI middleware in front of the sandbox (SandboxAPI.app): decides per request whether to fail it and how.

    `enabled` turns the random faults off (forced ones still apply); `processes` says worker processes are
    running (PROCESS_SKIPS); `slow_next[call]` forces that many slow calls; `kill` arms one SIGKILL."""

    def __init__(self, app, rng: random.Random, counts: FaultCounts, enabled: bool = True):
        self.app, self.rng, self.counts, self.enabled = app, rng, counts, enabled
        self.processes = False
        self.slow_next: Counter = Counter()
        self.kill: Kill | None = None
        self.calls: Counter = Counter()  # requests seen per call, faulted or not

    def platform_calls(self) -> int:
        """TikTok calls seen so far (the sandbox's own endpoints not counted)."""
        return sum(n for call, n in self.calls.items() if call is not None)

    def _pick(self, call: str | None) -> str | None:
        if call is None:
            return None
        if self.slow_next[call] > 0:
            self.slow_next[call] -= 1
            return "slow"
        if not self.enabled:
            return None
        roll = self.rng.random()
        for fault, p in RATES.get(call, []):
            if roll < p:
                return None if self.processes and (call, fault) in PROCESS_SKIPS else fault
            roll -= p
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        call = PATHS.get((scope["method"], scope["path"]))
        self.calls[call] += 1
        kill = self.kill
        if kill is not None and not kill.done and kill.call == call:
            kill.done = True
            return await self._kill(kill, scope, receive, send)
        fault = self._pick(call)
        if fault is None:
            return await self.app(scope, receive, send)
        self.counts.injected[fault if fault == "slow" else f"{call}:{fault}"] += 1
        if fault == "slow":
            await asyncio.sleep(SLOW_S)
            return await self.app(scope, receive, send)
        if fault in AFTER:
            await self.app(scope, receive, _swallow)  # the platform acts; its answer never reaches the client
        if fault == "refuse_429":
            return await send_envelope(send, 429, "injected: over the rate limit")
        if fault in ("fail_503", "lost_answer"):
            return await send_envelope(send, 503 if fault == "fail_503" else 502, f"injected {fault}")
        if fault in ("timeout_before", "timeout_after"):
            await asyncio.sleep(HANG_S)
            return await send_envelope(send, 504, f"injected {fault}: the gateway gave up")
        await drop(send)  # drop_before, drop_after

    async def _kill(self, kill: Kill, scope, receive, send) -> None:
        if kill.sig == signal.SIGSTOP:
            await self.app(scope, receive, send)
            os.kill(kill.pid, signal.SIGSTOP)
            return
        if kill.when == "after":
            await self.app(scope, receive, _swallow)
        try:
            os.kill(kill.pid, signal.SIGKILL)  # counted by the round that armed it, once the process is gone
        except ProcessLookupError:
            pass
        await drop(send)


async def _swallow(message) -> None:
    return None


def envelope_bytes(status: int, message: str) -> bytes:
    code = CODES.get(status, "invalid_params")
    return json.dumps({"data": {}, "error": {"code": code, "message": message, "log_id": "faults"}}).encode()


async def send_envelope(send, status: int, message: str) -> None:
    await send_json(send, status, json.loads(envelope_bytes(status, message)))


async def send_json(send, status: int, body: dict, headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


async def drop(send) -> None:
    """The connection breaks: an answer announced but cut off (the server closes the connection when the app
    returns with the answer incomplete), so the client reads a broken response (httpx: RemoteProtocolError),
    never a status it could act on."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
    await send({"type": "http.response.body", "body": b'{"data": {', "more_body": True})
