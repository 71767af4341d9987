"""Trust under attack: hostile inputs and injected faults against every part of ACTP that reads the outside world,
posts, or spends (issue 9). Prints a progress line per suite to stderr and, last, one JSON line.

Run from the repo root:  .venv/bin/python benchmarks/faults.py [--seed 1] [--quick]

Suites (the same code as tests/faults/, at a larger size):
  route fuzz   every sandbox route, seeded hostile requests (tests/faults/route_fuzz.py)
  research     hypothesis-drawn hostile rows through the real `market_items` asset over HTTP, plus a stored
               day answered with an empty and a much smaller page (tests/faults/research_faults.py)
  publish      workers posting through TikTok's Content Posting API (the native adapter) to the sandbox behind
               a fault injector: 429/503/dropped connections/timeouts before the platform acts and lost
               answers/dropped connections/timeouts after it acted, at creator_info, video/init, the chunk PUT,
               status/fetch and video/list; calls outliving their lease, skewed clocks, kill -9 before and after
               the send gate, after init and around the final chunk, SIGSTOP past the lease before init and
               between init and the final chunk; on SQLite and on a throwaway PostgreSQL
               (tests/faults/publish_faults.py)
  ad_actions   each plan executed twice at once, writes refused or carried out with the answer lost, lookups
               failing, resumed; on SQLite and PostgreSQL (tests/faults/ads_faults.py)
  secrets      every file the suites wrote (stores, warehouse, logs, screenshots, the sandbox's own state) and
               every row of their PostgreSQL stores, scanned for the platform API key all suites used

Keys:
  bad_inputs               distinct hostile inputs: fuzzed requests plus research rows validation rejected
  bad_inputs_failed_runs   research runs that failed (a bad row must cost that row only)
  http_5xx                 fuzzed requests answered 5xx (non_json_errors: API errors not in JSON)
  faults                   faults injected into publish and ad_actions (by_fault: per kind)
  items_lost               publish items not posted at the end, live posts without a ledger row, ad actions
                           never settled
  duplicate_platform_calls posts the platform made twice for one item (TikTok: sandbox posts carrying one item's
                           key marker); ads objects made twice
  cap_breaches             accounts whose active budgets (as the platform reports them) exceed the plan's cap
  secret_leaks             secret values found in files or store rows
  silent_data_loss         ledger rows that are not the platform's post, successes that do not deliver, good
                           research rows missing, stored days replaced by a smaller answer
  seconds                  wall time of the whole run
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))



def say(msg: str) -> None:
    print(f"[faults] {msg}", file=sys.stderr, flush=True)


def fuzz(seed: int, per_route: int, tmp: Path) -> dict:
    from actp_pipeline.sandbox import SandboxServer, WorldConfig
    from tests.faults.route_fuzz import fuzz_routes
    from tests.media import make_mp4

    server = SandboxServer(WorldConfig(seed=seed, truth_token="truth-for-faults"))
    try:
        sample = make_mp4(tmp / "fuzz.mp4", '{"actp_creative": {"hook_pattern": "pov"}}').read_bytes()
        r = fuzz_routes(server.api, seed=seed, per_route=per_route, media_samples=[sample])
    finally:
        server.state.close()
    return {"inputs": r.inputs, "routes": r.routes, "routes_hit": len(r.routes_hit), "http_5xx": r.http_5xx,
            "non_json_errors": r.non_json_errors, "slow": r.slow, "seconds": round(r.seconds, 1),
            "examples": r.examples[:5]}


def scan_secrets(root: Path, pg_urls: list[str], secrets: list[str]) -> list[str]:
    import sqlalchemy as sa

    from actp_pipeline.store import connect_store

    from tests.dagster.test_secret_scan import _leaks  # the same file scan as the secret-scan test

    found = _leaks(root, secrets)
    for url in pg_urls:
        engine = connect_store(url)
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    text = str(tuple(row))
                    found += [f"{table.name}" for s in secrets if s in text]
        engine.dispose()
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="smaller suites (a few minutes)")
    args = ap.parse_args()

    from tests.faults import ads_faults, publish_faults, research_faults
    from tests.pg import ThrowawayPostgres

    q = args.quick
    started = time.monotonic()
    suites: dict[str, dict] = {}
    tmp = Path(tempfile.mkdtemp(prefix="actp-faults-"))
    pg = ThrowawayPostgres().start()
    pg_urls = []
    try:
        suites["route_fuzz"] = fuzz(args.seed, 40 if q else 100, tmp)
        say(f"route fuzz: {suites['route_fuzz']['inputs']} inputs, {suites['route_fuzz']['http_5xx']} 5xx")
        suites["research"] = research_faults.run(tmp / "research", rows=200 if q else 600, seed=args.seed)
        say(f"research: {suites['research']}")
        for backend in ("sqlite", "postgres"):
            url = f"sqlite:///{tmp / f'publish-{backend}.db'}"
            if backend == "postgres":
                url = pg.create_database("faults_publish")
                pg_urls.append(url)
            (tmp / f"publish-{backend}").mkdir()
            suites[f"publish_{backend}"] = publish_faults.run(
                url, tmp / f"publish-{backend}", seed=args.seed, items=40 if q else 120,
                thread_passes=4 if q else 10, kills=5 if q else 10, stops=1 if q else 3, skews=1 if q else 2,
                mid_upload_stops=1 if q else 2)
            say(f"publish on {backend}: {suites[f'publish_{backend}']}")
            url = f"sqlite:///{tmp / f'ads-{backend}.db'}"
            if backend == "postgres":
                url = pg.create_database("faults_ads")
                pg_urls.append(url)
            (tmp / f"ads-{backend}").mkdir()
            suites[f"ads_{backend}"] = ads_faults.run(url, tmp / f"ads-{backend}", seed=args.seed,
                                                      accounts=6 if q else 16)
            say(f"ad_actions on {backend}: {suites[f'ads_{backend}']}")
        leaks = scan_secrets(tmp, pg_urls, [publish_faults.SECRET])
    finally:
        pg.stop()

    fault_suites = [suites[k] for k in suites if k.startswith(("publish_", "ads_"))]
    by_fault: dict[str, int] = {}
    for s in fault_suites:
        for k, v in s["by_fault"].items():
            by_fault[k] = by_fault.get(k, 0) + v
    r, f = suites["research"], suites["route_fuzz"]
    out = {
        "bad_inputs": f["inputs"] + r["rejected_rows"],
        "bad_inputs_failed_runs": r["failed_runs"],
        "http_5xx": f["http_5xx"],
        "non_json_errors": f["non_json_errors"],
        "faults": sum(s["faults"] for s in fault_suites),
        "items_lost": sum(s["items_lost"] for s in fault_suites),
        "duplicate_platform_calls": sum(s["duplicate_platform_calls"] for s in fault_suites),
        "cap_breaches": sum(s.get("cap_breaches", 0) for s in fault_suites),
        "secret_leaks": len(leaks),
        "silent_data_loss": (sum(s["silent_data_loss"] for s in fault_suites) + r["good_rows_missing"]
                             + r["days_replaced_by_less"]),
        "seconds": round(time.monotonic() - started, 1),
        "by_fault": by_fault,
        "suites": {k: {kk: vv for kk, vv in v.items() if kk not in ("by_fault", "examples")} for k, v in suites.items()},
        "leaks": leaks[:10],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
