"""The circuit breaker under a fake clock: transitions exactly at thresholds and timeouts, one trial at a
time in half-open, and the store-backed breaker shared by threads and processes on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actp_pipeline.publish.circuit_breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerPolicy,
    BreakerRecord,
    CircuitBreaker,
    Permit,
    StoreCircuitBreaker,
)
from actp_pipeline.store import connect_store
from actp_pipeline.store.engine import make_engine

T0 = 1_700_000_000.0
P, A = "tiktok", "acct"


class FakeClock:
    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


@pytest.fixture(params=["memory", "store"])
def make_breaker(request, tmp_path):
    """Both breakers: in memory, and in the store (SQLite here; Postgres in the store tests below)."""
    url = f"sqlite:///{tmp_path / 'cb.db'}"

    def make(clock, **kw):
        if request.param == "memory":
            return CircuitBreaker(clock=clock, **kw)
        return StoreCircuitBreaker(connect_store(url), clock=clock, **kw)

    return make


def _open(cb, n=5):
    for _ in range(n):
        cb.record_failure(P, A, "HTTP 503")


def test_defaults():
    p = BreakerPolicy()
    assert (p.failure_threshold, p.open_s, p.success_threshold, p.backoff, p.max_open_s) == (5, 60.0, 2, 2.0, 900.0)


@pytest.mark.parametrize("bad", [dict(failure_threshold=0), dict(success_threshold=1.5), dict(open_s=0),
                                 dict(backoff=0.5), dict(open_s=100, max_open_s=50), dict(trial_timeout_s=-1)])
def test_bad_policies_are_refused(bad):
    with pytest.raises(ValueError):
        BreakerPolicy(**bad)


def test_opens_exactly_at_the_failure_threshold(make_breaker):
    cb = make_breaker(FakeClock())
    assert [cb.record_failure(P, A, "boom") for _ in range(4)] == [CLOSED] * 4
    assert cb.allow(P, A) == Permit(True, 0.0, CLOSED)
    assert cb.record_failure(P, A, RuntimeError("fifth")) == OPEN
    rec = cb.snapshot(P, A)
    assert (rec.state, rec.failures, rec.opened_at, rec.open_until) == (OPEN, 5, T0, T0 + 60)
    assert rec.last_error == "RuntimeError: fifth"


def test_failures_must_be_consecutive(make_breaker):
    cb = make_breaker(FakeClock())
    _open(cb, 4)
    assert cb.record_success(P, A) == CLOSED
    _open(cb, 4)
    assert cb.state(P, A) == CLOSED
    assert cb.record_failure(P, A) == OPEN


def test_open_rejects_with_the_exact_time_left_then_one_trial_at_the_timeout(make_breaker):
    clock = FakeClock()
    cb = make_breaker(clock)
    _open(cb)
    clock.advance(30)
    assert cb.allow(P, A) == Permit(False, 30.0, OPEN)
    clock.advance(29.75)
    assert cb.allow(P, A) == Permit(False, 0.25, OPEN)
    assert cb.state(P, A) == OPEN
    clock.advance(0.25)  # exactly at open_until
    assert cb.state(P, A) == HALF_OPEN
    trial = cb.allow(P, A)
    assert trial.allowed and trial.state == HALF_OPEN and trial.token
    # one trial at a time: everybody else waits (a poll hint, never more than the trial's lease)
    assert cb.allow(P, A) == Permit(False, 5.0, HALF_OPEN)
    assert cb.allow(P, A) == Permit(False, 5.0, HALF_OPEN)


def test_two_trial_successes_close_it(make_breaker):
    clock = FakeClock()
    cb = make_breaker(clock)
    _open(cb)
    clock.advance(60)
    first = cb.allow(P, A)
    assert cb.record_success(P, A, first) == HALF_OPEN  # one success is not enough ...
    second = cb.allow(P, A)  # ... but frees the slot for the next trial
    assert second.allowed and second.token != first.token
    assert not cb.allow(P, A).allowed
    assert cb.record_success(P, A, second) == CLOSED
    assert cb.snapshot(P, A) == BreakerRecord(last_error="HTTP 503")
    assert all(cb.allow(P, A).allowed for _ in range(3))


def test_failed_trial_reopens_with_a_doubling_capped_period(make_breaker):
    clock = FakeClock()
    cb = make_breaker(clock, max_open_s=300)
    _open(cb)
    periods = []
    for _ in range(4):
        clock.t = cb.snapshot(P, A).open_until
        trial = cb.allow(P, A)
        assert trial.allowed
        assert cb.record_failure(P, A, "still down", trial) == OPEN
        rec = cb.snapshot(P, A)
        periods.append(rec.open_until - rec.opened_at)
        assert rec.opened_at == clock.t
        assert cb.allow(P, A) == Permit(False, periods[-1], OPEN)
    assert periods == [120.0, 240.0, 300.0, 300.0]
    # a recovery closes it and the next opening starts from 60 s again
    clock.t = cb.snapshot(P, A).open_until
    cb.record_success(P, A, cb.allow(P, A))
    cb.record_success(P, A, cb.allow(P, A))
    assert cb.state(P, A) == CLOSED
    _open(cb)
    rec = cb.snapshot(P, A)
    assert rec.open_until - rec.opened_at == 60.0


def test_late_results_of_calls_let_through_before_opening_are_ignored(make_breaker):
    clock = FakeClock()
    cb = make_breaker(clock)
    _open(cb)
    before = cb.snapshot(P, A)
    assert cb.record_failure(P, A, "late") == OPEN and cb.record_success(P, A) == OPEN
    assert cb.snapshot(P, A) == before  # nothing moved, in particular not open_until
    clock.advance(60)
    trial = cb.allow(P, A)
    # results without the trial's token neither close nor reopen, nor free the trial slot
    assert cb.record_success(P, A) == HALF_OPEN
    assert cb.record_failure(P, A, "late", Permit(True, 0.0, CLOSED, "someone-else")) == HALF_OPEN
    assert cb.snapshot(P, A).successes == 0
    assert not cb.allow(P, A).allowed
    assert cb.record_success(P, A, trial.token) == HALF_OPEN  # a bare token works like the Permit
    assert cb.snapshot(P, A).successes == 1


def test_a_silent_trial_is_handed_on_after_its_lease(make_breaker):
    clock = FakeClock()
    cb = make_breaker(clock, trial_timeout_s=120)
    _open(cb)
    clock.advance(60)
    lost = cb.allow(P, A)
    clock.advance(118)
    assert cb.allow(P, A) == Permit(False, 2.0, HALF_OPEN)  # the hint never exceeds the lease left
    clock.advance(2)
    taken = cb.allow(P, A)
    assert taken.allowed and taken.token != lost.token
    assert cb.record_failure(P, A, "crashed worker's late report", lost) == HALF_OPEN  # the old holder counts nothing
    assert cb.record_success(P, A, taken) == HALF_OPEN
    assert cb.snapshot(P, A).successes == 1


def test_reset_and_keys_are_independent(make_breaker):
    cb = make_breaker(FakeClock())
    _open(cb)
    assert cb.state(P, "other") == CLOSED and cb.state("instagram", A) == CLOSED
    cb.reset(P, A)
    assert cb.state(P, A) == CLOSED and cb.allow(P, A).allowed


def test_thresholds_or_policy_not_both():
    with pytest.raises(TypeError):
        CircuitBreaker(BreakerPolicy(), failure_threshold=3)


# -- properties ----------------------------------------------------------------------------------------
ops_st = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(0, 400).map(lambda n: n / 4)),
        st.tuples(st.sampled_from(["allow", "success", "failure", "late_success", "late_failure"]), st.just(0)),
    ),
    max_size=120,
)


@settings(max_examples=400, deadline=None)
@given(
    ops=ops_st,
    failure_threshold=st.integers(1, 4),
    success_threshold=st.integers(1, 3),
    open_s=st.integers(1, 40).map(float),
    trial_timeout_s=st.integers(1, 100).map(float),
)
def test_breaker_invariants(ops, failure_threshold, success_threshold, open_s, trial_timeout_s):
    clock = FakeClock(0.0)
    policy = BreakerPolicy(failure_threshold=failure_threshold, success_threshold=success_threshold, open_s=open_s,
                           max_open_s=8 * open_s, trial_timeout_s=trial_timeout_s)
    cb = CircuitBreaker(policy, clock=clock)
    outstanding: list[Permit] = []  # permits whose results are not reported yet
    consecutive = 0  # failures reported while closed, since the last closed-state success
    for op, arg in ops:
        before = cb.snapshot(P, A)
        if op == "advance":
            clock.advance(arg)
            continue
        if op == "allow":
            permit = cb.allow(P, A)
            if before.state == OPEN and clock.t < before.open_until:
                # never a call while open, and the wait is exactly the time left
                assert permit == Permit(False, before.open_until - clock.t, OPEN)
            if before.state == CLOSED:
                assert permit.allowed
            if permit.allowed and permit.state == HALF_OPEN:
                # a trial only when no other trial is out within its lease
                live = [p for p in outstanding if p.token is not None and p.token == before.trial_token
                        and clock.t < before.trial_started_at + trial_timeout_s]
                assert not live
            if permit.allowed:
                outstanding.append(permit)
            continue
        late = op.startswith("late")
        permit = None if late or not outstanding else outstanding.pop(0)
        if op.endswith("success"):
            cb.record_success(P, A, permit)
            if before.state == CLOSED:
                consecutive = 0
        else:
            cb.record_failure(P, A, "x", permit)
            if before.state == CLOSED:
                consecutive += 1
        after = cb.snapshot(P, A)
        if before.state == CLOSED:
            # a closed breaker opens exactly when the consecutive failures reach the threshold
            assert (after.state == OPEN) == (consecutive >= failure_threshold)
            if after.state == OPEN:
                assert after.open_until == clock.t + open_s
                consecutive = 0
        elif before.state == OPEN:
            assert after == before  # results while open change nothing
        else:
            is_trial = permit is not None and permit.token is not None and permit.token == before.trial_token
            if not is_trial:
                assert after == before
            elif op.endswith("failure"):
                assert after.state == OPEN and after.open_s == min(before.open_s * 2, 8 * open_s)
            else:
                assert after.state == (CLOSED if before.successes + 1 >= success_threshold else HALF_OPEN)
                if after.state == CLOSED:
                    consecutive = 0
        # an open breaker always has its deadline and no trial out
        if after.state == OPEN:
            assert after.open_until is not None and after.trial_token is None


# -- the store-backed breaker on SQLite and PostgreSQL --------------------------------------------------
def test_store_breaker_is_shared_between_instances(store_url):
    clock = FakeClock()
    one = StoreCircuitBreaker(connect_store(store_url), clock=clock)
    two = StoreCircuitBreaker(make_engine(store_url), clock=clock)
    for i in range(5):
        (one if i % 2 else two).record_failure(P, A, f"503 #{i}")
    assert two.allow(P, A) == Permit(False, 60.0, OPEN)
    clock.advance(60)
    trial = one.allow(P, A)
    assert trial.allowed and not two.allow(P, A).allowed
    assert two.record_success(P, A, trial) == HALF_OPEN  # another process reports with the permit
    assert two.record_success(P, A, one.allow(P, A)) == CLOSED
    assert one.state(P, A) == CLOSED


def test_concurrent_failures_are_all_counted(store_url):
    cb = StoreCircuitBreaker(connect_store(store_url), clock=lambda: T0, failure_threshold=20)
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        for _ in range(2):
            cb.record_failure(P, A, "503")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cb.snapshot(P, A).failures == 16 and cb.state(P, A) == CLOSED  # no lost update


def test_threads_racing_for_the_trial_get_exactly_one(store_url):
    clock = FakeClock()
    cb = StoreCircuitBreaker(connect_store(store_url), clock=clock)
    _open(cb)
    clock.advance(60)
    barrier = threading.Barrier(12)
    permits: list[Permit] = []
    lock = threading.Lock()

    def worker():
        barrier.wait()
        for _ in range(3):
            p = cb.allow(P, A)
            with lock:
                permits.append(p)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    granted = [p for p in permits if p.allowed]
    assert len(granted) == 1 and granted[0].token == cb.snapshot(P, A).trial_token
    assert all(p == Permit(False, 5.0, HALF_OPEN) for p in permits if not p.allowed)


def _race_for_trial(url, frozen_at, tries, barrier, results):
    cb = StoreCircuitBreaker(make_engine(url), clock=lambda: frozen_at)
    barrier.wait(timeout=60)
    results.put([cb.allow(P, A).allowed for _ in range(tries)])


def test_processes_racing_for_the_trial_get_exactly_one(store_url):
    clock = FakeClock()
    cb = StoreCircuitBreaker(connect_store(store_url), clock=clock)
    _open(cb)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_race_for_trial, args=(store_url, T0 + 60, 6, barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    got = [a for _ in procs for a in results.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sum(got) == 1 and len(got) == 24
    assert cb.snapshot(P, A).state == HALF_OPEN
