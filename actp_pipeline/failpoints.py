"""Named crash points for the tests that kill a worker at the worst moment (`kill -9` semantics).

`ACTP_FAILPOINTS=publish.after_call` makes the process SIGKILL itself when it reaches that point: no
cleanup, no finally blocks, exactly like a power cut. Unset (always, outside those tests) it is a no-op.
"""

from __future__ import annotations

import os
import signal


def failpoint(name: str) -> None:
    armed = os.environ.get("ACTP_FAILPOINTS")
    if armed and name in armed.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
