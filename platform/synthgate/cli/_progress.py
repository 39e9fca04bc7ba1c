"""A run's progress on a terminal (rich, on stderr).

One line for the run (stages done of eight, elapsed), one for the stage under way
with its own elapsed time; where the stage can count its steps (a synthesizer's
fit, validation's metrics) a bar with the percentage, an ETA and what it is doing
(the step, the ε spent so far where the engine tells it, the metric). Each finished
stage leaves a line with its duration. Nothing is drawn on a pipe, with ``--json``
or with JSON logs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from synthgate.cli._common import err, is_tty, json_logs

__all__ = ["StageProgress", "stage_progress"]


class _Percent(ProgressColumn):
    """``42%`` once the task knows its total, blank before."""

    def render(self, task: Task) -> Text:
        if task.total is None or not task.total:
            return Text("    ")
        return Text(f"{task.percentage:3.0f}%", style="progress.percentage")


class _Eta(ProgressColumn):
    """``eta 0:01:20`` for a task that counts steps and has a speed, blank otherwise."""

    def render(self, task: Task) -> Text:
        if not task.fields.get("eta") or task.total is None or task.finished:
            return Text("")
        remaining = task.time_remaining
        if remaining is None:
            return Text("eta  -:--:--", style="progress.remaining")
        minutes, seconds = divmod(round(remaining), 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"eta {hours:d}:{minutes:02d}:{seconds:02d}", style="progress.remaining")


class StageProgress:
    """The runner's :class:`~synthgate.pipeline.Progress`, drawn with rich.

    *clock* and ``auto_refresh=False`` make it drawable step by step (tests); a
    disabled one does nothing at all.
    """

    def __init__(
        self,
        console: Console,
        *,
        enabled: bool = True,
        clock: Callable[[], float] | None = None,
        auto_refresh: bool = True,
    ) -> None:
        self.enabled = enabled
        self._manual = not auto_refresh
        self._bar: Progress | None = None
        self._run: TaskID | None = None
        self._stages: dict[str, TaskID] = {}
        self._console = console
        self._clock = clock
        self._auto_refresh = auto_refresh

    # ------------------------------------------------------------------ drawing

    def _progress(self) -> Progress:
        if self._bar is None:
            extra: dict[str, Any] = {} if self._clock is None else {"get_time": self._clock}
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=24),
                _Percent(),
                TimeElapsedColumn(),
                _Eta(),
                TextColumn("{task.fields[detail]}", markup=False),
                console=self._console,
                auto_refresh=self._auto_refresh,
                refresh_per_second=4,
                transient=True,
                **extra,
            )
            self._bar.start()
        return self._bar

    def _drawn(self) -> None:
        if self._manual:
            self.refresh()

    def refresh(self) -> None:
        """Draw now (a refresh thread does it four times a second unless told not to)."""
        if self._bar is not None:
            self._bar.refresh()

    def _update(self, name: str, **fields: Any) -> None:
        task = self._stages.get(name)
        if task is None or self._bar is None:
            return
        self._bar.update(task, **fields)
        self._drawn()

    # ------------------------------------------------------------------ Progress

    def stage_started(self, name: str, index: int, total: int) -> None:
        if not self.enabled:
            return
        bar = self._progress()
        heading = f"run [{index}/{total}] {name}"
        if self._run is None:
            self._run = bar.add_task(heading, total=total, completed=index - 1, detail="")
        else:
            bar.update(self._run, description=heading, completed=index - 1)
        old = self._stages.pop(name, None)
        if old is not None:
            bar.remove_task(old)
        self._stages[name] = bar.add_task(f"  {name}", total=None, detail="", eta=False)
        self._drawn()

    def stage_finished(self, name: str, seconds: float) -> None:
        if not self.enabled or self._bar is None:
            return
        task = self._stages.pop(name, None)
        if task is not None:
            self._bar.remove_task(task)
        if self._run is not None:
            self._bar.advance(self._run)
        self._bar.console.print(f"  [green]✓[/green] {name:<11} {seconds:6.1f}s", highlight=False)
        self._drawn()

    def training_step(self, step: int, total: int, info: dict[str, float]) -> None:
        if not self.enabled:
            return
        detail = f"step {step}/{total}"
        epsilon = info.get("epsilon")
        if epsilon is not None:
            detail += f" · ε {epsilon:.3g} spent so far"
        self._update("synthesize", total=total, completed=step, detail=detail, eta=True)

    def stage_step(self, name: str, step: int, total: int, label: str) -> None:
        if not self.enabled:
            return
        detail = f"{step}/{total}" + (f" · {label}" if label else "")
        self._update(name, total=total, completed=step, detail=detail, eta=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        self._run = None
        self._stages.clear()


def stage_progress(*, json_out: bool) -> StageProgress:
    """Progress on stderr, drawn only when stderr is a terminal, without ``--json`` and
    with text logs."""
    console = err.console
    return StageProgress(console, enabled=is_tty(console) and not json_out and not json_logs())
