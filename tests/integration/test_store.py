from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from synthgate.audit import AuditLog
from synthgate.errors import StoreError
from synthgate.store import Store

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _tables(store: Store) -> set[str]:
    return set(sa.inspect(store.engine).get_table_names())


def test_sqlite_store_is_migrated_on_open(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'a' / 's.db'}")
    assert {
        "runs",
        "stages",
        "releases",
        "audit_events",
        "budget_ledger",
        "alembic_version",
    } <= _tables(store)
    assert store.revision() == "0006"
    Store(store.url)  # reopening is a no-op


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = f"sg_test_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as exc:  # pragma: no cover - CI always has PostgreSQL
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required: {exc}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


def test_postgresql_store_and_audit_chain(pg_url: str) -> None:
    store = Store(pg_url)
    assert store.dialect == "postgresql"
    assert "audit_events" in _tables(store)
    log = AuditLog(store)
    for i in range(3):
        log.append(actor="bob", action="x", subject=str(i))
    assert log.verify().ok
    store.dispose()


def test_unreachable_store_is_a_one_line_error() -> None:
    with pytest.raises(StoreError, match="cannot be opened") as info:
        Store("postgresql://postgres:pw-canary@127.0.0.1:1/none")
    assert "pw-canary" not in str(info.value)
