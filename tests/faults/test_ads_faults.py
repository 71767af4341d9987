"""The ad_actions fault suite, small enough for CI, on SQLite and PostgreSQL: two executions of each plan at
once, writes refused or carried out with their answer lost, lookups failing, then resumed: nothing created
twice, no active budget above the plan's, every success delivering, every action settled."""

from tests.faults import ads_faults


def test_ad_actions_survive_injected_faults(store_url, tmp_path):
    out = ads_faults.run(store_url, tmp_path, seed=4, accounts=4)
    print(out)
    assert out["faults"] >= 8 and out["by_fault"]["concurrent_execution"] == 4, out
    assert out["duplicate_platform_calls"] == 0 and out["cap_breaches"] == 0, out
    assert out["silent_data_loss"] == 0 and out["items_lost"] == 0, out
