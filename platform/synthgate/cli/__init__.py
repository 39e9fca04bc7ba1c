"""The ``synthgate`` command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from synthgate import __version__
from synthgate.cli import audit_cmd, budget_cmd, policy_cmd, releases, users
from synthgate.cli._common import EXIT_ERROR, EXIT_USAGE, err
from synthgate.cli.approvals import approve, publish, reject, revoke
from synthgate.cli.demo import demo
from synthgate.cli.init_cmd import init
from synthgate.cli.inspect_cmd import inspect
from synthgate.cli.report_cmd import report
from synthgate.cli.run import run
from synthgate.cli.serve_cmd import serve
from synthgate.cli.sync_cmd import sync
from synthgate.errors import SynthgateError, redact
from synthgate.logs import FORMAT_ENV, LogFormat, configure

__all__ = ["app", "main"]

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
            help="Logs on stderr: text (warnings only) or json (one event per line).",
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
app.command()(serve)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors, documented exit codes, no tracebacks."""
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    try:
        result = app(args=argv, prog_name="synthgate", standalone_mode=False)
    except SynthgateError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
        for problem in getattr(exc, "problems", []):
            err.print(f"  {problem}", markup=False, highlight=False)
        if os.environ.get("SYNTHGATE_DEBUG") and exc.__cause__ is not None:
            raise
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        err.print("aborted")
        return 130
    except typer.TyperException as exc:  # usage errors raised by the parser
        code = int(getattr(exc, "exit_code", EXIT_USAGE))
        message = redact(exc.format_message()) if hasattr(exc, "format_message") else str(exc)
        err.print(f"[red]{'usage error' if code == EXIT_USAGE else 'error'}:[/] {escape(message)}")
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            err.print(f"  see: {ctx.command_path} --help", markup=False)
        return code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("SYNTHGATE_DEBUG"):
            raise
        err.print(
            f"[red]internal error:[/] {type(exc).__name__}; rerun with --debug for the traceback"
        )
        return EXIT_ERROR
    return int(result) if isinstance(result, int) else 0


def _entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())
