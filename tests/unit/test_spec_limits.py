"""A job spec cannot take a process's time or memory, or crash it.

Each limit is a one-line ConfigError (exit 2): YAML size, aliases and depth,
durations, finite numbers, ``synthesis.rows`` and the columns a job reads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from synthgate.cli import main
from synthgate.config import (
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_ROWS,
    load_job_spec,
    parse_job_spec,
    size_problems,
)
from synthgate.errors import ConfigError

HEAD = """name: limits
source: {url: "sqlite:////nowhere/src.db", table: t}
target: {url: "sqlite:////nowhere/out.db"}
"""


def _refused(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "job.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError) as info:
        load_job_spec(path)
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)
    return info.value


def _bomb(levels: int) -> str:
    """Each level holds nine aliases of the one before: 9**levels values once expanded."""
    text = 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for level in range(1, levels + 1):
        text += f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]\n"
    return text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (HEAD + "description: &a [*a]\n", "alias *a inside its own anchor &a"),
        ("&top {name: limits, loop: *top}\n", "alias *top inside its own anchor &top"),
        (_bomb(6), "expands to more than 100,000 values"),
        ("[" * 5000 + "]" * 5000 + "\n", "nests deeper than 40 levels"),
        ("a: &a x\nb: [" + ", ".join(["*a"] * 65) + "]\n", "more than 64 YAML aliases"),
        (HEAD + "description: '" + "x" * (1 << 20) + "'\n", "larger than 1,048,576 bytes"),
    ],
)
def test_yaml_that_would_expand_recurse_or_overflow_is_refused(
    tmp_path: Path, text: str, words: str
) -> None:
    assert words in str(_refused(tmp_path, text))


def test_aliases_within_the_limits_still_work(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(
        HEAD + "synthesis:\n  columns:\n    a: &money {min: 0, max: 100}\n    b: *money\n", "utf-8"
    )
    spec = load_job_spec(path).spec
    assert spec.synthesis.columns["b"] == spec.synthesis.columns["a"]


def _problems(patch: dict[str, Any]) -> list[str]:
    raw = {"name": "limits", "source": {"url": "x.csv", "table": "x"}, "target": {"url": "y"}}
    with pytest.raises(ConfigError) as info:
        parse_job_spec({**raw, **patch}, env={})
    return info.value.problems


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("99999999999999w", "must be at most 36500d (about 100 years), got '99999999999999w'"),
        ("36501d", "must be at most 36500d"),
        ("9" * 5000 + "d", "must be at most 36500d"),
    ],
)
def test_durations_are_capped(value: str, problem: str) -> None:
    (line,) = _problems({"release": {"expires_after": value}})
    assert line.startswith(f"release.expires_after: {problem}")


def test_numbers_must_be_finite() -> None:
    nan, inf = float("nan"), float("inf")
    problems = _problems(
        {
            "synthesis": {
                "synthesizer": "dp-ctgan",
                "privacy": {"epsilon": nan},
                "params": {"lr": nan, "sizes": [1, inf]},
                "columns": {
                    "a": {"min": nan, "max": 5},
                    "b": {"max": inf},
                    "c": {"categories": [1, inf]},
                },
            }
        }
    )
    assert problems == [
        "synthesis.privacy.epsilon: must be a finite number, got nan",
        "synthesis.columns.a.min: must be a finite number, got nan",
        "synthesis.columns.b.max: must be a finite number, got inf",
        "synthesis.columns.c.categories: every category must be a text or a finite number, "
        "not NaN or infinity",
        "synthesis.params: every number must be finite (not NaN or infinity)",
    ]
    (far,) = _problems({"synthesis": {"columns": {"a": {"min": -1.5e308, "max": 1.5e308}}}})
    assert "max - min must be a finite number" in far


def test_synthetic_rows_are_capped() -> None:
    (line,) = _problems({"synthesis": {"rows": 100_000_000}})
    assert line == f"synthesis.rows: must be <= {MAX_ROWS}, got 100000000"


def test_columns_and_cells_are_capped() -> None:
    spec = parse_job_spec(
        {"name": "x", "source": {"url": "x.csv", "table": "x"}, "target": {"url": "y"}}, env={}
    )
    assert size_problems(spec, MAX_COLUMNS) == []
    (wide,) = size_problems(spec, MAX_COLUMNS + 1)
    assert "at most 1000 columns" in wide
    assert "source.columns" in wide
    many = spec.model_copy(
        update={"synthesis": spec.synthesis.model_copy(update={"rows": MAX_ROWS})}
    )
    assert size_problems(many, MAX_CELLS // MAX_ROWS) == []
    (cells,) = size_problems(many, MAX_CELLS // MAX_ROWS + 1)
    assert cells.startswith("synthesis.rows: 10000000 rows × 11 columns is more than")


def test_a_csv_wider_than_the_cap_is_refused_before_reading_and_source_columns_is_the_way(
    tmp_path: Path,
    home: Path,
    write_spec: Callable[[dict[str, Any]], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = [f"c{i}" for i in range(MAX_COLUMNS + 1)]
    rows = [",".join(str(i + r) for i in range(len(names))) for r in range(5)]
    csv = tmp_path / "wide.csv"
    csv.write_text("\n".join([",".join(names), *rows]) + "\n", "utf-8")
    spec: dict[str, Any] = {
        "name": "wide",
        "source": {"url": str(csv), "table": "wide"},
        "target": {"url": f"sqlite:///{tmp_path / 'out.db'}", "table": "wide_syn"},
    }
    assert main(["run", str(write_spec(spec)), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"source.table: a job reads at most {MAX_COLUMNS} columns" in err
    assert "Traceback" not in err
    spec["source"]["columns"] = names[:3]
    assert main(["run", str(write_spec(spec)), "--dry-run"]) == 0


def test_the_command_line_prints_one_line_and_exits_2(
    tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(HEAD + "description: &a [*a]\n", "utf-8")
    assert main(["run", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: job spec")
