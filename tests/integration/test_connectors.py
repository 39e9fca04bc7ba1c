from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from synthgate.contracts import LogicalType, WriteMode
from synthgate.errors import (
    ConfigError,
    SourceNotFound,
    TableNotFound,
    TargetNotWritable,
    UnsupportedType,
)
from synthgate.sources import open_sink, open_source


def test_sqlite_schema_reflects_types_keys_and_declared_domains(demo_db: Path) -> None:
    src = open_source(f"sqlite:///{demo_db}")
    schema = src.schema("customers")
    assert schema.primary_key == ("customer_id",)
    types = {c.name: c.type for c in schema.columns}
    assert types["customer_id"] is LogicalType.IDENTIFIER
    assert types["monthly_spend"] is LogicalType.FLOAT
    assert types["date_of_birth"] is LogicalType.DATE
    assert types["churned"] is LogicalType.BOOLEAN
    assert types["plan"] is LogicalType.CATEGORICAL
    assert schema.column("plan").domain == ("free", "pro", "enterprise")
    assert schema.column("region").domain == ("north", "south", "east", "west", "central")
    assert not schema.column("name").nullable
    assert src.row_count("customers") == 300


def test_sqlite_reads_in_bounded_typed_chunks(demo_db: Path) -> None:
    src = open_source(f"sqlite:///{demo_db}")
    batches = list(src.read("customers", chunk_rows=128))
    assert [b.num_rows for b in batches] == [128, 128, 44]
    assert batches[0].schema.field("date_of_birth").type == pa.date32()
    assert batches[0].schema.field("churned").type == pa.bool_()
    cols = list(src.read("customers", columns=["plan", "age"]))
    assert cols[0].schema.names == ["plan", "age"]


def test_missing_table_lists_the_tables_that_exist(demo_db: Path) -> None:
    with pytest.raises(
        TableNotFound, match=r"table 'custmers' does not exist .*tables there: customers"
    ):
        open_source(f"sqlite:///{demo_db}").schema("custmers")


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound):
        open_source(f"sqlite:///{tmp_path / 'nope.db'}")
    assert not (tmp_path / "nope.db").exists()


def test_garbage_in_a_typed_column_is_a_clear_error_without_values(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    eng = sa.create_engine(f"sqlite:///{db}")
    with eng.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (n INTEGER, d DATE)")
        c.exec_driver_sql(
            "INSERT INTO t VALUES (1, '2020-01-01'), ('secret-garbage', '2020-01-02')"
        )
    with pytest.raises(UnsupportedType) as info:
        list(open_source(f"sqlite:///{db}").read("t"))
    assert "column 'n'" in str(info.value)
    assert "secret-garbage" not in str(info.value)


def test_csv_and_parquet_sources(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, 1.5, 2.5]})
    frame.to_csv(tmp_path / "t1.csv", index=False)
    frame.to_parquet(tmp_path / "t2.parquet", index=False)
    src = open_source(str(tmp_path))
    assert src.list_tables() == ["t1", "t2"]
    for table in ("t1", "t2"):
        schema = src.schema(table)
        assert [c.type for c in schema.columns] == [
            LogicalType.INTEGER,
            LogicalType.TEXT,
            LogicalType.FLOAT,
        ]
        got = pa.Table.from_batches(list(src.read(table))).to_pandas()
        assert got["a"].tolist() == [1, 2, 3]
    single = open_source(str(tmp_path / "t1.csv"))
    assert single.list_tables() == ["t1"]
    with pytest.raises(TableNotFound, match="tables there: t1, t2"):
        src.schema("t3")


@pytest.mark.parametrize("target", ["sqlite", "parquet", "memory"])
def test_sink_replace_append_fail(tmp_path: Path, target: str) -> None:
    src = open_source(str(_csv(tmp_path)))
    schema = src.schema("data")
    url = {
        "sqlite": f"sqlite:///{tmp_path / 'out.db'}",
        "parquet": str(tmp_path / "out") + "/",
        "memory": f"memory://sink-{tmp_path.name}",
    }[target]
    if target == "parquet":
        (tmp_path / "out").mkdir()
    sink = open_sink(url)
    r1 = sink.write("data", src.read("data"), schema=schema, mode=WriteMode.REPLACE)
    r2 = sink.write("data", src.read("data"), schema=schema, mode=WriteMode.REPLACE)
    assert r1.rows == r2.rows == 3
    assert r1.content_hash == r2.content_hash
    sink.write("data", src.read("data"), schema=schema, mode=WriteMode.APPEND)
    readback = open_source(url.rstrip("/") + ("/" if target == "parquet" else ""))
    assert readback.row_count("data") == 6
    with pytest.raises(TargetNotWritable, match="already exists"):
        sink.check_writable("data", mode=WriteMode.FAIL)


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}).to_csv(path, index=False)
    return path


def test_failed_sqlite_write_leaves_target_unchanged(tmp_path: Path) -> None:
    src = open_source(str(_csv(tmp_path)))
    schema = src.schema("data")
    url = f"sqlite:///{tmp_path / 'out.db'}"
    sink = open_sink(url)
    sink.write("data", src.read("data"), schema=schema, mode=WriteMode.REPLACE)

    def broken() -> object:
        yield from src.read("data")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        sink.write("data", broken(), schema=schema, mode=WriteMode.REPLACE)  # type: ignore[arg-type]
    eng = sa.create_engine(url)
    with eng.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM data").scalar_one() == 3
        names = [
            r[0] for r in c.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")
        ]
    assert names == ["data"]


def test_unwritable_target_directory(tmp_path: Path) -> None:
    with pytest.raises(TargetNotWritable, match="does not exist"):
        open_sink(f"sqlite:///{tmp_path / 'missing' / 'x.db'}").check_writable(
            "t", mode=WriteMode.REPLACE
        )


def test_unknown_url_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no connector accepts 'ftp://x/y'"):
        open_source("ftp://x/y")


# --------------------------------------------------------------------------- retry and errors


def test_transient_errors_are_retried_with_growing_backoff_then_raised() -> None:
    from synthgate.errors import ConnectionFailed
    from synthgate_connectors._retry import RetryPolicy, retry

    waits: list[float] = []
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionFailed("server starting")
        return "ok"

    policy = RetryPolicy(attempts=3, base_delay=1.0, factor=4.0, max_delay=10.0)
    assert retry(flaky, policy=policy, sleep=waits.append) == "ok"
    assert len(calls) == 3
    assert 0.5 <= waits[0] <= 1.0
    assert 2.0 <= waits[1] <= 4.0

    def down() -> str:
        calls.append(1)
        raise ConnectionFailed("still down")

    calls.clear()
    waits.clear()
    with pytest.raises(ConnectionFailed, match="still down"):
        retry(down, policy=policy, sleep=waits.append)
    assert len(calls) == 3
    assert len(waits) == 2


def test_terminal_errors_are_not_retried() -> None:
    from synthgate_connectors._retry import retry

    calls: list[int] = []

    def missing() -> None:
        calls.append(1)
        raise TableNotFound("no such table")

    with pytest.raises(TableNotFound):
        retry(missing, sleep=lambda _s: None)
    assert calls == [1]


def test_driver_messages_lose_quoted_values_and_extra_lines() -> None:
    from sqlalchemy.engine import make_url

    from synthgate.errors import SinkError
    from synthgate_connectors.sql._engine import sink_error

    class FakeDriverError(Exception):
        pass

    exc = FakeDriverError(1062, "Duplicate entry 'alice@example.com' for key 'PRIMARY'\nmore")
    err = sink_error(exc, make_url("mysql+pymysql://u:pw-secret@h/db"), table="t")
    assert isinstance(err, SinkError)
    assert not err.transient
    text = str(err)
    assert "alice@example.com" not in text
    assert "pw-secret" not in text
    assert "Duplicate entry" in text
    assert "\n" not in text
    pg_style = FakeDriverError('invalid input syntax for type integer: "secret-42"')
    assert "secret-42" not in str(sink_error(pg_style, make_url("postgresql://h/db"), table="t"))
