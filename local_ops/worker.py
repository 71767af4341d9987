"""Identity of this worker process (host and pid), used as `claimed_by` in the queues."""

from actp_pipeline.worker import default_worker_id as worker_id

__all__ = ["worker_id"]
