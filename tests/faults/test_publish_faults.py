"""The publish fault suite, small enough for CI, on SQLite and PostgreSQL, posting through TikTok's Content
Posting API (the native adapter) to the sandbox: 429/503/dropped connections/timeouts before the platform
acts and lost answers/dropped connections/timeouts after it acted, at creator_info, video/init, the chunk
PUT, status/fetch and video/list; calls outliving their lease, skewed clocks, kill -9 before and after the
send gate, after init and around the final chunk, and SIGSTOP past the lease: exactly one sandbox post per
item, no item lost, no ledger row that is not the platform's post."""

from tests.faults import publish_faults


def test_publish_survives_injected_faults(store_url, tmp_path):
    out = publish_faults.run(store_url, tmp_path, seed=3, items=24, thread_passes=3, kills=5, stops=1, skews=1)
    print(out)
    assert out["faults"] >= 20, out
    assert out["by_fault"].get("kill_9") == 5 and out["by_fault"].get("sigstop") == 1, out
    assert set(out["kills_at"]) == set(publish_faults.KILL_POINTS), out
    # the create calls were faulted on both sides of their side effect
    faulted = {k.split(":")[0] for k in out["by_fault"] if ":" in k}
    assert {"init", "chunk"} <= faulted, out
    assert out["duplicate_platform_calls"] == 0, out
    assert out["items_lost"] == 0, out
    assert out["silent_data_loss"] == 0 and out["stray_posts"] == 0, out


def test_a_worker_paused_between_init_and_its_final_chunk_posts_nothing(tmp_path):
    out = publish_faults.run(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, seed=5, items=0, thread_passes=0,
                             kills=0, stops=0, skews=0, mid_upload_stops=1)
    print(out)
    assert out["by_fault"].get("sigstop_mid_upload") == 1, out
    assert out["items_lost"] == 0 and out["silent_data_loss"] == 0, out
    assert out["duplicate_platform_calls"] == 0, out
