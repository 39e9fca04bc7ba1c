"""Declared constraints between columns hold on every synthetic row, for any engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from synthgate.cli import main
from synthgate.config import ConstraintSpec
from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
from synthgate.errors import ConfigError
from synthgate.synth.constraints import build_constraints, learnable, restore

SpecWriter = Callable[[dict[str, Any]], Path]
PAIRS = {"springfield": "il", "portland": "or", "austin": "tx", "salem": "or"}


def _table(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    opened = pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D")
    closed = opened + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
    dob = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 18000, n), unit="D")
    age = [2024 - d.year - ((d.month, d.day) > (6, 30)) for d in dob]
    city = rng.choice(list(PAIRS), n)
    return pd.DataFrame(
        {
            "opened": opened.date,
            "closed": closed.date,
            "dob": dob.date,
            "age": age,
            "city": city,
            "state": [PAIRS[c] for c in city],
            "balance": np.round(rng.gamma(2.0, 500.0, n), 2),
        }
    )


_SPECS: list[dict[str, Any]] = [
    {"type": "inequality", "low": "opened", "high": "closed"},
    {"type": "age", "column": "age", "born": "dob", "at": "2024-06-30"},
    {"type": "combination", "columns": ["city", "state"]},
]


def _schema() -> TableSchema:
    types = {
        "opened": LogicalType.DATE,
        "closed": LogicalType.DATE,
        "dob": LogicalType.DATE,
        "age": LogicalType.INTEGER,
        "city": LogicalType.CATEGORICAL,
        "state": LogicalType.CATEGORICAL,
        "balance": LogicalType.FLOAT,
    }
    return TableSchema("t", tuple(ColumnSchema(n, t) for n, t in types.items()))


def test_rewrites_round_trip_and_the_engine_never_sees_derived_columns() -> None:
    frame, schema = _table(200), _schema()
    constraints = build_constraints([ConstraintSpec(**s) for s in _SPECS], schema)
    learned_frame, learned = learnable(frame, schema, constraints)
    assert "age" not in learned.column_names  # derived: never learned
    assert "closed" not in learned.column_names  # learned as a gap instead
    assert (learned_frame["closed__gap"] >= 0).all()
    back = restore(learned_frame, schema, constraints)
    assert list(back.columns) == schema.column_names
    assert (pd.to_datetime(back["closed"]) == pd.to_datetime(frame["closed"])).all()
    assert (back["age"].astype(int) == frame["age"]).all()
    assert (back["state"] == frame["state"]).all()
    for constraint in constraints:
        assert not constraint.violated(back).any()


def test_a_broken_row_is_flagged() -> None:
    frame, schema = _table(50), _schema()
    constraints = build_constraints([ConstraintSpec(**s) for s in _SPECS[:2]], schema)
    bad = frame.copy()
    bad.loc[3, "closed"] = pd.Timestamp("2000-01-01").date()
    bad.loc[4, "age"] = 200
    assert int(constraints[0].violated(bad).sum()) == 1
    assert int(constraints[1].violated(bad).sum()) == 1


def test_constraints_that_do_not_fit_the_table_are_listed_together() -> None:
    specs = [
        ConstraintSpec(type="inequality", low="opened", high="nowhere"),
        ConstraintSpec(type="inequality", low="opened", high="city"),
        ConstraintSpec(type="age", column="age", born="balance", at="2024-01-01"),
    ]
    with pytest.raises(ConfigError) as err:
        build_constraints(specs, _schema())
    problems = err.value.problems
    assert len(problems) == 3
    assert "synthesis.constraints[0]" in problems[0]
    assert "'nowhere'" in problems[0]


@pytest.mark.slow
def test_a_run_holds_every_declared_constraint_on_every_row(
    home: Path, tmp_path: Path, write_spec: SpecWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "accounts.csv"
    _table().to_csv(source, index=False)
    spec = write_spec(
        {
            "name": "constrained",
            "source": {"url": str(source), "table": "accounts"},
            "target": {"url": f"sqlite:///{tmp_path / 'out.db'}", "table": "accounts_syn"},
            "pii": {"columns": {"dob": "keep", "age": "keep", "city": "keep", "state": "keep"}},
            "synthesis": {"privacy": {"epsilon": 3.0}, "constraints": _SPECS},
            "release": {"policy": "internal-testing"},
        }
    )
    code = main(["run", str(spec), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code in (0, 3, 4), out
    fake = pq.read_table(out["synthetic_path"]).to_pandas()
    opened, closed = pd.to_datetime(fake["opened"]), pd.to_datetime(fake["closed"])
    both = opened.notna() & closed.notna()
    assert (closed[both] >= opened[both]).all()
    dob = pd.to_datetime(fake["dob"])
    expected = 2024 - dob.dt.year - ((dob.dt.month * 100 + dob.dt.day) > 630).astype(int)
    known = dob.notna() & fake["age"].notna()
    assert (fake["age"][known].astype(int) == expected[known]).all()
    pairs = set(zip(fake["city"].dropna(), fake["state"].dropna(), strict=False))
    assert pairs <= set(PAIRS.items())
    report = json.loads(Path(out["report_json"]).read_text("utf-8"))
    flat = {m["name"]: m.get("value") for m in report["metrics"]}
    assert flat["structural.constraint_violations"] == 0
