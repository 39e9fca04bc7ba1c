from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy import text

from synthgate.audit import AuditLog
from synthgate.store import Store


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog(Store(f"sqlite:///{tmp_path / 'store.db'}"))
    for i in range(5):
        audit.append(actor="alice", action="stage.finished", subject=f"run-{i}", details={"i": i})
    return audit


def test_intact_chain_verifies(log: AuditLog) -> None:
    report = log.verify()
    assert report.ok
    assert report.checked == 5
    events = list(log.events())
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))


@pytest.mark.parametrize(
    ("sql", "bad_seq"),
    [
        ("UPDATE audit_events SET details = '{\"i\": 99}' WHERE seq = 3", 3),
        ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2", 2),
        ("DELETE FROM audit_events WHERE seq = 2", 2),
        ("UPDATE audit_events SET seq = 10 WHERE seq = 4", 4),
        (
            "INSERT INTO audit_events VALUES (6, '2030-01-01T00:00:00.000000Z', 'mallory', 'x', 'y', '{}',"
            " '0000000000000000000000000000000000000000000000000000000000000000', 'feed')",
            6,
        ),
    ],
)
def test_tampering_is_detected_and_located(log: AuditLog, sql: str, bad_seq: int) -> None:
    with log.store.engine.begin() as conn:
        conn.execute(text(sql))
    report = log.verify()
    assert not report.ok
    assert report.first_bad_seq == bad_seq


def test_keyed_chain_cannot_be_rebuilt_without_the_key(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    keyed = AuditLog(store, key=b"k1")
    keyed.append(actor="a", action="x", subject="s")
    assert keyed.verify().ok
    assert not AuditLog(store, key=b"other").verify().ok


def test_secrets_never_enter_events(tmp_path: Path) -> None:
    from synthgate.errors import register_secret

    register_secret("audit-canary-secret")
    log = AuditLog(Store(f"sqlite:///{tmp_path / 's.db'}"))
    log.append(
        actor="a",
        action="x",
        subject="s",
        details={"url": "postgresql://u:pw-canary@h/db", "v": "audit-canary-secret"},
    )
    raw = (tmp_path / "s.db").read_bytes()
    assert b"audit-canary-secret" not in raw
    assert b"pw-canary" not in raw
