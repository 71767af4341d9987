"""Identity of this worker process (host and pid), used as `claimed_by` in the queues."""


import os
import socket


def worker_id() -> str:
    return os.environ.get("ACTP_WORKER_ID") or f"{socket.gethostname()}-{os.getpid()}"
