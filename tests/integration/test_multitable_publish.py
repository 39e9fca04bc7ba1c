"""Several tables written as one on PostgreSQL (one transaction) and MariaDB (one
``RENAME TABLE``), and a multi-table job from a PostgreSQL catalog's foreign keys
to a PostgreSQL target."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from tests._cli import Cli
from tests._crm import crm
from tests._dbservers import MyDb, PgDb, mysql_database, pg_database
from tests.conftest import register_pack
from tests.e2e.test_multitable_job import PACK, TABLES

from synthgate.contracts import (
    ColumnSchema,
    LogicalType,
    MultiTableSink,
    TableSchema,
    TableWrite,
    WriteMode,
)
from synthgate.errors import TargetNotWritable
from synthgate.sources import open_sink

pytestmark = pytest.mark.slow

PARENT = TableSchema("parent", (ColumnSchema("id", LogicalType.INTEGER, False),))
CHILD = TableSchema(
    "child",
    (
        ColumnSchema("id", LogicalType.INTEGER, False),
        ColumnSchema("parent_id", LogicalType.INTEGER, False),
    ),
)


@pytest.fixture
def pg() -> Iterator[PgDb]:
    yield from pg_database()


@pytest.fixture
def pg_target() -> Iterator[PgDb]:
    yield from pg_database()


@pytest.fixture
def maria() -> Iterator[MyDb]:
    yield from mysql_database()


def _parts(parents: int) -> list[TableWrite]:
    parent = pa.record_batch({"id": pa.array(range(1, parents + 1), pa.int64())})
    child = pa.record_batch(
        {
            "id": pa.array(range(1, 2 * parents + 1), pa.int64()),
            "parent_id": pa.array([1 + i % parents for i in range(2 * parents)], pa.int64()),
        }
    )
    return [
        TableWrite("parent", iter([parent]), PARENT),
        TableWrite("child", iter([child]), CHILD),
    ]


def _write(url: str, parts: list[TableWrite], key: str | None = None) -> list[Any]:
    sink = open_sink(url)
    try:
        assert isinstance(sink, MultiTableSink)
        return sink.write_tables(parts, mode=WriteMode.REPLACE, idempotency_key=key)
    finally:
        sink.close()


def test_postgres_writes_every_table_in_one_transaction(pg: PgDb) -> None:
    results = _write(pg.url, _parts(3), key="rel-1")
    assert [(r.table, r.rows) for r in results] == [("parent", 3), ("child", 6)]
    assert pg.execute("SELECT count(*) FROM child")[0][0] == 6
    # a repeat with the same key writes nothing and returns what was recorded
    again = _write(pg.url, _parts(3), key="rel-1")
    assert [r.content_hash for r in again] == [r.content_hash for r in results]


def test_postgres_fault_between_two_swaps_leaves_every_table_as_it_was(
    pg: PgDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synthgate_connectors.sql import _write as write_module

    _write(pg.url, _parts(2))
    swap = write_module._swap_in_transaction
    swapped: list[str] = []

    def failing(conn: Any, job: Any, staging: str) -> None:
        if swapped:
            raise RuntimeError("fault between two tables")
        swapped.append(job.table)
        swap(conn, job, staging)

    monkeypatch.setattr(write_module, "_swap_in_transaction", failing)
    with pytest.raises(RuntimeError):
        _write(pg.url, _parts(5))
    assert swapped == ["parent"]
    assert pg.execute("SELECT count(*) FROM parent")[0][0] == 2
    assert pg.execute("SELECT count(*) FROM child")[0][0] == 4
    staged = pg.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename LIKE '\\_sg\\_stage\\_%'"
    )
    assert staged == []


def test_mariadb_swaps_every_table_in_one_rename(maria: MyDb) -> None:
    _write(maria.url, _parts(2))
    results = _write(maria.url, _parts(3), key="rel-2")
    assert [(r.table, r.rows) for r in results] == [("parent", 3), ("child", 6)]
    assert maria.execute("SELECT count(*) FROM child")[0][0] == 6
    names = {row[0] for row in maria.execute("SHOW TABLES")}
    assert not [n for n in names if n.startswith(("_sg_stage_", "_sg_old_"))]


def test_mariadb_fault_between_two_tables_leaves_every_table_as_it_was(
    maria: MyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synthgate_connectors.sql import _write as write_module

    _write(maria.url, _parts(2))
    load = write_module._load_mysql
    loaded: list[str] = []

    def failing(conn: Any, job: Any, staging: str, batches: Any) -> None:
        if loaded:
            raise RuntimeError("fault between two tables")
        loaded.append(job.table)
        load(conn, job, staging, batches)

    monkeypatch.setattr(write_module, "_load_mysql", failing)
    with pytest.raises(RuntimeError):
        _write(maria.url, _parts(5))
    assert loaded == ["parent"]
    assert maria.execute("SELECT count(*) FROM parent")[0][0] == 2
    assert maria.execute("SELECT count(*) FROM child")[0][0] == 4
    names = {row[0] for row in maria.execute("SHOW TABLES")}
    assert not [n for n in names if n.startswith("_sg_stage_")]


def test_mariadb_refuses_appending_several_tables_in_one_line(maria: MyDb) -> None:
    sink = open_sink(maria.url)
    try:
        assert isinstance(sink, MultiTableSink)
        with pytest.raises(TargetNotWritable) as caught:
            sink.write_tables(_parts(2), mode=WriteMode.APPEND, idempotency_key=None)
    finally:
        sink.close()
    assert "PostgreSQL and SQLite" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert maria.execute("SHOW TABLES") == []


def _pg_crm(db: PgDb, customers: int) -> None:
    import psycopg

    tables = crm(customers, seed=5)
    db.execute(
        "CREATE TABLE customers (customer_id bigint PRIMARY KEY, segment text, region text, "
        "age bigint, balance double precision);"
        "CREATE TABLE products (product_id text PRIMARY KEY, category text, "
        "price double precision);"
        "CREATE TABLE orders (order_id bigint PRIMARY KEY, customer_id bigint REFERENCES "
        "customers(customer_id), channel text, amount double precision);"
        "CREATE TABLE order_items (item_id text PRIMARY KEY, order_id bigint REFERENCES "
        "orders(order_id), product_id text REFERENCES products(product_id), quantity bigint, "
        "discount double precision)"
    )
    import numpy as np

    rng = np.random.default_rng(6)
    tables["customers"]["balance"] = np.round(rng.gamma(2.0, 300.0, customers), 2)
    items = tables["order_items"]
    items["discount"] = np.round(rng.uniform(0, 0.3, len(items)), 3)
    with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test") as conn:
        conn.execute(f'SET search_path TO "{db.schema}"')
        for name in ("customers", "products", "orders", "order_items"):
            frame = tables[name]
            cols = ", ".join(frame.columns)
            with conn.cursor().copy(f"COPY {name} ({cols}) FROM STDIN") as copy:
                for row in frame.itertuples(index=False, name=None):
                    copy.write_row([v.item() if hasattr(v, "item") else v for v in row])


def test_a_job_from_postgres_foreign_keys_publishes_to_postgres(
    home: Path,
    pg: PgDb,
    pg_target: PgDb,
    tmp_path: Path,
    write_spec: Callable[[dict[str, Any]], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _pg_crm(pg, 600)
    cli = Cli(monkeypatch, capsys)
    cli.users(alice="engineer", bob="approver")
    pack = tmp_path / "pack.yaml"
    pack.write_text(PACK, "utf-8")
    register_pack(pack)
    spec = write_spec(
        {
            "name": "crm-pg",
            "source": {"url": pg.url, "tables": TABLES, "public": ["products"]},
            "target": {"url": pg_target.url, "mode": "replace"},
            "synthesis": {"privacy": {"epsilon": 3, "unit": "customers"}},
            "release": {"policy": str(pack)},
        }
    )
    assert yaml.safe_load(spec.read_text("utf-8"))["source"].get("relationships") is None
    checked = cli.json("alice", "run", str(spec), "--dry-run")
    assert "orders (customer_id) -> customers (customer_id)" in checked["relationships"]
    outcome = cli.json("alice", "run", str(spec), expect=4)
    rid = outcome["release_id"]
    cli.json("bob", "approve", rid, "--comment", "reviewed")
    assert cli.json("alice", "publish", rid)["status"] == "PUBLISHED"
    dangling = pg_target.execute(
        "SELECT count(*) FROM orders o LEFT JOIN customers c USING (customer_id) "
        "WHERE c.customer_id IS NULL"
    )
    assert dangling[0][0] == 0
    dangling = pg_target.execute(
        "SELECT count(*) FROM order_items i LEFT JOIN orders o USING (order_id) "
        "WHERE o.order_id IS NULL"
    )
    assert dangling[0][0] == 0
    dupes = pg_target.execute("SELECT count(*) - count(DISTINCT order_id) FROM orders")
    assert dupes[0][0] == 0
    assert pg_target.execute("SELECT count(*) FROM products")[0][0] == 40
