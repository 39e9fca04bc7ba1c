"""CSV column types hold for every row, not just the first block Arrow reads
(about 1 MB): late values widen a column's type instead of stopping the read."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from synthgate.contracts import LogicalType
from synthgate.errors import SourceError
from synthgate.sources import open_source

ROWS = 80_000  # about 2 MB: several of Arrow's blocks
LATE = 70_000  # the first row where the late columns have a value


def _write(path: Path, late_value: str) -> Path:
    lines = ["id,late,gaps,empty,widens"]
    for i in range(ROWS):
        late = late_value if i >= LATE else ""
        gaps = "" if i % 7 == 0 else str(i)
        widens = "not-a-number" if i == ROWS - 1 else str(i)
        lines.append(f"{i},{late},{gaps},,{widens}")
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _types(path: Path) -> dict[str, tuple[LogicalType, str]]:
    schema = open_source(str(path)).schema(path.stem)
    return {c.name: (c.type, c.native_type) for c in schema.columns}


def test_late_values_and_gaps_are_typed_over_all_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "42")
    assert _types(path) == {
        "id": (LogicalType.INTEGER, "int64"),
        "late": (LogicalType.INTEGER, "int64"),  # empty in its first 70,000 rows
        "gaps": (LogicalType.INTEGER, "int64"),  # integers with empty cells stay integers
        "empty": (LogicalType.TEXT, "string"),  # never a value: nullable text
        "widens": (LogicalType.TEXT, "string"),  # one late word makes it text
    }
    src = open_source(str(path))
    assert src.row_count("t") == ROWS
    table = pa.Table.from_batches(list(src.read("t", chunk_rows=10_000)))
    assert table.num_rows == ROWS
    assert table.schema.field("late").type == pa.int64()
    assert table.column("late").null_count == LATE
    assert table.column("gaps").null_count == len(range(0, ROWS, 7))
    assert table.schema.field("empty").type == pa.string()
    assert table.column("empty").null_count == ROWS
    assert table.column("widens").to_pylist()[:2] == ["0", "1"]


def test_a_late_decimal_widens_an_integer_column_to_float(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "2.5")
    assert _types(path)["late"] == (LogicalType.FLOAT, "double")
    table = pa.Table.from_batches(list(open_source(str(path)).read("t", columns=["late"])))
    assert table.column("late").drop_null().to_pylist() == [2.5] * (ROWS - LATE)


def test_a_ragged_row_is_one_line_without_its_values(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\nsecret-value,3,4\n", "utf-8")
    with pytest.raises(SourceError) as info:
        open_source(str(path)).schema("t")
    message = str(info.value)
    assert "wrong number of fields" in message
    assert "secret" not in message
    assert "\n" not in message
