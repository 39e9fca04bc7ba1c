"""Schema-qualified tables and foreign keys on PostgreSQL, MariaDB and SQLite.

Each database holds the same three tables: ``customers`` (a self-reference, a
unique email) in a second schema, ``orders`` (a composite primary key, a
foreign key across schemas) and ``order_lines`` (a composite foreign key whose
columns are named otherwise than the parent's) in the default one.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
from tests._dbservers import mysql_database, pg_database
from tests.unit.test_release_service import make_release

from synthgate.cli import main
from synthgate.contracts import (
    ColumnSchema,
    ForeignKey,
    LogicalType,
    RelationalSource,
    Relationship,
    TableKeys,
    TableSchema,
    WriteMode,
)
from synthgate.errors import ConfigError, TableNotFound, TargetNotWritable
from synthgate.release import Actor, ReleaseStatus, Role, publish
from synthgate.sources import open_sink, open_source, source_key
from synthgate.store import Store

ENG = Actor("erin", Role.ENGINEER, True)


@dataclass
class Db:
    """A database whose default schema is empty but for these tests, and a second schema."""

    url: str
    crm: str  # the second schema (a database on MariaDB)
    execute: Callable[[str], object]  # a statement in the default schema


def _ddl(crm: str, q: str, text: str) -> list[str]:
    c = f"{q}{crm}{q}"
    return [
        f"""CREATE TABLE {c}.customers (
            id integer PRIMARY KEY, email {text} UNIQUE, referred_by integer,
            FOREIGN KEY (referred_by) REFERENCES {c}.customers (id))""",
        f"""CREATE TABLE orders (
            region char(2), order_no integer, customer_id integer NOT NULL,
            PRIMARY KEY (region, order_no),
            FOREIGN KEY (customer_id) REFERENCES {c}.customers (id))""",
        """CREATE TABLE order_lines (
            o_region char(2), o_no integer, line integer, amount integer,
            PRIMARY KEY (o_region, o_no, line),
            FOREIGN KEY (o_region, o_no) REFERENCES orders (region, order_no))""",
        f"INSERT INTO {c}.customers VALUES (1, 'a@x.test', NULL), (2, 'b@x.test', 1)",
        "INSERT INTO orders VALUES ('eu', 1, 1), ('us', 1, 2)",
        "INSERT INTO order_lines VALUES ('eu', 1, 1, 10), ('eu', 1, 2, 20), ('us', 1, 1, 30)",
    ]


@pytest.fixture
def pg() -> Iterator[Db]:
    for db in pg_database():
        crm = f"{db.schema}_crm"
        _pg_admin(f'CREATE SCHEMA "{crm}"')
        try:
            for sql in _ddl(crm, '"', "text"):
                db.execute(sql)
            yield Db(db.url, crm, db.execute)
        finally:
            _pg_admin(f'DROP SCHEMA IF EXISTS "{crm}" CASCADE')


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname="test", autocommit=True
    ) as conn:
        conn.execute(sql)


@pytest.fixture
def my() -> Iterator[Db]:
    for db in mysql_database():
        crm = f"{db.database}_crm"
        db.execute(f"CREATE DATABASE `{crm}` CHARACTER SET utf8mb4")
        try:
            for sql in _ddl(crm, "`", "varchar(100)"):
                db.execute(sql)
            yield Db(db.url, crm, db.execute)
        finally:  # the default database's foreign keys point into crm: they go first
            db.execute("DROP TABLE IF EXISTS order_lines, orders")
            db.execute(f"DROP DATABASE IF EXISTS `{crm}`")


@pytest.fixture(params=["postgresql", "mariadb"])
def server(request: pytest.FixtureRequest) -> Db:
    db: Db = request.getfixturevalue("pg" if request.param == "postgresql" else "my")
    return db


# --------------------------------------------------------------------------- reading


def test_tables_of_every_schema_are_listed_qualified_outside_the_default(server: Db) -> None:
    tables = open_source(server.url).list_tables()
    assert [t for t in tables if "." not in t] == ["order_lines", "orders"]
    assert f"{server.crm}.customers" in tables
    assert not any(t.startswith(("information_schema.", "pg_catalog.", "mysql.")) for t in tables)


def test_a_qualified_table_is_read_counted_and_described(server: Db) -> None:
    src = open_source(server.url)
    table = f"{server.crm}.customers"
    schema = src.schema(table)
    assert schema.name == table
    assert schema.primary_key == ("id",)
    assert schema.foreign_keys == (ForeignKey(("referred_by",), table, ("id",)),)
    assert src.row_count(table) == 2
    got = pa.Table.from_batches(list(src.read(table, where="id > 1")))
    assert got.column("email").to_pylist() == ["b@x.test"]
    # orders refers to the other schema by its qualified name
    assert src.schema("orders").foreign_keys == (ForeignKey(("customer_id",), table, ("id",)),)


def test_keys_and_foreign_keys_come_from_the_catalog(server: Db) -> None:
    src = open_source(server.url)
    assert isinstance(src, RelationalSource)
    customers = f"{server.crm}.customers"
    found = src.relationships(["order_lines", "orders", customers])
    assert found.keys == (
        TableKeys("order_lines", ("o_region", "o_no", "line")),
        TableKeys("orders", ("region", "order_no")),
        TableKeys(customers, ("id",), (("email",),)),
    )
    assert found.foreign_keys == (
        Relationship("order_lines", ("o_region", "o_no"), "orders", ("region", "order_no")),
        Relationship("orders", ("customer_id",), customers, ("id",)),
        Relationship(customers, ("referred_by",), customers, ("id",)),
    )
    # only the foreign keys of the tables asked for
    assert src.relationships(["orders"]).foreign_keys == (
        Relationship("orders", ("customer_id",), customers, ("id",)),
    )


def test_a_schema_qualified_name_is_its_own_budget_key(server: Db) -> None:
    key = source_key(server.url, f"{server.crm}.customers")
    assert key.endswith(f"#{server.crm}.customers")
    assert key != source_key(server.url, "customers")


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nope.customers", "schema 'nope' does not exist"),
        ("{crm}.nope", "table '{crm}.nope' does not exist"),
    ],
)
def test_a_bad_schema_or_table_lists_what_exists(server: Db, name: str, message: str) -> None:
    with pytest.raises(TableNotFound) as info:
        open_source(server.url).schema(name.format(crm=server.crm))
    text = str(info.value)
    assert message.format(crm=server.crm) in text
    assert "\n" not in text
    assert server.crm in text  # the schema, or its table qualified, is among what exists


@pytest.mark.parametrize(
    "name", ['"crm.customers"', "a.b.c", ".customers", "crm.", "`crm`.customers", "t\x00"]
)
def test_names_that_are_not_table_or_schema_table_are_refused(server: Db, name: str) -> None:
    with pytest.raises(ConfigError, match=r"name .* (holds a quote|is not table or schema\.table)"):
        open_source(server.url).schema(name)
    with pytest.raises(ConfigError):
        open_sink(server.url).check_writable(name, mode=WriteMode.REPLACE)


def test_inspect_shows_schemas_keys_and_foreign_keys(
    server: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    customers = f"{server.crm}.customers"
    assert main(["inspect", server.url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"orders", "order_lines", customers} <= set(data["tables"])
    assert data["keys"]["orders"] == {"primary_key": ["region", "order_no"], "unique": []}
    assert data["keys"][customers] == {"primary_key": ["id"], "unique": [["email"]]}
    assert {
        "child_table": "order_lines",
        "child_columns": ["o_region", "o_no"],
        "parent_table": "orders",
        "parent_columns": ["region", "order_no"],
    } in data["foreign_keys"]
    assert main(["inspect", server.url]) == 0
    text = capsys.readouterr().out
    assert f"{customers} (referred_by) -> {customers} (id)" in text
    assert "order_lines (o_region, o_no) -> orders (region, order_no)" in text
    assert "a@x.test" not in text  # keys, never values


def test_inspect_of_a_bad_schema_is_one_line_and_exit_2(
    server: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", server.url, "--table", "nope.customers", "--no-pii"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "schema 'nope' does not exist" in err
    assert "schemas there: " in err
    assert server.crm in err
    assert len(err.splitlines()) <= 2  # the error and its hint, no traceback
    assert "Traceback" not in captured.err + captured.out


# --------------------------------------------------------------------------- writing


def _frame_schema() -> TableSchema:
    return TableSchema(
        "t",
        (
            ColumnSchema("id", LogicalType.INTEGER, nullable=False),
            ColumnSchema("label", LogicalType.TEXT),
        ),
    )


def _batch(ids: list[int]) -> Iterator[pa.RecordBatch]:
    yield pa.RecordBatch.from_pydict(
        {"id": pa.array(ids, pa.int64()), "label": [f"l{i}" for i in ids]}
    )


def test_write_replace_append_and_fail_in_another_schema(server: Db) -> None:
    table = f"{server.crm}.written"
    sink = open_sink(server.url)
    sink.write(table, _batch([1, 2]), schema=_frame_schema(), mode=WriteMode.REPLACE)
    sink.write(table, _batch([3]), schema=_frame_schema(), mode=WriteMode.APPEND)
    src = open_source(server.url)
    read = pa.Table.from_batches(list(src.read(table)))
    assert sorted(read.column("id").to_pylist()) == [1, 2, 3]
    sink.write(table, _batch([9]), schema=_frame_schema(), mode=WriteMode.REPLACE)
    assert src.row_count(table) == 1
    with pytest.raises(TargetNotWritable, match="already exists"):
        sink.check_writable(table, mode=WriteMode.FAIL)
    with pytest.raises(TargetNotWritable, match="already exists"):
        sink.write(table, _batch([5]), schema=_frame_schema(), mode=WriteMode.FAIL)
    assert src.row_count(table) == 1
    # nothing of the write is left behind in either schema
    leftovers = [t for t in src.list_tables() if "_sg_" in t or "_synthgate_" in t]
    assert leftovers == []
    # the default schema's table of the same name is another table
    assert "written" not in src.list_tables()


def test_write_to_a_schema_that_does_not_exist_is_refused(server: Db) -> None:
    sink = open_sink(server.url)
    with pytest.raises(TargetNotWritable, match=r"schema 'nope' does not exist .*schemas there"):
        sink.check_writable("nope.t", mode=WriteMode.REPLACE)
    with pytest.raises(TargetNotWritable, match="schema 'nope' does not exist"):
        sink.write(
            "nope.t",
            _batch([1]),
            schema=_frame_schema(),
            mode=WriteMode.REPLACE,
            idempotency_key="k-1",
        )


@pytest.mark.parametrize("mode", ["replace", "append"])
def test_publish_round_trip_into_another_schema(server: Db, tmp_path: Path, mode: str) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    table = f"{server.crm}.customers_syn"
    make_release(
        store,
        tmp_path,
        status=ReleaseStatus.APPROVED,
        target_url=server.url,
        target_table=table,
        mode=mode,
    )
    result = publish(store, ENG, "rel-1")
    assert (result.table, result.rows) == (table, 40)
    make_release(
        store,
        tmp_path,
        release_id="rel-2",
        status=ReleaseStatus.APPROVED,
        target_url=server.url,
        target_table=table,
        mode=mode,
    )
    publish(store, ENG, "rel-2")
    src = open_source(server.url)
    assert src.row_count(table) == (80 if mode == "append" else 40)
    ids = pa.Table.from_batches(list(src.read(table, columns=["customer_id"])))
    assert set(ids.column("customer_id").to_pylist()) == set(range(1, 41))
    assert table in src.list_tables()
    store.dispose()


def test_a_dry_run_reads_a_table_named_by_source_schema(
    server: Db,
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import yaml

    monkeypatch.setenv("SYNTHGATE_PSEUDONYM_KEY", secrets.token_hex(16))
    source = {"url": server.url, "schema": server.crm, "table": "customers"}
    spec = {
        "version": 1,
        "name": "schemas",
        "mode": "masked-copy",
        "source": source,
        "target": {"url": f"sqlite:///{tmp_path / 'out.db'}"},
    }
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(spec))
    code = main(["run", str(path), "--dry-run", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert json.loads(out)["ok"] is True
    source["schema"] = "nope"
    path.write_text(yaml.safe_dump(spec))
    assert main(["run", str(path), "--dry-run", "--json"]) == 2
    assert "schema 'nope' does not exist" in capsys.readouterr().out


# --------------------------------------------------------------------------- SQLite


@pytest.fixture
def lite(tmp_path: Path) -> str:
    path = tmp_path / "rel.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            CREATE TABLE customers (
                id INTEGER PRIMARY KEY, email TEXT UNIQUE, referred_by INTEGER,
                FOREIGN KEY (referred_by) REFERENCES customers (id));
            CREATE TABLE orders (
                region TEXT, order_no INTEGER, customer_id INTEGER NOT NULL,
                PRIMARY KEY (region, order_no),
                FOREIGN KEY (customer_id) REFERENCES customers (id));
            CREATE TABLE order_lines (
                o_region TEXT, o_no INTEGER, line INTEGER,
                PRIMARY KEY (o_region, o_no, line),
                FOREIGN KEY (o_region, o_no) REFERENCES orders (region, order_no));
            CREATE TABLE notes (id INTEGER PRIMARY KEY, about INTEGER REFERENCES customers);
            CREATE UNIQUE INDEX notes_about ON notes (about, id);
            INSERT INTO customers VALUES (1, 'a@x.test', NULL);
            """
        )
    return f"sqlite:///{path}"


def test_sqlite_keys_composite_and_self_references(lite: str) -> None:
    src = open_source(lite)
    assert isinstance(src, RelationalSource)
    found = src.relationships()
    assert found.keys == (
        TableKeys("customers", ("id",), (("email",),)),
        TableKeys("notes", ("id",), (("about", "id"),)),
        TableKeys("order_lines", ("o_region", "o_no", "line")),
        TableKeys("orders", ("region", "order_no")),
    )
    assert found.foreign_keys == (
        Relationship("customers", ("referred_by",), "customers", ("id",)),
        Relationship("notes", ("about",), "customers", ("id",)),  # the parent's primary key
        Relationship("order_lines", ("o_region", "o_no"), "orders", ("region", "order_no")),
        Relationship("orders", ("customer_id",), "customers", ("id",)),
    )
    assert src.schema("main.customers").foreign_keys == (
        ForeignKey(("referred_by",), "customers", ("id",)),
    )
    assert src.row_count("main.customers") == 1


def test_sqlite_unknown_schema_and_qualified_write(lite: str, tmp_path: Path) -> None:
    with pytest.raises(TableNotFound, match=r"schema 'crm' does not exist .*schemas there: main"):
        open_source(lite).schema("crm.customers")
    sink = open_sink(lite)
    sink.write("main.copy", _batch([1, 2]), schema=_frame_schema(), mode=WriteMode.REPLACE)
    engine = sa.create_engine(lite)
    try:
        frame = pd.read_sql_table("copy", engine)
    finally:
        engine.dispose()
    assert frame["id"].tolist() == [1, 2]


def test_files_have_no_keys_and_no_foreign_keys(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,x\n1,2\n")
    src = open_source(str(tmp_path))
    assert isinstance(src, RelationalSource)
    found = src.relationships()
    assert found.keys == (TableKeys("a"),)
    assert found.foreign_keys == ()
    with pytest.raises(TableNotFound):
        src.relationships(["b"])


def test_names_with_sql_in_them_are_quoted_identifiers(server: Db) -> None:
    """Each part of a name is one quoted identifier: SQL in it is never run."""
    evil = f"x{secrets.token_hex(2)}; DROP TABLE orders; --"
    with pytest.raises(TableNotFound, match="does not exist"):
        open_source(server.url).schema(f"{evil}.customers")
    odd = f"{server.crm}.odd name; DROP TABLE orders --"
    open_sink(server.url).write(odd, _batch([7]), schema=_frame_schema(), mode=WriteMode.REPLACE)
    src = open_source(server.url)
    assert pa.Table.from_batches(list(src.read(odd))).column("id").to_pylist() == [7]
    assert {"orders", odd} <= set(src.list_tables())


def test_tables_that_cannot_be_named_are_listed_without_breaking_inspect(
    server: Db, capsys: pytest.CaptureFixture[str]
) -> None:
    """A table whose own name holds a dot or a quote is listed; naming it is refused."""
    q = '"' if server.url.startswith("postgresql") else "`"
    server.execute(f"CREATE TABLE {q}dotted.name{q} (id integer PRIMARY KEY)")
    server.execute(f"CREATE TABLE {q}it's{q} (id integer PRIMARY KEY)")
    assert main(["inspect", server.url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"dotted.name", "it's"} <= set(data["tables"])
    assert data["keys"]["it's"] == {"primary_key": ["id"], "unique": []}
    with pytest.raises(ConfigError, match="holds a quote"):
        open_source(server.url).schema("it's")
