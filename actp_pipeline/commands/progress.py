"""What a person watches while the CLI works: rich progress bars on stderr when it is a terminal, and the
same one-line summaries as plain lines when it is not (tests, CI, a pipe), so logs stay greppable."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn,
                           TimeElapsedColumn)


def stderr_console() -> Console:
    """Plain text on stderr: no markup, emoji codes or highlighting read into the pipeline's own words."""
    return Console(stderr=True, markup=False, emoji=False, highlight=False, soft_wrap=True)


class Bars:
    """Progress bars under the printed lines in a terminal; only the lines elsewhere."""

    def __init__(self, console: Console | None = None):
        self.console = console or stderr_console()
        self.live = self.console.is_terminal
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=self.console,
                                 disable=not self.live)

    def __enter__(self) -> Bars:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def line(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def bar(self, description: str, total: float | None = None) -> TaskID:
        return self.progress.add_task(description, total=total)


class DemoBars(Bars):
    """The demo's one bar over its stages (actp_pipeline.demo.DemoProgress), its description the stage."""

    _task: TaskID | None = None

    def begin(self, total_steps: int) -> None:
        self._task = self.bar("demo", total_steps)

    def stage(self, label: str) -> None:
        if self._task is not None:
            self.progress.update(self._task, description=label)

    def advance(self) -> None:
        if self._task is not None:
            self.progress.advance(self._task)
