"""The ledger reserves before a run reads, settles after its fit, releases when no
mechanism ran, counts δ and masked copies, and its lock holds across processes;
old spelled keys are folded into canonical ones when the store is upgraded."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from tests._dbservers import pg_database

from synthgate.contracts import StageSpend
from synthgate.errors import ConfigError, PermissionDenied, PrivacyBudgetError
from synthgate.privacy import (
    MASKED_COPY,
    BudgetLedger,
    SourceBusy,
    _budget,
    register_source,
    source_limits,
)
from synthgate.release import Actor, Role, load_policy
from synthgate.store import EXIT_LOCKED, Store, utcnow
from synthgate.store.models import RunRow

KEY = "sqlite:////data/base.db#main.customers"


def _run(store: Store, run_id: str, key: str = KEY) -> str:
    store.create_run(
        RunRow(
            id=run_id,
            job_name="job",
            spec_hash="0" * 64,
            source_key=key,
            snapshot_id=None,
            synthesizer="test",
            status="running",
            requested_by="alice",
            started_at=utcnow(),
            finished_at=None,
            error=None,
            run_dir="/tmp",
        )
    )
    return run_id


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'home' / 'synthgate.db'}")


def test_a_reservation_counts_until_it_settles_to_what_was_spent(store: Store) -> None:
    ledger = BudgetLedger(store)
    a, b = _run(store, "run-a"), _run(store, "run-b")
    ledger.reserve(KEY, a, epsilon=6.0, delta=1e-5, limit=10.0, delta_limit=1e-4)
    status = ledger.status(KEY, limit=10.0)
    assert (status.spent_epsilon, status.reserved_epsilon, status.remaining) == (0.0, 6.0, 4.0)
    assert status.runs == 0
    # a second job on the same source cannot pass while the first is under way
    with pytest.raises(PrivacyBudgetError, match=r"ε=6 reserved by 1 running job\(s\)"):
        ledger.reserve(KEY, b, epsilon=6.0, delta=1e-5, limit=10.0)
    with pytest.raises(PrivacyBudgetError, match="limit ε=10"):
        ledger.require(KEY, 6.0, limit=10.0)
    # re-reserving (a resumed run) replaces the run's own reservation
    ledger.reserve(KEY, a, epsilon=6.0, delta=1e-5, limit=10.0)
    assert ledger.status(KEY, limit=10.0).reservations == 1
    # the fit spent less: settled to what it spent, in one transaction with the split
    ledger.record(
        KEY,
        a,
        epsilon=5.5,
        delta=1e-5,
        accountant="prv",
        stages=(StageSpend("train", "dp-sgd", 5.5, 1e-5),),
    )
    status = ledger.status(KEY, limit=10.0)
    assert (status.spent_epsilon, status.reserved_epsilon, status.runs) == (5.5, 0.0, 1)
    assert ledger.reserved(KEY, a) == 0.0
    ledger.reserve(KEY, b, epsilon=4.5, delta=1e-5, limit=10.0)
    # b failed before any mechanism ran: its reservation goes away, no line stays
    assert ledger.release(KEY, b) == 4.5
    assert [e.stage for e in ledger.entries(KEY)] == ["total", "train"]


def test_a_fit_that_cannot_say_what_it_spent_is_charged_its_reservation(store: Store) -> None:
    ledger = BudgetLedger(store)
    run = _run(store, "run-a")
    ledger.reserve(KEY, run, epsilon=3.0, delta=1e-5, limit=10.0)
    assert ledger.charge_reserved(KEY, run, accountant="interrupted-fit") == 3.0
    [line] = ledger.entries(KEY)
    assert (line.stage, line.epsilon, line.delta, line.mechanism) == (
        "total",
        3.0,
        1e-5,
        "interrupted-fit",
    )
    assert ledger.charge_reserved(KEY, run, accountant="interrupted-fit") == 0.0  # once


def test_delta_accumulates_per_source_and_is_limited(store: Store) -> None:
    ledger = BudgetLedger(store)
    for i in range(3):
        run = _run(store, f"run-{i}")
        ledger.reserve(KEY, run, epsilon=1.0, delta=4e-5, limit=10.0, delta_limit=1e-4)
        ledger.record(KEY, run, epsilon=1.0, delta=4e-5, accountant="prv", stages=())
        if i == 1:
            break
    status = ledger.status(KEY, limit=10.0, delta_limit=1e-4)
    assert status.spent_delta == pytest.approx(8e-5)
    assert status.remaining_delta == pytest.approx(2e-5)
    with pytest.raises(PrivacyBudgetError, match=r"spent δ=8e-05 over 2 run\(s\).*limit δ=0.0001"):
        ledger.reserve(
            KEY, _run(store, "run-x"), epsilon=1.0, delta=4e-5, limit=10.0, delta_limit=1e-4
        )


def test_a_masked_copy_is_a_marked_line_with_infinite_epsilon(store: Store) -> None:
    ledger = BudgetLedger(store)
    run = _run(store, "run-copy")
    ledger.record_masked_copy(KEY, run)
    ledger.record_masked_copy(KEY, run)  # a resumed run records it once
    [line] = ledger.entries(KEY)
    assert line.stage == MASKED_COPY
    assert math.isinf(line.epsilon)
    status = ledger.status(KEY, limit=10.0)
    assert status.masked_copies == 1
    assert status.spent_epsilon == 0.0  # counted apart from the finite sum
    assert not status.empty
    assert ledger.sources() == [KEY]


def _actor(role: Role | None) -> Actor:
    return Actor("boss" if role else "alice", role, role is not None)


def test_registered_limits_lower_the_pack_and_only_an_admin_raises_them(store: Store) -> None:
    pack = load_policy("default")  # ε 10, δ 1e-4
    register_source(
        store, _actor(Role.APPROVER), "crm", "sqlite:///x.db", "c", key=KEY, epsilon_limit=50.0
    )
    assert source_limits(store, KEY, pack).epsilon == 10.0  # an approver cannot raise it
    register_source(
        store,
        _actor(Role.APPROVER),
        "crm-low",
        "sqlite:///y.db",
        "c",
        key=KEY,
        epsilon_limit=4.0,
        delta_limit=2e-5,
    )
    limits = source_limits(store, KEY, pack)
    assert (limits.epsilon, limits.delta) == (4.0, 2e-5)  # aliases: the lowest wins
    assert "crm, crm-low" in limits.origin
    other = "postgresql://db:5432/crm#public.customers"
    register_source(
        store,
        _actor(Role.ADMIN),
        "big",
        "postgresql://app@db/crm",
        "customers",
        key=other,
        epsilon_limit=30.0,
    )
    assert source_limits(store, other, pack).epsilon == 30.0  # an admin's registration may
    assert source_limits(store, "file:///elsewhere.csv", pack).epsilon == 10.0


@pytest.mark.parametrize(
    ("actor", "name", "url", "error"),
    [
        (_actor(Role.ENGINEER), "crm", "sqlite:///x.db", PermissionDenied),
        (_actor(Role.AUDITOR), "crm", "sqlite:///x.db", PermissionDenied),
        (_actor(Role.ADMIN), "Bad Name", "sqlite:///x.db", ConfigError),
        (_actor(Role.ADMIN), "crm", "postgresql://app:hunter2-pw@db/crm", ConfigError),
    ],
)
def test_a_registration_is_refused(
    store: Store, actor: Actor, name: str, url: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        register_source(store, actor, name, url, "c", key=KEY, epsilon_limit=5.0)
    assert "hunter2" not in str(caught.value)
    with store.session() as s:
        assert s.execute(text("SELECT count(*) FROM sources")).scalar() == 0


def test_a_name_is_registered_once_and_the_registration_is_audited(store: Store) -> None:
    from synthgate.audit import AuditLog

    url = "postgresql://app:${PG_PASSWORD}@db/crm"  # a reference, not a password
    register_source(store, _actor(Role.ADMIN), "crm", url, "c", key=KEY, epsilon_limit=5.0)
    with pytest.raises(ConfigError, match="registered already"):
        register_source(store, _actor(Role.ADMIN), "crm", url, "c", key=KEY, epsilon_limit=9.0)
    [event] = [e for e in AuditLog(store).events() if e.action == "source.registered"]
    assert event.subject == "crm"
    assert event.details["source"] == KEY
    assert event.details["epsilon_limit"] == 5.0


HOLDER = """
import sys
from synthgate.privacy import BudgetLedger
from synthgate.store import Store
ledger = BudgetLedger(Store(sys.argv[1]))
with ledger._locked(sys.argv[2]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def _contend(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(store_url)
    ledger = BudgetLedger(store)
    run = _run(store, "run-waiting")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, store_url, KEY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    assert holder.stdout is not None
    assert holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "held"  # the other process has the lock
        monkeypatch.setattr(_budget, "LOCK_WAIT", 0.3)
        with pytest.raises(
            SourceBusy, match=r"being reserved by another process \(pid \d+"
        ) as busy:
            ledger.reserve(KEY, run, epsilon=1.0, delta=1e-5, limit=10.0)
        assert busy.value.exit_code == EXIT_LOCKED
        assert ledger.status(KEY, limit=10.0).empty
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=60) == 0
    finally:
        holder.kill()
        holder.wait(timeout=30)
    monkeypatch.setattr(_budget, "LOCK_WAIT", 30.0)
    ledger.reserve(KEY, run, epsilon=1.0, delta=1e-5, limit=10.0)
    assert ledger.status(KEY, limit=10.0).reserved_epsilon == 1.0
    store.dispose()


def test_the_budget_lock_holds_across_processes_with_a_sqlite_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _contend(f"sqlite:///{tmp_path / 'home' / 'synthgate.db'}", monkeypatch)
    assert any(p.name.startswith("budget-") for p in (tmp_path / "home" / "locks").iterdir())


@pytest.fixture
def pg_store_url() -> Iterator[str]:
    for db in pg_database():
        yield db.url


def test_the_budget_lock_holds_across_processes_with_a_postgresql_store(
    pg_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _contend(pg_store_url, monkeypatch)


def test_upgrading_folds_spelled_keys_into_canonical_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic import command

    from synthgate.store._store import _alembic_config

    data = tmp_path / "data"
    data.mkdir()
    (data / "base.db").touch()
    url = f"sqlite:///{tmp_path / 'home' / 's.db'}"
    old = Store(url, migrate=False)
    with old.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0004")
    spelled = [
        f"sqlite:///{data}/base.db#customers",
        f"sqlite:///{tmp_path}/data/./base.db#customers",
        f"sqlite:///{tmp_path}//data/base.db#customers",
        "sqlite:///gone/relative.db#customers",  # cannot be told from here: kept as it was
    ]
    with old.engine.begin() as conn:
        for i, key in enumerate(spelled):
            conn.execute(
                text(
                    "INSERT INTO runs (id, job_name, spec_hash, source_key, synthesizer, status, "
                    "requested_by, started_at, run_dir) VALUES "
                    "(:id, 'j', 'h', :key, 's', 'succeeded', 'a', 't', '/tmp')"
                ),
                {"id": f"run-{i}", "key": key},
            )
            conn.execute(
                text(
                    "INSERT INTO budget_ledger (source_key, run_id, stage, mechanism, epsilon, "
                    "delta, created_at) VALUES (:key, :id, 'total', 'prv', 5.98, 1e-5, 't')"
                ),
                {"id": f"run-{i}", "key": key},
            )
    old.dispose()
    monkeypatch.chdir(tmp_path)
    store = Store(url)
    assert store.revision() == "0006"
    canonical = f"sqlite:///{os.path.realpath(data / 'base.db')}#main.customers"
    ledger = BudgetLedger(store)
    assert ledger.sources() == sorted([canonical, spelled[3]])
    status = ledger.status(canonical, limit=10.0)
    assert (status.runs, round(status.spent_epsilon, 2)) == (3, 17.94)  # no longer 3 × 5.98
    with pytest.raises(PrivacyBudgetError):
        ledger.require(canonical, 0.1, limit=10.0)
    assert {store.get_run(f"run-{i}").source_key for i in range(3)} == {canonical}  # type: ignore[union-attr]
