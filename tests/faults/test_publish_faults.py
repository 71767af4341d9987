"""The publish fault suite, small enough for CI, on SQLite and PostgreSQL: injected 429/5xx, lost answers,
uploads outliving their lease, skewed clocks, kill -9 before and after the create call and SIGSTOP past the
lease, against the sandbox: no create call twice, no item lost, no ledger row that is not the platform's post."""

from tests.faults import publish_faults


def test_publish_survives_injected_faults(store_url, tmp_path):
    out = publish_faults.run(store_url, tmp_path, seed=3, items=24, thread_passes=3, kills=2, stops=1, skews=1)
    print(out)
    assert out["faults"] >= 10, out
    assert out["by_fault"].get("kill_9") == 2 and out["by_fault"].get("sigstop") == 1, out
    assert out["duplicate_platform_calls"] == 0, out
    assert out["items_lost"] == 0, out
    assert out["silent_data_loss"] == 0, out
