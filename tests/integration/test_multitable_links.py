"""A MariaDB source whose catalog holds a self-reference and a table with two private
parents: synthesized, approved and published to MariaDB with every key intact."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests._cli import Cli
from tests._dbservers import MyDb, mysql_database
from tests.conftest import register_pack
from tests.e2e.test_multitable_job import PACK

pytestmark = pytest.mark.slow

TABLES = ["people", "accounts", "cards", "payments"]
DDL = [
    "CREATE TABLE people (person_id BIGINT PRIMARY KEY, dept VARCHAR(20), grade INT, "
    "referred_by BIGINT NULL, FOREIGN KEY (referred_by) REFERENCES people(person_id))",
    "CREATE TABLE accounts (account_id BIGINT PRIMARY KEY, person_id BIGINT NOT NULL, "
    "kind VARCHAR(20), FOREIGN KEY (person_id) REFERENCES people(person_id))",
    "CREATE TABLE cards (card_id BIGINT PRIMARY KEY, person_id BIGINT NOT NULL, "
    "brand VARCHAR(20), FOREIGN KEY (person_id) REFERENCES people(person_id))",
    "CREATE TABLE payments (payment_id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, "
    "card_id BIGINT NULL, prev_payment BIGINT NULL, amount DOUBLE, "
    "FOREIGN KEY (account_id) REFERENCES accounts(account_id), "
    "FOREIGN KEY (card_id) REFERENCES cards(card_id), "
    "FOREIGN KEY (prev_payment) REFERENCES payments(payment_id))",
]


@pytest.fixture
def source() -> Iterator[MyDb]:
    yield from mysql_database()


@pytest.fixture
def target() -> Iterator[MyDb]:
    yield from mysql_database()


def _insert(db: MyDb, table: str, rows: list[tuple[Any, ...]]) -> None:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database=db.database)
    try:
        with conn.cursor() as cur:
            marks = ", ".join(["%s"] * len(rows[0]))
            cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        conn.commit()
    finally:
        conn.close()


def _fill(db: MyDb, n: int = 500) -> None:
    """Referrals point at earlier people; a person's payments come from their own
    account, mostly by their own card, each after their previous payment."""
    rng = np.random.default_rng(8)
    for ddl in DDL:
        db.execute(ddl)
    people = [
        (i, str(rng.choice(["ops", "sales", "it"])), int(rng.integers(1, 6)),
         int(rng.integers(0, i)) if i and rng.random() < 0.3 else None)
        for i in range(n)
    ]  # fmt: skip
    _insert(db, "people", people)
    _insert(db, "accounts", [(i, i, str(rng.choice(["cur", "sav"]))) for i in range(n)])
    _insert(db, "cards", [(i, i, str(rng.choice(["visa", "mc"]))) for i in range(n)])
    payments: list[tuple[Any, ...]] = []
    pid = 0
    for person in range(n):
        prev: int | None = None
        for _ in range(int(rng.integers(0, 4))):
            card = person if rng.random() < 0.9 else None
            payments.append((pid, person, card, prev, float(np.round(rng.gamma(2, 40), 2))))
            prev, pid = pid, pid + 1
    _insert(db, "payments", payments)


def _dangling(db: MyDb, child: str, column: str, parent: str, key: str) -> int:
    rows = db.execute(
        f"SELECT count(*) FROM {child} c LEFT JOIN {parent} p ON c.{column} = p.{key} "
        f"WHERE c.{column} IS NOT NULL AND p.{key} IS NULL"
    )
    return int(rows[0][0])


def test_self_reference_and_second_parent_from_the_catalog_publish_intact(
    home: Path,
    source: MyDb,
    target: MyDb,
    tmp_path: Path,
    write_spec: Callable[[dict[str, Any]], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _fill(source)
    cli = Cli(monkeypatch, capsys)
    cli.users(alice="engineer", bob="approver")
    pack = tmp_path / "pack.yaml"
    pack.write_text(PACK, "utf-8")
    register_pack(pack)
    spec = write_spec(
        {
            "name": "payments",
            "source": {"url": source.url, "tables": TABLES},
            "target": {"url": target.url, "mode": "replace"},
            "synthesis": {"privacy": {"epsilon": 4, "unit": "people"}},
            "release": {"policy": str(pack)},
        }
    )
    plan = cli.json("alice", "run", str(spec), "--dry-run")["plan"]
    assert plan[0].startswith("people: the unit, one row per person; references itself")
    assert "below accounts" in plan[3]
    assert "also references (card_id -> cards)" in plan[3]
    assert "references itself (prev_payment -> payments)" in plan[3]

    outcome = cli.json("alice", "run", str(spec), expect=4)
    cli.json("bob", "approve", outcome["release_id"], "--comment", "reviewed")
    assert cli.json("alice", "publish", outcome["release_id"])["status"] == "PUBLISHED"
    for child, column, parent, key in [
        ("people", "referred_by", "people", "person_id"),
        ("accounts", "person_id", "people", "person_id"),
        ("cards", "person_id", "people", "person_id"),
        ("payments", "account_id", "accounts", "account_id"),
        ("payments", "card_id", "cards", "card_id"),
        ("payments", "prev_payment", "payments", "payment_id"),
    ]:
        assert _dangling(target, child, column, parent, key) == 0, (child, column)
    loops = target.execute("SELECT count(*) FROM payments WHERE prev_payment >= payment_id")
    assert loops[0][0] == 0
    referred = target.execute("SELECT avg(referred_by IS NOT NULL) FROM people")[0][0]
    assert 0.15 < float(referred) < 0.45  # about the real 30%
    own_card = target.execute(
        "SELECT avg(c.person_id = a.person_id) FROM payments p "
        "JOIN accounts a ON p.account_id = a.account_id JOIN cards c ON p.card_id = c.card_id"
    )[0][0]
    assert float(own_card) > 0.7  # paid by the person's own card, as in the source
