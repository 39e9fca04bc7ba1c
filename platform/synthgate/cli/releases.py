from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from synthgate.cli._common import out, print_json, settings
from synthgate.errors import ConfigError
from synthgate.release import ReleaseStatus
from synthgate.store import Store
from synthgate.store.models import ReleaseRow

__all__ = ["app"]

app = typer.Typer(help="List and show releases.", no_args_is_help=True)


def _row(r: ReleaseRow) -> dict[str, object]:
    return {
        "id": r.id,
        "run_id": r.run_id,
        "job": r.job_name,
        "status": r.status,
        "requested_by": r.requested_by,
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "policy": r.policy,
        "rows": r.rows,
        "target": {"url": r.target_url, "table": r.target_table, "mode": r.target_mode},
        "report": r.report_path,
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
    grid = Table(show_edge=False)
    for head in ("release", "status", "job", "rows", "requested by", "created"):
        grid.add_column(head)
    for r in rows:
        grid.add_row(r.id, r.status, r.job_name, str(r.rows), r.requested_by, r.created_at[:19])
    out.print(grid)


@app.command("show")
def show(
    ctx: typer.Context,
    release_id: Annotated[str, typer.Argument(help="Release id (rel-…).", show_default=False)],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one release: status, gate outcomes, report location."""
    store = Store(settings(ctx).store_url)
    r = store.get_release(release_id)
    if r is None:
        raise ConfigError(
            f"no release {release_id!r}", hint="list them with: synthgate releases list"
        )
    gate = json.loads(r.gate)
    if json_out:
        print_json({**_row(r), "gate": gate})
        return
    for key, value in _row(r).items():
        if key != "target":
            out.print(f"{key:<13} {value}")
    out.print(f"{'target':<13} {r.target_url} · table {r.target_table} · mode {r.target_mode}")
    out.print("gate:")
    for o in gate:
        mark = (
            "[green]pass[/]"
            if o["passed"]
            else ("[red]FAIL[/]" if o["severity"] == "block" else "[yellow]warn[/]")
        )
        out.print(
            f"  {mark}  {o['rule_id']:<24} {o['metric']} {o['comparator']} {o['threshold']} (observed {o['observed']})"
        )
