from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy import text

from synthgate.audit import AuditLog
from synthgate.errors import ConfigError
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


# --------------------------------------------------------------------------- one algorithm per store


def _keyed(tmp_path: Path, key: bytes = b"the-store-key-0001") -> AuditLog:
    log = AuditLog(Store(f"sqlite:///{tmp_path / 'k.db'}"), key=key)
    for i in range(3):
        log.append(actor="a", action="x", subject=str(i))
    return log


@pytest.mark.parametrize(
    ("key", "says"),
    [
        (b"", "is keyed (hmac-sha256) but SYNTHGATE_AUDIT_KEY is not set"),
        (b"another-key-000001", "SYNTHGATE_AUDIT_KEY is not the key this store's audit log"),
    ],
)
def test_a_process_without_the_store_key_refuses_to_write(
    tmp_path: Path, key: bytes, says: str
) -> None:
    from synthgate.audit import AuditKeyError

    keyed = _keyed(tmp_path)
    with pytest.raises(AuditKeyError) as info:
        AuditLog(keyed.store, key=key).append(actor="b", action="y", subject="s")
    message = str(info.value)
    assert says in message
    assert "nothing was written" in message
    assert "\n" not in message
    assert "the-store-key" not in message
    assert info.value.exit_code == 2
    report = keyed.verify()  # nothing was appended, the head was not flipped
    assert report.ok
    assert (report.checked, report.algorithm) == (3, "hmac-sha256")


def test_a_keyed_process_refuses_to_write_to_an_unkeyed_log(tmp_path: Path) -> None:
    from synthgate.audit import AuditKeyError

    plain = AuditLog(Store(f"sqlite:///{tmp_path / 'p.db'}"), key=b"")
    plain.append(actor="a", action="x", subject="s")
    with pytest.raises(AuditKeyError, match=r"not keyed \(sha256\).*synthgate audit rekey"):
        AuditLog(plain.store, key=b"a-key-set-too-late").append(actor="b", action="y", subject="s")
    report = AuditLog(plain.store, key=b"a-key-set-too-late").verify()
    assert report.ok
    assert report.algorithm == "sha256"
    assert "rekey" in (AuditLog(plain.store, key=b"a-key-set-too-late").note() or "")


def test_an_empty_log_takes_the_algorithm_of_its_first_writer(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'e.db'}")
    AuditLog(store, key=b"first-writer-key-1").append(actor="a", action="x", subject="s")
    with store.engine.connect() as conn:
        algorithm, check = conn.execute(text("SELECT algorithm, key_check FROM audit_head")).one()
    assert algorithm == "hmac-sha256"
    assert check
    assert len(check) == 64


def test_verify_names_the_algorithm_and_the_range(tmp_path: Path) -> None:
    keyed = _keyed(tmp_path)
    report = keyed.verify()
    assert (report.first_seq, report.last_seq, report.checked) == (1, 3, 3)
    line = report.describe()
    assert line.startswith("audit log intact (hmac-sha256): events 1 to 3 verified; head 3 ")
    refused = AuditLog(keyed.store, key=b"").verify()
    assert not refused.ok
    assert refused.first_bad_seq is None
    assert "SYNTHGATE_AUDIT_KEY is not set" in refused.describe()


def test_verification_goes_on_from_a_checkpoint(tmp_path: Path) -> None:
    from synthgate.audit import ChainWatch

    keyed = _keyed(tmp_path)
    watch = ChainWatch(keyed.store, key=b"the-store-key-0001")
    first = watch.verify()
    assert (first.first_seq, first.last_seq) == (1, 3)
    keyed.append(actor="a", action="x", subject="later")
    second = watch.verify()
    assert (second.ok, second.first_seq, second.last_seq, second.checked) == (True, 4, 4, 1)
    assert watch.verify().checked == 0  # nothing new
    # the checkpoint event itself rewritten: found without walking the chain again
    with keyed.store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET hash = 'feed' WHERE seq = 4"))
    broken = watch.verify()
    assert (broken.ok, broken.first_bad_seq) == (False, 4)
    assert "changed since it was verified" in (broken.reason or "")
    assert not watch.verify().ok  # after a failure the whole chain is walked again
    assert watch.verify(full=True).first_seq == 1


def test_rekey_moves_an_unkeyed_chain_to_a_key(tmp_path: Path) -> None:
    from synthgate.audit import AuditKeyError

    plain = AuditLog(Store(f"sqlite:///{tmp_path / 'p.db'}"), key=b"")
    for i in range(4):
        plain.append(actor="a", action="x", subject=str(i), details={"i": i})
    before = list(plain.events())
    new = b"a-brand-new-key-0042"
    with pytest.raises(ConfigError, match="at least 16"):
        plain.rekey(b"short", actor="root", details={})
    result = plain.rekey(new, actor="root", details={"actor_role": "admin"})
    assert (result.events, result.from_algorithm, result.to_algorithm) == (
        4,
        "sha256",
        "hmac-sha256",
    )
    keyed = AuditLog(plain.store, key=new)
    report = keyed.verify()
    assert report.ok
    assert (report.algorithm, report.checked) == ("hmac-sha256", 5)
    after = list(keyed.events())
    assert [(e.seq, e.actor, e.details) for e in after[:4]] == [
        (e.seq, e.actor, e.details) for e in before
    ]
    assert all(a.hash != b.hash for a, b in zip(after, before, strict=False))
    event = after[-1]
    assert (event.action, event.actor) == ("audit.rekeyed", "root")
    assert event.details["previous_head"] == {"seq": 4, "hash": before[-1].hash}
    assert new.decode() not in str(event.details)
    with pytest.raises(AuditKeyError):
        plain.append(actor="a", action="x", subject="unkeyed writer")
    keyed.append(actor="a", action="x", subject="keyed writer")
    assert keyed.verify().ok


def test_rekey_needs_an_intact_log_and_the_current_key(tmp_path: Path) -> None:
    keyed = _keyed(tmp_path)
    with pytest.raises(ConfigError, match=r"not rekeyed: .*SYNTHGATE_AUDIT_KEY is not set"):
        AuditLog(keyed.store, key=b"").rekey(b"a-brand-new-key-0042", actor="root", details={})
    with pytest.raises(ConfigError, match="already has"):
        keyed.rekey(b"the-store-key-0001", actor="root", details={})
    with keyed.store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
    with pytest.raises(ConfigError, match="not rekeyed: audit log broken at event 2"):
        keyed.rekey(b"a-brand-new-key-0042", actor="root", details={})


def test_upgrading_a_keyed_0003_store_records_its_key_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic import command

    from synthgate.audit._log import _mac, key_check, seal_head
    from synthgate.store._store import _alembic_config

    key = b"the-store-key-0001"
    url = f"sqlite:///{tmp_path / 's.db'}"
    old = Store(url, migrate=False)
    with old.engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0003")
        ts = "2026-01-01T00:00:00.000000Z"
        digest = _mac(key, ("0" * 64 + AuditLog._body(1, ts, "a", "x", "s", "{}")).encode())
        conn.execute(
            text("INSERT INTO audit_events VALUES (1, :ts, 'a', 'x', 's', '{}', :p, :h)"),
            {"ts": ts, "p": "0" * 64, "h": digest},
        )
        algorithm, seal = seal_head(key, 1, digest)
        conn.execute(
            text("UPDATE audit_head SET seq = 1, hash = :h, algorithm = :a, seal = :s"),
            {"h": digest, "a": algorithm, "s": seal},
        )
    old.dispose()
    monkeypatch.setenv("SYNTHGATE_AUDIT_KEY", key.decode())
    store = Store(url)  # runs 0004 with the key in the environment
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT algorithm, key_check FROM audit_head")).one()
    assert tuple(row) == ("hmac-sha256", key_check(key))
    assert AuditLog(store).verify().ok
    monkeypatch.delenv("SYNTHGATE_AUDIT_KEY")
    with pytest.raises(ConfigError, match="SYNTHGATE_AUDIT_KEY is not set"):
        AuditLog(store).append(actor="b", action="y", subject="s")


def test_the_quick_walk_hashes_what_appends_hashed(tmp_path: Path) -> None:
    import json

    from synthgate.audit import canonical_json
    from synthgate.audit._log import _body, _quick_body

    log = AuditLog(Store(f"sqlite:///{tmp_path / 'q.db'}"), key=b"")
    tricky = ['quote " and \\ back', "ünïcödé ✓", "tab\tand\nnewline", "</script>", "x"]
    for i, value in enumerate(tricky):
        log.append(actor=value, action="x.y", subject=value, details={"v": value, "n": i})
    for e in log.events():
        args = (e.seq, e.ts, e.actor, e.action, e.subject, canonical_json(e.details))
        assert _quick_body(*args) == _body(*args)
    assert log.verify().ok
    # details rewritten in an equivalent, non-canonical spelling still verify (the slow path)
    spaced = json.dumps({"v": tricky[1], "n": 1}, indent=1)
    with log.store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET details = :d WHERE seq = 2"), {"d": spaced})
    assert log.verify().ok
