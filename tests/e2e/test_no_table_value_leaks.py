"""No value read from a table reaches an error, a log line, the store or the audit log.

Each source kind gets a malformed row that holds a canary; a job runs on it and
fails. The canary must not appear in stdout, stderr (JSON logs included), any
row of the metadata store (runs, stages, audit events …) or any file under
SYNTHGATE_HOME, and the error names where the problem is (file or table, row,
column) instead.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests._dbservers import MyDb, PgDb, mysql_database, pg_database

from synthgate.cli import main

CANARY = "Canary-Row-Value-93jq"
#: digits no other output holds by chance
CANARY_NUMBER = "98765432109876543"
ROWS = 60

SpecWriter = Callable[[dict[str, Any]], Path]


@dataclass(frozen=True)
class Case:
    url: str
    table: str
    canary: str
    #: words the one error line must hold: where the problem is
    names: tuple[str, ...]
    where: str | None = None
    #: the run fails while reading, after it was recorded (a CSV fails before: its schema)
    recorded: bool = True


@pytest.fixture
def pg() -> Iterator[PgDb]:
    yield from pg_database()


@pytest.fixture
def my() -> Iterator[MyDb]:
    yield from mysql_database()


def _csv(tmp_path: Path) -> Case:
    lines = ["id,name,score", *(f"{i},person{i},{i * 1.5}" for i in range(ROWS))]
    lines.insert(41, f"41,{CANARY},12.5,extra")
    path = tmp_path / "people.csv"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return Case(str(path), "people", CANARY, ("people.csv", "row 42"), recorded=False)


def _parquet(tmp_path: Path) -> Case:
    names = [f"person{i}" for i in range(ROWS)]
    names[37] = CANARY
    table = pa.table({"id": list(range(ROWS)), "name": names})
    path = tmp_path / "people.parquet"
    pq.write_table(table, path, compression="NONE", use_dictionary=False)
    data = bytearray(path.read_bytes())
    value = struct.pack("<i", len(CANARY)) + CANARY.encode()
    at = data.find(value)
    assert at > 0
    data[at : at + 4] = struct.pack("<i", 10**8)  # the value's length now runs off the page
    path.write_bytes(bytes(data))
    return Case(str(path), "people", CANARY, ("people.parquet", "column 'name'", "rows 1 to"))


def _sqlite(tmp_path: Path) -> Case:
    db = tmp_path / "src.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE people (id integer PRIMARY KEY, age integer, city text)")
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?)", [(i, 20 + i % 50, "Lyon") for i in range(ROWS)]
        )
        conn.execute("UPDATE people SET age = ? WHERE id = 44", (CANARY,))
    return Case(f"sqlite:///{db}", "people", CANARY, ("'people'", "'age'", "row 45"))


def _postgres(pg: PgDb) -> Case:
    pg.execute("CREATE TABLE people (id integer PRIMARY KEY, amount numeric, note text)")
    # a bare NUMERIC reads as decimal128(38, 9): row 31's value does not fit
    too_big = int(CANARY_NUMBER + "0" * 25)
    for i in range(ROWS):
        pg.execute("INSERT INTO people VALUES (%s, %s, 'ok')", (i, too_big if i == 30 else i))
    return Case(pg.url, "people", CANARY_NUMBER, ("'people'", "'amount'", "row 31"))


def _postgres_cast(pg: PgDb) -> Case:
    """The driver's own message quotes the value (``value "…" is out of range``)."""
    pg.execute("CREATE TABLE people (id integer PRIMARY KEY, code text)")
    for i in range(ROWS):
        pg.execute("INSERT INTO people VALUES (%s, %s)", (i, str(i)))
    pg.execute("UPDATE people SET code = %s WHERE id = 12", (CANARY_NUMBER,))
    return Case(
        pg.url,
        "people",
        CANARY_NUMBER,
        ("'people'", "numeric value out of range"),
        where="CAST(code AS integer) >= 0",
    )


def _mariadb(my: MyDb) -> Case:
    my.execute("CREATE TABLE people (id integer PRIMARY KEY, seen datetime, city text)")
    for i in range(ROWS):
        my.execute("INSERT INTO people VALUES (%s, '2024-01-02 03:04:05', 'Lyon')", (i,))
    # MariaDB keeps an impossible date when asked to; no reader can parse it
    my.execute(
        "SET STATEMENT sql_mode = 'ALLOW_INVALID_DATES' FOR "
        "UPDATE people SET seen = '2031-02-31 13:57:19' WHERE id = 50"
    )
    return Case(my.url, "people", "02-31 13:57:19", ("'people'", "'seen'", "row 51"))


def _grep_everything(home: Path, outputs: list[str], canary: str) -> list[str]:
    """Every output of a run checked for *canary*; the audit actions, for the caller."""
    for text in outputs:
        assert canary not in text
    with sqlite3.connect(home / "synthgate.db") as conn:
        dump = "\n".join(conn.iterdump())
        actions = [a for (a,) in conn.execute("SELECT action FROM audit_events")]
    assert canary not in dump
    for path in home.rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), path
    return actions


def _run(case: Case, tmp_path: Path, write_spec: SpecWriter, capsys: Any) -> list[str]:
    source: dict[str, Any] = {"url": case.url, "table": case.table}
    if case.where:
        source["where"] = case.where
    spec = {
        "name": "canary-job",
        "source": source,
        "target": {"url": f"sqlite:///{tmp_path / 'out.db'}", "table": "people_syn"},
        "pii": {"sample_values": 20},
        "synthesis": {"synthesizer": "sdv-gaussian-copula", "seed": 1},
        "release": {"policy": "internal-testing"},
    }
    code = main(["--log-format", "json", "run", str(write_spec(spec))])
    captured = capsys.readouterr()
    assert code in {1, 2}, captured
    # with JSON logs the error is a JSON line too (command.failed), like every log line
    events = [json.loads(ln) for ln in captured.err.splitlines() if ln.strip()]
    errors = [e["error"] for e in events if e.get("event") == "command.failed"]
    assert len(errors) == 1, captured.err
    for name in case.names:
        assert name in errors[0], errors[0]
    assert "Traceback" not in captured.err
    return [captured.out, captured.err]


def _check(case: Case, home: Path, tmp_path: Path, write_spec: SpecWriter, capsys: Any) -> None:
    outputs = _run(case, tmp_path, write_spec, capsys)
    actions = _grep_everything(home, outputs, case.canary)
    assert ("run.failed" in actions) is case.recorded, actions


def test_csv(home: Path, tmp_path: Path, write_spec: SpecWriter, capsys: Any) -> None:
    _check(_csv(tmp_path), home, tmp_path, write_spec, capsys)


def test_parquet(home: Path, tmp_path: Path, write_spec: SpecWriter, capsys: Any) -> None:
    _check(_parquet(tmp_path), home, tmp_path, write_spec, capsys)


def test_sqlite(home: Path, tmp_path: Path, write_spec: SpecWriter, capsys: Any) -> None:
    _check(_sqlite(tmp_path), home, tmp_path, write_spec, capsys)


def test_postgres(
    pg: PgDb, home: Path, tmp_path: Path, write_spec: SpecWriter, capsys: Any
) -> None:
    _check(_postgres(pg), home, tmp_path, write_spec, capsys)


def test_postgres_driver_message(
    pg: PgDb, home: Path, tmp_path: Path, write_spec: SpecWriter, capsys: Any
) -> None:
    _check(_postgres_cast(pg), home, tmp_path, write_spec, capsys)


def test_mariadb(my: MyDb, home: Path, tmp_path: Path, write_spec: SpecWriter, capsys: Any) -> None:
    _check(_mariadb(my), home, tmp_path, write_spec, capsys)
