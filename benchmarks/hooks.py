"""The hooks service under load (issue 12): redirects with the click durable, their latency, webhook
signature checks, and open-redirect attempts.

Run from the repo root:  .venv/bin/python benchmarks/hooks.py [--seconds 8] [--connections 32] [--postgres]

One service process (`actp hooks`'s serve_forever, uvicorn, the store on SQLite in WAL mode, or on a
throwaway PostgreSQL with --postgres) serves 200 tracked links; this process drives it over loopback
keep-alive connections with a small asyncio HTTP/1.1 client (written here because httpx's own overhead
per request is larger than the service's, so it would measure itself). The baseline, measured in the same
run on the same machine, is a Starlette app on the same uvicorn answering every request with a constant
302 and writing nothing: the ratio says what the store write, the link lookup and the checks cost.

  redirects_per_s            302s answered per second; every one's click is committed before its answer
                             (checked: clicks in the store == 302s received). Target at least 3,000.
  redirect_p50_ms / _p99_ms  per-request latency in that run (send to full response); p99 target under 20.
  baseline_per_s             the constant-302 app's rate; redirects_vs_baseline their ratio.
  clicks_per_commit          the click log's group commit: clicks per transaction at that load.
  webhook_verifications_per_s  verify_stripe on a 2 KiB body with two secrets, one core, in-process
                             (target at least 5,000); webhook_posts_per_s: signed Stripe deliveries over HTTP,
                             each verified and queued in the store (each a new event id).
  open_redirect_payloads_rejected  "n/n": tests/hooks/open_redirect_payloads.txt, each must get a 4xx with
                             no Location.
The last line is the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from actp_pipeline.hooks import links, signatures  # noqa: E402
from actp_pipeline.store import schema  # noqa: E402
from actp_pipeline.store.engine import connect_store  # noqa: E402

PAYLOADS = ROOT / "tests" / "hooks" / "open_redirect_payloads.txt"
SECRETS = ("whsec_bench_old", "whsec_bench_current")
N_LINKS = 200

SERVICE = """
import sys
from actp_pipeline.hooks.server import serve_forever
from actp_pipeline.hooks.service import HooksConfig
serve_forever(sys.argv[1], "127.0.0.1", int(sys.argv[2]), HooksConfig(stripe_secrets=tuple(sys.argv[3].split(","))))
"""
BASELINE = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
async def r(request):
    return Response(status_code=302, headers={"Location": "https://shop.example.com/?utm_source=x", "Cache-Control": "no-store"})
app = Starlette(routes=[Route("/r/{slug}", r)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), lifespan="off", ws="none", log_config=None,
            access_log=False, server_header=False)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(code: str, *args: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", code, *args[:1], str(port), *args[1:]] if args else
                            [sys.executable, "-c", code, str(port)], cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the service did not start")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


# ------------------------------------------------------------------------------ the load client
async def _request(reader, writer, raw: bytes) -> tuple[int, bytes]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status, head


async def _load(port: int, paths: list[bytes], seconds: float, connections: int) -> dict:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop_at = time.perf_counter() + seconds

    async def one(k: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        while time.perf_counter() < stop_at:
            raw = b"GET " + paths[i % len(paths)] + b" HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n"
            t0 = time.perf_counter()
            status, _ = await _request(reader, writer, raw)
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
            i += connections
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(one(k) for k in range(connections)))
    elapsed = time.perf_counter() - t0
    lat = np.array(latencies) * 1000
    return {"per_s": len(latencies) / elapsed, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)), "statuses": statuses, "n": len(latencies)}


async def _payloads(port: int, slug: str) -> tuple[int, int]:
    rows = [p for p in PAYLOADS.read_text().splitlines() if p and not p.startswith("#")]
    ok = 0
    for raw in rows:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            status, head = await _request(reader, writer, b"GET " + raw.replace("{slug}", slug).encode()
                                          + b" HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            status, head = 400, b""  # the server refused to parse it at all: rejected
        finally:
            writer.close()
        ok += 400 <= status < 500 and b"\r\nlocation:" not in head.lower()
    return ok, len(rows)


async def _webhooks(port: int, n: int) -> float:
    body = json.dumps({"id": "evt_x", "type": "customer.created", "data": {"object": {"pad": "x" * 1800}}})
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    t0 = time.perf_counter()
    for i in range(n):
        payload = body.replace("evt_x", f"evt_{i}").encode()
        header = signatures.sign_stripe(payload, SECRETS[1], int(time.time()))
        raw = (b"POST /webhooks/stripe HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
               b"Stripe-Signature: " + header.encode() + b"\r\nContent-Length: " + str(len(payload)).encode()
               + b"\r\n\r\n" + payload)
        status, _ = await _request(reader, writer, raw)
        assert status == 200, status
    rate = n / (time.perf_counter() - t0)
    writer.close()
    return rate


def _verifications(seconds: float = 1.0) -> float:
    payload = os.urandom(1024).hex().encode()  # 2 KiB
    header = signatures.sign_stripe(payload, SECRETS[1], int(time.time()))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(200):
            signatures.verify_stripe(payload, header, SECRETS, now=time.time())
        n += 200
    return n / (time.perf_counter() - t0)


def _store(url: str) -> list[str]:
    engine = connect_store(url)
    with engine.begin() as conn:
        slugs = [links.create_link(conn, idempotency_key=f"bench_{i}:tiktok:main", variant_id=f"v_{i}",
                                   platform="tiktok", account="main", campaign="bench",
                                   destination="https://shop.example.com/offer", now=dt.datetime(2026, 12, 6))
                 for i in range(N_LINKS)]
    engine.dispose()
    return slugs


def _count_clicks(url: str) -> int:
    engine = connect_store(url)
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(schema.clicks)).scalar()
    engine.dispose()
    return int(n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--postgres", action="store_true", help="the store on a throwaway PostgreSQL")
    args = ap.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    pg = None
    tmp = tempfile.mkdtemp(prefix="actp-hooks-bench-")
    if args.postgres:
        from tests.pg import ThrowawayPostgres
        pg = ThrowawayPostgres().start()
        url = pg.create_database("actp_hooks_bench")
    else:
        url = f"sqlite:///{tmp}/store.db"
    slugs = _store(url)
    paths = [f"/r/{s}".encode() for s in slugs]
    out: dict = {"store": "postgres" if pg else "sqlite", "connections": args.connections, "seconds": args.seconds}
    base, bport = _start(BASELINE)
    try:
        asyncio.run(_load(bport, paths, 1.0, args.connections))  # warm-up
        baseline = asyncio.run(_load(bport, paths, args.seconds, args.connections))
    finally:
        _stop(base)
    svc, port = _start(SERVICE, url, ",".join(SECRETS))
    try:
        asyncio.run(_load(port, paths, 1.0, args.connections))  # warm-up (fills the link cache)
        before = _count_clicks(url)
        run = asyncio.run(_load(port, paths, args.seconds, args.connections))
        after = _count_clicks(url)
        rejected, tried = asyncio.run(_payloads(port, slugs[0]))
        posts = asyncio.run(_webhooks(port, 500))
    finally:
        _stop(svc)
    if pg is not None:
        pg.stop()
    redirects = run["statuses"].get(302, 0)
    out.update({
        "redirects_per_s": round(run["per_s"]), "redirect_p50_ms": round(run["p50_ms"], 2),
        "redirect_p99_ms": round(run["p99_ms"], 2), "non_302": {k: v for k, v in run["statuses"].items() if k != 302},
        "clicks_committed_equal_302s": after - before == redirects, "clicks": after - before,
        "baseline_per_s": round(baseline["per_s"]), "redirects_vs_baseline": round(run["per_s"] / baseline["per_s"], 3),
        "baseline_p99_ms": round(baseline["p99_ms"], 2),
        "webhook_verifications_per_s": round(_verifications()), "webhook_posts_per_s": round(posts),
        "open_redirect_payloads_rejected": f"{rejected}/{tried}",
    })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
