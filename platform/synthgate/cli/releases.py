from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from synthgate import release as svc
from synthgate.cli._common import Column, out, print_json, print_table, settings
from synthgate.release import SYSTEM_ACTOR, ReleaseStatus
from synthgate.store import Store
from synthgate.store.models import ApprovalRow, ReleaseRow

__all__ = ["app"]

app = typer.Typer(help="List, show and expire releases.", no_args_is_help=True)


def _row(r: ReleaseRow) -> dict[str, object]:
    return {
        "id": r.id,
        "run_id": r.run_id,
        "job": r.job_name,
        "status": r.status,
        "version": r.version,
        "requested_by": r.requested_by,
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "policy": r.policy,
        "approvals_required": r.approvals_required,
        "rows": r.rows,
        "target": {"url": r.target_url, "table": r.target_table, "mode": r.target_mode},
        "report": r.report_path,
        "published": (
            {
                "at": r.published_at,
                "by": r.published_by,
                "rows": r.published_rows,
                "content_hash": r.published_hash,
            }
            if r.published_at
            else None
        ),
        "closed": (
            {"at": r.closed_at, "by": r.closed_by, "reason": r.closed_reason}
            if r.closed_at
            else None
        ),
    }


def _decision(a: ApprovalRow) -> dict[str, object]:
    return {
        "approver": a.approver,
        "decision": a.decision,
        "comment": a.comment,
        "at": a.created_at,
        "reviewed_version": a.release_version,
    }


@app.command("list")
def list_releases(
    ctx: typer.Context,
    status: Annotated[
        ReleaseStatus | None, typer.Option(help="Only releases in this state.")
    ] = None,
    job: Annotated[str | None, typer.Option(help="Only releases of this job.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List releases, newest first."""
    store = Store(settings(ctx).store_url)
    rows = store.list_releases(status=status.value if status else None, job=job, limit=limit)
    if json_out:
        print_json([_row(r) for r in rows])
        return
    if not rows:
        out.print("no releases yet; run a job with: synthgate run JOB.yaml (or synthgate demo)")
        return
    print_table(
        [Column(h) for h in ("release", "status", "job", "rows", "requested by", "created")],
        [
            (r.id, r.status, r.job_name, str(r.rows), r.requested_by, r.created_at[:19])
            for r in rows
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    release_id: Annotated[str, typer.Argument(help="Release id (rel-…).", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one release: status, version, gate outcomes, decisions, report location."""
    store = Store(settings(ctx).store_url)
    r = svc.get_release(store, release_id)
    gate = json.loads(r.gate)
    decisions = [_decision(a) for a in svc.approvals_of(store, release_id)]
    if json_out:
        print_json({**_row(r), "gate": gate, "decisions": decisions})
        return
    for key, value in _row(r).items():
        if key not in {"target", "published", "closed"}:
            out.print(f"{key:<18} {value}", markup=False)
    out.print(
        f"{'target':<18} {r.target_url} · table {r.target_table} · mode {r.target_mode}",
        markup=False,
    )
    if r.published_at:
        out.print(
            f"{'published':<18} {r.published_at} by {r.published_by} · {r.published_rows} rows · "
            f"sha256 {r.published_hash}",
            markup=False,
        )
    if r.closed_at:
        out.print(f"{'closed':<18} {r.closed_at} by {r.closed_by}: {r.closed_reason}", markup=False)
    out.print("gate:")
    for o in gate:
        mark = (
            "[green]pass[/]"
            if o["passed"]
            else ("[red]FAIL[/]" if o["severity"] == "block" else "[yellow]warn[/]")
        )
        rule = f"{o['rule_id']:<24} {o['metric']} {o['comparator']} {o['threshold']}"
        out.print(f"  {mark}  {escape(rule)} (observed {escape(str(o['observed']))})")
    out.print("decisions:" if decisions else "decisions: none yet")
    for d in decisions:
        line = f"  {d['at'][:19]}  {d['approver']:<16} {d['decision']:<8} {d['comment']}"  # type: ignore[index]
        out.print(line, markup=False)


@app.command("expire")
def expire(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the releases that are due; change nothing.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Mark every release past its expiry date EXPIRED (safe to run from cron).

    Published tables stay in their targets; their owners remove them.
    """
    cfg = settings(ctx)
    store = Store(cfg.store_url)
    token = svc.token_from_env()
    actor = svc.authenticate(store, cfg.user, token) if token else SYSTEM_ACTOR
    ids = svc.expire_due(store, dry_run=dry_run, actor=actor)
    if json_out:
        print_json({"expired": [] if dry_run else ids, "due": ids, "dry_run": dry_run})
        return
    verb = "due" if dry_run else "expired"
    out.print(
        f"{len(ids)} release(s) {verb}" + (": " + ", ".join(ids) if ids else ""), markup=False
    )
