"""Where a render keeps its work files, and the sweep that removes what a killed render left behind.

A render writes ~17 MB of stills to a work directory and its video to a `.part` file beside the output; a
worker killed mid-render (kill -9, OOM, a power cut) never reaches its cleanup. So work directories live in
`<media dir>/.scratch/`, named with the host and pid that own them, and `sweep` (run when a worker starts and
by the local_ops reaper) removes those whose process is gone, and `.part` files no render can still be
writing.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SCRATCH = ".scratch"
PART_MAX_AGE_S = 6 * 3600.0  # a .part file untouched this long is from a dead render (renders take minutes)
FOREIGN_MAX_AGE_S = 24 * 3600.0  # another host's work dir (shared media dir): its pid cannot be checked here
_NAME = re.compile(r"^actp-(?P<kind>[a-z]+)-(?P<host>.+)-(?P<pid>\d+)-[^-]+$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:64] or "host"


@contextmanager
def work_dir(out_dir: Path, kind: str = "render") -> Iterator[Path]:
    """A fresh work directory under `out_dir/.scratch`, removed on exit (and by `sweep` if the process dies)."""
    root = Path(out_dir) / SCRATCH
    for attempt in range(3):  # another render may remove the empty root between our mkdir and mkdtemp
        root.mkdir(parents=True, exist_ok=True)
        try:
            holder = tempfile.TemporaryDirectory(prefix=f"actp-{kind}-{_host()}-{os.getpid()}-", dir=root)
            break
        except FileNotFoundError:
            if attempt == 2:
                raise
    try:
        with holder as path:
            yield Path(path)
    finally:
        try:
            root.rmdir()  # only when empty: the media folder holds just the videos between renders
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _orphaned(entry: Path, now: float) -> bool:
    match = _NAME.match(entry.name)
    age = now - entry.stat().st_mtime
    if match is None:
        return age > FOREIGN_MAX_AGE_S
    if match["host"] != _host():
        return age > FOREIGN_MAX_AGE_S
    return not _alive(int(match["pid"]))


def sweep(out_dir: Path, *, now: float | None = None) -> dict[str, int]:
    """Remove dead renders' work directories and stale `.part` files under `out_dir`; counts what went."""
    now = time.time() if now is None else now
    out_dir, removed = Path(out_dir), {"work_dirs": 0, "part_files": 0}
    root = out_dir / SCRATCH
    for entry in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            if entry.is_dir() and _orphaned(entry, now):
                shutil.rmtree(entry, ignore_errors=True)
                removed["work_dirs"] += 1
        except FileNotFoundError:  # its owner finished meanwhile
            continue
    for part in out_dir.glob(".*.part") if out_dir.is_dir() else []:
        try:
            if now - part.stat().st_mtime > PART_MAX_AGE_S:
                part.unlink()
                removed["part_files"] += 1
        except FileNotFoundError:
            continue
    return removed
