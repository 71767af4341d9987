"""The studio under a full store (issue 14): each page's p95 with 10,000 creatives and 100,000 posts.

Run from the repo root:  .venv/bin/python benchmarks/studio.py [--creatives 10000] [--posts 100000] [--requests 40]

The world is tests/studio/world.py's at scale: two accounts' creatives with their content approvals in the store
(SQLite, as the embedded default), scores/decisions for every post, allocation, attribution, factor effects and
the timing matrix in the warehouse, a dry-run ad plan per account, one real MP4 behind every creative. The studio
runs in uvicorn on loopback in this process's thread; requests go over real HTTP with httpx, one at a time,
logged in as an admin of every account (the widest reads) and as an approver of one account (the scoped reads).

The baseline, measured in the same run: the login page (a template and no data), so a page's ratio says how many
empty pages its reads cost, whatever the host's speed today.

Prints progress to stderr and one JSON object as the last line of stdout:
  page_p95_ms          per page (and per user): the 95th percentile of --requests answers after 3 warm-ups
                       (target under 200 ms each)
  page_p50_ms          the same, median
  ratio_to_login_p95   page_p95_ms / the login page's p95
  login_p95_ms         the baseline
  video_first_byte_ms  a Range request for a creative's video: time to the first body byte (p50 and p95)
  build_s              making the world (not timed into anything else)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from actp_pipeline.studio.app import create_app  # noqa: E402
from tests.studio import world as worlds  # noqa: E402

PAGES = ["/", "/?page=100", "/review", "/ads", "/learning", "/funnel", "/health"]
USERS = {"admin": "every account", "alice": "one account"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(world: worlds.World, data_dir: Path) -> tuple[uvicorn.Server, str]:
    app = create_app(world.store_url, world.warehouse_dir, world.media_dir, data_dir, secure_cookies=False,
                     secret="bench")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def logged_in(base: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post("/login", data={"csrf": token, "username": name, "password": worlds.PASSWORD, "next": "/"})
    if answer.status_code != 303 or answer.headers.get("location") != "/":
        raise SystemExit(f"{name} could not log in: {answer.status_code} {answer.text[:300]}")
    return client


def timed(client: httpx.Client, path: str, n: int, headers: dict | None = None) -> list[float]:
    for _ in range(3):
        client.get(path, headers=headers).raise_for_status()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        answer = client.get(path, headers=headers)
        out.append((time.perf_counter() - t0) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
    return out


def p95(values: list[float]) -> float:
    return round(statistics.quantiles(values, n=20)[-1], 1)


def first_byte(client: httpx.Client, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        with client.stream("GET", path, headers={"Range": "bytes=0-"}) as answer:
            if answer.status_code != 206:
                raise SystemExit(f"{path}: {answer.status_code} (expected 206 to a Range request)")
            next(answer.iter_raw(1024))
            out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--creatives", type=int, default=10_000)
    ap.add_argument("--posts", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="actp-bench-studio-") as tmp:
        t0 = time.perf_counter()
        per_account = args.creatives // len(worlds.ACCOUNTS)
        world = worlds.build(Path(tmp) / "world", per_account=per_account,
                             posts_per_variant=max(1, args.posts // args.creatives), actions_per_account=200)
        build_s = time.perf_counter() - t0
        log(f"world: {args.creatives} creatives, {args.posts} posts in {build_s:.1f} s")
        server, base = serve(world, Path(tmp) / "data")
        try:
            result = measure(base, world, args.requests)
        finally:
            server.should_exit = True
    print(json.dumps({**result, "build_s": round(build_s, 1), "creatives": args.creatives, "posts": args.posts,
                      "requests": args.requests}))


def measure(base: str, world: worlds.World, n: int) -> dict:
    login = timed(httpx.Client(base_url=base, timeout=60), "/login", n)
    base_p95 = p95(login)
    p95s, p50s, ratios = {}, {}, {}
    for name, label in USERS.items():
        client = logged_in(base, name)
        for path in [*PAGES, f"/creative/{world.of('acct_a')[0]}"]:
            times = timed(client, path, n)
            key = f"{'/creative/<id>' if path.startswith('/creative/') else path} ({label})"
            p95s[key], p50s[key] = p95(times), round(statistics.median(times), 1)
            ratios[key] = round(p95s[key] / base_p95, 1)
            log(f"{key}: p50 {p50s[key]} ms, p95 {p95s[key]} ms ({ratios[key]}x the login page)")
    video = first_byte(logged_in(base, "alice"), f"/video/{world.of('acct_a')[0]}", n)
    return {"page_p95_ms": p95s, "page_p50_ms": p50s, "ratio_to_login_p95": ratios, "login_p95_ms": base_p95,
            "video_first_byte_ms": {"p50": round(statistics.median(video), 1), "p95": p95(video)}}


if __name__ == "__main__":
    main()
