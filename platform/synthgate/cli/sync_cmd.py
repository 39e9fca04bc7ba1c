"""``synthgate sync``: run many jobs, print a summary, exit with the worst outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from synthgate.cli._common import Column, out, print_json, print_table, settings
from synthgate.pipeline._sync import SyncOptions, SyncResult, collect_specs, sync_jobs

__all__ = ["print_summary", "sync"]

_COLORS = {
    "ok": "green",
    "nothing to do": "dim",
    "awaiting approval": "yellow",
    "running elsewhere": "yellow",
    "blocked": "red",
}


_COLUMNS = (
    Column("job"),
    Column("status"),
    Column("mode"),
    Column("rows", "right"),
    Column("ε spent", "right"),
    Column("duration", "right"),
    Column("release"),
)


def print_summary(result: SyncResult) -> None:
    rows = []
    for job in result.jobs:
        tries = f" ({job.attempts} tries)" if job.attempts > 1 else ""
        rows.append(
            (
                job.job or Path(job.spec).name,
                Text(job.status + tries, style=_COLORS.get(job.status, "red")),
                job.mode or "—",
                "—" if job.rows is None else str(job.rows),
                "—" if job.epsilon_spent is None else f"{job.epsilon_spent:.3g}",
                f"{job.seconds:.1f}s",
                job.release_id or "—",
            )
        )
    print_table(_COLUMNS, rows, title="synthgate sync")
    for job in result.jobs:
        if job.message and job.status not in {"ok"}:
            out.print(f"{job.job or job.spec}: {job.message}", markup=False)
            for problem in job.problems:
                out.print(f"  {problem}", markup=False)
    out.print(f"exit {result.exit_code} ({result.to_dict()['status']})", markup=False)


def sync(
    ctx: typer.Context,
    specs: Annotated[
        list[Path],
        typer.Argument(help="Job specs (YAML) or folders of them.", show_default=False),
    ],
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, max=64, help="Jobs run at the same time.")
    ] = 1,
    retries: Annotated[
        int,
        typer.Option(min=0, max=20, help="Extra tries for a job that failed transiently."),
    ] = 2,
    retry_delay: Annotated[
        float,
        typer.Option(
            min=0.0, max=3600.0, help="Seconds before the first retry; doubles each time."
        ),
    ] = 5.0,
    force: Annotated[
        bool, typer.Option("--force", help="Retrain every job, changed or not.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Run many jobs (each in its own process), then print a summary.

    Per job: incremental (99 nothing to do when source and spec are unchanged),
    locked (75 when another process runs it), retried on transient errors.

    Exit code: the worst job's, ranked 1 > 5 > 2 > 3 > 4 > 75 > 0 > 99 — a sync
    in which every job had nothing to do exits 99.
    """
    cfg = settings(ctx)
    paths = collect_specs(specs)
    result = sync_jobs(
        paths,
        SyncOptions(
            jobs=jobs, retries=retries, retry_delay=retry_delay, force=force, home=cfg.home
        ),
    )
    if json_out:
        print_json(result.to_dict())
    else:
        print_summary(result)
    raise typer.Exit(result.exit_code)
