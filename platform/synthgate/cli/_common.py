"""Shared CLI plumbing: output, errors, progress, exit codes."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import typer
from rich.console import Console

from synthgate.settings import Settings

__all__ = [
    "EXIT_AWAITING",
    "EXIT_BLOCKED",
    "EXIT_BUDGET",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_USAGE",
    "StageProgress",
    "err",
    "out",
    "print_json",
    "settings",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BLOCKED = 3
EXIT_AWAITING = 4
EXIT_BUDGET = 5

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def settings(ctx: typer.Context) -> Settings:
    home = (ctx.obj or {}).get("home")
    return Settings.from_env(home)


class StageProgress:
    """Stage progress on stderr, only when stderr is a terminal."""

    def __init__(self, *, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._status: Any = None
        self._eps: float | None = None
        self._t0 = time.perf_counter()

    def stage_started(self, name: str, index: int, total: int) -> None:
        if not self.enabled:
            return
        if self._status is None:
            self._status = err.status("")
            self._status.start()
        elapsed = time.perf_counter() - self._t0
        self._status.update(f"[{index}/{total}] {name} … ({elapsed:.0f}s)")

    def stage_finished(self, name: str, seconds: float) -> None:
        if self.enabled:
            err.print(f"  [green]✓[/green] {name:<11} {seconds:6.1f}s")

    def training_step(self, step: int, total: int, info: dict[str, float]) -> None:
        if not self.enabled or self._status is None:
            return
        if "epsilon" in info:
            self._eps = info["epsilon"]
        if step == total or step % max(total // 100, 1) == 0:
            eps = f" ε≈{self._eps:.2f}" if self._eps is not None else ""
            losses = " ".join(
                f"{k.removeprefix('loss_')}={v:.3f}"
                for k, v in info.items()
                if k.startswith("loss_")
            )
            self._status.update(f"training step {step}/{total}{eps} {losses}")

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
