"""Named crash points for the tests that kill a worker at the worst moment (`kill -9` semantics).

`ACTP_FAILPOINTS=publish.after_call` makes the process SIGKILL itself when it reaches that point: no
cleanup, no finally blocks, exactly like a power cut. Unset (always, outside those tests) it is a no-op.
A point reached with a key (`failpoint("render.crash", variant_id)`) can also be armed for that key alone:
`ACTP_FAILPOINTS=render.crash:<variant_id>` kills only the render of that variant.
"""

from __future__ import annotations

import os
import signal


def failpoint(name: str, key: str | None = None) -> None:
    armed = os.environ.get("ACTP_FAILPOINTS")
    if not armed:
        return
    points = armed.split(",")
    if name in points or (key is not None and f"{name}:{key}" in points):
        os.kill(os.getpid(), signal.SIGKILL)
