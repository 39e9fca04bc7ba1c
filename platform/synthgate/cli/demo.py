from __future__ import annotations

import os
from typing import Annotated

import typer
from sqlalchemy import select

from synthgate.cli._common import err, out, print_json, settings
from synthgate.cli._progress import stage_progress
from synthgate.cli.run import print_outcome
from synthgate.config import load_job_spec
from synthgate.demo import DEMO_SEED, demo_job_path, write_demo_db
from synthgate.pipeline import run_job
from synthgate.release import Role
from synthgate.store import Store
from synthgate.store.models import UserRow

__all__ = ["approve_steps", "demo"]


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
    progress = stage_progress(json_out=json_out)
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
        for line in approve_steps(Store(cfg.store_url), cfg.user, str(outcome.release_id)):
            out.print(f"  {line}", markup=False)
    else:
        out.print("The policy gate did not let this release through; the report says why:")
        out.print(f"  synthgate releases show {outcome.release_id}")
    out.print(f"  open {outcome.report_html}", markup=False)


def approve_steps(store: Store, requester: str, release_id: str) -> list[str]:
    """The commands that approve *release_id* in this store's state: in bootstrap mode
    (no users) any other name will do; once users exist an approver signs in with a
    token, and a store without one needs one added first (by an admin)."""
    approve = f"synthgate approve {release_id} --comment '…'"
    with store.session() as s:
        users = s.scalar(select(UserRow.id).limit(1)) is not None
        approvers = list(
            s.scalars(
                select(UserRow.name)
                .where(
                    UserRow.active.is_(True),
                    UserRow.role.in_([Role.APPROVER.value, Role.ADMIN.value]),
                    UserRow.name != requester,
                )
                .order_by(UserRow.name)
                .limit(3)
            )
        )
    if not users:
        return [
            f"SYNTHGATE_USER=<anyone but {requester}> {approve}   # bootstrap mode: no users yet"
        ]
    steps = []
    if not approvers:
        steps.append(
            "synthgate users add <approver> --role approver   # as an admin; prints a token"
        )
    who = approvers[0] if len(approvers) == 1 else "<approver>"
    if len(approvers) > 1:
        steps.append(f"# approvers: {', '.join(approvers)}")
    steps.append(f"SYNTHGATE_USER={who} SYNTHGATE_TOKEN=<their token> {approve}")
    return steps
