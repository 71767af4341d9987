"""Rate limits under a fake clock: exact window boundaries, several windows, Retry-After, and the
store-backed limiter shared by threads and processes on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actp_pipeline.publish.rate_limits import (
    DEFAULT_LIMITS,
    PLATFORM,
    Decision,
    RateLimit,
    RateLimiter,
    StoreRateLimiter,
    decide,
    parse_retry_after,
    to_epoch,
    window_wait,
)
from actp_pipeline.store import connect_store, schema
from actp_pipeline.store.engine import make_engine

T0 = 1_700_000_000.0  # a realistic epoch, so HTTP-dates and the fake clock live on the same axis


class FakeClock:
    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


TIKTOK = {"tiktok": [RateLimit(6, 60)]}


# -- defaults ------------------------------------------------------------------------------------------
def test_defaults_follow_the_platforms_documentation():
    assert RateLimit(6, 60.0) in DEFAULT_LIMITS["tiktok"]
    assert DEFAULT_LIMITS["instagram"] == [RateLimit(50, 86_400.0)]
    assert [(lim.calls, lim.per_s) for lim in DEFAULT_LIMITS["youtube"]] == [(100, 86_400.0)]
    assert DEFAULT_LIMITS["youtube"][0].scope == PLATFORM  # a Google Cloud project's quota


@pytest.mark.parametrize("bad", [dict(calls=0, per_s=1), dict(calls=1.5, per_s=1), dict(calls=1, per_s=0),
                                 dict(calls=1, per_s=float("inf")), dict(calls=1, per_s=1, scope="app")])
def test_bad_limits_are_refused(bad):
    with pytest.raises(ValueError):
        RateLimit(**bad)


# -- the pure rule -------------------------------------------------------------------------------------
def test_six_in_a_minute_then_exact_wait_then_allowed_at_the_expiry_instant():
    lim = [RateLimit(6, 60)]
    calls = [0.0, 5.0, 10.0, 20.0, 30.0, 40.0]
    for i in range(6):
        assert decide(calls[i], calls[:i], lim) == Decision(True, 0.0)
    assert decide(45.0, calls, lim) == Decision(False, 15.0)  # the call at 0 leaves at 60
    assert decide(59.75, calls, lim) == Decision(False, 0.25)
    assert decide(60.0, calls, lim) == Decision(True, 0.0)  # convention: gone at exactly t + per_s
    # after the 7th at 60, the next slot opens when the call at 5 leaves
    assert decide(61.0, [*calls, 60.0], lim) == Decision(False, 4.0)


def test_burst_at_one_instant():
    lim = [RateLimit(6, 60)]
    assert decide(0.0, [0.0] * 6, lim) == Decision(False, 60.0)
    assert decide(60.0, [0.0] * 6, lim) == Decision(True, 0.0)


def test_overfull_window_waits_for_enough_calls_to_leave():
    # 8 calls recorded (e.g. by hand) against a limit of 6: 3 must leave before one more fits
    calls = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert window_wait(10.0, calls, RateLimit(6, 60)) == 52.0  # the third oldest (2.0) leaves at 62


def test_several_windows_the_binding_one_decides():
    lim = [RateLimit(2, 10), RateLimit(3, 100)]
    assert decide(5.0, [0.0, 1.0], lim) == Decision(False, 5.0)  # short window: 0 leaves at 10
    assert decide(10.0, [0.0, 1.0], lim) == Decision(True, 0.0)
    # at 11 the short window holds only the call at 10, but the long one is full until 0 leaves at 100
    assert decide(11.0, [0.0, 1.0, 10.0], lim) == Decision(False, 89.0)
    assert decide(100.0, [0.0, 1.0, 10.0], lim) == Decision(True, 0.0)


def test_platform_scope_counts_every_account():
    lim = [RateLimit(2, 60, scope=PLATFORM), RateLimit(5, 60)]
    assert decide(1.0, [], lim, platform_recent=[0.0, 0.5]) == Decision(False, 59.0)
    assert decide(1.0, [0.0], lim, platform_recent=[0.0]) == Decision(True, 0.0)


def test_block_and_window_the_later_wins():
    lim = [RateLimit(1, 60)]
    assert decide(10.0, [0.0], lim, blocked_until=100.0) == Decision(False, 90.0)
    assert decide(10.0, [0.0], lim, blocked_until=20.0) == Decision(False, 50.0)
    assert decide(100.0, [], lim, blocked_until=100.0) == Decision(True, 0.0)


# -- Retry-After ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, expected",
    [
        ("120", T0 + 120),
        (" 0 ", T0),
        ("1.5", T0 + 1.5),
        (30, T0 + 30),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784111777.0),  # IMF-fixdate
        ("Sunday, 06-Nov-94 08:49:37 GMT", 784111777.0),  # RFC 850
        ("Sun Nov  6 08:49:37 1994", 784111777.0),  # asctime, GMT by definition
    ],
)
def test_parse_retry_after_both_forms(value, expected):
    assert parse_retry_after(value, T0) == expected


@pytest.mark.parametrize("value", ["soon", "-5", "", "1e3", -1, float("nan"), True])
def test_parse_retry_after_refuses_garbage(value):
    with pytest.raises(ValueError):
        parse_retry_after(value, T0)


def _http_date(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def _limiter(kind: str, clock: FakeClock, limits=TIKTOK, url: str | None = None):
    if kind == "memory":
        return RateLimiter(limits, clock=clock)
    return StoreRateLimiter(connect_store(url), limits, clock=clock)


@pytest.fixture(params=["memory", "store"])
def limiter_factory(request, tmp_path):
    """Both limiters: in memory, and in the store (SQLite here; Postgres in the store tests below)."""
    url = f"sqlite:///{tmp_path / 'rl.db'}"
    return lambda clock, limits=TIKTOK: _limiter(request.param, clock, limits, url)


def test_retry_after_seconds_blocks_until_exactly_then(limiter_factory):
    clock = FakeClock()
    rl = limiter_factory(clock)
    assert rl.note_retry_after("tiktok", "a", "120") == T0 + 120
    clock.advance(119.5)
    assert rl.acquire("tiktok", "a")[:2] == (False, 0.5)
    assert rl.acquire("tiktok", "b").allowed  # another account is not blocked
    clock.advance(0.5)
    assert rl.acquire("tiktok", "a").allowed


def test_retry_after_http_date_and_platform_wide_block(limiter_factory):
    clock = FakeClock()
    rl = limiter_factory(clock)
    rl.note_retry_after("tiktok", None, _http_date(T0 + 300))
    assert rl.acquire("tiktok", "a")[:2] == (False, 300.0)
    assert rl.acquire("tiktok", "b")[:2] == (False, 300.0)
    clock.advance(300)
    assert rl.acquire("tiktok", "a").allowed


def test_unreadable_or_missing_retry_after_uses_the_default_and_later_block_wins(limiter_factory):
    clock = FakeClock()
    rl = limiter_factory(clock)
    assert rl.note_retry_after("tiktok", "a", "whenever", default_s=45) == T0 + 45
    assert rl.note_retry_after("tiktok", "a", None, default_s=10) == T0 + 45  # a shorter block never shortens
    assert rl.block_until("tiktok", "a", T0 + 90) == T0 + 90
    assert rl.acquire("tiktok", "a")[:2] == (False, 90.0)
    # a past HTTP-date does not block
    assert rl.note_retry_after("tiktok", "c", _http_date(T0 - 60)) == T0 - 60
    assert rl.acquire("tiktok", "c").allowed


def test_acquire_records_release_gives_back(limiter_factory):
    clock = FakeClock()
    rl = limiter_factory(clock)
    grants = [rl.acquire("tiktok", "a") for _ in range(6)]
    assert all(g.allowed and g.ticket is not None for g in grants)
    assert rl.acquire("tiktok", "a") == (False, 60.0, None)
    assert rl.check("tiktok", "a") == (False, 60.0)
    assert rl.release_unused("tiktok", "a", grants[-1].ticket)
    assert not rl.release_unused("tiktok", "a", grants[-1].ticket)  # only once
    assert rl.acquire("tiktok", "a").allowed
    assert not rl.acquire("tiktok", "a").allowed


def test_unknown_platform_is_not_throttled_but_blocks_hold(limiter_factory):
    clock = FakeClock()
    rl = limiter_factory(clock)
    assert all(rl.acquire("mastodon", "a") == (True, 0.0, None) for _ in range(50))
    rl.block_until("mastodon", "a", T0 + 5)
    assert rl.acquire("mastodon", "a")[:2] == (False, 5.0)


def test_platform_scoped_limit_is_shared_by_accounts(limiter_factory):
    clock = FakeClock()
    rl = limiter_factory(clock, {"youtube": [RateLimit(3, 100, scope=PLATFORM)]})
    assert [rl.acquire("youtube", acc).allowed for acc in ("a", "b", "c", "d")] == [True, True, True, False]
    clock.advance(100)
    assert rl.acquire("youtube", "d").allowed


def test_reserved_account_name(limiter_factory):
    with pytest.raises(ValueError):
        limiter_factory(FakeClock()).acquire("tiktok", "*")


def test_datetime_clock_is_accepted():
    now = dt.datetime(2026, 1, 1, 12, 0, 0)
    rl = RateLimiter({"tiktok": [RateLimit(1, 60)]}, clock=lambda: now)
    assert rl.acquire("tiktok", "a").allowed
    assert rl.acquire("tiktok", "a")[:2] == (False, 60.0)
    assert to_epoch(now) == dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC).timestamp()


# -- properties ----------------------------------------------------------------------------------------
# Times are multiples of 1/8 s: exact in binary floating point, so "exactly" can be asserted exactly.
eighths = st.integers(min_value=0, max_value=400).map(lambda n: n / 8)
limits_st = st.lists(
    st.builds(RateLimit, calls=st.integers(1, 5), per_s=st.integers(1, 200).map(lambda n: n / 8)),
    min_size=1, max_size=3,
)


def _max_in_any_window(times: list[float], per_s: float) -> int:
    ts = sorted(times)
    # the fullest window [s, s + per_s) starts at one of the calls
    return max((sum(1 for u in ts if s <= u and u < s + per_s) for s in ts), default=0)


@settings(max_examples=300, deadline=None)
@given(limits=limits_st, gaps=st.lists(eighths, min_size=1, max_size=60))
def test_no_window_ever_holds_more_than_its_limit(limits, gaps):
    clock = FakeClock(0.0)
    rl = RateLimiter({"p": limits}, clock=clock)
    made: list[float] = []
    for gap in gaps:
        clock.advance(gap)
        before = list(made)
        grant = rl.acquire("p", "a")
        if grant.allowed:
            made.append(clock.t)
        else:
            # denied only when a window really is full, and the wait is exact: allowed at now + wait ...
            assert any(sum(1 for t in before if t + lim.per_s > clock.t) >= lim.calls for lim in limits)
            assert decide(clock.t + grant.wait_s, before, limits).allowed
            # ... and not a moment (1/16 s) earlier
            assert not decide(clock.t + grant.wait_s - 1 / 16, before, limits).allowed
    for lim in limits:
        assert _max_in_any_window(made, lim.per_s) <= lim.calls


@settings(max_examples=200, deadline=None)
@given(limits=limits_st, times=st.lists(eighths, max_size=30), now=eighths)
def test_wait_is_the_earliest_instant_that_fits(limits, times, now):
    d = decide(now, times, limits)
    if d.allowed:
        assert all(sum(1 for t in times if t + lim.per_s > now) < lim.calls for lim in limits)
    else:
        later = now + d.wait_s
        assert all(sum(1 for t in times if t + lim.per_s > later) < lim.calls for lim in limits)
        assert not decide(later - 1 / 16, times, limits).allowed


# -- the store-backed limiter on SQLite and PostgreSQL ------------------------------------------------------
def _events(engine, platform="tiktok", account="a") -> list[float]:
    e = schema.rate_events.c
    with engine.connect() as c:
        return sorted(c.execute(sa.select(e.at).where(e.platform == platform, e.account == account)).scalars())


def test_store_limiter_boundaries(store_url):
    engine = connect_store(store_url)
    clock = FakeClock()
    rl = StoreRateLimiter(engine, TIKTOK, clock=clock)
    for _ in range(6):
        assert rl.acquire("tiktok", "a").allowed
        clock.advance(10)
    clock.t = T0 + 55
    assert rl.acquire("tiktok", "a") == (False, 5.0, None)
    clock.t = T0 + 59.875
    assert rl.acquire("tiktok", "a")[:2] == (False, 0.125)
    clock.t = T0 + 60
    assert rl.acquire("tiktok", "a").allowed
    assert _events(engine) == [T0 + 10 * i for i in range(6)] + [T0 + 60]


def test_store_limiter_is_shared_between_instances_and_prunes(store_url):
    clock = FakeClock()
    one = StoreRateLimiter(connect_store(store_url), {"tiktok": [RateLimit(2, 60), RateLimit(3, 600)]}, clock=clock)
    two = StoreRateLimiter(make_engine(store_url), {"tiktok": [RateLimit(2, 60), RateLimit(3, 600)]}, clock=clock)
    assert one.acquire("tiktok", "a").allowed and two.acquire("tiktok", "a").allowed
    assert one.acquire("tiktok", "a")[:2] == (False, 60.0)
    clock.advance(60)
    assert two.acquire("tiktok", "a").allowed
    assert one.acquire("tiktok", "a")[:2] == (False, 540.0)  # the 10-minute window binds now
    two.note_retry_after("tiktok", "a", "900")
    clock.advance(540)
    assert one.acquire("tiktok", "a")[:2] == (False, 360.0)
    clock.advance(360)
    assert one.acquire("tiktok", "a").allowed
    # calls older than every window are pruned by the key's next acquire and by prune()
    clock.advance(10_000)
    assert one.acquire("tiktok", "a").allowed
    assert _events(one.engine) == [clock.t]
    two.acquire("tiktok", "b")
    clock.advance(10_000)
    assert one.prune() == 2
    assert _events(one.engine) == [] and _events(one.engine, account="b") == []


@pytest.fixture
def store_engine(store_url):
    """One migrated engine for all hypothesis examples of a test (each example uses fresh keys)."""
    engine = connect_store(store_url)
    yield engine
    engine.dispose()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    limits=limits_st,
    ops=st.lists(st.tuples(eighths, st.sampled_from(["a", "b"]), st.sampled_from(["acquire", "release", "block"])),
                 min_size=1, max_size=25),
)
def test_store_limiter_matches_the_in_memory_model(store_engine, limits, ops):
    engine = store_engine
    platform = f"p{uuid.uuid4().hex[:12]}"  # a fresh key space per example
    clock = FakeClock(0.0)
    store = StoreRateLimiter(engine, {platform: limits}, clock=clock)
    model = RateLimiter({platform: limits}, clock=clock)
    tickets: dict[str, list[tuple[int, int]]] = {"a": [], "b": []}
    for gap, account, op in ops:
        clock.advance(gap)
        if op == "acquire":
            got, want = store.acquire(platform, account), model.acquire(platform, account)
            assert got[:2] == want[:2]
            if got.allowed:
                tickets[account].append((got.ticket, want.ticket))
        elif op == "release" and tickets[account]:
            s, m = tickets[account].pop(0)
            assert store.release_unused(platform, account, s) == model.release_unused(platform, account, m)
        elif op == "block":
            until = clock.t + 7
            assert store.block_until(platform, account, until) == model.block_until(platform, account, until)


def _hammer(url, limits, frozen_at, tries, barrier, results):
    """One worker process: acquire `tries` times for one key under a frozen clock."""
    rl = StoreRateLimiter(make_engine(url), limits, clock=lambda: frozen_at)
    barrier.wait(timeout=60)
    results.put([tuple(rl.acquire("tiktok", "shared")[:2]) for _ in range(tries)])


def test_threads_hammering_one_key_never_exceed_the_limit(store_url):
    engine = connect_store(store_url)
    rl = StoreRateLimiter(engine, TIKTOK, clock=lambda: T0)
    barrier = threading.Barrier(12)
    results: list[tuple[bool, float]] = []
    lock = threading.Lock()

    def worker():
        barrier.wait()
        for _ in range(5):
            r = rl.acquire("tiktok", "shared")
            with lock:
                results.append(tuple(r[:2]))

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [(False, 60.0)] * 54 + [(True, 0.0)] * 6
    assert _events(engine, account="shared") == [T0] * 6


def test_processes_hammering_one_key_never_exceed_the_limit(store_url):
    engine = connect_store(store_url)  # migrated before the workers start
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(store_url, TIKTOK, T0, 8, barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    got = [r for _ in procs for r in results.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(got) == [(False, 60.0)] * 26 + [(True, 0.0)] * 6
    assert _events(engine, account="shared") == [T0] * 6
