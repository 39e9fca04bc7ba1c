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
    assert first["status"] == "AWAITING_APPROVAL"
    assert Path(first["report_html"]).is_file()
    assert Path(first["source_db"]).is_file()
    assert main(["demo", "--rows", "2000"]) == 0
    text = capsys.readouterr().out
    assert "AWAITING_APPROVAL" in text
    assert "synthgate releases show rel-" in text
    assert main(["audit", "verify"]) == 0
