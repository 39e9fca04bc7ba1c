"""``synthgate run``: one job, or with ``--dry-run`` everything it checks before reading."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from synthgate.cli._common import err, out, print_json, settings
from synthgate.cli._progress import stage_progress
from synthgate.cli.inspect_cmd import rename_note, renamed_columns
from synthgate.config import LoadedSpec, load_job_spec
from synthgate.pipeline import DryRun, RunMode, RunOutcome, dry_run, run_job
from synthgate.settings import Settings

__all__ = ["print_outcome", "run"]


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


def run(
    ctx: typer.Context,
    job: Annotated[Path, typer.Argument(help="Job spec (YAML).", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    dry_run_: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Check what the run checks before it reads a row: the spec, your right to "
            "run, the source and table, the target, the policy packs, the columns named and "
            "the source's privacy budget (exit 5 when a training run would exceed it); "
            "write nothing.",
        ),
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

    On a terminal, progress is drawn on stderr: each stage with its elapsed time,
    the fit's steps with percentage, ETA and ε spent so far where the engine tells
    it, and validation's metrics. Nothing is drawn on a pipe or with --json.

    Exit codes: 0 released without approval, 3 BLOCKED by the policy gate,
    4 AWAITING_APPROVAL, 2 bad spec or input, 5 privacy budget exhausted, 1 other errors,
    75 the job is running in another process, 99 nothing to do.
    """
    loaded = load_job_spec(job)
    cfg = settings(ctx)
    if dry_run_:
        _dry_run(job, loaded, cfg, json_out=json_out)
        return
    progress = stage_progress(json_out=json_out)
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
                f"next: a second person reviews and runs: synthgate releases show {outcome.release_id}",
                markup=False,
            )
    raise typer.Exit(outcome.exit_code)


def _budget_summary(checked: DryRun, epsilon: float) -> dict[str, Any] | None:
    status = checked.budget
    if status is None:
        return None
    return {
        "source": status.source_key,
        "epsilon": epsilon,
        "spent_epsilon": status.spent_epsilon,
        "reserved_epsilon": status.reserved_epsilon,
        "limit_epsilon": status.limit_epsilon,
        "remaining_epsilon": status.remaining,
    }


def _dry_run_tables(job: Path, loaded: LoadedSpec, cfg: Settings, *, json_out: bool) -> None:
    from synthgate.pipeline._multi import dry_run_tables
    from synthgate.synth.multitable import describe_plans

    checked = dry_run_tables(loaded, cfg)
    checked.close()
    pre, status = checked.preflight, checked.budget
    spec = loaded.spec
    rels = [
        f"{r.child_table} ({', '.join(r.child_columns)}) -> "
        f"{r.parent_table} ({', '.join(r.parent_columns)})"
        for r in pre.relationships
    ]
    budget = {
        "source": status.source_key,
        "epsilon": spec.synthesis.privacy.epsilon,
        "spent_epsilon": status.spent_epsilon,
        "reserved_epsilon": status.reserved_epsilon,
        "limit_epsilon": status.limit_epsilon,
        "remaining_epsilon": status.remaining,
    }
    if json_out:
        print_json(
            {
                "job": spec.name,
                "spec_hash": loaded.spec_hash,
                "tables": list(pre.schemas),
                "unit": spec.source.table,
                "private": pre.private,
                "public": list(spec.source.public),
                "relationships": rels,
                "plan": describe_plans(pre.plans, spec.source.public),
                "policy": pre.policy.name,
                "budget": budget,
                "ok": True,
            }
        )
        return
    out.print(
        f"spec {job} is valid; {len(pre.schemas)} source tables and the target are reachable; "
        "nothing written",
        markup=False,
    )
    out.print(
        f"unit {spec.source.table}; synthesized in order: {', '.join(pre.private)}"
        + (f"; public: {', '.join(spec.source.public)}" if spec.source.public else ""),
        markup=False,
    )
    for line in describe_plans(pre.plans, spec.source.public):
        out.print(f"  {line}", markup=False, highlight=False)
    out.print(
        f"budget: this run asks ε = {budget['epsilon']:g} of the {budget['remaining_epsilon']:.4g}"
        f" left on {budget['source']} (limit {budget['limit_epsilon']:g})",
        markup=False,
    )


def _dry_run(job: Path, loaded: LoadedSpec, cfg: Settings, *, json_out: bool) -> None:
    if loaded.spec.multi_table:
        _dry_run_tables(job, loaded, cfg, json_out=json_out)
        return
    checked = dry_run(loaded, cfg)
    pre = checked.preflight
    spec = pre.loaded.spec
    try:
        renamed = renamed_columns(pre.source, spec.source.table)
    finally:
        checked.close()
    budget = _budget_summary(checked, spec.synthesis.privacy.epsilon)
    if json_out:
        print_json(
            {
                "job": spec.name,
                "spec_hash": loaded.spec_hash,
                "table": spec.source.table,
                "columns": pre.schema.column_names,
                "renamed_columns": renamed,
                "synthesizer": pre.synthesizer.name,
                "policy": pre.policy.name,
                "budget": budget,
                "ok": True,
            }
        )
        return
    out.print(
        f"spec {job} is valid; source table and target are reachable; nothing written",
        markup=False,
    )
    if budget is not None:
        out.print(
            f"budget: this run asks ε = {budget['epsilon']:g} of the {budget['remaining_epsilon']:.4g}"
            f" left on {budget['source']} (limit {budget['limit_epsilon']:g})",
            markup=False,
        )
    else:
        out.print("budget: this run charges no privacy budget", markup=False)
    if renamed:
        out.print(rename_note(renamed), markup=False, highlight=False)
