"""One suite, run over every registered connector and every system it serves.

A store is written through the connector's sink and read back through its
source: memory, a Parquet folder, a CSV file, SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from tests._dbservers import mysql_database, pg_database

from synthgate import memory
from synthgate.contracts import (
    ColumnSchema,
    LogicalType,
    Sink,
    Source,
    TableSchema,
    WriteMode,
)
from synthgate.errors import ConfigError, SinkError, TableNotFound, TargetNotWritable
from synthgate.plugins import PluginGroup, names
from synthgate.sources import connector_for, open_sink, open_source

SCHEMA = TableSchema(
    "people",
    (
        ColumnSchema("id", LogicalType.INTEGER, False, "BIGINT"),
        ColumnSchema("score", LogicalType.FLOAT, True, "DOUBLE PRECISION"),
        ColumnSchema("plan", LogicalType.TEXT, True, "TEXT"),
        ColumnSchema("joined", LogicalType.DATE, True, "DATE"),
        ColumnSchema("active", LogicalType.BOOLEAN, True, "BOOLEAN"),
    ),
)
ROWS = 230
DATA = pa.table(
    {
        "id": pa.array(range(ROWS), pa.int64()),
        "score": pa.array([i / 8 if i % 11 else None for i in range(ROWS)], pa.float64()),
        "plan": pa.array([["free", "pro", ""][i % 3] if i % 13 else None for i in range(ROWS)]),
        "joined": pa.array([date(2020, 1, 1 + i % 28) for i in range(ROWS)], pa.date32()),
        "active": pa.array([i % 2 == 0 for i in range(ROWS)]),
    }
)

KINDS = ["memory", "parquet", "csv", "sqlite", "postgresql", "mysql"]
SERVES = {
    "memory": "memory",
    "parquet": "files",
    "csv": "files",
    "sqlite": "sql",
    "postgresql": "sql",
    "mysql": "sql",
}
SQL = {"sqlite", "postgresql", "mysql"}


@dataclass
class Store:
    kind: str
    url: str

    def source(self) -> Source:
        return open_source(self.url)

    def sink(self) -> Sink:
        return open_sink(self.url)

    def read(self, **kwargs: object) -> pa.Table:
        src = self.source()
        try:
            batches = list(src.read("people", **kwargs))  # type: ignore[arg-type]
        finally:
            src.close()
        return pa.Table.from_batches(batches) if batches else DATA.slice(0, 0)


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    kind = str(request.param)
    if kind == "memory":
        name = f"contract-{secrets.token_hex(4)}"
        yield Store(kind, f"memory://{name}")
        memory.drop(name)
    elif kind == "parquet":
        (tmp_path / "out").mkdir()
        yield Store(kind, str(tmp_path / "out") + "/")
    elif kind == "csv":
        yield Store(kind, str(tmp_path / "people.csv"))
    elif kind == "sqlite":
        yield Store(kind, f"sqlite:///{tmp_path / 'c.db'}")
    elif kind == "postgresql":
        for db in pg_database():
            yield Store(kind, db.url)
    else:
        for mdb in mysql_database():
            yield Store(kind, mdb.url)


def _written(store: Store) -> Store:
    result = store.sink().write(
        "people", iter(DATA.to_batches(100)), schema=SCHEMA, mode=WriteMode.REPLACE
    )
    assert result.rows == ROWS
    return store


def test_every_registered_connector_is_covered() -> None:
    assert set(names(PluginGroup.CONNECTORS)) == set(SERVES.values())


def test_the_url_picks_the_expected_connector(store: Store) -> None:
    assert connector_for(store.url).name == SERVES[store.kind]


def test_written_rows_read_back_equal(store: Store) -> None:
    got = _written(store).read()
    assert got.column_names == SCHEMA.column_names
    for name in SCHEMA.column_names:
        assert got.column(name).to_pylist() == DATA.column(name).to_pylist(), name
    src = store.source()
    assert src.row_count("people") == ROWS
    assert "people" in src.list_tables()
    assert src.schema("people").column_names == SCHEMA.column_names


def test_reads_are_bounded_chunks(store: Store) -> None:
    src = _written(store).source()
    sizes = [b.num_rows for b in src.read("people", chunk_rows=64)]
    assert sum(sizes) == ROWS
    assert max(sizes) <= 64


def test_column_selection_and_unknown_columns(store: Store) -> None:
    got = _written(store).read(columns=["plan", "id"])
    assert sorted(got.column_names) == ["id", "plan"]
    assert got.num_rows == ROWS
    with pytest.raises(ConfigError, match="nope"):
        store.read(columns=["id", "nope"])


def test_uniform_sample_is_a_subset_of_distinct_rows(store: Store) -> None:
    sample = _written(store).read(sample_rows=40)
    ids = sample.column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 40
    assert set(ids) <= set(range(ROWS))
    assert store.read(sample_rows=10_000).num_rows == ROWS


def test_where_filters_on_sql_sources_and_is_refused_elsewhere(store: Store) -> None:
    _written(store)
    if store.kind in SQL:
        got = store.read(where="id < 10")
        assert sorted(got.column("id").to_pylist()) == list(range(10))
    else:
        with pytest.raises(ConfigError, match=r"source\.where needs a SQL source"):
            store.read(where="id < 10")


def test_unknown_table_is_terminal(store: Store) -> None:
    src = _written(store).source()
    with pytest.raises(TableNotFound) as info:
        list(src.read("nobody"))
    assert not info.value.transient


def test_modes_replace_append_fail(store: Store) -> None:
    sink = _written(store).sink()
    sink.write("people", iter(DATA.to_batches()), schema=SCHEMA, mode=WriteMode.REPLACE)
    assert store.read().num_rows == ROWS
    sink.write("people", iter(DATA.slice(0, 5).to_batches()), schema=SCHEMA, mode=WriteMode.APPEND)
    assert store.read().num_rows == ROWS + 5
    with pytest.raises(TargetNotWritable, match="already exists"):
        sink.check_writable("people", mode=WriteMode.FAIL)
    with pytest.raises(TargetNotWritable, match="already exists"):
        sink.write("people", iter(DATA.to_batches()), schema=SCHEMA, mode=WriteMode.FAIL)
    assert store.read().num_rows == ROWS + 5


def test_idempotency_key_repeat_is_a_no_op(store: Store) -> None:
    sink = _written(store).sink()
    extra = DATA.slice(0, 7)
    first = sink.write(
        "people",
        iter(extra.to_batches()),
        schema=SCHEMA,
        mode=WriteMode.APPEND,
        idempotency_key="rel-1",
    )
    again = sink.write(
        "people",
        iter(extra.to_batches()),
        schema=SCHEMA,
        mode=WriteMode.APPEND,
        idempotency_key="rel-1",
    )
    assert again == first
    assert store.read().num_rows == ROWS + 7
    with pytest.raises(TargetNotWritable, match="other content"):
        sink.write(
            "people",
            iter(DATA.slice(0, 3).to_batches()),
            schema=SCHEMA,
            mode=WriteMode.APPEND,
            idempotency_key="rel-1",
        )
    assert store.read().num_rows == ROWS + 7


def test_a_failing_batch_stream_leaves_the_target_unchanged(store: Store) -> None:
    sink = _written(store).sink()

    def broken() -> Iterator[pa.RecordBatch]:
        yield from DATA.slice(0, 50).to_batches()
        raise OSError("disk full")

    # the caller's error comes through (files report it as a SinkError)
    with pytest.raises((OSError, SinkError), match=r"disk full|OSError"):
        sink.write("people", broken(), schema=SCHEMA, mode=WriteMode.REPLACE)
    assert store.read().num_rows == ROWS


def test_exact_decimals_survive_where_the_store_keeps_them(store: Store) -> None:
    schema = TableSchema(
        "money", (ColumnSchema("amount", LogicalType.DECIMAL, True, "NUMERIC(12, 2)"),)
    )
    values = [Decimal("0.10"), Decimal("12345678.99"), None, Decimal("-0.01")]
    table = pa.table({"amount": pa.array(values, pa.decimal128(12, 2))})
    store.sink().write("money", iter(table.to_batches()), schema=schema, mode=WriteMode.REPLACE)
    if store.kind == "csv":
        return  # a CSV file holds no types; its reader infers them
    src = store.source()
    got = pa.Table.from_batches(list(src.read("money"))).column("amount").to_pylist()
    assert got == values
