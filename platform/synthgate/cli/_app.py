"""The ``synthgate`` commands, gathered into one Typer app (loaded by :func:`synthgate.cli.main`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from synthgate import __version__
from synthgate.cli import audit_cmd, budget_cmd, policy_cmd, releases, sources_cmd, users
from synthgate.cli.approvals import approve, publish, reject, revoke
from synthgate.cli.demo import demo
from synthgate.cli.init_cmd import init
from synthgate.cli.inspect_cmd import inspect
from synthgate.cli.report_cmd import report
from synthgate.cli.run import run
from synthgate.cli.serve_cmd import serve
from synthgate.cli.sync_cmd import sync
from synthgate.logs import FORMAT_ENV, LogFormat, configure

__all__ = ["app"]

app = typer.Typer(
    name="synthgate",
    help=(
        "Release synthetic replacements of sensitive tables, with PII masking, validation "
        "reports, policy gates, four-eyes approval and a tamper-evident audit log.\n\n"
        "Exit codes: 0 ok · 1 error · 2 usage/config error · 3 release blocked by a gate · "
        "4 awaiting approval · 5 privacy budget exhausted · 75 job running elsewhere · "
        "99 nothing to do."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # plain help: flags without a value show none (rich help printed every flag as <bool>)
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"synthgate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(help="State folder (store, runs); default $SYNTHGATE_HOME or ./.synthgate."),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            envvar=FORMAT_ENV,
            help="Logs on stderr: text (warnings only) or json (one event per line, and "
            "every message and error as one too).",
        ),
    ] = LogFormat.TEXT,
) -> None:
    ctx.obj = {"home": home, "debug": debug}
    configure(log_format)
    os.environ[FORMAT_ENV] = log_format.value  # jobs started by sync log the same way
    if debug:
        os.environ["SYNTHGATE_DEBUG"] = "1"


app.command()(run)
app.command()(sync)
app.command()(demo)
app.command()(inspect)
app.command(name="init")(init)
app.command()(report)
app.add_typer(releases.app, name="releases")
app.add_typer(audit_cmd.app, name="audit")
app.command()(approve)
app.command()(reject)
app.command()(publish)
app.command()(revoke)
app.add_typer(users.app, name="users")
app.add_typer(policy_cmd.app, name="policy")
app.add_typer(budget_cmd.app, name="budget")
app.add_typer(sources_cmd.app, name="sources")
app.command()(serve)
