"""The local code location: the render and upload workers and the sensors that pull their work."""


import dagster as dg

from resources.defaults import default_resources
from local_ops.checks import posts_ledger_sane, renders_queue_sane
from local_ops.posts import posts
from local_ops.renders import renders
from local_ops.sensors import publish_job, publish_queue_sensor, render_job, render_queue_sensor, worker_liveness_sensor

LOCAL_CHECKS = [renders_queue_sane, posts_ledger_sane]

defs = dg.Definitions(
    assets=[renders, posts],
    asset_checks=LOCAL_CHECKS,
    jobs=[render_job, publish_job],
    sensors=[render_queue_sensor, publish_queue_sensor, worker_liveness_sensor],
    resources=default_resources(),
)
