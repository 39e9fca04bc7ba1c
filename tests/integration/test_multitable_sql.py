"""synthesize_tables of a SQLite URL: tables, foreign keys and primary keys from the catalog."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from synthgate import synthesize_tables
from synthgate.errors import ConfigError
from synthgate.synth.dp_mst import _synthesizer as mst_module


@pytest.fixture
def crm_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(mst_module, "noise_generator", lambda: np.random.default_rng(2))
    path = tmp_path / "crm.db"
    rng = np.random.default_rng(0)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, tier TEXT NOT NULL)")
        conn.execute(
            "CREATE TABLE orders (oid TEXT PRIMARY KEY, cid INTEGER REFERENCES customers(id),"
            " total REAL)"
        )
        tiers = rng.choice(["gold", "basic"], size=300)
        conn.executemany("INSERT INTO customers VALUES (?, ?)", enumerate(tiers.tolist(), 1))
        rows, n = [], 0
        for cid, tier in enumerate(tiers.tolist(), 1):
            for _ in range(int(rng.poisson(5 if tier == "gold" else 1))):
                n += 1
                rows.append((f"o-{n}", cid, float(rng.gamma(2.0, 50.0))))
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?)", rows)
    return f"sqlite:///{path}"


def test_relationships_and_keys_come_from_the_catalog(crm_db: str) -> None:
    result = synthesize_tables(
        crm_db, table_names=["customers", "orders"], unit="customers", epsilon=4.0, seed=1
    )
    customers, orders = result.tables["customers"], result.tables["orders"]
    assert list(orders.columns) == ["oid", "cid", "total"]
    assert orders["oid"].is_unique
    assert orders["oid"].str.fullmatch(r"[0-9a-f-]{36}").all()  # fresh, never a source key
    assert set(orders["cid"]) <= set(customers["id"])
    assert result.checks["referential_integrity"] == 1.0
    assert result.ledger["unit"] == "customers"


def test_a_url_without_table_names_is_refused(crm_db: str) -> None:
    with pytest.raises(ConfigError, match="needs table_names"):
        synthesize_tables(crm_db, unit="customers", epsilon=1.0)
