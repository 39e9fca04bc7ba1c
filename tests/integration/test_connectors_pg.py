"""The SQL connector against the PostgreSQL server of this machine."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from tests._dbservers import PG_HOST, PG_PORT, PgDb, pg_database

from synthgate.config import SourceSpec
from synthgate.contracts import ForeignKey, LogicalType, TableSchema, WriteMode
from synthgate.errors import (
    ConfigError,
    ConnectionFailed,
    SinkError,
    SourceError,
    TableNotFound,
    TargetNotWritable,
    UnsupportedType,
)
from synthgate.sources import open_sink, open_source

CANARY = "Canary-Pw-7f3a9"

ALL_TYPES = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE parent (id integer PRIMARY KEY);
CREATE TABLE every (
    id bigint PRIMARY KEY,
    small smallint,
    i integer NOT NULL,
    f double precision,
    r real,
    price numeric(12, 2) NOT NULL,
    n numeric,
    flag boolean,
    born date,
    seen timestamp,
    at timestamptz,
    note text,
    code varchar(20) CHECK (code IN ('a', 'b''c', 'x y')),
    feeling mood,
    token uuid UNIQUE,
    parent_id integer REFERENCES parent (id)
);
INSERT INTO parent VALUES (1);
INSERT INTO every VALUES
 (1, 2, 3, 0.1, 0.1, 12.50, 3.14159, true, '2024-01-02', '2024-01-02 03:04:05.123456',
  '2024-01-02 03:04:05.123456+02', E'multi\\nline, "quoted", \\\\ back', 'b''c', 'happy',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1),
 (2, NULL, -4, 1e300, NULL, -0.01, NULL, false, '1900-02-28', NULL, NULL, '', NULL, NULL,
  NULL, NULL),
 (3, -32768, 2147483647, -2.5e-300, 3.5, 9999999999.99, 123456789.123456789, NULL, NULL,
  '1999-12-31 23:59:59', '1970-01-01 00:00:00+00', 'ünïcødé ✓', 'x y', 'sad', NULL, NULL);
"""


@pytest.fixture
def pg() -> Iterator[PgDb]:
    yield from pg_database()


def _table(url: str, name: str, **kwargs: object) -> pa.Table:
    src = open_source(url)
    try:
        return pa.Table.from_batches(list(src.read(name, **kwargs)))  # type: ignore[arg-type]
    finally:
        src.close()


def _numbers(pg: PgDb, rows: int) -> None:
    pg.execute(
        "CREATE TABLE nums AS SELECT g AS id, g % 7 AS bucket, md5(g::text) AS label "
        f"FROM generate_series(1, {rows}) g"
    )


def test_reflects_types_keys_and_declared_domains(pg: PgDb) -> None:
    pg.execute(ALL_TYPES)
    schema = open_source(pg.url).schema("every")
    types = {c.name: c.type for c in schema.columns}
    assert types == {
        "id": LogicalType.IDENTIFIER,
        "small": LogicalType.INTEGER,
        "i": LogicalType.INTEGER,
        "f": LogicalType.FLOAT,
        "r": LogicalType.FLOAT,
        "price": LogicalType.DECIMAL,
        "n": LogicalType.DECIMAL,
        "flag": LogicalType.BOOLEAN,
        "born": LogicalType.DATE,
        "seen": LogicalType.DATETIME,
        "at": LogicalType.DATETIME,
        "note": LogicalType.TEXT,
        "code": LogicalType.CATEGORICAL,
        "feeling": LogicalType.CATEGORICAL,
        "token": LogicalType.IDENTIFIER,
        "parent_id": LogicalType.INTEGER,
    }
    assert schema.primary_key == ("id",)
    assert schema.foreign_keys == (ForeignKey(("parent_id",), "parent", ("id",)),)
    assert schema.unique == (("token",),)
    assert schema.column("feeling").domain == ("sad", "ok", "happy")
    assert schema.column("code").domain == ("a", "b'c", "x y")
    assert schema.column("note").domain is None
    assert not schema.column("i").nullable
    assert not schema.column("price").nullable
    assert schema.column("f").nullable
    assert schema.column("price").native_type == "NUMERIC(12, 2)"
    assert schema.column("at").native_type == "TIMESTAMP WITH TIME ZONE"
    assert open_source(pg.url).row_count("every") == 3
    assert open_source(pg.url).list_tables() == ["every", "parent"]


def test_reads_exact_values_into_typed_arrow_batches(pg: PgDb) -> None:
    pg.execute(ALL_TYPES)
    got = _table(pg.url, "every")
    assert got.schema.field("price").type == pa.decimal128(12, 2)
    assert got.schema.field("n").type == pa.decimal128(38, 9)
    assert got.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert got.schema.field("seen").type == pa.timestamp("us")
    assert got.schema.field("born").type == pa.date32()
    assert got.schema.field("flag").type == pa.bool_()
    first, second, third = got.to_pylist()
    assert first["price"] == Decimal("12.50")
    assert first["f"] == 0.1
    assert first["r"] == pytest.approx(0.1, rel=1e-6)
    assert first["at"] == datetime(2024, 1, 2, 1, 4, 5, 123456, tzinfo=UTC)
    assert first["seen"] == datetime(2024, 1, 2, 3, 4, 5, 123456)
    assert first["note"] == 'multi\nline, "quoted", \\ back'
    assert first["token"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert second["note"] == ""  # an empty string is not NULL
    assert second["small"] is None
    assert second["f"] == 1e300
    assert second["born"] == date(1900, 2, 28)
    assert third["n"] == Decimal("123456789.123456789")
    assert third["price"] == Decimal("9999999999.99")
    assert third["note"] == "ünïcødé ✓"


def test_round_trip_of_every_supported_type_is_exact(pg: PgDb) -> None:
    pg.execute(ALL_TYPES)
    src = open_source(pg.url)
    schema = src.schema("every")
    before = _table(pg.url, "every")
    result = open_sink(pg.url).write(
        "copy_of_every",
        iter(before.to_batches(max_chunksize=2)),
        schema=schema,
        mode=WriteMode.FAIL,
    )
    assert result.rows == 3
    after = _table(pg.url, "copy_of_every")
    assert after.schema == before.schema
    assert after.to_pylist() == before.to_pylist()
    again = src.schema("copy_of_every")
    for old, new in zip(schema.columns, again.columns, strict=True):
        assert (new.name, new.nullable, new.domain) == (old.name, old.nullable, old.domain)
        # keys are not recreated on a target, so a key column reads back as its plain type
        expected = LogicalType.INTEGER if old.name == "id" else old.type
        assert new.type is expected, new.name
    assert again.column("price").native_type == "NUMERIC(12, 2)"
    assert again.column("n").native_type == "NUMERIC"
    assert again.column("token").native_type == "UUID"
    assert again.column("r").native_type == "REAL"


def test_reads_stream_in_bounded_chunks(pg: PgDb) -> None:
    _numbers(pg, 1000)
    batches = list(open_source(pg.url).read("nums", chunk_rows=300))
    assert [b.num_rows for b in batches] == [300, 300, 300, 100]
    assert pa.Table.from_batches(batches).column("id").to_pylist() == list(range(1, 1001))


def test_where_filter_columns_and_uniform_sample(pg: PgDb) -> None:
    _numbers(pg, 1000)
    filtered = _table(pg.url, "nums", where="bucket = 3 AND id <= 500", columns=["id", "bucket"])
    assert filtered.column_names == ["id", "bucket"]
    assert set(filtered.column("bucket").to_pylist()) == {3}
    assert filtered.num_rows == len([i for i in range(1, 501) if i % 7 == 3])
    one = _table(pg.url, "nums", sample_rows=50, columns=["id"]).column("id").to_pylist()
    two = _table(pg.url, "nums", sample_rows=50, columns=["id"]).column("id").to_pylist()
    assert len(one) == len(set(one)) == 50
    assert set(one) <= set(range(1, 1001))
    assert set(one) != set(two)  # a fixed subset would be a bias, not a sample
    everything = _table(pg.url, "nums", sample_rows=5000, columns=["id"])
    assert everything.num_rows == 1000
    sampled = _table(pg.url, "nums", sample_rows=10, where="bucket = 0")
    assert sampled.num_rows == 10
    assert set(sampled.column("bucket").to_pylist()) == {0}


def test_bad_where_is_a_clear_error(pg: PgDb) -> None:
    _numbers(pg, 10)
    with pytest.raises(SourceError, match="while reading 'nums'") as info:
        _table(pg.url, "nums", where="no_such_column = 'secret-value'")
    assert "secret-value" not in str(info.value)
    with pytest.raises(ConfigError, match="does not have: nope"):
        _table(pg.url, "nums", columns=["id", "nope"])


def test_types_without_a_logical_type_read_as_their_text_and_binary_is_refused(
    pg: PgDb,
) -> None:
    pg.execute(
        "CREATE TABLE odd (id int, doc jsonb, span interval, tags text[], blob bytea);"
        """INSERT INTO odd VALUES (1, '{"b": 1, "a": [1, 2]}', '1 day 02:00:00', '{x,y}', '\\x00ff')"""
    )
    schema = open_source(pg.url).schema("odd")
    assert [(c.name, c.type, c.native_type) for c in schema.columns[1:4]] == [
        ("doc", LogicalType.TEXT, "JSONB"),
        ("span", LogicalType.TEXT, "INTERVAL"),
        ("tags", LogicalType.TEXT, "TEXT[]"),
    ]
    got = _table(pg.url, "odd", columns=["doc", "span", "tags"]).to_pylist()
    assert got == [{"doc": '{"a": [1, 2], "b": 1}', "span": "1 day 02:00:00", "tags": "{x,y}"}]
    with pytest.raises(
        UnsupportedType, match=r"column 'blob' of 'odd' holds binary data \(BYTEA\)"
    ):
        _table(pg.url, "odd")


def test_unknown_table_is_terminal_and_lists_what_exists(pg: PgDb) -> None:
    _numbers(pg, 3)
    with pytest.raises(TableNotFound, match="tables there: nums") as info:
        open_source(pg.url).schema("numz")
    assert not info.value.transient
    with pytest.raises(TableNotFound):
        _table(pg.url, "numz")


def test_unreachable_server_is_transient_retried_and_secret_free() -> None:
    url = f"postgresql://postgres:{CANARY}@127.0.0.1:1/test"
    with pytest.raises(ConnectionFailed) as info:
        open_source(url).list_tables()
    assert info.value.transient
    assert CANARY not in str(info.value)
    assert "\n" not in str(info.value)


def test_wrong_password_is_terminal_and_never_printed(pg: PgDb, tmp_path: Path) -> None:
    role = f"{pg.schema}_role"
    pg.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{CANARY}'")
    try:
        (tmp_path / "pw").write_text(CANARY + "\n")
        spec = SourceSpec(
            url=f"postgresql://{role}@{PG_HOST}:{PG_PORT}/test",
            table="t",
            password_file=tmp_path / "pw",
        )
        assert CANARY in spec.url  # the connector gets it ...
        open_source(spec.url).list_tables()  # ... and it works
        rules = pg.execute(
            "SELECT auth_method FROM pg_hba_file_rules "
            "WHERE type = 'host' AND address = '127.0.0.1' LIMIT 1"
        )
        if rules and rules[0][0] == "trust":
            pytest.skip("this server trusts 127.0.0.1; MariaDB's test checks wrong passwords")
        from synthgate.errors import AuthenticationFailed

        with pytest.raises(AuthenticationFailed) as info:
            open_source(
                f"postgresql://{role}:wrong-{CANARY}@{PG_HOST}:{PG_PORT}/test"
            ).list_tables()
        assert not info.value.transient
        assert CANARY not in str(info.value)
    finally:
        pg.execute(f"DROP ROLE IF EXISTS {role}")


# --------------------------------------------------------------------------- writes


def _frame_schema(pg: PgDb) -> tuple[TableSchema, pa.Table]:
    pg.execute(
        "CREATE TABLE src (id bigint NOT NULL, amount numeric(10, 2) NOT NULL, label text, "
        "tier varchar(10) CHECK (tier IN ('free', 'pro')))"
    )
    pg.execute(
        "INSERT INTO src SELECT g, g * 1.25, 'row ' || g, (ARRAY['free','pro'])[1 + g % 2] "
        "FROM generate_series(1, 100) g"
    )
    return open_source(pg.url).schema("src"), _table(pg.url, "src")


def _count(pg: PgDb, table: str) -> int:
    return int(pg.execute(f'SELECT count(*) FROM "{table}"')[0][0])


def _leftovers(pg: PgDb) -> list[str]:
    rows = pg.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename LIKE '\\_sg\\_%'"
    )
    return [r[0] for r in rows]


def test_replace_append_and_fail_modes(pg: PgDb) -> None:
    schema, data = _frame_schema(pg)
    sink = open_sink(pg.url)
    first = sink.write("out", iter(data.to_batches(30)), schema=schema, mode=WriteMode.REPLACE)
    assert first.rows == 100
    assert _count(pg, "out") == 100
    sink.write("out", iter(data.to_batches(30)), schema=schema, mode=WriteMode.REPLACE)
    assert _count(pg, "out") == 100
    sink.write("out", iter(data.to_batches(30)), schema=schema, mode=WriteMode.APPEND)
    assert _count(pg, "out") == 200
    with pytest.raises(TargetNotWritable, match="already exists"):
        sink.write("out", iter(data.to_batches(30)), schema=schema, mode=WriteMode.FAIL)
    assert _count(pg, "out") == 200
    nullable = {
        r[0]: r[1]
        for r in pg.execute(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'out'"
        )
    }
    assert nullable == {"id": "NO", "amount": "NO", "label": "YES", "tier": "YES"}
    assert _leftovers(pg) == []


def test_idempotency_key_makes_a_repeat_a_no_op(pg: PgDb) -> None:
    schema, data = _frame_schema(pg)
    sink = open_sink(pg.url)
    one = sink.write(
        "pub",
        iter(data.to_batches(40)),
        schema=schema,
        mode=WriteMode.APPEND,
        idempotency_key="release-1",
    )
    two = sink.write(
        "pub",
        iter(data.to_batches(40)),
        schema=schema,
        mode=WriteMode.APPEND,
        idempotency_key="release-1",
    )
    assert one == two
    assert _count(pg, "pub") == 100
    sink.write(
        "pub",
        iter(data.to_batches(40)),
        schema=schema,
        mode=WriteMode.APPEND,
        idempotency_key="release-2",
    )
    assert _count(pg, "pub") == 200
    with pytest.raises(TargetNotWritable, match="other content"):
        sink.write(
            "pub",
            iter(data.slice(0, 10).to_batches()),
            schema=schema,
            mode=WriteMode.APPEND,
            idempotency_key="release-1",
        )
    assert _count(pg, "pub") == 200
    assert "_synthgate_writes" not in open_source(pg.url).list_tables()


def _kill_before_batch(pg: PgDb, data: pa.Table, at: int) -> Iterator[pa.RecordBatch]:
    """Yield batches; before batch *at*, terminate the backend that is loading them."""
    for i, batch in enumerate(data.to_batches(25)):
        if i == at:
            killed = pg.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid() "
                "AND query ILIKE 'COPY%%'",
                (pg.schema,),
            )
            assert killed == [(True,)]
        yield batch


def test_connection_killed_mid_write_leaves_target_unchanged(pg: PgDb) -> None:
    schema, data = _frame_schema(pg)
    sink = open_sink(pg.url)
    sink.write("out", iter(data.slice(0, 7).to_batches()), schema=schema, mode=WriteMode.REPLACE)
    with pytest.raises(SinkError, match="target is unchanged") as info:
        sink.write(
            "out",
            _kill_before_batch(pg, data, 2),
            schema=schema,
            mode=WriteMode.REPLACE,
            idempotency_key="k",
        )
    assert info.value.transient
    assert _count(pg, "out") == 7
    assert _leftovers(pg) == []
    done = open_sink(pg.url).write(
        "out", iter(data.to_batches(25)), schema=schema, mode=WriteMode.REPLACE, idempotency_key="k"
    )
    assert done.rows == 100
    assert _count(pg, "out") == 100


def test_constraint_violation_half_way_leaves_target_unchanged(pg: PgDb) -> None:
    schema, data = _frame_schema(pg)
    sink = open_sink(pg.url)
    sink.write("out", iter(data.to_batches(50)), schema=schema, mode=WriteMode.REPLACE)
    amounts = data.column("amount").to_pylist()
    amounts[60] = None  # NOT NULL in the schema
    broken = data.set_column(1, "amount", pa.array(amounts, pa.decimal128(10, 2)))
    with pytest.raises(SinkError, match="not-null") as info:
        sink.write("out", iter(broken.to_batches(25)), schema=schema, mode=WriteMode.REPLACE)
    assert not info.value.transient
    tiers = data.column("tier").to_pylist()
    tiers[80] = "enterprise"  # outside the declared domain
    with pytest.raises(SinkError, match="check constraint"):
        sink.write(
            "out",
            iter(data.set_column(3, "tier", pa.array(tiers)).to_batches(25)),
            schema=schema,
            mode=WriteMode.APPEND,
        )
    assert _count(pg, "out") == 100
    assert _leftovers(pg) == []


def test_values_never_appear_in_write_errors(pg: PgDb) -> None:
    pg.execute("CREATE TABLE keyed (id text PRIMARY KEY)")
    pg.execute("INSERT INTO keyed VALUES ('secret-row-value')")
    schema = open_source(pg.url).schema("keyed")
    data = pa.table({"id": ["secret-row-value"]})
    with pytest.raises(SinkError) as info:
        open_sink(pg.url).write(
            "keyed", iter(data.to_batches()), schema=schema, mode=WriteMode.APPEND
        )
    assert "secret-row-value" not in str(info.value)
    assert "duplicate key" in str(info.value)


def test_direct_psycopg_sees_the_written_table(pg: PgDb) -> None:
    schema, data = _frame_schema(pg)
    open_sink(pg.url).write("seen", iter(data.to_batches()), schema=schema, mode=WriteMode.REPLACE)
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="test") as conn:
        row = conn.execute(
            f'SELECT sum(amount), count(DISTINCT tier) FROM "{pg.schema}".seen'
        ).fetchone()
    assert row == (Decimal("6312.50"), 2)


# --------------------------------------------------------------------------- command line


def test_inspect_lists_tables_and_describes_one(
    pg: PgDb, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from synthgate.cli import main

    pg.execute(ALL_TYPES)
    pg.execute("ALTER TABLE every ADD COLUMN blob bytea")
    assert main(["inspect", pg.url, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["tables"] == ["every", "parent"]
    assert listed["keys"]["every"] == {"primary_key": ["id"], "unique": [["token"]]}
    assert listed["foreign_keys"] == [
        {
            "child_table": "every",
            "child_columns": ["parent_id"],
            "parent_table": "parent",
            "parent_columns": ["id"],
        }
    ]
    assert main(["inspect", pg.url, "--table", "every", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == 3
    assert out["declared_domains"] == {
        "code": ["a", "b'c", "x y"],
        "feeling": ["sad", "ok", "happy"],
    }
    assert out["unreadable_columns"] == ["blob"]
    assert out["schema"]["primary_key"] == ["id"]
    assert main(["inspect", pg.url, "--table", "nope"]) != 0
    err = capsys.readouterr().err
    assert "table 'nope' does not exist" in err


def test_a_read_stopped_early_or_failing_midway_leaves_the_source_usable(pg: PgDb) -> None:
    _numbers(pg, 1000)
    src = open_source(pg.url)
    stream = src.read("nums", chunk_rows=100)
    assert next(stream).num_rows == 100
    assert isinstance(stream, Generator)
    stream.close()  # the COPY is cut short; its connection is discarded, not reused
    assert sum(b.num_rows for b in src.read("nums", chunk_rows=100)) == 1000
    with pytest.raises(SourceError, match="division by zero") as info:
        list(src.read("nums", chunk_rows=100, where="100 / (id - 900) > -1000"))
    assert not info.value.transient
    assert sum(b.num_rows for b in src.read("nums")) == 1000
