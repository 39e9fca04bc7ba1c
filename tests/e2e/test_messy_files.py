"""First runs on messy CSV files: repeated and empty headers, late-typed columns."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from synthgate.cli import main

SpecWriter = Callable[[dict[str, Any]], Path]
ROWS = 120


def _messy_csv(path: Path) -> Path:
    """A table whose header repeats 'region' and leaves one name empty."""
    rng = np.random.default_rng(5)
    rows = [
        [
            str(rng.choice(["north", "south", "east"])),
            str(int(rng.integers(18, 80))),
            str(rng.choice(["web", "shop"])),
            f"{rng.uniform(0, 100):.2f}",
            str(rng.choice(["true", "false"])),
        ]
        for _ in range(ROWS)
    ]
    lines = ["region,age,region,,churned", *(",".join(r) for r in rows)]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _spec(csv: Path, tmp_path: Path) -> dict[str, Any]:
    return {
        "name": "messy-csv",
        "source": {"url": str(csv), "table": csv.stem},
        "target": {"url": f"sqlite:///{tmp_path / 'out.db'}", "table": "messy_syn"},
        "synthesis": {"synthesizer": "sdv-gaussian-copula", "seed": 3},
        "pii": {"sample_values": 40},
        "validation": {"target_column": "churned", "protected_attributes": ["region_2"]},
        "release": {"policy": "internal-testing"},
    }


def test_inspect_names_the_renamed_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _messy_csv(tmp_path / "messy.csv")
    assert main(["inspect", str(csv), "--table", "messy", "--no-pii", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = [c["name"] for c in data["schema"]["columns"]]
    assert names == ["region", "age", "region_2", "column_4", "churned"]
    assert data["renamed_columns"] == {"region_2": "region", "column_4": ""}
    assert data["rows"] == ROWS

    assert main(["inspect", str(csv), "--table", "messy", "--no-pii"]) == 0
    text = capsys.readouterr().out
    assert "region_2 (header 'region' repeated)" in text
    assert "column_4 (empty header)" in text


@pytest.mark.slow
def test_a_run_on_repeated_and_empty_headers_finishes(
    home: Path, tmp_path: Path, write_spec: SpecWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = _messy_csv(tmp_path / "messy.csv")
    spec = write_spec(_spec(csv, tmp_path))
    assert main(["run", str(spec), "--dry-run", "--json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["columns"][2:4] == ["region_2", "column_4"]
    assert dry["renamed_columns"] == {"region_2": "region", "column_4": ""}
    assert main(["run", str(spec), "--dry-run"]) == 0
    assert "column_4 (empty header)" in capsys.readouterr().out

    code = main(["run", str(spec), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code in (0, 3), out  # a release decision, not a crash
    synthetic = pd.read_parquet(out["synthetic_path"])
    assert list(synthetic.columns) == ["region", "age", "region_2", "column_4", "churned"]
    assert len(synthetic) == ROWS
    assert set(synthetic["region_2"].dropna()) <= {"web", "shop"}
