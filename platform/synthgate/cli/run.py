from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from synthgate.cli._common import StageProgress, err, out, print_json, settings
from synthgate.cli.inspect_cmd import rename_note, renamed_columns
from synthgate.config import load_job_spec
from synthgate.errors import SynthgateError
from synthgate.pipeline import RunMode, RunOutcome, preflight, run_job

__all__ = ["error_document", "print_outcome", "run"]


def print_outcome(outcome: RunOutcome) -> None:
    if outcome.mode is RunMode.SKIP:
        out.print(f"run        {outcome.run_id}")
        out.print(outcome.message, markup=False)
        return
    status = outcome.status.value if outcome.status else "—"
    color = {"BLOCKED": "red", "AWAITING_APPROVAL": "yellow"}.get(status, "green")
    out.print(f"run        {outcome.run_id}")
    out.print(f"release    {outcome.release_id}  [bold {color}]{status}[/]")
    out.print(f"rows       {outcome.rows}")
    out.print(f"report     {outcome.report_html}", markup=False)
    if outcome.failed_rules:
        out.print(f"[red]blocked by[/] {escape(', '.join(outcome.failed_rules))}")
    if outcome.warnings:
        out.print(f"[yellow]warnings[/]   {escape(', '.join(outcome.warnings))}")
    if outcome.message:
        out.print(f"note       {outcome.message}", markup=False)


def error_document(exc: SynthgateError) -> dict[str, object]:
    """What ``--json`` prints on stdout when a run fails (the message is on stderr too)."""
    return {
        "error": str(exc),
        "error_type": type(exc).__name__,
        # every problem a config error found, one line each (the spec checks list them all)
        "problems": list(getattr(exc, "problems", [])),
        "transient": exc.transient,
        "exit_code": exc.exit_code,
    }


def run(
    ctx: typer.Context,
    job: Annotated[Path, typer.Argument(help="Job spec (YAML).", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check the spec, source, table and target; write nothing."),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Retrain even when the source and spec are unchanged or a saved model fits.",
        ),
    ] = False,
) -> None:
    """Run a job: extract → classify PII → mask → synthesize → sample → validate → gate → report.

    Incremental: an unchanged source snapshot and spec since the job's last
    success does nothing (exit 99); a spec that only changes synthesis.rows or
    synthesis.rebalance re-samples the saved model without spending budget; a
    run whose process died is resumed from its finished stages.

    Exit codes: 0 released without approval, 3 BLOCKED by the policy gate,
    4 AWAITING_APPROVAL, 2 bad spec or input, 5 privacy budget exhausted, 1 other errors,
    75 the job is running in another process, 99 nothing to do.
    """
    try:
        _run(ctx, job, json_out=json_out, dry_run=dry_run, force=force)
    except SynthgateError as exc:
        if json_out:
            print_json(error_document(exc))
        raise


def _run(ctx: typer.Context, job: Path, *, json_out: bool, dry_run: bool, force: bool) -> None:
    loaded = load_job_spec(job)
    cfg = settings(ctx)
    if dry_run:
        pre = preflight(loaded)
        try:
            renamed = renamed_columns(pre.source, loaded.spec.source.table)
            summary = {
                "job": loaded.spec.name,
                "spec_hash": loaded.spec_hash,
                "table": loaded.spec.source.table,
                "columns": pre.schema.column_names,
                "renamed_columns": renamed,
                "synthesizer": pre.synthesizer.name,
                "policy": pre.policy.name,
                "ok": True,
            }
        finally:
            pre.close()
        if json_out:
            print_json(summary)
        else:
            out.print(
                f"spec {job} is valid; source table and target are reachable; nothing written",
                markup=False,
            )
            if renamed:
                out.print(rename_note(renamed), markup=False, highlight=False)
        return
    progress = StageProgress(enabled=None if not json_out else False)
    try:
        outcome = run_job(loaded, cfg, progress=progress, force=force)
    finally:
        progress.close()
    if json_out:
        print_json(outcome.to_dict())
    else:
        print_outcome(outcome)
        if outcome.release_id and outcome.exit_code == 4:
            err.print(
                f"next: a second person reviews and runs: synthgate releases show {outcome.release_id}"
            )
    raise typer.Exit(outcome.exit_code)
