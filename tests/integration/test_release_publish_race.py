"""A revoke or an expiry during an in-flight publish of a 50,000-row release (issue #16).

The publish runs in a thread with its own store connection and is held, by a
hook on the batches it writes, after it has loaded part of the table into its
staging table: the revoke (or the expiry sweep) then runs in the test's thread
and the publish is let go. The publish must stop before its write commits —
nothing of the release in the target, no staging table, no idempotency record —
and the audit log must say so: ``publish_started``, ``revoked`` (or
``expired``), ``publish_stopped``. On PostgreSQL and MariaDB targets, with a
SQLite and a PostgreSQL metadata store. Events synchronise the threads; there
is no sleep.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from tests._dbservers import MyDb, PgDb, mysql_database, pg_database
from tests.unit.test_release_service import BOB, make_release, synthetic_frame

from synthgate.audit import AuditLog
from synthgate.release import (
    Actor,
    ReleaseStatus,
    Role,
    expire_due,
    file_sha256,
    get_release,
    publish,
    revoke,
)
from synthgate.release import _service as service
from synthgate.release._service import PublishStopped
from synthgate.store import Store
from synthgate.store.models import ReleaseRow

ENG = Actor("erin", Role.ENGINEER, True)
ROWS = 50_000
DEADLINE = 120.0
TABLE = "customers_syn"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass
class Target:
    url: str
    db: PgDb | MyDb

    def tables(self) -> list[str]:
        if isinstance(self.db, PgDb):
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1"
            return [str(r[0]) for r in self.db.execute(sql, (self.db.schema,))]
        return sorted(str(r[0]) for r in self.db.execute("SHOW TABLES"))

    def writes(self) -> list[Any]:
        if "_synthgate_writes" not in self.tables():
            return []
        return [r[0] for r in self.db.execute("SELECT idempotency_key FROM _synthgate_writes")]


@pytest.fixture(params=["postgresql", "mariadb"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "postgresql":
        for pg in pg_database():
            yield Target(pg.url, pg)
    else:
        for my in mysql_database():
            yield Target(my.url, my)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    name = f"sg_race_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


def big_release(store: Store, tmp_path: Path, target_url: str) -> None:
    """An APPROVED release of ROWS rows bound for *target_url*."""
    make_release(store, tmp_path, status=ReleaseStatus.APPROVED, target_url=target_url)
    artifact = tmp_path / "runs" / "run-rel-1" / "sample" / "synthetic.parquet"
    pq.write_table(pa.Table.from_pandas(synthetic_frame(ROWS), preserve_index=False), artifact)
    with store.session() as s:
        row = s.get_one(ReleaseRow, "rel-1")
        row.artifact_sha256 = file_sha256(artifact)
        row.rows = ROWS


class Held:
    """Holds a publish after it handed two batches of 10,000 rows to the sink."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.loading = threading.Event()
        self.go = threading.Event()
        original = service._batches

        def held(table: pa.Table) -> Iterator[pa.RecordBatch]:
            for i, batch in enumerate(original(table)):
                if i == 2:
                    self.loading.set()
                    if not self.go.wait(DEADLINE):
                        raise TimeoutError("the test never let the publish go on")
                yield batch

        monkeypatch.setattr(service, "_BATCH_ROWS", 10_000)
        monkeypatch.setattr(service, "_batches", held)


def in_thread(url: str, call: Callable[[Store], Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def worker() -> None:
        store = Store(url, migrate=False)
        try:
            result.append(call(store))
        except Exception as exc:
            result.append(exc)
        finally:
            store.dispose()

    thread = threading.Thread(target=worker)
    thread.start()
    return thread, result


def race(
    store_url: str,
    target: Target,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interfere: Callable[[Store], None],
) -> tuple[Store, Any]:
    store = Store(store_url)
    big_release(store, tmp_path, target.url)
    held = Held(monkeypatch)
    thread, result = in_thread(store_url, lambda s: publish(s, ENG, "rel-1"))
    try:
        assert held.loading.wait(DEADLINE), "the publish never started writing"
        interfere(store)  # while the publish is loading its staging table
    finally:
        held.go.set()
        thread.join(DEADLINE)
    assert not thread.is_alive(), "the publish hung"
    return store, result[0]


def assert_nothing_written(target: Target) -> None:
    assert target.tables() == ["_synthgate_writes"]  # no table, no staging leftovers
    assert target.writes() == []


def test_a_revoke_during_a_publish_stops_the_write(
    store_url: str, target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def revoking(store: Store) -> None:
        row = revoke(store, BOB, "rel-1", reason="withdrawn while it was being published")
        assert row.status == ReleaseStatus.REVOKED.value

    store, outcome = race(store_url, target, tmp_path, monkeypatch, revoking)
    assert isinstance(outcome, PublishStopped), outcome
    assert "release rel-1 became REVOKED while it was being published" in str(outcome)
    assert "nothing was written to the target" in str(outcome)
    assert_nothing_written(target)
    release = get_release(store, "rel-1")
    assert (release.status, release.published_at, release.publish_claim) == ("REVOKED", None, None)
    events = list(AuditLog(store).events(subject="rel-1"))
    assert [e.action for e in events] == [
        "release.publish_started",
        "release.revoked",
        "release.publish_stopped",
    ]
    assert events[1].details["publish_in_flight"] is True
    assert events[1].details["was_published"] is False
    assert events[2].details["target_written"] is False
    assert AuditLog(store).verify().ok
    store.dispose()


def test_an_expiry_during_a_publish_stops_the_write(
    store_url: str, target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def sweeping(store: Store) -> None:
        assert expire_due(store, now="3000-01-01T00:00:00.000000Z") == ["rel-1"]

    store, outcome = race(store_url, target, tmp_path, monkeypatch, sweeping)
    assert isinstance(outcome, PublishStopped), outcome
    assert "became EXPIRED while it was being published" in str(outcome)
    assert_nothing_written(target)
    assert get_release(store, "rel-1").status == ReleaseStatus.EXPIRED.value
    assert [e.action for e in AuditLog(store).events(subject="rel-1")] == [
        "release.publish_started",
        "release.expired",
        "release.publish_stopped",
    ]
    assert AuditLog(store).verify().ok
    store.dispose()


def test_an_undisturbed_publish_writes_every_row_and_a_later_revoke_says_so(
    store_url: str, target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, outcome = race(store_url, target, tmp_path, monkeypatch, lambda _store: None)
    assert outcome.rows == ROWS
    [(count,)] = target.db.execute(f"SELECT count(*) FROM {TABLE}")
    assert count == ROWS
    assert target.writes() == ["rel-1"]
    revoke(store, BOB, "rel-1", reason="withdrawn after publishing")
    events = list(AuditLog(store).events(subject="rel-1"))
    assert [e.action for e in events] == [
        "release.publish_started",
        "release.published",
        "release.revoked",
    ]
    assert events[2].details["was_published"] is True
    store.dispose()
