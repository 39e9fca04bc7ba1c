"""The files connector gives every column a unique, non-empty name, the same in
schema(), read() and row_count(), for CSV and Parquet."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthgate.errors import ConfigError
from synthgate.sources import open_source
from synthgate_connectors.files._names import renamed, unique_names


@pytest.mark.parametrize(
    ("header", "names"),
    [
        (["a", "b"], ["a", "b"]),
        (["a", "a", "a"], ["a", "a_2", "a_3"]),
        (["a", "", " "], ["a", "column_2", "column_3"]),
        # a name the header holds is never taken by a generated one
        (["a", "a", "a_2"], ["a", "a_3", "a_2"]),
        (["", "column_1"], ["column_1_2", "column_1"]),
        (["", ""], ["column_1", "column_2"]),
    ],
)
def test_unique_names(header: list[str], names: list[str]) -> None:
    got = unique_names(header)
    assert got == names
    assert len(set(got)) == len(got)
    assert unique_names(header) == got  # deterministic


def test_renamed_lists_only_changed_columns() -> None:
    assert renamed(["a", "a", ""], ["a", "a_2", "column_3"]) == {"a_2": "a", "column_3": ""}


def _check_source(url: str, table: str) -> None:
    src = open_source(url)
    schema = src.schema(table)
    assert schema.column_names == ["id", "name", "name_2", "column_4"]
    assert src.row_count(table) == 3
    whole = pa.Table.from_batches(list(src.read(table)))
    assert whole.column_names == schema.column_names
    assert whole.column("name_2").to_pylist() == ["x", "y", "z"]
    picked = pa.Table.from_batches(list(src.read(table, columns=["column_4", "name_2"])))
    assert picked.column_names == ["column_4", "name_2"]
    assert picked.column("column_4").to_pylist() == [1.5, 2.5, 3.5]
    assert src.renamed_columns(table) == {"name_2": "name", "column_4": ""}  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="columns there: id, name, name_2, column_4"):
        list(src.read(table, columns=["name_3"]))


def test_csv_with_repeated_and_empty_headers(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,name,name,\n1,a,x,1.5\n2,b,y,2.5\n3,c,z,3.5\n", "utf-8")
    _check_source(str(path), "t")


def test_parquet_with_repeated_and_empty_names(tmp_path: Path) -> None:
    table = pa.table(
        [[1, 2, 3], ["a", "b", "c"], ["x", "y", "z"], [1.5, 2.5, 3.5]],
        names=["id", "name", "name", ""],
    )
    pq.write_table(table, tmp_path / "t.parquet")
    _check_source(str(tmp_path / "t.parquet"), "t")


def test_csv_header_with_a_line_break_and_a_repeat(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b'"first\r\nline",n,n\r\n"a\nb",1,2\r\nc,3,4\r\n')
    src = open_source(str(path))
    assert src.schema("t").column_names == ["first\r\nline", "n", "n_2"]
    rows = pa.Table.from_batches(list(src.read("t"))).to_pylist()
    assert rows == [
        {"first\r\nline": "a\nb", "n": 1, "n_2": 2},
        {"first\r\nline": "c", "n": 3, "n_2": 4},
    ]
