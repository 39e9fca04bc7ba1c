"""The run report: a schema-versioned JSON document, a self-contained HTML page, a PDF.

The JSON is the source of truth; HTML is rendered from it by the report
sections registered under ``synthgate.report_sections``, and the PDF is
Chromium's print of that HTML. The report holds counts, scores, column names,
privacy-safe cells (≥ k real rows) and decisions — never a real row or value.
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synthgate import __version__
from synthgate.contracts import ReportSection
from synthgate.errors import ConfigError
from synthgate.plugins import PluginGroup, load_all

__all__ = [
    "CHROMIUM_ARGS",
    "REPORT_SCHEMA_VERSION",
    "find_chromium",
    "json_safe",
    "render_html",
    "render_pdf",
    "write_pdf",
    "write_report",
]

REPORT_SCHEMA_VERSION = "1.0"
CHROMIUM_ENV = "SYNTHGATE_CHROMIUM"
#: a headless, offline Chromium: no sandbox (containers), no background traffic
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--headless",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--no-first-run",
)

_CSS = """
:root{--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--ink:#1f2328;--mute:#59636e;--line:#d1d9e0}
*{box-sizing:border-box}body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;
color:var(--ink);margin:0 auto;max-width:1040px;padding:24px}
h1{font-size:24px;margin:0 0 4px}.internal{border-left:4px solid var(--warn);padding:4px 10px;
background:#fff8c5}h2{font-size:19px;border-bottom:1px solid var(--line);
padding-bottom:4px;margin-top:32px}h3{font-size:16px;margin:20px 0 6px}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{text-align:left;padding:4px 8px;
border-bottom:1px solid var(--line);vertical-align:top}th{background:#f6f8fa}
table.small{font-size:13px}table.kv td:first-child{width:32%;color:var(--mute)}
table.verdicts td:first-child{font-weight:600;white-space:nowrap}
.muted{color:var(--mute)}.pill{display:inline-block;padding:1px 8px;border-radius:10px;
font-weight:600;font-size:13px;color:#fff;white-space:nowrap}.pass{background:var(--ok)}
.warn{background:var(--warn)}.fail{background:var(--bad)}.info{background:#57606a}
.bar{background:#eaeef2;height:10px;border-radius:5px;min-width:120px}
.bar>span{display:block;height:10px;border-radius:5px;background:#0969da}
.explain{color:var(--mute);font-size:13px;margin:2px 0 8px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card b{display:block;font-size:15px;font-weight:600;margin-top:2px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px;overflow-wrap:anywhere}
nav ol{columns:3;margin:8px 0 0;padding-left:20px}nav a{color:#0969da}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:8px 16px}
figure{margin:8px 0}svg.chart{max-width:100%;height:auto}
.status-line{font-size:16px;border:1px solid var(--line);border-left:6px solid #0969da;
border-radius:6px;padding:8px 12px;margin:12px 0}
figure.dist figcaption{font-size:13px;display:flex;gap:8px;align-items:center;
white-space:nowrap}figure.dist figcaption .bar{flex:0 0 120px;min-width:0}
code.hash{font-size:11px}table.params{margin:0}table.params td{border:0;padding:1px 6px 1px 0}
@page{size:A4;margin:14mm 12mm}
@media print{body{max-width:none;padding:0;font-size:11px}nav{display:none}
header h1{font-size:18px}h2{font-size:16px;margin-top:18px}h3{font-size:13px;margin:12px 0 4px}
.status-line{font-size:13px;margin:6px 0}.cards{gap:6px}.card{padding:6px 8px}
.explain{font-size:10.5px}code{font-size:10px}.card b{font-size:12px}
h2,h3,h4,p.explain{break-after:avoid}figure,.card,.signatures,.status-line,tr,
table.verdicts,table.params{break-inside:avoid}
table.verdicts{font-size:10.5px}th,td{padding:3px 6px}
a{color:inherit;text-decoration:none}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.charts{grid-template-columns:1fr 1fr}}
"""


def _sections() -> list[ReportSection]:
    sections = [factory() for factory in load_all(PluginGroup.REPORT_SECTIONS).values()]
    return sorted(sections, key=lambda s: (s.order, s.id))


#: the review report's banner: it is for approvers and auditors, never for release
REVIEW_NOTICE = (
    "Internal: contains statistics of the real data (small cells suppressed). For "
    "approvers and auditors; it is not released. The release card travels with the data."
)


def render_html(report: Mapping[str, Any]) -> str:
    """One self-contained page: inline CSS and SVG, no scripts, no external assets."""
    run = report.get("run", {})
    title = f"synthgate review report · {run.get('job', '')} · {run.get('id', '')}"
    body = []
    toc = []
    for section in _sections():
        fragment = section.render(report)
        if fragment:
            sid = html.escape(section.id)
            toc.append(f'<li><a href="#{sid}">{html.escape(section.title)}</a></li>')
            body.append(
                f'<section id="{sid}"><h2>{html.escape(section.title)}</h2>{fragment}</section>'
            )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        "<meta http-equiv=Content-Security-Policy "
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1>"
        f"<p class=muted>generated by synthgate {html.escape(__version__)} · report schema "
        f"{html.escape(str(report.get('schema_version', REPORT_SCHEMA_VERSION)))}</p>"
        f"<p class=internal><b>{REVIEW_NOTICE}</b></p>"
        f"<nav><ol>{''.join(toc)}</ol></nav></header>{''.join(body)}</body></html>"
    )


def json_safe(value: Any) -> Any:
    """*value* with infinite floats as ``"inf"``/``"-inf"`` and NaN as ``None``:
    strict JSON, which every reader (a browser, jq, another language) accepts."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def write_report(report: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into *folder*; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    report = json_safe({"schema_version": REPORT_SCHEMA_VERSION, **report})
    json_path = folder / "report.json"
    html_path = folder / "report.html"
    _write_atomic(
        json_path, json.dumps(report, indent=2, sort_keys=True, default=str, allow_nan=False)
    )
    _write_atomic(html_path, render_html(report))
    return json_path, html_path


def _write_atomic(path: Path, text: str) -> None:
    """A reader sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, "utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------- PDF


def find_chromium() -> str | None:
    """``$SYNTHGATE_CHROMIUM``, else the first Chromium on PATH, else ``None``."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def render_pdf(html_path: Path, *, footer: str = "") -> bytes:
    """Print *html_path* to A4 PDF with a headless Chromium; no network is allowed."""
    chromium = find_chromium()
    if chromium is None:
        raise ConfigError(
            "printing a report to PDF needs Chromium, and none was found",
            hint=f"install it (apt-get install chromium) or set {CHROMIUM_ENV}",
        )
    try:
        from playwright.sync_api import Route, sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dependency
        raise ConfigError("printing a report to PDF needs the playwright package") from None

    def offline(route: Route) -> None:
        if route.request.url.startswith(("file:", "data:", "about:")):
            route.continue_()
        else:
            route.abort()

    foot = (
        '<div style="font-size:8px;width:100%;text-align:center;color:#59636e">'
        f"{html.escape(footer)} · page <span class=pageNumber></span> of "
        "<span class=totalPages></span></div>"
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page()
            page.route("**/*", offline)
            page.goto(html_path.resolve().as_uri(), wait_until="load")
            pdf: bytes = page.pdf(
                format="A4",
                print_background=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=foot,
                margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"},
            )
        finally:
            browser.close()
    return pdf


def write_pdf(html_path: Path, pdf_path: Path | None = None, *, footer: str = "") -> Path:
    """Print the report *html_path* to *pdf_path* (default: beside it, ``.pdf``)."""
    target = pdf_path or html_path.with_suffix(".pdf")
    data = render_pdf(html_path, footer=footer)
    tmp = target.with_suffix(".pdf.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target
