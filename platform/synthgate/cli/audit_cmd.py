from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from synthgate.audit import AuditLog, since_timestamp
from synthgate.cli._common import EXIT_ERROR, err, out, print_json, settings
from synthgate.release import get_release
from synthgate.store import Store

__all__ = ["app"]

app = typer.Typer(
    help="Read, export and verify the tamper-evident audit log.", no_args_is_help=True
)

Since = Annotated[
    str | None,
    typer.Option(help="Only events at or after this time: ISO date/time or an age (7d, 12h)."),
]


@app.command("verify")
def verify(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the whole hash chain and its head; exit 1 and name the first broken event if it fails.

    Detects edited, deleted, reordered and inserted events, and events cut off
    the end. Set SYNTHGATE_AUDIT_KEY when the log was written with it.
    """
    report = AuditLog(Store(settings(ctx).store_url)).verify()
    if json_out:
        print_json(report.to_dict())
    elif report.ok:
        out.print(
            f"audit log intact: {report.checked} events verified; head {report.head_seq} "
            f"{(report.head_hash or '')[:16]}…"
        )
    else:
        out.print(f"[red]audit log broken[/] at event {report.first_bad_seq}: {report.reason}")
    if not report.ok:
        raise typer.Exit(EXIT_ERROR)


@app.command("log")
def log(
    ctx: typer.Context,
    since: Since = None,
    release: Annotated[
        str | None,
        typer.Option("--release", help="Only events about this release and its run."),
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="Only events about this subject (run, release, user id).")
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="Only events of this action (e.g. release.approved).")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print JSON lines (one event per line).")
    ] = False,
) -> None:
    """Print audit events, oldest first."""
    store = Store(settings(ctx).store_url)
    subjects = None
    if release:
        found = get_release(store, release)
        subjects = {found.id, found.run_id}
    events = AuditLog(store).events(
        since=since_timestamp(since) if since else None,
        subject=subject,
        subjects=subjects,
        action=action,
    )
    for ev in events:
        if json_out:
            typer.echo(json.dumps(ev.to_dict(), sort_keys=True))
        else:
            out.print(
                f"{ev.seq:>6} {ev.ts[:19]} {ev.actor:<12} {ev.action:<26} {ev.subject}",
                markup=False,
            )


@app.command("export")
def export(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="JSON-lines file to write ('-' for stdout).", show_default=False)
    ],
    since: Since = None,
) -> None:
    """Export events as JSON lines for a SIEM: one event per line, with its hash links."""
    log_ = AuditLog(Store(settings(ctx).store_url))
    cutoff = since_timestamp(since) if since else None
    if str(file) == "-":
        for ev in log_.events(since=cutoff):
            sys.stdout.write(json.dumps(ev.to_dict(), sort_keys=True, ensure_ascii=False) + "\n")
        return
    count = log_.export(file, since=cutoff)
    err.print(f"exported {count} events to {file}")
