"""The latest metrics of each post: the last snapshot of its counts plus its early view velocity.

The query runs in DuckDB next to its data (the warehouse's `post_metrics` snapshots), so scoring gets one
small frame per post and never touches the warehouse itself.
"""

from __future__ import annotations

import pandas as pd

from actp_pipeline.store.warehouse import Warehouse

# arg_max is keyed on a BIGINT (epoch microseconds), not on the TIMESTAMP itself: at 10M snapshots DuckDB's
# arg_max over a TIMESTAMP key is 2-3x slower than over an integer (benchmarks/scoring.py).
LATEST_SQL = """
SELECT post_id,
       any_value(variant_id) AS variant_id, any_value(platform) AS platform, any_value(account) AS account,
       any_value(idempotency_key) AS idempotency_key, min(live_at) AS live_at,
       max(snapshot_at) AS last_snapshot_at, max(age_h) AS hours_live, count(*) AS snapshots,
       arg_max(views, t) AS views, arg_max(likes, t) AS likes, arg_max(comments, t) AS comments,
       arg_max(shares, t) AS shares, arg_max(saves, t) AS saves, arg_max(watch_time_s, t) AS watch_time_s,
       coalesce(arg_max(views / age_h, age_h) FILTER (WHERE age_h > 0 AND age_h <= {window}),
                arg_min(views / age_h, age_h) FILTER (WHERE age_h > 0)) AS velocity
FROM (SELECT *, epoch_us(snapshot_at) AS t FROM post_metrics) GROUP BY post_id
"""


def latest_per_post(warehouse: Warehouse, velocity_window_h: float = 6.0) -> pd.DataFrame:
    """Latest metrics of each post plus its early view velocity, computed in DuckDB over all snapshots."""
    if not warehouse.exists("post_metrics"):
        return pd.DataFrame()
    return warehouse.query(LATEST_SQL.format(window=float(velocity_window_h)), tables={"post_metrics": None})
