from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from synthgate.audit import AuditLog, since_timestamp
from synthgate.cli._auth import current_actor
from synthgate.cli._common import EXIT_ERROR, err, out, print_json, settings
from synthgate.errors import ConfigError
from synthgate.release import Permission, get_release, require
from synthgate.release._report import decisions_referencing, sha256_of
from synthgate.store import Store

__all__ = ["app"]

app = typer.Typer(
    help="Read, export and verify the tamper-evident audit log.", no_args_is_help=True
)

Since = Annotated[
    str | None,
    typer.Option(help="Only events at or after this time: ISO date/time or an age (7d, 12h)."),
]


_WORDS = {
    "release.approval_recorded": "approved (more approvals needed)",
    "release.approved": "approved",
    "release.rejected": "rejected",
    "release.revoked": "revoked",
    "release.expired": "expired",
    "release.published": "published",
}


def _verify_report(store: Store, path: Path, json_out: bool) -> None:
    """One line: which decisions were made on the report *path*, or that none was."""
    if not path.is_file():
        raise ConfigError(
            f"no report file {path}",
            hint="pass a report.json or report.html, e.g. from the run's report/history folder",
        )
    digest = sha256_of(path)
    chain = AuditLog(store).verify()
    found = decisions_referencing(store, digest) if chain.ok else []
    if json_out:
        print_json(
            {
                "ok": chain.ok and bool(found),
                "file": str(path),
                "sha256": digest,
                "chain_ok": chain.ok,
                "decisions": [
                    {
                        "seq": ev.seq,
                        "ts": ev.ts,
                        "actor": ev.actor,
                        "action": ev.action,
                        "subject": ev.subject,
                        "matched": key,
                    }
                    for ev, key in found
                ],
            }
        )
    elif not chain.ok:
        out.print(
            f"{path}: not checked, the audit log itself fails verification: {chain.describe()}",
            markup=False,
            style="red",
        )
    elif found:
        made = "; ".join(
            f"{ev.subject} {_WORDS.get(ev.action, ev.action)} by {ev.actor} at "
            f"{ev.ts[:16].replace('T', ' ')} UTC (event {ev.seq})"
            for ev, _ in found
        )
        out.print(f"ok: {path} (sha256 {digest[:12]}…) is the report {made}", markup=False)
    else:
        out.print(
            f"{path} (sha256 {digest[:12]}…): no decision in the audit log was made on this "
            "report; it is not a rendering a decision was made on, or it was changed",
            markup=False,
            style="red",
        )
    if not (chain.ok and found):
        raise typer.Exit(EXIT_ERROR)


@app.command("verify")
def verify(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    report_file: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Check this report file (report.json or report.html) instead: which "
            "decisions were made on it. Exit 1 when none was.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check the whole hash chain and its head; exit 1 and name the first broken event if it fails.

    Detects edited, deleted, reordered and inserted events, and events cut off
    the end. Prints the store's algorithm (sha256, or hmac-sha256 for a keyed
    log, which needs SYNTHGATE_AUDIT_KEY) and the range of events checked.

    With --report FILE: the chain is checked, then the decision events
    (approve, reject, revoke, expire, publish) whose report_sha256 (of
    report.json) or report_html_sha256 (of report.html) is the file's sha256
    are printed on one line; exit 1 when none is.
    """
    store = Store(settings(ctx).store_url)
    if report_file is not None:
        _verify_report(store, report_file, json_out)
        return
    log_ = AuditLog(store)
    report = log_.verify()
    note = log_.note()
    if json_out:
        print_json({**report.to_dict(), "note": note})
    else:
        out.print(report.describe(), markup=False, style=None if report.ok else "red")
        if note:
            err.print(f"note: {note}", markup=False)
    if not report.ok:
        raise typer.Exit(EXIT_ERROR)


def _read_key(from_stdin: bool) -> bytes:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n").encode()
    if not sys.stdin.isatty():
        raise ConfigError(
            "no terminal to prompt for the new audit key on",
            hint="pipe it in with: synthgate audit rekey --new-key-stdin",
        )
    first = typer.prompt("new audit key", hide_input=True, err=True)
    second = typer.prompt("repeat it", hide_input=True, err=True)
    if first != second:
        raise ConfigError("the two keys differ; nothing was changed")
    return str(first).encode()


@app.command("rekey")
def rekey(
    ctx: typer.Context,
    new_key_stdin: Annotated[
        bool,
        typer.Option("--new-key-stdin", help="Read the new key from the first line of stdin."),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Move the audit log to a new key (HMAC-SHA256); admins only.

    The log must verify first, with SYNTHGATE_AUDIT_KEY as its current key
    (unset for an unkeyed log). Every event is re-hashed under the new key, the
    head is re-sealed, and an audit.rekeyed event records the previous head.
    From then on every synthgate process of this store needs the new key in
    SYNTHGATE_AUDIT_KEY; one without it, or with another, refuses to write.
    The new key is prompted for, or read with --new-key-stdin; never an argument.
    """
    cfg = settings(ctx)
    store = Store(cfg.store_url)
    actor = current_actor(cfg, store)
    require(actor, Permission.MANAGE_AUDIT)
    new_key = _read_key(new_key_stdin)
    result = AuditLog(store).rekey(new_key, actor=actor.name, details=actor.audit_details())
    if json_out:
        print_json(
            {
                "events": result.events,
                "from": result.from_algorithm,
                "to": result.to_algorithm,
                "seq": result.event.seq,
            }
        )
        return
    out.print(
        f"audit log rekeyed: {result.events} events moved from {result.from_algorithm} to "
        f"{result.to_algorithm}, recorded as event {result.event.seq}",
        markup=False,
    )
    err.print(
        "set SYNTHGATE_AUDIT_KEY to the new key for every synthgate process of this store",
        markup=False,
    )


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
