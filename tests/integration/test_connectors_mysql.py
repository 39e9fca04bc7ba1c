"""The SQL connector against the MariaDB server of this machine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from tests._dbservers import MY_HOST, MY_PORT, MyDb, mysql_database

from synthgate.config import SourceSpec
from synthgate.contracts import ForeignKey, LogicalType, TableSchema, WriteMode
from synthgate.errors import (
    AuthenticationFailed,
    ConfigError,
    SinkError,
    TableNotFound,
    TargetNotWritable,
    UnsupportedType,
)
from synthgate.sources import open_sink, open_source

CANARY = "Canary-Pw-5e1b2"

ALL_TYPES = [
    "CREATE TABLE parent (id int PRIMARY KEY)",
    """CREATE TABLE every (
        id bigint PRIMARY KEY,
        small smallint,
        i int NOT NULL,
        f double,
        price decimal(12, 2) NOT NULL,
        flag tinyint(1),
        yes boolean NOT NULL,
        born date,
        seen datetime(6),
        note text,
        code varchar(20) CHECK (code IN ('a', 'b''c', 'x y')),
        feeling enum('sad', 'ok', 'happy'),
        token char(36) UNIQUE,
        parent_id int,
        FOREIGN KEY (parent_id) REFERENCES parent (id)
    )""",
    "INSERT INTO parent VALUES (1)",
    """INSERT INTO every VALUES
     (1, 2, 3, 0.1, 12.50, 1, 0, '2024-01-02', '2024-01-02 03:04:05.123456',
      'multi\\nline, "quoted", \\\\ back', 'b''c', 'happy',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1),
     (2, NULL, -4, 1e300, -0.01, 0, 1, '1900-02-28', NULL, '', NULL, NULL, NULL, NULL),
     (3, -32768, 2147483647, -2.5e-300, 9999999999.99, NULL, 1, NULL,
      '1999-12-31 23:59:59', 'ünïcødé ✓', 'x y', 'sad', NULL, NULL)""",
]


@pytest.fixture
def my() -> Iterator[MyDb]:
    yield from mysql_database()


def _table(url: str, name: str, **kwargs: object) -> pa.Table:
    src = open_source(url)
    try:
        return pa.Table.from_batches(list(src.read(name, **kwargs)))  # type: ignore[arg-type]
    finally:
        src.close()


def _setup(my: MyDb) -> None:
    for sql in ALL_TYPES:
        my.execute(sql)


def _numbers(my: MyDb, rows: int) -> None:
    my.execute("CREATE TABLE nums (id int PRIMARY KEY, bucket int, label varchar(40))")
    my.execute("INSERT INTO nums SELECT seq, seq % 7, MD5(seq) FROM seq_1_to_" + str(rows))


def test_reflects_types_keys_and_declared_domains(my: MyDb) -> None:
    _setup(my)
    schema = open_source(my.url).schema("every")
    assert {c.name: c.type for c in schema.columns} == {
        "id": LogicalType.IDENTIFIER,
        "small": LogicalType.INTEGER,
        "i": LogicalType.INTEGER,
        "f": LogicalType.FLOAT,
        "price": LogicalType.DECIMAL,
        "flag": LogicalType.BOOLEAN,
        "yes": LogicalType.BOOLEAN,
        "born": LogicalType.DATE,
        "seen": LogicalType.DATETIME,
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
    assert not schema.column("yes").nullable
    assert schema.column("flag").nullable
    assert open_source(my.url).row_count("every") == 3
    assert open_source(my.url).list_tables() == ["every", "parent"]


def test_reads_exact_values(my: MyDb) -> None:
    _setup(my)
    got = _table(my.url, "every")
    assert got.schema.field("price").type == pa.decimal128(12, 2)
    assert got.schema.field("flag").type == pa.bool_()
    assert got.schema.field("seen").type == pa.timestamp("us")
    first, second, third = got.to_pylist()
    assert first["price"] == Decimal("12.50")
    assert (first["flag"], first["yes"], second["flag"], third["flag"]) == (
        True,
        False,
        False,
        None,
    )
    assert first["f"] == 0.1
    assert second["f"] == 1e300
    assert third["f"] == -2.5e-300
    assert first["seen"] == datetime(2024, 1, 2, 3, 4, 5, 123456)
    assert first["note"] == 'multi\nline, "quoted", \\ back'
    assert second["note"] == ""
    assert second["small"] is None
    assert second["born"] == date(1900, 2, 28)
    assert third["note"] == "ünïcødé ✓"


def test_tinyint1_outside_0_1_is_refused_not_guessed(my: MyDb) -> None:
    my.execute("CREATE TABLE flags (f tinyint(1))")
    my.execute("INSERT INTO flags VALUES (1), (7)")
    with pytest.raises(UnsupportedType, match="column 'f'") as info:
        _table(my.url, "flags")
    assert "7" not in str(info.value)


def test_round_trip_of_every_supported_type_is_exact(my: MyDb) -> None:
    _setup(my)
    src = open_source(my.url)
    schema = src.schema("every")
    before = _table(my.url, "every")
    open_sink(my.url).write(
        "copy_of_every",
        iter(before.to_batches(max_chunksize=2)),
        schema=schema,
        mode=WriteMode.FAIL,
    )
    after = _table(my.url, "copy_of_every")
    assert after.schema == before.schema
    assert after.to_pylist() == before.to_pylist()
    again = src.schema("copy_of_every")
    for old, new in zip(schema.columns, again.columns, strict=True):
        assert (new.name, new.nullable, new.domain) == (old.name, old.nullable, old.domain)
        expected = LogicalType.TEXT if old.name == "token" else old.type
        expected = LogicalType.INTEGER if old.name == "id" else expected
        assert new.type is expected, new.name  # keys are not recreated on a target


def test_reads_stream_in_chunks_with_where_columns_and_sample(my: MyDb) -> None:
    _numbers(my, 1000)
    batches = list(open_source(my.url).read("nums", chunk_rows=300))
    assert [b.num_rows for b in batches] == [300, 300, 300, 100]
    filtered = _table(my.url, "nums", where="bucket = 3 AND id <= 500", columns=["id", "bucket"])
    assert filtered.column_names == ["id", "bucket"]
    assert filtered.num_rows == len([i for i in range(1, 501) if i % 7 == 3])
    one = set(_table(my.url, "nums", sample_rows=50, columns=["id"]).column("id").to_pylist())
    two = set(_table(my.url, "nums", sample_rows=50, columns=["id"]).column("id").to_pylist())
    assert len(one) == 50
    assert one <= set(range(1, 1001))
    assert one != two
    with pytest.raises(ConfigError, match="does not have: nope"):
        _table(my.url, "nums", columns=["nope"])


def test_other_types_read_as_text_and_binary_is_refused(my: MyDb) -> None:
    my.execute("CREATE TABLE odd (t time, y year, doc json, b blob)")
    my.execute("""INSERT INTO odd VALUES ('12:00:01', 2024, '{"a": 1}', x'00ff')""")
    got = _table(my.url, "odd", columns=["t", "y", "doc"]).to_pylist()
    assert got == [{"t": "12:00:01", "y": "2024", "doc": '{"a": 1}'}]
    with pytest.raises(UnsupportedType, match=r"column 'b' of 'odd' holds binary data"):
        _table(my.url, "odd")


def test_unknown_table_is_terminal(my: MyDb) -> None:
    _numbers(my, 3)
    with pytest.raises(TableNotFound, match="tables there: nums") as info:
        open_source(my.url).schema("numz")
    assert not info.value.transient


def test_wrong_password_is_terminal_and_never_printed(my: MyDb, tmp_path: Path) -> None:
    user = my.database[-12:]
    my.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{CANARY}'")
    try:
        my.execute(f"GRANT SELECT ON `{my.database}`.* TO '{user}'@'127.0.0.1'")
        (tmp_path / "pw").write_text(CANARY + "\n")
        spec = SourceSpec(
            url=f"mysql://{user}@{MY_HOST}:{MY_PORT}/{my.database}",
            table="t",
            password_file=tmp_path / "pw",
        )
        assert open_source(spec.url).list_tables() == []
        with pytest.raises(AuthenticationFailed, match="refused the credentials") as info:
            open_source(
                f"mysql://{user}:wrong-{CANARY}@{MY_HOST}:{MY_PORT}/{my.database}"
            ).list_tables()
        assert not info.value.transient
        assert CANARY not in str(info.value)
        assert "wrong-" not in str(info.value)
        with pytest.raises(TargetNotWritable, match="refused the credentials") as sink_info:
            open_sink(
                f"mysql://{user}:wrong-{CANARY}@{MY_HOST}:{MY_PORT}/{my.database}"
            ).check_writable("t", mode=WriteMode.REPLACE)
        assert CANARY not in str(sink_info.value)
    finally:
        my.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")


# --------------------------------------------------------------------------- writes


def _frame_schema(my: MyDb) -> tuple[TableSchema, pa.Table]:
    my.execute(
        "CREATE TABLE src (id bigint NOT NULL, amount decimal(10, 2) NOT NULL, label text, "
        "tier enum('free', 'pro'))"
    )
    my.execute(
        "INSERT INTO src SELECT seq, seq * 1.25, CONCAT('row ', seq), "
        "IF(seq % 2 = 0, 'free', 'pro') FROM seq_1_to_100"
    )
    return open_source(my.url).schema("src"), _table(my.url, "src")


def _count(my: MyDb, table: str) -> int:
    return int(my.execute(f"SELECT count(*) FROM `{table}`")[0][0])


def _leftovers(my: MyDb) -> list[str]:
    rows = my.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
        "AND table_name LIKE '\\_sg\\_%'"
    )
    return [r[0] for r in rows]


def test_replace_append_fail_and_idempotency(my: MyDb) -> None:
    schema, data = _frame_schema(my)
    sink = open_sink(my.url)
    sink.write("out", iter(data.to_batches(30)), schema=schema, mode=WriteMode.REPLACE)
    sink.write("out", iter(data.to_batches(30)), schema=schema, mode=WriteMode.REPLACE)
    assert _count(my, "out") == 100
    one = sink.write(
        "out",
        iter(data.to_batches(30)),
        schema=schema,
        mode=WriteMode.APPEND,
        idempotency_key="release-1",
    )
    two = sink.write(
        "out",
        iter(data.to_batches(30)),
        schema=schema,
        mode=WriteMode.APPEND,
        idempotency_key="release-1",
    )
    assert one == two
    assert _count(my, "out") == 200
    with pytest.raises(TargetNotWritable, match="other content"):
        sink.write(
            "out",
            iter(data.slice(0, 5).to_batches()),
            schema=schema,
            mode=WriteMode.APPEND,
            idempotency_key="release-1",
        )
    with pytest.raises(TargetNotWritable, match="already exists"):
        sink.write("out", iter(data.to_batches()), schema=schema, mode=WriteMode.FAIL)
    assert _count(my, "out") == 200
    assert _leftovers(my) == []


def _kill_before_batch(my: MyDb, data: pa.Table, at: int) -> Iterator[pa.RecordBatch]:
    for i, batch in enumerate(data.to_batches(25)):
        if i == at:
            ids = my.execute(
                "SELECT id FROM information_schema.processlist "
                "WHERE db = %s AND id <> CONNECTION_ID()",
                (my.database,),
            )
            assert ids
            for (pid,) in ids:
                my.execute(f"KILL {int(pid)}")
        yield batch


def test_connection_killed_mid_write_leaves_target_unchanged(my: MyDb) -> None:
    schema, data = _frame_schema(my)
    sink = open_sink(my.url)
    sink.write("out", iter(data.slice(0, 7).to_batches()), schema=schema, mode=WriteMode.REPLACE)
    with pytest.raises(SinkError, match="target is unchanged") as info:
        sink.write("out", _kill_before_batch(my, data, 2), schema=schema, mode=WriteMode.REPLACE)
    assert info.value.transient
    assert _count(my, "out") == 7
    assert _leftovers(my) == []  # the staging table was dropped over a fresh connection
    open_sink(my.url).write("out", iter(data.to_batches()), schema=schema, mode=WriteMode.REPLACE)
    assert _count(my, "out") == 100


def test_constraint_violation_half_way_leaves_target_unchanged(my: MyDb) -> None:
    schema, data = _frame_schema(my)
    sink = open_sink(my.url)
    sink.write("out", iter(data.to_batches(50)), schema=schema, mode=WriteMode.REPLACE)
    amounts = data.column("amount").to_pylist()
    amounts[60] = None
    broken = data.set_column(1, "amount", pa.array(amounts, pa.decimal128(10, 2)))
    with pytest.raises(SinkError, match="cannot be null") as info:
        sink.write("out", iter(broken.to_batches(25)), schema=schema, mode=WriteMode.APPEND)
    assert not info.value.transient
    tiers = data.column("tier").to_pylist()
    tiers[80] = "enterprise-secret"
    with pytest.raises(SinkError) as info2:
        sink.write(
            "out",
            iter(data.set_column(3, "tier", pa.array(tiers)).to_batches(25)),
            schema=schema,
            mode=WriteMode.REPLACE,
        )
    assert "enterprise-secret" not in str(info2.value)
    assert _count(my, "out") == 100
    assert _leftovers(my) == []


def test_a_dead_writers_leftovers_are_dropped_and_a_live_writers_are_kept(my: MyDb) -> None:
    import pymysql

    from synthgate_connectors.sql._write import name_lock

    schema, data = _frame_schema(my)
    # what a writer killed with -9 leaves: its tables, and its named locks freed by the server
    my.execute("CREATE TABLE _sg_stage_dead00000001 (id int)")
    my.execute("CREATE TABLE _sg_old_dead00000002 (id int)")
    # a writer still running: its staging table exists and its session holds the name's lock
    live = "_sg_stage_live00000003"
    my.execute(f"CREATE TABLE {live} (id int)")
    holder = pymysql.connect(host=MY_HOST, port=MY_PORT, user="root", database=my.database)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 0)", (name_lock(my.database, live),))
            assert cur.fetchone() == (1,)
        open_sink(my.url).write(
            "out", iter(data.to_batches()), schema=schema, mode=WriteMode.REPLACE
        )
        assert _leftovers(my) == [live]
    finally:
        holder.close()  # the live writer ends: its lock goes with its session
    open_sink(my.url).write("out", iter(data.to_batches()), schema=schema, mode=WriteMode.REPLACE)
    assert _leftovers(my) == []
    assert _count(my, "out") == 100
