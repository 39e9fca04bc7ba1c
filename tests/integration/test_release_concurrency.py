"""Two approvers deciding at once: exactly one wins, the other gets a ConflictError.

Real threads, each with its own store connection, released together by a
barrier after both have reviewed the same version — on SQLite and on
PostgreSQL (a database created and dropped per test).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.unit.test_release_service import make_release

from synthgate.audit import AuditLog
from synthgate.errors import ConflictError, ReleaseStateError
from synthgate.release import (
    Actor,
    Decision,
    ReleaseStatus,
    Role,
    approvals_of,
    approve,
    get_release,
    publish,
    reject,
)
from synthgate.store import Store

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
APPROVERS = [Actor(f"approver{i}", Role.APPROVER, True) for i in range(4)]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    name = f"sg_rel_{secrets.token_hex(4)}"
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


def race(url: str, calls: list[Callable[[Store], Any]]) -> list[Any]:
    """Run each call in its own thread and store connection, all released at once.

    Returns each call's result or the exception it raised, in call order.
    """
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(i: int) -> None:
        store = Store(url, migrate=False)
        try:
            barrier.wait()
            results[i] = calls[i](store)
        except Exception as exc:
            results[i] = exc
        finally:
            store.dispose()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a decision hung"
    return results


def approving(actor: Actor, rid: str, version: int) -> Callable[[Store], Decision]:
    def call(store: Store) -> Decision:
        return approve(store, actor, rid, comment=f"ok from {actor.name}", expected_version=version)

    return call


def publishing(actor: Actor, rid: str) -> Callable[[Store], Any]:
    return lambda store: publish(store, actor, rid)


@pytest.mark.parametrize("round_", range(3))
def test_two_approvers_at_once_exactly_one_wins(
    store_url: str, tmp_path: Path, round_: int
) -> None:
    store = Store(store_url)
    rid = f"rel-{round_}"
    make_release(store, tmp_path, release_id=rid)
    seen = get_release(store, rid).version  # both reviewed this version
    results = race(
        store_url,
        [approving(a, rid, seen) for a in APPROVERS[:2]],
    )
    wins = [r for r in results if isinstance(r, Decision)]
    conflicts = [r for r in results if isinstance(r, ConflictError)]
    assert len(wins) == 1, results
    assert len(conflicts) == 1, results
    assert "was changed by someone else" in str(conflicts[0])
    release = get_release(store, rid)
    assert (release.status, release.version) == ("APPROVED", seen + 1)
    assert len(approvals_of(store, rid)) == 1
    assert approvals_of(store, rid)[0].approver == next(
        a.name for a, r in zip(APPROVERS, results, strict=False) if isinstance(r, Decision)
    )
    log = AuditLog(store)
    assert len(list(log.events(subject=rid, action="release.approved"))) == 1
    assert log.verify().ok
    store.dispose()


def test_approve_and_reject_at_once_exactly_one_wins(store_url: str, tmp_path: Path) -> None:
    store = Store(store_url)
    make_release(store, tmp_path)
    results = race(
        store_url,
        [
            lambda s: approve(s, APPROVERS[0], "rel-1", comment="fine", expected_version=1),
            lambda s: reject(s, APPROVERS[1], "rel-1", reason="not fine", expected_version=1),
        ],
    )
    [win] = [r for r in results if isinstance(r, Decision)]
    assert sum(isinstance(r, ConflictError) for r in results) == 1
    assert get_release(store, "rel-1").status == win.status.value
    assert win.status in {ReleaseStatus.APPROVED, ReleaseStatus.REJECTED}
    assert AuditLog(store).verify().ok
    store.dispose()


def test_partial_approvals_are_serialised_too(store_url: str, tmp_path: Path) -> None:
    store = Store(store_url)
    make_release(store, tmp_path, required=2)
    results = race(
        store_url,
        [approving(a, "rel-1", 1) for a in APPROVERS],
    )
    wins = [r for r in results if isinstance(r, Decision)]
    assert len(wins) == 1, results
    assert sum(isinstance(r, ConflictError) for r in results) == 3
    assert (wins[0].status, wins[0].approvals) == (ReleaseStatus.AWAITING_APPROVAL, 1)
    # a loser reviews again and becomes the second approver
    loser = next(a for a, r in zip(APPROVERS, results, strict=True) if not isinstance(r, Decision))
    final = approve(store, loser, "rel-1", comment="second look", expected_version=2)
    assert (final.status, final.approvals) == (ReleaseStatus.APPROVED, 2)
    store.dispose()


def test_two_publishers_at_once_write_once(store_url: str, tmp_path: Path) -> None:
    store = Store(store_url)
    target = tmp_path / "target.db"
    make_release(store, tmp_path, status=ReleaseStatus.APPROVED, mode="append")
    engineers = [Actor(f"eng{i}", Role.ENGINEER, True) for i in range(2)]
    results = race(store_url, [publishing(e, "rel-1") for e in engineers])
    published = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, ConflictError | ReleaseStateError)]
    assert len(published) == 1, results
    assert len(refused) == 1, results
    engine = sa.create_engine(f"sqlite:///{target}")
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT count(*) FROM customers_syn").scalar_one()
    engine.dispose()
    assert rows == 40  # appended once, not twice
    assert get_release(store, "rel-1").status == "PUBLISHED"
    store.dispose()
