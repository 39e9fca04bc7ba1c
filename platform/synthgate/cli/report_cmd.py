"""``synthgate report RUN_OR_RELEASE``: the run's report as HTML, PDF or JSON."""

from __future__ import annotations

import enum
import json
import shutil
import sys
import webbrowser
from pathlib import Path
from typing import Annotated, Any

import typer

from synthgate.cli._common import out, settings
from synthgate.errors import ConfigError
from synthgate.reporting import render_html, write_pdf
from synthgate.store import Store

__all__ = ["ReportFormat", "locate_report", "report"]


class ReportFormat(enum.StrEnum):
    HTML = "html"
    PDF = "pdf"
    JSON = "json"


def _from_path(path: Path) -> Path | None:
    candidates = [path / "report", path] if path.is_dir() else [path.parent]
    for folder in candidates:
        if (folder / "report.json").is_file():
            return folder
    return None


def locate_report(ref: str, store: Store) -> Path:
    """The report folder of a run id, a release id or a run folder path."""
    path = Path(ref)
    if path.exists():
        folder = _from_path(path)
        if folder is None:
            raise ConfigError(f"no report.json in {path}", hint="pass a run folder or a run id")
        return folder
    if ref.startswith("rel-"):
        release = store.get_release(ref)
        if release is None:
            raise ConfigError(f"no release {ref!r}", hint="list them with: synthgate releases list")
        folder = Path(release.report_path).parent
    else:
        run = store.get_run(ref)
        if run is None:
            raise ConfigError(
                f"no run or release {ref!r}", hint="pass a run id (run-…) or a release id (rel-…)"
            )
        folder = Path(run.run_dir) / "report"
    if not (folder / "report.json").is_file():
        raise ConfigError(
            f"{ref} has no report; its run did not reach the report stage",
            hint="see: synthgate releases list, or the run's folder",
        )
    return folder


def _footer(data: dict[str, Any]) -> str:
    run = data.get("run", {}) if isinstance(data.get("run"), dict) else {}
    release = data.get("release", {}) if isinstance(data.get("release"), dict) else {}
    return " · ".join(str(x) for x in ("synthgate report", run.get("id"), release.get("id")) if x)


def report(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(
            metavar="RUN_OR_RELEASE",
            help="Run id (run-…), release id (rel-…) or run folder.",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="html, pdf or json.")
    ] = ReportFormat.HTML,
    open_: Annotated[
        bool, typer.Option("--open", help="Open the report in the default browser or viewer.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also copy the report to this path.")
    ] = None,
) -> None:
    """Show a run's report: print its path (html, pdf) or its content (json).

    The JSON is the report's source of truth; the HTML is rendered from it and is
    self-contained; the PDF is Chromium's print of the HTML, made on first request.
    """
    folder = locate_report(ref, Store(settings(ctx).store_url))
    json_path, html_path = folder / "report.json", folder / "report.html"
    data = json.loads(json_path.read_text("utf-8"))
    if fmt is ReportFormat.JSON:
        path = json_path
    elif fmt is ReportFormat.HTML:
        if not html_path.is_file():
            html_path.write_text(render_html(data), "utf-8")
        path = html_path
    else:
        if not html_path.is_file():
            html_path.write_text(render_html(data), "utf-8")
        pdf_path = folder / "report.pdf"
        if not pdf_path.is_file() or pdf_path.stat().st_mtime < html_path.stat().st_mtime:
            write_pdf(html_path, pdf_path, footer=_footer(data))
        path = pdf_path
    if output is not None:
        if output.is_dir():
            output = output / path.name
        shutil.copyfile(path, output)
        path = output
    if fmt is ReportFormat.JSON and output is None:
        sys.stdout.write(json_path.read_text("utf-8").rstrip("\n") + "\n")
    else:
        out.print(str(path), markup=False)
    if open_:
        webbrowser.open(path.resolve().as_uri())
