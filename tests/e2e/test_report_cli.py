"""``synthgate report`` and the rendered report in a real headless Chromium.

Tests that need Chromium skip only when it is absent outside CI; with CI=true a
missing Chromium fails them (``scripts/dev test`` installs it).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import base_spec, need_chromium

from synthgate.cli import main
from synthgate.reporting import CHROMIUM_ARGS

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def cli(argv: list[str]) -> tuple[int, str]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(argv)
    return code, buffer.getvalue()


@pytest.fixture(scope="module")
def run(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One ordinary run (Gaussian copula on the demo table), and its environment."""
    base = tmp_path_factory.mktemp("report-cli")
    spec = base_spec(demo_db, base)
    spec["pii"] = {"sample_values": 40}
    path = base / "job.yaml"
    path.write_text(yaml.safe_dump(spec), "utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYNTHGATE_HOME", str(base / "home"))
        mp.delenv("SYNTHGATE_STORE_URL", raising=False)
        mp.setenv("SYNTHGATE_USER", "alice")
        code, out = cli(["run", str(path), "--json"])
        assert code == 4, out
        yield {**json.loads(out), "mp": mp, "base": base}


def test_report_json_by_run_and_by_release(run: dict[str, Any]) -> None:
    code, out = cli(["report", run["run_id"], "--format", "json"])
    assert code == 0
    by_run = json.loads(out)
    assert by_run["schema_version"]
    assert by_run["run"]["id"] == run["run_id"]
    code, out = cli(["report", run["release_id"], "-f", "json"])
    assert code == 0
    assert json.loads(out) == by_run
    code, out = cli(["report", run["run_dir"], "-f", "json"])
    assert json.loads(out)["release"]["id"] == run["release_id"]


def test_report_html_prints_its_path_and_can_open_it(
    run: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    opened: list[str] = []

    def fake_open(url: str, *args: Any, **kwargs: Any) -> bool:
        opened.append(url)
        return True

    monkeypatch.setattr(webbrowser, "open", fake_open)
    code, out = cli(["report", run["release_id"], "--open"])
    assert code == 0
    assert out.strip() == run["report_html"]
    assert opened == [Path(run["report_html"]).as_uri()]
    code, out = cli(["report", run["run_id"], "--output", str(tmp_path)])
    assert code == 0
    copy = tmp_path / "report.html"
    assert out.strip() == str(copy)
    assert copy.read_text("utf-8") == Path(run["report_html"]).read_text("utf-8")


def test_report_of_an_unknown_run_is_a_usage_error(
    run: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "run-nope"]) == 2
    assert "no run or release 'run-nope'" in capsys.readouterr().err
    assert main(["report", "rel-nope"]) == 2
    assert "no release 'rel-nope'" in capsys.readouterr().err
    assert main(["report", run["run_id"], "--format", "docx"]) == 2


def test_report_pdf_is_printed_by_chromium(run: dict[str, Any]) -> None:
    need_chromium()
    code, out = cli(["report", run["release_id"], "--format", "pdf"])
    assert code == 0, out
    pdf = Path(out.strip())
    assert pdf == Path(run["report_html"]).with_suffix(".pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert pages >= 3  # the summary with the verdicts and the status, then the details
    stamp = pdf.stat().st_mtime_ns
    assert cli(["report", run["release_id"], "-f", "pdf"])[0] == 0
    assert pdf.stat().st_mtime_ns == stamp  # printed once, then reused


def test_rendered_report_in_headless_chromium(run: dict[str, Any]) -> None:
    chromium = need_chromium()
    from playwright.sync_api import sync_playwright

    html_path = Path(run["report_html"])
    requests: list[str] = []
    problems: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(html_path.as_uri(), wait_until="load")
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
            facts = page.evaluate(
                """() => {
                  const box = (el) => el.getBoundingClientRect();
                  const sections = [...document.querySelectorAll('section')];
                  const svgs = [...document.querySelectorAll('svg.chart')];
                  const verdicts = document.querySelector('#summary table.verdicts');
                  return {
                    scripts: document.scripts.length,
                    sections: sections.map(s => [s.id, box(s).height]),
                    svgs: svgs.length,
                    narrowSvgs: svgs.filter(s => box(s).width < 200).length,
                    overflow: document.documentElement.scrollWidth - window.innerWidth,
                    verdictsBottom: box(verdicts).bottom,
                    verdictRows: verdicts.querySelectorAll('tbody tr').length,
                    images: document.images.length,
                  };
                }"""
            )
            page.emulate_media(media="print")
            break_after = page.evaluate(
                "getComputedStyle(document.querySelector('#summary')).breakAfter"
            )
            # printed on A4 (186 mm wide between the margins, 267 mm high)
            page.set_viewport_size({"width": 703, "height": 1009})
            first_page = page.evaluate(
                """() => ({
                  status: document.querySelector('#summary .status-line').getBoundingClientRect().bottom,
                  verdicts: document.querySelector('#summary table.verdicts').getBoundingClientRect().bottom,
                })"""
            )
            page.screenshot(path=str(ARTIFACTS / "report-print.png"), full_page=False)
        finally:
            browser.close()
    assert requests == [html_path.as_uri()], "the page fetched something besides itself"
    assert problems == []
    assert facts["scripts"] == 0
    assert facts["images"] == 0
    ids = [s[0] for s in facts["sections"]]
    assert ids[:3] == ["summary", "decisions", "provenance"]
    assert {"privacy", "fidelity", "utility", "bias", "quality", "gate"} <= set(ids)
    assert all(height > 40 for _, height in facts["sections"]), facts["sections"]
    assert facts["svgs"] >= 8
    assert facts["narrowSvgs"] == 0
    assert facts["overflow"] <= 0, "the page scrolls sideways"
    assert facts["verdictRows"] == 6  # one per area, structural validity included
    assert facts["verdictsBottom"] < 1500, "the verdicts are not near the top of the page"
    assert break_after == "auto"  # no half-empty first page: blocks avoid breaks instead
    assert first_page["status"] < first_page["verdicts"] < 1009, first_page  # both on page 1
    assert (ARTIFACTS / "report.png").stat().st_size > 50_000
