"""Preflight reports every problem of a job spec at once, before any run starts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import base_spec

from synthgate.cli import main

SpecWriter = Callable[[dict[str, Any]], Path]


def _error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("synthgate ")]


def test_every_problem_is_listed_in_one_error(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = base_spec(demo_db, tmp_path)
    spec["target"]["url"] = f"sqlite:///{tmp_path / 'no' / 'dir' / 'out.db'}"
    spec["pii"] = {"columns": {"emial": "drop"}}
    spec["synthesis"]["columns"] = {"plann": {"categories": ["free"]}}
    spec["validation"] = {"target_column": "churn", "protected_attributes": ["gender", "sex"]}
    path = write_spec(spec)

    assert main(["run", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["error_type"] == "ConfigError"
    assert "(5 problem(s))" in doc["error"]
    problems = doc["problems"]
    assert len(problems) == 5
    wanted = [
        "target: target directory",
        "pii.columns: no column 'emial'",
        "synthesis.columns: no column 'plann'",
        "validation.target_column: no column 'churn'",
        "validation.protected_attributes: no column 'sex'",
    ]
    for start, problem in zip(wanted, problems, strict=True):
        assert problem.startswith(start), problem
    assert all("\n" not in p for p in problems)
    lines = _error_lines(captured.err)
    assert lines[0].startswith("error: job spec ")
    assert [ln.strip() for ln in lines[1:]] == problems
    assert not (home / "runs").exists(), "a rejected job must not start a run"

    # --dry-run checks the same and reports the same list
    assert main(["run", str(path), "--dry-run", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["problems"] == problems


def test_a_missing_table_still_reports_the_policy_and_target(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = base_spec(demo_db, tmp_path)
    spec["source"]["table"] = "custmers"
    spec["target"]["url"] = f"sqlite:///{tmp_path / 'no' / 'dir' / 'out.db'}"
    spec["release"] = {"policy": "lenient"}
    assert main(["run", str(write_spec(spec)), "--json"]) == 2
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [p.split(":")[0] for p in problems] == ["release.policy", "target", "source.table"]
    assert "unknown policy pack 'lenient'" in problems[0]
    assert "tables there: customers" in problems[2]


def test_an_unreachable_database_is_raised_as_it_is(
    home: Path,
    demo_db: Path,
    tmp_path: Path,
    write_spec: SpecWriter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = base_spec(demo_db, tmp_path)
    spec["source"]["url"] = "postgresql://postgres:pw-canary@127.0.0.1:1/x"
    spec["validation"]["target_column"] = "churn"
    assert main(["run", str(write_spec(spec)), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["transient"] is True  # worth a retry: not folded into a config error
    assert doc["problems"] == []
    assert "pw-canary" not in json.dumps(doc)
