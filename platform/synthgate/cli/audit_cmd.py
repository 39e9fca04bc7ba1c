from __future__ import annotations

import json
from typing import Annotated

import typer

from synthgate.audit import AuditLog
from synthgate.cli._common import EXIT_ERROR, out, print_json, settings
from synthgate.store import Store

__all__ = ["app"]

app = typer.Typer(help="Read and verify the tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
def verify(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the whole hash chain; exit 1 and name the first broken event if it fails."""
    report = AuditLog(Store(settings(ctx).store_url)).verify()
    if json_out:
        print_json(
            {
                "ok": report.ok,
                "checked": report.checked,
                "first_bad_seq": report.first_bad_seq,
                "reason": report.reason,
            }
        )
    elif report.ok:
        out.print(f"audit log intact: {report.checked} events verified")
    else:
        out.print(f"[red]audit log broken[/] at event {report.first_bad_seq}: {report.reason}")
    if not report.ok:
        raise typer.Exit(EXIT_ERROR)


@app.command("log")
def log(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help="Only events at or after this ISO time.")
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="Only events about this run or release id.")
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="Only events of this action (e.g. run.started).")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON lines (one event per line).")
    ] = False,
) -> None:
    """Print audit events, oldest first."""
    events = AuditLog(Store(settings(ctx).store_url)).events(
        since=since, subject=subject, action=action
    )
    for ev in events:
        if json_out:
            typer.echo(json.dumps(ev.to_dict(), sort_keys=True))
        else:
            out.print(f"{ev.seq:>6} {ev.ts[:19]} {ev.actor:<12} {ev.action:<16} {ev.subject}")
