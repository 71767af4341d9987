"""Alerts (issue 12, operations): one open row per condition on SQLite and Postgres, resolve and re-raise,
the webhook delivery against a real local HTTP server (retries, one digest per storm, the repeat window,
a URL that never shows in logs or rows), and the conditions on small frames."""

import datetime as dt
import logging
import threading

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from actp_pipeline.alerts import Candidate, open_alerts, raise_alert, raise_alerts, resolve, sync
from actp_pipeline.alerts.checks import evaluate
from actp_pipeline.alerts.conditions import AlertRules, dead_workers, open_breakers, spend_pacing, velocity_outliers
from actp_pipeline.alerts.notify import WebhookPolicy, deliver, message_text, post
from actp_pipeline.serving import BackgroundServer
from actp_pipeline.store import connect_store, schema

SECRET_PATH = "/services/T0ACTP/B0ALERT/xoxb-9f2c7d1e5a4b3c21"
T0 = dt.datetime(2026, 11, 20, 12, 0, 0)


def _rows(engine) -> list[dict]:
    with engine.connect() as c:
        return [dict(r) for r in c.execute(sa.select(schema.alerts).order_by(schema.alerts.c.id)).mappings()]


# -- the store: one open row per condition ---------------------------------------------------------------
def test_the_same_key_a_hundred_times_is_one_open_row_counting_100(store_url):
    engine = connect_store(store_url)
    ids = {raise_alert(engine, "worker_dead:w1", "worker_dead", "critical", f"silent {i} s", {"i": i},
                       now=T0 + dt.timedelta(seconds=i)) for i in range(100)}
    rows = _rows(engine)
    assert len(ids) == 1 and len(rows) == 1
    r = rows[0]
    assert (r["status"], r["open_key"], r["count"]) == ("open", "worker_dead:w1", 100)
    assert r["first_seen"] == T0 and r["last_seen"] == T0 + dt.timedelta(seconds=99)
    assert r["message"] == "silent 99 s" and r["details"] == {"i": 99}  # the newest reading


def test_resolve_then_raise_again_opens_a_new_row(store_url):
    engine = connect_store(store_url)
    first = raise_alert(engine, "circuit_open:tiktok:main", "circuit_open", "warning", "open")
    assert resolve(engine, "circuit_open:tiktok:main") and not resolve(engine, "circuit_open:tiktok:main")
    second = raise_alert(engine, "circuit_open:tiktok:main", "circuit_open", "warning", "open again")
    rows = _rows(engine)
    assert second != first and [(r["status"], r["open_key"]) for r in rows] == [
        ("resolved", None), ("open", "circuit_open:tiktok:main")]
    assert rows[0]["resolved_at"] is not None and rows[1]["count"] == 1
    assert [a["id"] for a in open_alerts(engine)] == [second]


def test_concurrent_raises_of_one_condition_leave_one_open_row(store_url):
    engine = connect_store(store_url)
    start, errors = threading.Barrier(6), []

    def raiser():
        try:
            start.wait()
            for _ in range(5):
                raise_alert(engine, "run_failure:score_job", "run_failure", "critical", "boom")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=raiser) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [(r["status"], r["count"]) for r in _rows(engine)] == [("open", 30)]


def test_sync_resolves_only_the_checked_kinds_that_cleared(tmp_path):
    engine = connect_store(f"sqlite:///{tmp_path / 'store.db'}")
    sync(engine, [Candidate("worker_dead:w1", "worker_dead", "critical", "dead"),
                  Candidate("worker_dead:w2", "worker_dead", "critical", "dead"),
                  Candidate("spend_pacing:act_1", "spend_pacing", "critical", "fast")], {"worker_dead", "spend_pacing"})
    done = sync(engine, [Candidate("worker_dead:w2", "worker_dead", "critical", "dead")], {"worker_dead"})
    assert done["resolved"] == ["worker_dead:w1"]  # spend_pacing was not checked: its alert stays open
    assert sorted(a["key"] for a in open_alerts(engine)) == ["spend_pacing:act_1", "worker_dead:w2"]


def test_workers_and_breakers_in_the_store_fire_and_clear_on_the_database_clock(store_url):
    engine = connect_store(store_url)
    old = schema.utcnow() - dt.timedelta(minutes=10)
    with engine.begin() as c:
        c.execute(schema.worker_heartbeats.insert(), [
            {"worker_id": w, "status": s, "started_at": old, "last_heartbeat": hb, "jobs_running": 1}
            for w, s, hb in [("silent", "online", old), ("fresh", "online", schema.utcnow()),
                             ("marked", "offline", old), ("clean", "stopped", old)]])
        c.execute(schema.circuit_breakers.insert(), [
            {"platform": "tiktok", "account": a, "state": s, "failures": 5, "updated_at": 0.0, "last_error": "503"}
            for a, s in [("main", "open"), ("b", "half_open"), ("c", "closed")]])
    first = evaluate(engine)
    assert first["firing"] == {"worker_dead": 2, "circuit_open": 2}
    assert sorted(a["key"] for a in open_alerts(engine)) == [
        "circuit_open:tiktok:b", "circuit_open:tiktok:main", "worker_dead:marked", "worker_dead:silent"]
    with engine.begin() as c:
        c.execute(schema.worker_heartbeats.update().values(status="online", last_heartbeat=schema.utcnow()))
        c.execute(schema.circuit_breakers.update().values(state="closed"))
    assert len(evaluate(engine)["resolved"]) == 4 and open_alerts(engine) == []


# -- delivery against a real local webhook ---------------------------------------------------------------
class Hook:
    """A Slack-compatible incoming webhook on 127.0.0.1 that answers `statuses` in turn, then 200 "ok"."""

    def __init__(self, statuses=(), headers=None):
        self.statuses, self.headers, self.bodies = list(statuses), headers or {}, []

        async def receive(request: Request):
            self.bodies.append(await request.json())
            if self.statuses:
                return JSONResponse({"error": "busy"}, status_code=self.statuses.pop(0), headers=self.headers)
            return PlainTextResponse("ok")

        self.server = BackgroundServer(Starlette(routes=[Route(SECRET_PATH, receive, methods=["POST"])]), name="hook")

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url + SECRET_PATH


FAST = WebhookPolicy(backoff_s=0.01, max_wait_s=0.05, timeout_s=5.0)


@pytest.fixture
def engine(tmp_path):
    return connect_store(f"sqlite:///{tmp_path / 'store.db'}")


def test_a_failing_webhook_is_retried_and_the_alert_delivered_once(engine):
    raise_alert(engine, "worker_dead:w1", "worker_dead", "critical", "worker w1 is dead")
    with Hook([503, 503]) as hook:
        out = deliver(engine, hook.url, FAST)
        again = deliver(engine, hook.url, FAST)  # delivered: nothing is due any more
    assert (out.sent, out.attempts, out.due) == (True, 3, 1)
    assert (again.sent, again.due, again.attempts) == (False, 0, 0)
    assert len(hook.bodies) == 3 and hook.bodies[-1]["text"].startswith("ACTP alert [critical] worker w1 is dead")
    (row,) = _rows(engine)
    assert row["notified_at"] is not None and row["notify_attempts"] == 3 and row["last_notify_error"] is None


def test_a_storm_of_a_hundred_conditions_is_one_digest(engine):
    raise_alerts(engine, [Candidate(f"velocity_outlier:tiktok:main:p{i}", "velocity_outlier", "info", f"post p{i}")
                          for i in range(99)] + [Candidate("worker_dead:w1", "worker_dead", "critical", "dead")])
    with Hook() as hook:
        out = deliver(engine, hook.url, FAST)
        deliver(engine, hook.url, FAST)
    assert out.sent and out.due == 100 and len(hook.bodies) == 1
    text = hook.bodies[0]["text"]
    assert text.startswith("ACTP: 100 alerts\n- [critical] dead")  # most severe first
    assert "... and 80 more" in text and len(text.splitlines()) == 22
    assert all(r["notified_at"] is not None for r in _rows(engine))


def test_a_condition_firing_again_is_resent_once_per_repeat_window_only(engine):
    raise_alert(engine, "spend_pacing:act_1", "spend_pacing", "critical", "fast", now=T0)
    with Hook() as hook:
        assert deliver(engine, hook.url, FAST, now=T0).sent
        raise_alert(engine, "spend_pacing:act_1", "spend_pacing", "critical", "still fast", now=T0 + dt.timedelta(minutes=30))
        assert deliver(engine, hook.url, FAST, now=T0 + dt.timedelta(minutes=30)).due == 0  # within the hour
        assert deliver(engine, hook.url, FAST, now=T0 + dt.timedelta(minutes=61)).sent  # a reminder: it fired again
        assert deliver(engine, hook.url, FAST, now=T0 + dt.timedelta(minutes=200)).due == 0  # not seen since
    assert [b["text"] for b in hook.bodies] == [
        "ACTP alert [critical] fast", "ACTP alert [critical] still fast (x2 since 2026-11-20 12:00 UTC)"]


def test_the_webhook_url_never_reaches_logs_rows_or_errors(engine, caplog):
    caplog.set_level(logging.DEBUG)
    before = list(logging.getLogger("httpx").filters)  # other modules' own filters (accounts' RedactSecrets) stay
    raise_alert(engine, "worker_dead:w1", "worker_dead", "critical", "dead")
    with Hook([503] * 5) as hook:
        out = deliver(engine, hook.url, FAST)
        logging.getLogger("httpx").info("unrelated line")  # the redaction filter is gone afterwards
    assert not out.sent and out.attempts == 3 and out.error.startswith("HTTP 503")
    assert any("HTTP Request: POST" in r.getMessage() for r in caplog.records)  # httpx did log each request ...
    assert SECRET_PATH not in caplog.text and "xoxb" not in caplog.text  # ... without the URL
    assert "xoxb" not in str(_rows(engine)) and "xoxb" not in out.error
    assert logging.getLogger("httpx").filters == before  # the redaction filter of the send is gone afterwards


def test_refusals_are_final_and_429_waits_as_told():
    waits = []
    with Hook([404]) as hook:
        assert post(hook.url, "x", FAST, sleep=waits.append)[:2] == (False, 1)
    with Hook([429], headers={"Retry-After": "0.03"}) as hook:
        assert post(hook.url, "x", FAST, sleep=waits.append) == (True, 2, None)
    assert waits == [0.03]


def test_timeouts_are_retried_with_backoff():
    calls, waits = [], []

    def handler(request):
        calls.append(request)
        if len(calls) < 3:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, text="ok")

    ok = post("https://hooks.example.com" + SECRET_PATH, "x", WebhookPolicy(backoff_s=0.5, max_wait_s=5),
              transport=httpx.MockTransport(handler), sleep=waits.append)
    assert ok == (True, 3, None) and waits == [0.5, 1.0]


def test_without_a_url_alerts_stay_rows_and_wait_for_one(engine):
    raise_alert(engine, "worker_dead:w1", "worker_dead", "critical", "dead")
    out = deliver(engine, None, FAST)
    assert not out.sent and out.due == 1 and "ACTP_ALERT_WEBHOOK_URL" in out.error
    assert _rows(engine)[0]["notified_at"] is None and _rows(engine)[0]["notify_attempts"] == 0


def test_one_alert_reads_as_itself():
    assert message_text([{"severity": "warning", "message": "m", "count": 1}]) == "ACTP alert [warning] m"


# -- the conditions ------------------------------------------------------------------------------------
def test_dead_workers_follow_the_liveness_rule():
    hb = lambda w, s, ago: {"worker_id": w, "status": s, "last_heartbeat": T0 - dt.timedelta(seconds=ago),  # noqa: E731
                            "jobs_running": 2}
    got = dead_workers([hb("fresh", "online", 60), hb("silent", "online", 121), hb("marked", "offline", 5),
                        hb("clean", "stopped", 9999)], T0)
    assert [c.key for c in got] == ["worker_dead:silent", "worker_dead:marked"]
    assert "no heartbeat for 121s" in got[0].message and got[0].severity == "critical"


def test_open_and_half_open_breakers_fire():
    rows = [{"platform": "tiktok", "account": a, "state": s, "failures": 5, "last_error": "HTTP 503\nbody"}
            for a, s in [("a", "closed"), ("b", "open"), ("c", "half_open")]]
    got = open_breakers(rows)
    assert [c.key for c in got] == ["circuit_open:tiktok:b", "circuit_open:tiktok:c"]
    assert got[0].message == "circuit breaker tiktok:b is open after 5 consecutive failures: HTTP 503"


def _spend(**accounts):
    return pd.DataFrame([{"account_id": a, "goal": "*", "spend": s, "planned": p, "cap": 50.0}
                         for a, (s, p) in accounts.items()]
                        + [{"account_id": "*", "goal": "*", "spend": 999.0, "planned": 1.0, "cap": None}])


def test_spend_pacing_fires_above_one_and_a_half_times_the_plan_so_far():
    noon = T0  # half the day: the plan so far is half the running daily budgets
    got = spend_pacing(_spend(fast=(19.0, 24.0), ok=(17.0, 24.0), unplanned=(5.0, 0.0), tiny=(0.5, 0.1)), noon)
    assert [c.key for c in got] == ["spend_pacing:fast"]  # 19 / 12 = 1.58x; 17 / 12 = 1.42x
    assert got[0].details["pace"] == pytest.approx(19 / 12, abs=1e-3) and got[0].details["expected_so_far"] == 12.0
    early = T0.replace(hour=0, minute=30)  # the first 2 h count as 2 h: $3 of $24/day is 1.5x, not 24x
    assert spend_pacing(_spend(a=(3.0, 24.0)), early) == []
    assert [c.key for c in spend_pacing(_spend(a=(3.1, 24.0)), early)] == ["spend_pacing:a"]


def _cell(velocities, account="main", live_at=T0, window="2026-11-20T00:00"):
    return [{"post_id": f"{account}-{i}", "variant_id": f"v{i}", "platform": "tiktok", "account": account,
             "cell_window": window, "velocity": v, "live_at": live_at, "last_snapshot_at": T0} for i, v in enumerate(velocities)]


def test_a_post_far_outside_its_cell_fires_either_way():
    frame = pd.DataFrame(_cell([100, 90, 110, 105, 95, 1500, 2]))
    got = {c.key: c for c in velocity_outliers(frame)}
    assert set(got) == {"velocity_outlier:tiktok:main:main-5", "velocity_outlier:tiktok:main:main-6"}
    high, low = got["velocity_outlier:tiktok:main:main-5"], got["velocity_outlier:tiktok:main:main-6"]
    assert high.severity == "info" and "far above" in high.message and high.details["cell_posts"] == 7
    assert low.severity == "warning" and "far below" in low.message


def test_small_tight_or_old_cells_do_not_fire():
    small = _cell([100, 100, 100, 5000], account="small")  # 4 posts: not judged
    tight = _cell([100, 100, 100, 100, 150], account="tight")  # identical but one: 1.5x is under the 2x floor
    old = _cell([100, 90, 110, 105, 5000], account="old", live_at=T0 - dt.timedelta(hours=49))
    assert velocity_outliers(pd.DataFrame(small + tight + old)) == []
    assert velocity_outliers(pd.DataFrame(old), AlertRules(velocity_recent_h=72)) != []
    assert velocity_outliers(pd.DataFrame()) == []


class FakeAds:
    """The ads-client calls read_spend makes, over fixed frames (acc2's API refuses)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def campaigns(self, acc):
        if acc == "acc2":
            raise RuntimeError("HTTP 500 access_token=abc123 refused")
        return pd.DataFrame([{"id": "c1", "account_id": acc, "goal": "streams", "kind": "learning",
                              "daily_budget": None, "status": "ACTIVE", "budget_mode": "ABO"}])

    def ad_sets(self, acc):
        return pd.DataFrame([{"id": s, "campaign_id": "c1", "account_id": acc, "variant_id": s, "daily_budget": 5.0,
                              "status": st, "created_at": T0.replace(hour=0)} for s, st in [("s1", "ACTIVE"), ("s2", "PAUSED")]])

    def insights(self, acc, since, until):
        assert since == T0.replace(hour=0) and until == T0  # since UTC midnight of the platform's clock
        return pd.DataFrame([{"ad_set_id": s, "at": T0.replace(hour=h), "spend": 2.0}
                             for s, h in [("s1", 1), ("s1", 5), ("s2", 2), ("s2", 3)]])


def test_spend_today_against_the_days_plan_and_the_caps(engine):
    from actp_pipeline.ads import accounts as ad_accounts
    from actp_pipeline.alerts.spend import latest_spend, read_spend, record_spend

    ad_accounts.set_account(engine, "acc1", global_daily_budget=20.0)
    ad_accounts.set_goal(engine, "acc1", "streams", budget_cap=8.0)
    ad_accounts.set_goal(engine, "acc2", "leads")
    spend, errors = read_spend(FakeAds, engine, T0)
    assert list(errors) == ["acc2"] and "abc123" not in errors["acc2"]  # scrubbed
    rows = {(r["account_id"], r["goal"]): (r["spend"], r["planned"], None if pd.isna(r["cap"]) else r["cap"])
            for r in spend.to_dict("records")}
    # s2 (paused since) spent too; only s1's $5/day is running; no overall cap is set
    assert rows == {("acc1", "*"): (8.0, 5.0, 20.0), ("acc1", "streams"): (8.0, 5.0, 8.0), ("*", "*"): (8.0, 5.0, None)}
    kept = record_spend(engine, spend.assign(planned=[10.0, 10.0, 10.0]), T0.replace(hour=6))  # earlier: $10/day
    kept = record_spend(engine, spend, T0)  # the day's plan stays its peak, $10
    assert kept["planned"].tolist() == [10.0, 10.0, 10.0] and len(latest_spend(engine)) == 3
    (alert,) = spend_pacing(kept, T0)  # $8 by noon: 1.6x the day's $10/day so far (not 3.2x the $5 running now)
    assert alert.key == "spend_pacing:acc1" and alert.details["pace"] == 1.6 and alert.details["cap"] == 20.0
