"""The run's progress on a terminal: per stage elapsed time, the fit's steps with
percentage, ETA and ε so far, validation's metrics; nothing off a terminal."""

from __future__ import annotations

import io
import os
import re
import select
from collections.abc import Iterator

import pytest
from rich.console import Console

from synthgate.cli import _common
from synthgate.cli._progress import StageProgress, stage_progress
from synthgate.logs import FORMAT_ENV, configure

_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _terminal() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=140, color_system=None)
    return console, buf


def _screen(buf: io.StringIO) -> str:
    """What was drawn, control codes removed, one line per redraw."""
    return _CONTROL.sub("", buf.getvalue()).replace("\r", "\n")


def _last_lines(buf: io.StringIO, *starts: str) -> list[str]:
    lines = [ln.strip() for ln in _screen(buf).splitlines() if ln.strip()]
    return [next(ln for ln in reversed(lines) if ln.startswith(s)) for s in starts]


@pytest.fixture
def drawn() -> Iterator[tuple[StageProgress, io.StringIO, Clock]]:
    console, buf = _terminal()
    clock = Clock()
    progress = StageProgress(console, clock=clock, auto_refresh=False)
    yield progress, buf, clock
    progress.close()


def test_each_stage_shows_its_own_elapsed_time_and_leaves_a_line(
    drawn: tuple[StageProgress, io.StringIO, Clock],
) -> None:
    progress, buf, clock = drawn
    progress.stage_started("extract", 1, 8)
    clock.now += 65
    progress.refresh()  # as the refresh thread does four times a second
    run_line, stage_line = _last_lines(buf, "run [1/8] extract", "extract")
    assert "0:01:05" in run_line
    assert "0:01:05" in stage_line
    progress.stage_finished("extract", 65.0)
    assert "✓ extract       65.0s" in _screen(buf)

    progress.stage_started("classify", 2, 8)
    clock.now += 3
    progress.refresh()
    run_line, stage_line = _last_lines(buf, "run [2/8] classify", "classify")
    assert "12%" in run_line  # one of eight stages done
    assert "0:01:08" in run_line  # the run's time goes on …
    assert "0:00:03" in stage_line  # … the stage's starts from its own start


def test_training_shows_step_percentage_eta_and_epsilon_so_far(
    drawn: tuple[StageProgress, io.StringIO, Clock],
) -> None:
    progress, buf, clock = drawn
    progress.stage_started("synthesize", 4, 8)
    progress.training_step(0, 100, {})
    for step in (10, 20, 30, 40, 50):
        clock.now += 2  # 5 steps a second
        progress.training_step(step, 100, {"epsilon": step / 40, "loss_critic": 0.5})
    (line,) = _last_lines(buf, "synthesize")
    assert "50%" in line
    assert "step 50/100" in line
    assert "ε 1.25 spent so far" in line
    assert "0:00:10" in line  # elapsed
    assert "eta 0:00:10" in line  # 50 steps left at 5 a second
    assert "loss" not in line


def test_an_engine_that_cannot_tell_epsilon_shows_steps_only(
    drawn: tuple[StageProgress, io.StringIO, Clock],
) -> None:
    progress, buf, clock = drawn
    progress.stage_started("synthesize", 4, 8)
    clock.now += 1
    progress.training_step(7, 28, {})
    (line,) = _last_lines(buf, "synthesize")
    assert "25%" in line
    assert "step 7/28" in line
    assert "ε" not in line


def test_validation_shows_the_metric_under_way(
    drawn: tuple[StageProgress, io.StringIO, Clock],
) -> None:
    progress, buf, clock = drawn
    progress.stage_started("validate", 6, 8)
    progress.stage_step("validate", 0, 30, "privacy.dcr_share")
    clock.now += 6
    progress.stage_step("validate", 3, 30, "privacy.nndr")
    (line,) = _last_lines(buf, "validate")
    assert "10%" in line
    assert "3/30 · privacy.nndr" in line
    assert "eta  -:--:--" in line  # one measured step tells no speed yet
    clock.now += 6
    progress.stage_step("validate", 6, 30, "fidelity.quality")
    (line,) = _last_lines(buf, "validate")
    assert "20%" in line
    assert "0:00:12" in line
    assert "eta 0:00:48" in line  # 3 metrics in 6 s, 24 to go
    progress.stage_finished("validate", 6.0)
    progress.close()
    assert "✓ validate       6.0s" in _screen(buf)


def test_steps_of_a_stage_that_is_not_under_way_are_ignored(
    drawn: tuple[StageProgress, io.StringIO, Clock],
) -> None:
    progress, buf, _ = drawn
    progress.training_step(1, 2, {})
    progress.stage_step("validate", 1, 2, "x")
    assert buf.getvalue() == ""


def test_a_disabled_progress_draws_nothing() -> None:
    console, buf = _terminal()
    progress = StageProgress(console, enabled=False, auto_refresh=False)
    progress.stage_started("extract", 1, 8)
    progress.training_step(1, 2, {"epsilon": 1.0})
    progress.stage_step("validate", 1, 2, "x")
    progress.stage_finished("extract", 1.0)
    progress.close()
    assert buf.getvalue() == ""


@pytest.fixture
def pty_console() -> Iterator[tuple[Console, int]]:
    master, slave = os.openpty()
    with os.fdopen(slave, "w", encoding="utf-8") as terminal:
        yield Console(file=terminal, width=120), master
    os.close(master)


def _read(master: int, until: str = "") -> str:
    """What the terminal received, read until *until* shows (a loaded machine may
    deliver the output in pieces) or nothing more comes for 5 s."""
    text = ""
    while True:
        ready, _, _ = select.select([master], [], [], 5)
        if not ready:
            return text
        text += os.read(master, 65536).decode("utf-8", "replace")
        if until in _CONTROL.sub("", text):
            return text


def test_progress_is_drawn_only_on_a_terminal_without_json(
    monkeypatch: pytest.MonkeyPatch, pty_console: tuple[Console, int]
) -> None:
    console, master = pty_console
    assert console.is_terminal
    monkeypatch.delenv(FORMAT_ENV, raising=False)
    configure("text")
    monkeypatch.setattr(_common.err, "console", console)
    shown = stage_progress(json_out=False)
    assert shown.enabled
    shown.stage_started("extract", 1, 8)
    shown.stage_finished("extract", 0.5)
    shown.close()
    assert "✓ extract" in _CONTROL.sub("", _read(master, "✓ extract"))

    assert not stage_progress(json_out=True).enabled
    monkeypatch.setenv(FORMAT_ENV, "json")
    assert not stage_progress(json_out=False).enabled  # JSON logs hold only JSON
    monkeypatch.delenv(FORMAT_ENV)

    piped = Console(file=io.StringIO())
    monkeypatch.setattr(_common.err, "console", piped)
    assert not stage_progress(json_out=False).enabled
    monkeypatch.setenv("FORCE_COLOR", "1")  # colours asked for: still no terminal
    assert not stage_progress(json_out=False).enabled
