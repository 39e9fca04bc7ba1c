"""Declared bounds of a date column are dates: public facts that cost no budget."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.conftest import base_spec

from synthgate.cli import main

SpecWriter = Callable[[dict[str, Any]], Path]
pytestmark = pytest.mark.slow


def test_a_date_column_with_declared_date_bounds_is_released_inside_them(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter, capsys: Any
) -> None:
    spec = base_spec(demo_db, tmp_path)
    spec["source"]["columns"] = ["date_of_birth", "plan", "monthly_spend", "churned"]
    spec["pii"] = {"columns": {"date_of_birth": "keep"}}
    spec["synthesis"] = {
        "synthesizer": "dp-mst",
        "privacy": {"epsilon": 2.0},
        "columns": {
            "date_of_birth": {"min": "1930-01-01", "max": "2010-12-31"},
            "monthly_spend": {"min": 0, "max": 1000},
        },
    }
    spec["validation"] = {"target_column": "churned"}
    spec["release"] = {"policy": "internal-testing"}
    assert main(["run", str(write_spec(spec)), "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    released = pd.read_parquet(outcome["synthetic_path"])["date_of_birth"]
    born = pd.to_datetime(released)
    assert born.notna().mean() > 0.9  # declared bounds: the column is not left empty
    assert born.min() >= pd.Timestamp("1930-01-01")
    assert born.max() <= pd.Timestamp("2011-01-01")
    report = json.loads(Path(outcome["report_json"]).read_text("utf-8"))
    mechanisms = [s["mechanism"] for s in report["privacy"]["spent"]["stages"]]
    assert not any(m.endswith(":date_of_birth") and "bounds" in m for m in mechanisms)


def test_date_bounds_on_a_number_column_are_refused_before_reading(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter, capsys: Any
) -> None:
    spec = base_spec(demo_db, tmp_path)
    spec["synthesis"] = {
        "synthesizer": "dp-mst",
        "columns": {"monthly_spend": {"min": "2020-01-01", "max": "2021-01-01"}},
    }
    assert main(["run", str(write_spec(spec)), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "synthesis.columns.monthly_spend: min/max are dates but the column is" in err


def test_an_age_and_a_date_of_birth_get_public_ranges_that_cost_nothing(
    home: Path, demo_db: Path, tmp_path: Path, write_spec: SpecWriter, capsys: Any
) -> None:
    spec = base_spec(demo_db, tmp_path)
    spec["source"]["columns"] = ["age", "date_of_birth", "plan", "churned"]
    spec["pii"] = {"columns": {"date_of_birth": "keep"}}
    spec["synthesis"] = {"synthesizer": "dp-mst", "privacy": {"epsilon": 2.0}}
    spec["validation"] = {"target_column": "churned"}
    spec["release"] = {"policy": "internal-testing"}
    assert main(["run", str(write_spec(spec)), "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    report = json.loads(Path(outcome["report_json"]).read_text("utf-8"))
    mechanisms = [s["mechanism"] for s in report["privacy"]["spent"]["stages"]]
    # no budget spent finding where ages or birth dates lie: everyone knows
    assert not [m for m in mechanisms if m.startswith("bounds")]
    released = pd.read_parquet(outcome["synthetic_path"])
    assert released["age"].between(0, 100).all()
    assert pd.to_datetime(released["date_of_birth"]).min() >= pd.Timestamp("1900-01-01")
