from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthgate.cli import main


@pytest.mark.slow
def test_demo_runs_end_to_end_and_is_rerunnable(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--rows", "2000", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    # DP noise is never seeded, so fidelity, structural validity and the protected groups
    # vary run to run; privacy gates must hold
    assert first["status"] in {"AWAITING_APPROVAL", "BLOCKED"}
    assert set(first["failed_rules"]) <= {"fidelity", "structural-validity", "no-erased-groups"}
    assert (first["status"] == "BLOCKED") == bool(first["failed_rules"])
    report = json.loads(Path(first["report_json"]).read_text())
    assert report["privacy"]["spent"]["private"] is True
    assert report["privacy"]["spent"]["epsilon"] <= 3.0
    # the default engine: a table of 2,000 rows comes out usable at ε = 3
    assert report["provenance"]["synthesizer"] == "dp-mst"
    quality = {m["name"]: m["value"] for m in report["metrics"]}["fidelity.quality"]
    assert quality >= 0.8
    assert Path(first["report_html"]).is_file()
    assert Path(first["source_db"]).is_file()

    assert main(["demo", "--rows", "2000"]) == 0
    text = capsys.readouterr().out
    assert "synthgate releases show rel-" in text
    if "AWAITING_APPROVAL" in text:
        assert "synthgate approve rel-" in text
    else:
        assert "did not let this release through" in text
    assert main(["audit", "verify"]) == 0
    assert "audit log intact" in capsys.readouterr().out
    assert main(["budget", "list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
