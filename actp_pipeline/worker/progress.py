"""Progress callbacks: how the batch runners (render_due, publish_due, run_worker) tell their caller, such as
the CLI's progress bar, that one item is finished.

A callback runs on the runner's thread after the item is settled in the store. It must not break the
work it watches, so an exception from it is logged and dropped.
"""

from __future__ import annotations

import logging
from typing import Callable

log = logging.getLogger(__name__)

OnDone = Callable[[str, str], None]  # (item, outcome): a runner of one kind of item
OnItem = Callable[[str, str, str], None]  # (kind, item, outcome): the worker, which runs several kinds


def notify(callback: Callable[..., None] | None, *args: str) -> None:
    """Call a progress callback, if any; a failing one is logged, never raised into the batch."""
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:  # noqa: BLE001 - a progress display must not fail the work
        log.warning("progress callback %r failed for %s", callback, args, exc_info=True)
