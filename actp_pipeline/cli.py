"""The `actp` command: demo, sandbox, ui, worker, queue, ads, sql."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path


def _settings(args):
    from actp_pipeline.settings import Settings

    return Settings(**({"data_dir": Path(args.data_dir).resolve()} if getattr(args, "data_dir", None) else {}))


def cmd_demo(args) -> int:
    import datetime as dt

    from actp_pipeline.demo import DemoConfig, format_report, reset_data, run_demo
    from actp_pipeline.sandbox import SandboxServer, WorldConfig
    from actp_pipeline.settings import Settings

    base = _settings(args)
    cfg = DemoConfig(data_dir=base.data_dir, days=args.days, seed=args.seed, topic=args.topic,
                     hook_patterns=args.hooks, angles=args.angles, cta_styles=args.ctas, formats=args.formats,
                     max_length_s=args.max_length, max_posts_per_day=args.posts_per_day,
                     render_concurrency=args.render_concurrency, paid_days=args.paid_days,
                     ad_budget=args.ad_budget, store_url=base.database_url)
    print(f"ACTP demo: {cfg.days} simulated days, data in {cfg.data_dir} (store, warehouse and media reset)",
          file=sys.stderr, flush=True)
    reset_data(cfg.data_dir)
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    # the simulated days end about now, so every daily partition they touch exists
    start = today - dt.timedelta(days=cfg.days + cfg.paid_days) + dt.timedelta(hours=6)
    world = WorldConfig(seed=cfg.seed, start=start, speed=0.0, topic=cfg.topic)
    with SandboxServer(world, state_path=base.sandbox_state) as sandbox:
        print(f"sandbox listening on {sandbox.url}", file=sys.stderr, flush=True)
        settings = Settings(data_dir=cfg.data_dir, database_url=base.database_url, platform_url=sandbox.url,
                            platform_api_key=world.api_keys[0])
        from actp_pipeline.definitions import demo_materializer

        overrides = {"topic": cfg.topic, "hook_patterns": cfg.hook_patterns, "angles": cfg.angles,
                     "cta_styles": cfg.cta_styles, "formats": cfg.formats, "max_length_s": cfg.max_length_s,
                     "max_posts_per_day": cfg.max_posts_per_day}
        materialize = demo_materializer(settings, overrides, cfg.render_concurrency)
        result = run_demo(cfg, sandbox, materialize)
    print(format_report(result))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "true_best_variant": result.true_best_variant, "true_best_in_winners": result.true_best_in_winners,
            "winners": result.winners["variant_id"].tolist() if len(result.winners) else [],
            "winner_stages": result.winners["stage"].tolist() if len(result.winners) else [],
            "winner_true_ranks": [int(r) for r in result.winners["true_rank"]] if len(result.winners) else [],
            "contender_true_ranks": [int(r) for r in result.contenders["true_rank"]] if len(result.contenders) else [],
            "paid_creatives": len(result.paid), "promoted": result.promoted, "audit": result.audit,
            "posts": int(result.truth["posts"].sum()) if len(result.truth) else 0,
            "posted": len(result.truth), "runs": result.runs, "wall_s": round(result.wall_s, 1)}))
    print("\nOpen the UI on these runs: actp ui   (then http://127.0.0.1:3000)", file=sys.stderr)
    return 0


def cmd_sandbox(args) -> int:
    from actp_pipeline.sandbox import WorldConfig, serve_forever

    s = _settings(args)
    kw = {"seed": args.seed, "speed": args.speed, "topic": args.topic}
    serve_forever(WorldConfig(**kw), args.host, args.port, s.sandbox_state if not args.memory else None)
    return 0


def _sandbox_up(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def cmd_ui(args) -> int:
    """dagster dev on both code locations with DAGSTER_HOME under the data dir, and the sandbox if needed."""
    from actp_pipeline.definitions import instance_home

    s = _settings(args)
    env = dict(os.environ, ACTP_HOME=str(s.data_dir))
    home = instance_home(s.data_dir)
    if args.postgres:
        home = s.data_dir / "dagster-postgres"
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text((Path(__file__).resolve().parent.parent / "dagster.postgres.yaml").read_text())
    env["DAGSTER_HOME"] = str(home)
    children = []
    if not args.no_sandbox and "ACTP_PLATFORM_URL" not in os.environ and not _sandbox_up(s.platform_url):
        children.append(subprocess.Popen([sys.executable, "-m", "actp_pipeline.cli", "sandbox", "--speed", str(args.speed)],
                                         env=env, start_new_session=True))
        print(f"started the sandbox at {s.platform_url} (simulated time x{args.speed})", file=sys.stderr)
    root = Path(__file__).resolve().parent.parent
    # dagster dev shuts its webserver, daemon and code servers down on SIGINT. A shell that starts us in
    # the background makes SIGINT ignored for its children, so restore it, and pass SIGTERM on as SIGINT.
    dev = subprocess.Popen([sys.executable, "-m", "dagster", "dev", "-w", str(root / "workspace.yaml"),
                            "-p", str(args.port)], env=env, cwd=root,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    signal.signal(signal.SIGTERM, lambda *_: dev.send_signal(signal.SIGINT))
    try:
        return dev.wait()
    except KeyboardInterrupt:
        return dev.wait()
    finally:
        for c in children:
            c.terminate()
            c.wait(timeout=10)


def cmd_worker(args) -> int:
    """Pull renders and uploads from the store until SIGINT/SIGTERM (or until idle with --exit-when-idle)."""
    import threading

    from actp_pipeline.publish.platforms import HttpPlatform, make_publisher
    from actp_pipeline.publish.posts import PublishGuards
    from actp_pipeline.store import connect_store
    from actp_pipeline.worker.loop import WorkerConfig, default_worker_id, run_worker

    s = _settings(args)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    cfg = WorkerConfig(renders=not args.publish_only, publish=not args.render_only, lease_s=args.lease,
                       heartbeat_s=args.heartbeat, idle_sleep_s=args.idle_sleep, exit_when_idle=args.exit_when_idle,
                       render_concurrency=args.render_concurrency,
                       health_port=None if args.health_port == 0 else args.health_port)
    wid = args.worker_id or default_worker_id()
    engine = connect_store(s.store_url)
    with HttpPlatform(s.platform_url, s.platform_api_key) as client:
        publisher = make_publisher(args.publisher or s.publisher, client, data_dir=s.data_dir)
        print(f"worker {wid}: store {engine.url.render_as_string(hide_password=True)}, platform {s.platform_url}"
              f" via {args.publisher or s.publisher}"
              + (f", health http://{cfg.health_host}:{cfg.health_port}/health" if cfg.health_port else ""),
              file=sys.stderr, flush=True)
        try:
            totals = run_worker(engine, worker_id=wid, media_dir=s.media_dir, publisher=publisher, cfg=cfg, stop=stop,
                                clock=client.now, guards=PublishGuards.for_store(engine, client.now),
                                log=lambda m: print(m, file=sys.stderr, flush=True))
        finally:
            if publisher is not client:
                publisher.close()
    print(json.dumps(totals))
    return 0


def cmd_queue(args) -> int:
    """Inspect the render and publish queues; cancel or retry one item."""
    import sqlalchemy as sa

    from actp_pipeline.store import connect_store
    from actp_pipeline.store.queues import publish_queue, render_queue

    engine = connect_store(_settings(args).store_url)
    queues = {"renders": render_queue(engine), "uploads": publish_queue(engine)}
    if args.action == "status":
        for name, q in queues.items():
            print(f"{name}: {q.counts() or 'empty'}")
            t = q.table
            with engine.connect() as conn:
                stuck = conn.execute(sa.select(t.c.id, t.c.variant_id, t.c.status, t.c.attempts, t.c.last_error)
                                     .where(t.c.status.in_((q.s.dead, q.s.retry)), t.c.last_error.is_not(None))
                                     .order_by(t.c.id).limit(20)).all()
            for r in stuck:
                print(f"  #{r.id} {r.variant_id} {r.status} after {r.attempts} attempts: {(r.last_error or '')[:160]}")
        return 0
    if not args.item:
        print("give the item id: actp queue cancel|retry renders|uploads ID", file=sys.stderr)
        return 2
    q = queues[args.queue]
    ok = q.cancel(args.item) if args.action == "cancel" else q.retry(args.item)
    print(f"{args.queue} #{args.item}: {args.action} {'done' if ok else 'refused (no such item, or not in a state that allows it)'}")
    return 0 if ok else 1


def cmd_sql(args) -> int:
    from actp_pipeline.store.warehouse import Warehouse

    s = _settings(args)
    path = s.data_dir / "warehouse.duckdb"
    names = Warehouse(s.warehouse_dir).write_views(path)
    print(f"{path}: views {', '.join(names) or '(none yet)'}\nopen it with: duckdb {path}  (or python -m duckdb)")
    return 0


def _on_off(v: str | None) -> bool | None:
    return None if v is None else v == "on"


def cmd_ads(args) -> int:
    """Ad accounts, goals, plan approvals and the audit log of the ads orchestrator."""
    from actp_pipeline.ads import accounts as ad_accounts, audit as ads_audit
    from actp_pipeline.store import connect_store

    engine = connect_store(_settings(args).store_url)
    try:
        if args.action == "account":
            kw = {k: v for k, v in {"name": args.name, "global_daily_budget": args.budget,
                                    "max_daily_budget": args.max_goal_budget,
                                    "auto_execute": _on_off(args.auto_execute),
                                    "auto_scale_winners": _on_off(args.auto_scale),
                                    "auto_pause_losers": _on_off(args.auto_pause)}.items() if v is not None}
            row = ad_accounts.set_account(engine, args.account_id, **kw)
            print(json.dumps({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}))
        elif args.action == "goal":
            print(json.dumps(ad_accounts.set_goal(engine, args.account_id, args.goal, priority=args.priority,
                                                  core_signal=args.signal, budget_cap=args.cap,
                                                  active=not args.off)))
        elif args.action == "list":
            print(ad_accounts.accounts(engine).to_string(index=False))
            print()
            print(ad_accounts.goals(engine).to_string(index=False))
        elif args.action == "plan":
            run = ads_audit.plan_run(engine, args.plan_id)
            if run is None:
                print("no plan yet: materialize ad_plan (Dagster UI) first")
                return 1
            print(f"plan {run['plan_id']} as of {run['as_of']:%Y-%m-%d %H:%M} UTC: {json.dumps(run['summary'])}")
            log = ads_audit.log(engine, plan_id=run["plan_id"])
            log = log[log["mode"] == ads_audit.DRY_RUN]
            for r in log.sort_values("seq").itertuples():
                print(f"  [{r.seq}] {r.account_id}/{r.goal} {r.action} ({r.rule}) {r.status}"
                      + (f" by {r.blocked_by}" if r.blocked_by else "") + f": {r.reason}" + (f" [{r.note}]" if r.note else ""))
            print(f"approved by: {ad_accounts.approvals(engine, run['plan_id']) or 'nobody yet'}")
        elif args.action == "approve":
            run = ads_audit.plan_run(engine, args.plan_id)
            if run is None:
                print(f"no plan {args.plan_id!r}", file=sys.stderr)
                return 1
            accounts = args.account or run["accounts"]
            unknown = sorted(set(accounts) - set(run["accounts"]))
            if unknown:
                print(f"plan {run['plan_id']} has no actions for {', '.join(unknown)}", file=sys.stderr)
                return 1
            done = ad_accounts.approve(engine, run["plan_id"], accounts, args.by)
            print(f"plan {run['plan_id']} approved for {', '.join(done)}; materialize ad_actions to execute it "
                  "(the approvals sensor does it in `actp ui`)")
        elif args.action == "log":
            log = ads_audit.log(engine, plan_id=args.plan_id, account_id=args.account[0] if args.account else None,
                                limit=args.limit)
            cols = ["at", "mode", "run_id", "account_id", "goal", "action", "rule", "status", "target_id", "result_id",
                    "error", "reason"]
            print(log[cols].to_string(index=False, max_colwidth=80) if len(log) else "the audit log is empty")
    except ValueError as e:
        print(f"actp ads {args.action}: {e}", file=sys.stderr)
        return 2
    return 0


def _ads_args(args) -> int:
    needs_account = args.action in ("account", "goal")
    if needs_account and not args.account_or_plan:
        print(f"actp ads {args.action}: give the account id", file=sys.stderr)
        return 2
    if args.action == "goal" and not args.goal:
        print("actp ads goal: give ACCOUNT GOAL", file=sys.stderr)
        return 2
    if args.action == "approve" and not args.account_or_plan:
        print("actp ads approve: give the plan id (see `actp ads plan`)", file=sys.stderr)
        return 2
    args.account_id = args.account_or_plan if needs_account else None
    args.plan_id = None if needs_account else args.account_or_plan
    return cmd_ads(args)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="actp", description="Ad Creative Testing Pipeline")
    p.add_argument("--data-dir", help="data directory (default: $ACTP_HOME or ./.actp)")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="run several simulated days of the whole loop against the sandbox")
    d.add_argument("--days", type=int, default=4)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--topic", default="skincare")
    d.add_argument("--hooks", type=int, default=3, help="hook patterns in the matrix")
    d.add_argument("--angles", type=int, default=2)
    d.add_argument("--ctas", type=int, default=2)
    d.add_argument("--formats", type=int, default=2)
    d.add_argument("--max-length", type=int, default=60, help="cap on video length in seconds")
    d.add_argument("--posts-per-day", type=int, default=12)
    d.add_argument("--render-concurrency", type=int, default=2)
    d.add_argument("--paid-days", type=int, default=4, help="simulated days of paid tests after the organic ones")
    d.add_argument("--ad-budget", type=float, default=60.0, help="the demo ad account's daily budget in dollars")
    d.add_argument("--json", help="also write a JSON summary to this file")
    d.set_defaults(func=cmd_demo)

    sb = sub.add_parser("sandbox", help="serve the sandbox platform on loopback")
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--port", type=int, default=8787)
    sb.add_argument("--seed", type=int, default=7)
    sb.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second")
    sb.add_argument("--topic", default="skincare")
    sb.add_argument("--memory", action="store_true", help="keep no state on disk")
    sb.set_defaults(func=cmd_sandbox)

    u = sub.add_parser("ui", help="dagster dev on both code locations (starts the sandbox if none is running)")
    u.add_argument("--port", type=int, default=3000)
    u.add_argument("--speed", type=float, default=60.0)
    u.add_argument("--no-sandbox", action="store_true")
    u.add_argument("--postgres", action="store_true", help="Dagster instance on Postgres (dagster.postgres.yaml)")
    u.set_defaults(func=cmd_ui)

    w = sub.add_parser("worker", help="pull renders and uploads from the store (the local machine's worker)")
    w.add_argument("--worker-id", help="default: $ACTP_WORKER_ID or host-pid")
    w.add_argument("--render-only", action="store_true")
    w.add_argument("--publish-only", action="store_true")
    w.add_argument("--lease", type=float, default=300.0, help="lease seconds (heartbeats renew it)")
    w.add_argument("--heartbeat", type=float, default=30.0, help="heartbeat interval seconds")
    w.add_argument("--idle-sleep", type=float, default=5.0)
    w.add_argument("--render-concurrency", type=int, default=2)
    w.add_argument("--health-port", type=int, default=8765, help="0 disables the /health endpoint")
    w.add_argument("--exit-when-idle", action="store_true", help="stop when no open work is left")
    w.add_argument("--publisher", choices=["api", "browser"], help="how to upload (default: $ACTP_PUBLISHER or api)")
    w.set_defaults(func=cmd_worker)

    qu = sub.add_parser("queue", help="queue status; cancel or retry an item")
    qu.add_argument("action", choices=["status", "cancel", "retry"])
    qu.add_argument("queue", nargs="?", choices=["renders", "uploads"], default="renders")
    qu.add_argument("item", nargs="?", type=int)
    qu.set_defaults(func=cmd_queue)

    a = sub.add_parser("ads", help="ad accounts and goals, plan approvals, the ads audit log")
    a.add_argument("action", choices=["account", "goal", "list", "plan", "approve", "log"])
    a.add_argument("account_or_plan", nargs="?", help="account id (account, goal) or plan id (plan, approve, log)")
    a.add_argument("goal", nargs="?", help="goal name (goal): streams, presave, virality, followers, leads, ...")
    a.add_argument("--account", action="append", help="approve / log only for this account (repeatable)")
    a.add_argument("--name")
    a.add_argument("--budget", type=float, help="the account's global daily budget in dollars (default $10)")
    a.add_argument("--max-goal-budget", type=float, help="per-goal daily cap in dollars (default $50)")
    a.add_argument("--auto-execute", choices=["on", "off"], help="execute plans without approval (default off)")
    a.add_argument("--auto-scale", choices=["on", "off"], help="the original's auto_scale_winners switch")
    a.add_argument("--auto-pause", choices=["on", "off"], help="the original's auto_pause_losers switch")
    a.add_argument("--priority", type=int, default=3, help="goal priority 1-5")
    a.add_argument("--signal", help="the goal's core signal (default: the goal's usual one)")
    a.add_argument("--cap", type=float, help="the goal's own daily cap in dollars")
    a.add_argument("--off", action="store_true", help="deactivate the goal")
    a.add_argument("--by", default=os.environ.get("USER", "cli"), help="who approves")
    a.add_argument("--limit", type=int, default=100)
    a.set_defaults(func=_ads_args)

    q = sub.add_parser("sql", help="write a DuckDB file of views over the warehouse")
    q.set_defaults(func=cmd_sql)

    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
