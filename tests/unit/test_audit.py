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
    log.store.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("s.db*"))  # the WAL too
    assert b"postgresql://u:***@h/db" in raw  # the event is there, masked
    assert b"audit-canary-secret" not in raw
    assert b"pw-canary" not in raw


# --------------------------------------------------------------------------- the head (anchor)


@pytest.mark.parametrize(
    ("sql", "bad_seq", "reason"),
    [
        ("DELETE FROM audit_events WHERE seq = 5", 5, "event 5 are missing"),
        ("DELETE FROM audit_events WHERE seq >= 4", 4, "events 4 to 5 are missing"),
        ("DELETE FROM audit_events", 1, "events 1 to 5 are missing"),
        ("DELETE FROM audit_head", 6, "audit head"),
        ("UPDATE audit_head SET seq = 4", 5, "seal does not match"),
    ],
)
def test_truncation_and_head_tampering_are_detected(
    log: AuditLog, sql: str, bad_seq: int, reason: str
) -> None:
    with log.store.engine.begin() as conn:
        conn.execute(text(sql))
    report = log.verify()
    assert not report.ok
    assert report.first_bad_seq == bad_seq
    assert reason in (report.reason or "")


def test_moving_the_keyed_head_back_needs_the_key(tmp_path: Path) -> None:
    from synthgate.audit._log import seal_head

    log = AuditLog(Store(f"sqlite:///{tmp_path / 's.db'}"), key=b"k1")
    for i in range(3):
        log.append(actor="a", action="x", subject=str(i))
    second = list(log.events())[1]
    # an attacker cuts the last event and re-seals the head, without the key
    _, forged = seal_head(None, 2, second.hash)
    with log.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 3"))
        conn.execute(
            text("UPDATE audit_head SET seq = 2, hash = :h, seal = :s"),
            {"h": second.hash, "s": forged},
        )
    report = log.verify()
    assert not report.ok
    assert "seal does not match" in (report.reason or "")
    # with the key, the same cut would look consistent: that is what the key is for
    algorithm, sealed = seal_head(b"k1", 2, second.hash)
    with log.store.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_head SET seal = :s, algorithm = :a"), {"s": sealed, "a": algorithm}
        )
    assert log.verify().ok


def test_a_keyed_log_verified_without_the_key_says_so(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    AuditLog(store, key=b"k1").append(actor="a", action="x", subject="s")
    report = AuditLog(store, key=b"").verify()
    assert not report.ok
    assert "SYNTHGATE_AUDIT_KEY" in (report.reason or "")


def test_upgrading_a_0001_store_anchors_its_existing_chain(tmp_path: Path) -> None:
    from alembic import command

    from synthgate.store._store import _alembic_config

    url = f"sqlite:///{tmp_path / 's.db'}"
    old = Store(url, migrate=False)
    with old.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
    assert old.revision() == "0001"
    with old.engine.begin() as conn:  # two events written by a 0001 synthgate
        prev = "0" * 64
        for seq in (1, 2):
            body = AuditLog._body(seq, f"2026-01-0{seq}T00:00:00.000000Z", "a", "x", "s", "{}")
            import hashlib

            digest = hashlib.sha256((prev + body).encode()).hexdigest()
            conn.execute(
                text("INSERT INTO audit_events VALUES (:seq, :ts, 'a', 'x', 's', '{}', :p, :h)"),
                {"seq": seq, "ts": f"2026-01-0{seq}T00:00:00.000000Z", "p": prev, "h": digest},
            )
            prev = digest
    old.dispose()
    log = AuditLog(Store(url), key=b"")
    assert log.verify().ok
    assert log.verify().head_seq == 2
    log.append(actor="b", action="y", subject="s")
    assert log.verify().ok
    assert log.verify().checked == 3


def test_concurrent_appends_keep_one_chain(tmp_path: Path) -> None:
    import threading

    url = f"sqlite:///{tmp_path / 's.db'}"
    Store(url)
    barrier = threading.Barrier(4)

    def writer(n: int) -> None:
        log = AuditLog(Store(url, migrate=False))
        barrier.wait()
        for i in range(10):
            log.append(actor=f"w{n}", action="x", subject=str(i))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = AuditLog(Store(url)).verify()
    assert report.ok
    assert report.checked == 40


def test_events_filter_by_subjects_and_export_jsonl(log: AuditLog, tmp_path: Path) -> None:
    import json

    assert [e.subject for e in log.events(subjects={"run-1", "run-3"})] == ["run-1", "run-3"]
    out = tmp_path / "audit.jsonl"
    assert log.export(out) == 5
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["seq"] for e in lines] == [1, 2, 3, 4, 5]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    assert set(lines[0]) == {
        "seq",
        "ts",
        "actor",
        "action",
        "subject",
        "details",
        "prev_hash",
        "hash",
    }
    cutoff = lines[3]["ts"]
    assert log.export(out, since=cutoff) == 2


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("2026-01-31", "2026-01-31T00:00:00.000000Z"),
        ("2026-01-31T12:30:00Z", "2026-01-31T12:30:00.000000Z"),
        ("2026-01-31T14:30:00+02:00", "2026-01-31T12:30:00.000000Z"),
        ("2d", "2026-01-29T12:00:00.000000Z"),
        ("12h", "2026-01-31T00:00:00.000000Z"),
        ("1w", "2026-01-24T12:00:00.000000Z"),
    ],
)
def test_since_accepts_iso_times_and_ages(since: str, expected: str) -> None:
    from datetime import UTC, datetime

    from synthgate.audit import since_timestamp

    now = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    assert since_timestamp(since, now=now) == expected


@pytest.mark.parametrize("since", ["yesterday", "7 days ago", "2026-13-01", "5y"])
def test_since_rejects_what_is_not_a_time(since: str) -> None:
    from synthgate.audit import since_timestamp
    from synthgate.errors import ConfigError

    with pytest.raises(ConfigError, match="is not a time"):
        since_timestamp(since)
