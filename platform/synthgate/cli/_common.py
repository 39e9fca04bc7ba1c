"""Shared CLI plumbing: output, tables, errors, exit codes.

Standard output carries the command's result: text, or JSON with ``--json``.
Tables are drawn by rich on a terminal and printed as plain full-width columns
anywhere else (a pipe, a file), so that nothing is ever cut. Standard error
carries messages for the person at the terminal; with ``--log-format json`` each
is one JSON log line instead, so that JSON logs hold only JSON.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from synthgate.logs import FORMAT_ENV, LogFormat, current_format, log_event
from synthgate.settings import Settings

__all__ = [
    "EXIT_AWAITING",
    "EXIT_BLOCKED",
    "EXIT_BUDGET",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_USAGE",
    "Cell",
    "Column",
    "err",
    "error_document",
    "is_tty",
    "json_logs",
    "out",
    "print_json",
    "print_table",
    "settings",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BLOCKED = 3
EXIT_AWAITING = 4
EXIT_BUDGET = 5

out = Console(highlight=False, soft_wrap=True)


def is_tty(console: Console) -> bool:
    """Whether *console* writes to a terminal: its stream's own answer, so that a pipe
    stays a pipe when ``FORCE_COLOR`` or ``TTY_COMPATIBLE`` tell rich otherwise."""
    isatty = getattr(console.file, "isatty", None)
    try:
        return bool(callable(isatty) and isatty())
    except ValueError:  # a closed stream
        return False


def json_logs() -> bool:
    """Whether logs on stderr are JSON lines (``--log-format json`` or its variable)."""
    if current_format() is LogFormat.JSON:
        return True
    return os.environ.get(FORMAT_ENV, "").strip().lower() == LogFormat.JSON.value


class _Stderr:
    """Messages on stderr: rich text for a person, or one JSON log line each."""

    def __init__(self) -> None:
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)

    def print(
        self,
        text: str,
        *,
        markup: bool = True,
        highlight: bool = False,
        style: str | None = None,
        level: int = logging.INFO,
    ) -> None:
        if json_logs():
            plain = Text.from_markup(text).plain if markup else text
            log_event("cli.message", level=level, message=plain)
            return
        self.console.print(text, markup=markup, highlight=highlight, style=style)


err = _Stderr()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def error_document(
    message: str,
    *,
    error_type: str,
    exit_code: int,
    problems: Iterable[str] = (),
    transient: bool = False,
) -> dict[str, object]:
    """What ``--json`` prints on stdout when a command fails: the one-line message and
    every problem found, one line each (the same lines are on stderr)."""
    return {
        "error": message,
        "error_type": error_type,
        "problems": list(problems),
        "transient": transient,
        "exit_code": exit_code,
    }


def settings(ctx: typer.Context) -> Settings:
    home = (ctx.obj or {}).get("home")
    return Settings.from_env(home)


# --------------------------------------------------------------------------- tables

Cell = str | Text  # a Text carries its style on a terminal; both print literally


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    justify: Literal["left", "right"] = "left"


def _plain(cell: Cell) -> str:
    text = cell.plain if isinstance(cell, Text) else cell
    return " ".join(text.splitlines())


def _pad(text: str, width: int, justify: Literal["left", "right"]) -> str:
    gap = " " * (width - cell_len(text))
    return gap + text if justify == "right" else text + gap


def plain_table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> list[str]:
    """*rows* as lines of columns padded to their widest cell, never cut."""
    cells = [[c.header for c in columns], *([_plain(c) for c in row] for row in rows)]
    widths = [max(cell_len(r[i]) for r in cells) for i in range(len(columns))]
    return [
        "  ".join(
            _pad(t, w, c.justify) for t, w, c in zip(r, widths, columns, strict=True)
        ).rstrip()
        for r in cells
    ]


def print_table(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], *, title: str | None = None
) -> None:
    """A table on stdout: rich on a terminal (a cell too wide folds, it is never cut),
    plain full-width columns anywhere else. Cells print literally, never as markup."""
    if not is_tty(out):
        lines = [title] if title else []
        sys.stdout.write("\n".join([*lines, *plain_table(columns, rows)]) + "\n")
        return
    grid = Table(show_edge=False, title=title, title_justify="left")
    for col in columns:
        grid.add_column(col.header, justify=col.justify, overflow="fold")
    for row in rows:
        grid.add_row(*(c if isinstance(c, Text) else Text(c) for c in row))
    out.print(grid)
