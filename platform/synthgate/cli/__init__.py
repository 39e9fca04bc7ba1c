"""The ``synthgate`` command line.

Only :func:`main` lives here: the commands (:mod:`synthgate.cli._app`) and what they
need are imported when a command runs, so ``synthgate --version`` answers at once
and each process ``synthgate sync`` starts loads only what its run needs.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from synthgate import __version__

if TYPE_CHECKING:
    import typer

__all__ = ["app", "main"]

_INTERRUPTED = 130


def __getattr__(name: str) -> Any:
    if name == "app":
        from synthgate.cli._app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _fail(
    message: str,
    *,
    error_type: str,
    exit_code: int,
    json_out: bool,
    problems: list[str] | None = None,
    transient: bool = False,
    label: str = "error",
    see: str | None = None,
) -> int:
    """Report a failed command: one line (and one per problem) on stderr, or one JSON
    log line with JSON logs; with ``--json`` also the error document on stdout."""
    from rich.markup import escape

    from synthgate.cli._common import err, error_document, json_logs, print_json
    from synthgate.logs import log_event

    problems = problems or []
    if json_out:
        print_json(
            error_document(
                message,
                error_type=error_type,
                exit_code=exit_code,
                problems=problems,
                transient=transient,
            )
        )
    if json_logs():
        log_event(
            "command.failed",
            level=logging.ERROR,
            error=message,
            error_type=error_type,
            problems=problems,
            exit_code=exit_code,
            transient=transient,
            **({"see": see} if see else {}),
        )
        return exit_code
    err.console.print(f"[red]{label}:[/] {escape(message)}", highlight=False)
    for problem in problems:
        err.console.print(f"  {problem}", markup=False, highlight=False)
    if see:
        err.console.print(f"  see: {see}", markup=False, highlight=False)
    return exit_code


def _usage_error(exc: typer.TyperException | Exception, *, json_out: bool) -> int:
    from synthgate.cli._common import EXIT_USAGE
    from synthgate.errors import redact

    code = int(getattr(exc, "exit_code", EXIT_USAGE))
    format_message = getattr(exc, "format_message", None)
    message = redact(format_message() if callable(format_message) else str(exc))
    if type(exc).__name__ == "NoArgsIsHelpError":  # `synthgate` or a group alone: its help
        sys.stderr.write(message.rstrip("\n") + "\n")
        return code
    ctx = getattr(exc, "ctx", None)
    return _fail(
        message,
        error_type="UsageError",
        exit_code=code,
        json_out=json_out,
        label="usage error" if code == EXIT_USAGE else "error",
        see=f"{ctx.command_path} --help" if ctx is not None else None,
    )


#: what a command sets in the environment for the jobs it starts (sync children)
_PER_COMMAND_ENV = ("SYNTHGATE_LOG_FORMAT", "SYNTHGATE_DEBUG")


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors, documented exit codes, no tracebacks.

    The log format and debug flag a command puts in the environment (for the
    processes it starts) are taken back when it returns, so a caller that runs
    several commands in one process (tests, the Python API) gets each one's own.
    """
    saved = {name: os.environ.get(name) for name in _PER_COMMAND_ENV}
    try:
        return _main(argv)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _main(argv: list[str] | None) -> int:
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:  # answered before any command is loaded
        sys.stdout.write(f"synthgate {__version__}\n")
        return 0
    json_out = "--json" in args
    import typer

    from synthgate.cli._app import app
    from synthgate.cli._common import EXIT_ERROR
    from synthgate.errors import SynthgateError

    try:
        result = app(args=args, prog_name="synthgate", standalone_mode=False)
    except SynthgateError as exc:
        code = _fail(
            str(exc),
            error_type=type(exc).__name__,
            exit_code=exc.exit_code,
            json_out=json_out,
            problems=list(getattr(exc, "problems", [])),
            transient=exc.transient,
        )
        if os.environ.get("SYNTHGATE_DEBUG") and exc.__cause__ is not None:
            raise
        return code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        return _fail("aborted", error_type="Aborted", exit_code=_INTERRUPTED, json_out=json_out)
    except typer.TyperException as exc:  # usage errors raised by the parser
        return _usage_error(exc, json_out=json_out)
    except KeyboardInterrupt:
        return _fail(
            "interrupted", error_type="Interrupted", exit_code=_INTERRUPTED, json_out=json_out
        )
    except Exception as exc:
        if os.environ.get("SYNTHGATE_DEBUG"):
            raise
        return _fail(
            f"{type(exc).__name__}; rerun with --debug for the traceback",
            error_type="InternalError",
            exit_code=EXIT_ERROR,
            json_out=json_out,
            label="internal error",
        )
    return int(result) if isinstance(result, int) else 0


def _entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())
