"""One render, one process: a render that crashes (segfault, OOM kill, abort in Pillow, PyAV or ffmpeg code)
takes down only its own process, and fails only its own job (issue 9, class 6: attempts are per job).

The worker side (`RenderProcesses`) starts `python -m actp_pipeline.renders.isolation` per render, hands it
the spec on stdin (pickle) and reads the VideoProbe, or the render's exception, from the child's stdout. A
child that dies without an answer is a RenderError of its own job ("render process died: killed by signal 9
(SIGKILL)"); the worker and the other renders go on. The child imports only the renderer, never the store:
every write to the queue stays in the worker, under the job's claim token.

Each child runs in its own session (process group) so that what it leaves behind (its ffmpeg) can be killed
with it, and asks to be told (SIGTERM) when the worker dies, then kills its group: a worker killed with
kill -9 leaves no render running. The failpoint `render.crash` (ACTP_FAILPOINTS=render.crash:<variant_id>)
kills the child of that variant, for the tests.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # the folder holding actp_pipeline: the child runs this same code
ENTRY = "actp_pipeline.renders.isolation"
_PR_SET_PDEATHSIG = 1


def died(returncode: int, stderr: bytes) -> str:
    """Why a render process ended without an answer, in words."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown signal"
        return f"render process died: killed by signal {-returncode} ({name})"
    tail = stderr.decode("utf-8", "replace").strip()[-1500:]
    return f"render process died: exit status {returncode}" + (f": {tail}" if tail else "")


@dataclass
class RenderProcesses:
    """A Renderer ((RenderSpec, out path) -> VideoProbe) that runs each render in a child process.

    `remotion_project`: render with that Remotion project instead of the built-in renderer; `refusal`: why
    nothing can render (every render fails with it). `kill()` ends every render still running (a worker
    that stops early leaves none behind)."""

    preset: str = "veryfast"
    threads: int | None = None
    remotion_project: Path | None = None
    refusal: str | None = None
    _live: set[subprocess.Popen] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, spec: Any, out: Path) -> Any:
        from actp_pipeline.renders.spec import RenderError

        if self.refusal:
            raise RenderError(self.refusal)
        request = pickle.dumps({"spec": spec, "out": str(out), "preset": self.preset, "threads": self.threads,
                                "remotion_project": self.remotion_project, "parent": os.getpid()})
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        proc = subprocess.Popen([sys.executable, "-m", ENTRY], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, start_new_session=True)
        with self._lock:
            self._live.add(proc)
        try:
            answer, err = proc.communicate(request)
        finally:
            with self._lock:
                self._live.discard(proc)
        if proc.returncode != 0 or not answer:
            _kill_group(proc.pid)  # what it left running (its ffmpeg) goes with it
            raise RenderError(died(proc.returncode, err))
        if err:
            sys.stderr.write(err.decode("utf-8", "replace"))
        kind, value = pickle.loads(answer)
        if kind == "error":
            raise value
        return value

    def kill(self) -> None:
        with self._lock:
            live = list(self._live)
        for proc in live:
            _kill_group(proc.pid)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# ------------------------------------------------------------------------------------------ the child


def _die_with_parent(parent: int) -> None:
    """SIGTERM when the worker dies (Linux), and on SIGTERM the whole render (this process group) goes."""
    leader = os.getpgrp() == os.getpid()  # started by RenderProcesses: the group is this render alone
    signal.signal(signal.SIGTERM, lambda *_: os.killpg(0, signal.SIGKILL) if leader else os._exit(1))
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the worker died before we asked
        os.kill(os.getpid(), signal.SIGTERM)


def _render(request: dict[str, Any]) -> Any:
    from actp_pipeline.failpoints import failpoint
    from actp_pipeline.renders.ffmpeg import render_variant

    spec, out = request["spec"], Path(request["out"])
    failpoint("render.crash", spec.variant_id)
    if request["remotion_project"] is not None:
        from actp_pipeline.renders.remotion import RemotionRenderer

        return RemotionRenderer(request["remotion_project"]).render(spec, out)
    return render_variant(spec, out, preset=request["preset"], threads=request["threads"])


def main() -> None:
    """The child: read the request from stdin, render, write ("ok", probe) or ("error", exception) to stdout.
    Anything else the render prints goes to stderr."""
    answer_fd = os.dup(1)
    os.dup2(2, 1)  # stray prints must not corrupt the answer
    request = pickle.loads(sys.stdin.buffer.read())
    _die_with_parent(request["parent"])
    try:
        answer = ("ok", _render(request))
    except Exception as e:  # the job's error, as the render raised it
        try:
            answer = ("error", pickle.loads(pickle.dumps(e)))
        except Exception:
            from actp_pipeline.renders.spec import RenderError

            answer = ("error", RenderError(f"{type(e).__name__}: {e}"))
    with os.fdopen(answer_fd, "wb") as f:
        pickle.dump(answer, f)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no interpreter teardown: nothing left to do, and nothing there can fail the render


if __name__ == "__main__":
    main()
