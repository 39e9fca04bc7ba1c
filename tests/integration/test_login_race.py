"""Forty guesses of one console password at once check at most the lock-out limit (issue #16).

Real threads, each with its own store connection, released together by a
barrier, on a SQLite and a PostgreSQL store: every attempt is counted in the
pair's ``login_throttle`` row, in the same transaction that checks the lock,
before its password is verified. Exactly :data:`LOCK_AFTER_FAILURES` guesses
are checked; the others, and then the right password, are refused as locked.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from synthgate.release import (
    LOCK_AFTER_FAILURES,
    Actor,
    LoginLocked,
    Role,
    add_user,
    password_login,
    set_password,
)
from synthgate.store import Store

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "correct horse battery staple"
GUESSES = 40


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    name = f"sg_login_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


def guess_all_at_once(url: str, passwords: list[str]) -> list[Any]:
    barrier = threading.Barrier(len(passwords))
    results: list[Any] = [None] * len(passwords)

    def worker(i: int) -> None:
        store = Store(url, migrate=False)
        try:
            barrier.wait()
            results[i] = password_login(store, "bob", passwords[i], client="203.0.113.7")
        except Exception as exc:
            results[i] = exc
        finally:
            store.dispose()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(passwords))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a sign-in hung"
    return results


def test_parallel_guesses_check_at_most_the_limit(store_url: str) -> None:
    store = Store(store_url)
    _, _ = add_user(store, Actor("setup", None, False), "root", Role.ADMIN)
    root = Actor("root", Role.ADMIN, True)
    add_user(store, root, "bob", Role.APPROVER)
    set_password(store, root, "bob", PASSWORD)

    results = guess_all_at_once(store_url, [f"wrong guess number {i}" for i in range(GUESSES)])
    assert all(isinstance(r, Exception) for r in results), results
    checked = [r for r in results if not isinstance(r, LoginLocked)]
    assert len(checked) == LOCK_AFTER_FAILURES, [str(r) for r in results]
    assert all("wrong user name or password" in str(r) for r in checked)
    with pytest.raises(LoginLocked, match="too many failed sign-ins"):
        password_login(store, "bob", PASSWORD, client="203.0.113.7")
    # the lock is for that name from that address only
    assert password_login(store, "bob", PASSWORD, client="198.51.100.1").name == "bob"
    store.dispose()
