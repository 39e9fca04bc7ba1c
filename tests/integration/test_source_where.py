"""``source.where`` is one condition, never a statement, and reads are read-only.

On PostgreSQL the attack below used to close the ``COPY`` and drop a table with
the reader's credentials. Now a filter is parsed as one condition in the
database's dialect and refused otherwise (exit 2, one line), and every read runs
in a read-only transaction, so even a function that writes cannot.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from tests._dbservers import MyDb, PgDb, mysql_database, pg_database

from synthgate.cli import main
from synthgate.errors import ConfigError, SourceError
from synthgate.sources import open_source

ATTACK = "true)) TO STDOUT (FORMAT csv); DROP TABLE victim; COMMIT; COPY (SELECT 1 WHERE (true"
REFUSED = [
    ATTACK,
    "id > 0; DROP TABLE victim",
    "DROP TABLE victim",
    "id IN (SELECT id FROM victim)",
    "id > 0 UNION SELECT 1",
    "id = ?",
    "'unterminated",
]
ROWS = 100


@pytest.fixture
def pg() -> Iterator[PgDb]:
    yield from pg_database()


@pytest.fixture
def my() -> Iterator[MyDb]:
    yield from mysql_database()


def _sqlite(tmp_path: Path) -> tuple[str, Callable[[str], list[tuple[Any, ...]]]]:
    db = tmp_path / "src.db"

    def execute(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(db) as conn:
            return list(conn.execute(sql).fetchall())

    return f"sqlite:///{db}", execute


def _fill(execute: Callable[[str], Any]) -> None:
    execute("CREATE TABLE victim (id integer PRIMARY KEY)")
    execute("INSERT INTO victim VALUES (1)")
    execute("CREATE TABLE items (id integer PRIMARY KEY, bucket integer NOT NULL)")
    values = ", ".join(f"({i}, {i % 7})" for i in range(1, ROWS + 1))
    execute(f"INSERT INTO items VALUES {values}")


def _read(url: str, **kwargs: Any) -> pa.Table:
    source = open_source(url)
    try:
        return pa.Table.from_batches(list(source.read("items", **kwargs)))
    finally:
        source.close()


def _refuses_and_filters(url: str, execute: Callable[[str], list[tuple[Any, ...]]]) -> None:
    for where in REFUSED:
        with pytest.raises(ConfigError, match=r"source\.where must be one SQL condition") as info:
            _read(url, where=where)
        assert info.value.exit_code == 2
        assert "\n" not in str(info.value)
    assert execute("SELECT count(*) FROM victim") == [(1,)]
    ordinary = _read(url, where="bucket = 3 AND id <= 50 AND NOT (id IN (3, 10))")
    expected = [i for i in range(1, 51) if i % 7 == 3 and i not in (3, 10)]
    assert sorted(ordinary.column("id").to_pylist()) == expected
    in_range = _read(url, where="bucket BETWEEN 1 AND 2 OR id IS NULL")
    assert in_range.num_rows == len([i for i in range(1, ROWS + 1) if i % 7 in (1, 2)])
    sampled = _read(url, where="bucket = 0", sample_rows=5)
    assert set(sampled.column("bucket").to_pylist()) == {0}


def test_postgres_refuses_statements_and_keeps_filters(pg: PgDb) -> None:
    _fill(pg.execute)
    _refuses_and_filters(pg.url, pg.execute)


def test_mariadb_refuses_statements_and_keeps_filters(my: MyDb) -> None:
    _fill(my.execute)
    _refuses_and_filters(my.url, my.execute)


def test_sqlite_refuses_statements_and_keeps_filters(tmp_path: Path) -> None:
    url, execute = _sqlite(tmp_path)
    _fill(execute)
    _refuses_and_filters(url, execute)
    with sqlite3.connect(tmp_path / "src.db") as conn:  # the read left no pragma behind
        conn.execute("INSERT INTO victim VALUES (2)")


def test_postgres_reads_in_a_read_only_transaction(pg: PgDb) -> None:
    _fill(pg.execute)
    pg.execute("CREATE TABLE trail (at integer)")
    pg.execute(
        "CREATE FUNCTION bump() RETURNS integer LANGUAGE sql AS "
        "'INSERT INTO trail VALUES (1) RETURNING 1'"
    )
    with pytest.raises(SourceError, match=r"read.only") as info:
        _read(pg.url, where="bump() = 1")
    assert "trail" not in str(info.value)
    assert pg.execute("SELECT count(*) FROM trail") == [(0,)]


def test_mariadb_reads_in_a_read_only_transaction(my: MyDb) -> None:
    _fill(my.execute)
    my.execute("CREATE TABLE trail (at integer)")
    my.execute(
        "CREATE FUNCTION bump() RETURNS integer MODIFIES SQL DATA "
        "BEGIN INSERT INTO trail VALUES (1); RETURN 1; END"
    )
    with pytest.raises(SourceError, match="READ ONLY"):
        _read(my.url, where="bump() = 1")
    assert my.execute("SELECT count(*) FROM trail") == [(0,)]


def test_the_attack_in_a_job_spec_is_one_line_and_exit_2(
    tmp_path: Path,
    home: Path,
    write_spec: Callable[[dict[str, Any]], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, execute = _sqlite(tmp_path)
    _fill(execute)
    spec = {
        "name": "where-attack",
        "source": {"url": url, "table": "items", "where": ATTACK},
        "target": {"url": f"sqlite:///{tmp_path / 'out.db'}", "table": "items_syn"},
        "synthesis": {"synthesizer": "sdv-gaussian-copula"},
        "release": {"policy": "internal-testing"},
    }
    assert main(["run", str(write_spec(spec))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error:")]
    assert errors == [err[-1]]
    assert errors[0].startswith("error: source.where must be one SQL condition")
    assert execute("SELECT count(*) FROM victim") == [(1,)]
