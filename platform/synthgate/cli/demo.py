from __future__ import annotations

import os
from typing import Annotated

import typer

from synthgate.cli._common import StageProgress, err, out, print_json, settings
from synthgate.cli.run import print_outcome
from synthgate.config import load_job_spec
from synthgate.demo import DEMO_SEED, demo_job_path, write_demo_db
from synthgate.pipeline import run_job

__all__ = ["demo"]


def demo(
    ctx: typer.Context,
    rows: Annotated[
        int, typer.Option(min=2_000, max=1_000_000, help="Rows in the demo source table.")
    ] = 10_000,
    json_out: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Create a demo CRM database with realistic (fake) PII and run the demo job on it.

    Ends with a release awaiting approval and an HTML report. Exits 0 when the
    demo ran; the release itself is held for a second person to approve.
    """
    cfg = settings(ctx)
    demo_dir = cfg.home / "demo"
    db = demo_dir / "crm.db"
    marker = demo_dir / f".rows-{rows}-seed-{DEMO_SEED}"
    if not (db.exists() and marker.exists()):
        if not json_out:
            err.print(f"creating demo source {db} ({rows} customers) …", markup=False)
        for old in demo_dir.glob(".rows-*"):
            old.unlink()
        write_demo_db(db, rows)
        marker.touch()
    os.environ["SYNTHGATE_DEMO_DIR"] = str(demo_dir)
    loaded = load_job_spec(demo_job_path())
    progress = StageProgress(enabled=None if not json_out else False)
    try:
        outcome = run_job(loaded, cfg, progress=progress, force=True)  # always a fresh run
    finally:
        progress.close()
    if json_out:
        print_json({**outcome.to_dict(), "source_db": str(db)})
        return
    out.print(f"source     {db} (table customers, {rows} rows of fake PII)", markup=False)
    print_outcome(outcome)
    out.print("")
    if outcome.status is not None and outcome.status.value == "AWAITING_APPROVAL":
        out.print("The release is held until someone other than you approves it. Next:")
        out.print(f"  synthgate releases show {outcome.release_id}")
        out.print(
            f"  SYNTHGATE_USER=<approver> synthgate approve {outcome.release_id} --comment '…'"
        )
    else:
        out.print("The policy gate did not let this release through; the report says why:")
        out.print(f"  synthgate releases show {outcome.release_id}")
    out.print(f"  open {outcome.report_html}", markup=False)
