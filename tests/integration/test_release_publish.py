"""Publishing an APPROVED release through the real connectors (SQLite, PostgreSQL, files)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
import yaml
from tests.unit.test_release_service import make_release, synthetic_frame

from synthgate.audit import AuditLog
from synthgate.errors import (
    ConfigError,
    ConflictError,
    PermissionDenied,
    ReleaseStateError,
    SinkError,
    SynthgateError,
)
from synthgate.release import Actor, ReleaseStatus, Role, get_release, publish
from synthgate.store import Store, process_lock

ENG = Actor("erin", Role.ENGINEER, True)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'store.db'}")


def read_target(url: str, table: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    try:
        return pd.read_sql_table(table, engine)
    finally:
        engine.dispose()


def test_publish_writes_the_approved_table_once(store: Store, tmp_path: Path) -> None:
    make_release(store, tmp_path, status=ReleaseStatus.APPROVED)
    result = publish(store, ENG, "rel-1")
    assert (result.table, result.rows, result.mode) == ("customers_syn", 40, "replace")
    written = read_target(f"sqlite:///{tmp_path / 'target.db'}", "customers_syn")
    pd.testing.assert_frame_equal(
        written.astype({"churned": bool}), synthetic_frame(), check_dtype=False
    )
    release = get_release(store, "rel-1")
    assert release.status == "PUBLISHED"
    assert (release.published_by, release.published_rows) == ("erin", 40)
    assert release.published_hash == result.content_hash
    assert len(result.content_hash) == 64
    assert release.publish_claim is None
    events = list(AuditLog(store).events(subject="rel-1"))
    assert [e.action for e in events] == ["release.publish_started", "release.published"]
    assert events[1].details["content_hash"] == result.content_hash
    assert AuditLog(store).verify().ok

    # a published release is never written again: the target keeps a later change
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'target.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM customers_syn WHERE customer_id > 10")
    engine.dispose()
    with pytest.raises(
        ReleaseStateError, match=r"release rel-1 is PUBLISHED; .*nothing is written twice"
    ):
        publish(store, ENG, "rel-1")
    assert len(read_target(f"sqlite:///{tmp_path / 'target.db'}", "customers_syn")) == 10


@pytest.mark.parametrize(
    "status",
    [
        ReleaseStatus.AWAITING_APPROVAL,
        ReleaseStatus.BLOCKED,
        ReleaseStatus.REJECTED,
        ReleaseStatus.REVOKED,
        ReleaseStatus.EXPIRED,
    ],
)
def test_only_approved_releases_are_published(
    store: Store, tmp_path: Path, status: ReleaseStatus
) -> None:
    make_release(store, tmp_path, status=status)
    with pytest.raises(ReleaseStateError, match=f"release rel-1 is {status.value}; it cannot"):
        publish(store, ENG, "rel-1")
    assert not (tmp_path / "target.db").exists()
    assert get_release(store, "rel-1").status == status.value


@pytest.mark.parametrize("role", [Role.APPROVER, Role.AUDITOR])
def test_only_engineers_and_admins_publish(store: Store, tmp_path: Path, role: Role) -> None:
    make_release(store, tmp_path, status=ReleaseStatus.APPROVED)
    with pytest.raises(PermissionDenied, match="may not publish releases"):
        publish(store, Actor("x", role, True), "rel-1")
    assert not (tmp_path / "target.db").exists()


def test_a_changed_synthetic_table_is_not_published(store: Store, tmp_path: Path) -> None:
    make_release(store, tmp_path, status=ReleaseStatus.APPROVED)
    artifact = tmp_path / "runs" / "run-rel-1" / "sample" / "synthetic.parquet"
    tampered = synthetic_frame()
    tampered.loc[0, "monthly_spend"] = 1e9
    tampered.to_parquet(artifact, index=False)
    with pytest.raises(ReleaseStateError, match="not the one that was approved"):
        publish(store, ENG, "rel-1")
    assert not (tmp_path / "target.db").exists()
    assert get_release(store, "rel-1").status == "APPROVED"
    [event] = list(AuditLog(store).events(action="release.publish_refused"))
    assert "not the one that was approved" in event.details["error"]


def test_an_edited_spec_cannot_redirect_the_release(store: Store, tmp_path: Path) -> None:
    make_release(store, tmp_path, status=ReleaseStatus.APPROVED)
    spec_path = tmp_path / "rel-1.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    spec["target"]["table"] = "somewhere_else"
    spec_path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="now resolves to a different target"):
        publish(store, ENG, "rel-1")
    spec_path.unlink()
    with pytest.raises(ConfigError, match="is gone"):
        publish(store, ENG, "rel-1")
    assert not (tmp_path / "target.db").exists()


def test_a_failed_write_leaves_the_release_approved(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "out"
    make_release(
        store, tmp_path, status=ReleaseStatus.APPROVED, target_url=f"sqlite:///{out / 't.db'}"
    )
    with pytest.raises(SinkError, match="does not exist"):
        publish(store, ENG, "rel-1")
    release = get_release(store, "rel-1")
    assert (release.status, release.publish_claim) == ("APPROVED", None)
    assert [e.action for e in AuditLog(store).events(subject="rel-1")] == [
        "release.publish_started",
        "release.publish_failed",
    ]
    out.mkdir()
    assert publish(store, ENG, "rel-1").rows == 40


def test_a_crashed_publish_needs_retry_and_does_not_write_twice(
    store: Store, tmp_path: Path
) -> None:
    make_release(store, tmp_path, status=ReleaseStatus.APPROVED, mode="append")
    # a publish that wrote the table and was killed before recording it
    from synthgate.contracts import WriteMode
    from synthgate.release._service import _plan, _write

    plan = _plan(store, get_release(store, "rel-1"), None)
    assert plan.mode is WriteMode.APPEND
    _write(plan, "rel-1")
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE releases SET publish_claim = 'erin at 2026-01-01', version = 2"
        )
    # the claimer's lock is free, so the claim is stale: the next publish takes it over
    result = publish(store, ENG, "rel-1")
    assert result.rows == 40
    assert get_release(store, "rel-1").publish_claim is None
    written = read_target(f"sqlite:///{tmp_path / 'target.db'}", "customers_syn")
    assert len(written) == 40  # appended once, although written twice
    taken = [e for e in AuditLog(store).events() if e.action.endswith("claim_taken_over")]
    assert [(e.subject, e.details["claim"]) for e in taken] == [("rel-1", "erin at 2026-01-01")]


def test_a_live_publish_keeps_others_out(store: Store, tmp_path: Path) -> None:
    make_release(store, tmp_path, status=ReleaseStatus.APPROVED)

    def busy(holder: str) -> SynthgateError:
        return ConflictError(f"held by {holder}")

    # another publisher holds the release's lock (a second descriptor: flock conflicts)
    with process_lock("publish:rel-1", store, None, busy=busy):
        with pytest.raises(ConflictError, match="being published by another process") as info:
            publish(store, ENG, "rel-1")
        assert f"pid {os.getpid()}" in str(info.value)
        assert get_release(store, "rel-1").status == "APPROVED"
    assert publish(store, ENG, "rel-1").rows == 40


def test_publish_to_a_parquet_folder(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    make_release(store, tmp_path, status=ReleaseStatus.APPROVED, target_url=f"{folder}/")
    result = publish(store, ENG, "rel-1")
    written = pd.read_parquet(folder / "customers_syn.parquet")
    assert len(written) == result.rows == 40


@pytest.fixture
def pg_target() -> Iterator[str]:
    name = f"sg_pub_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    yield name
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


def test_credentials_come_from_the_environment_at_publish_time(
    store: Store, tmp_path: Path, pg_target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "pub-canary-" + secrets.token_hex(4)
    monkeypatch.setenv("SG_TEST_PG_PASSWORD", canary)
    url = f"postgresql://postgres:${{SG_TEST_PG_PASSWORD}}@127.0.0.1:5432/{pg_target}"
    make_release(store, tmp_path, status=ReleaseStatus.APPROVED, target_url=url)
    monkeypatch.delenv("SG_TEST_PG_PASSWORD")
    with pytest.raises(ConfigError) as info:  # publishing reads the variable again
        publish(store, ENG, "rel-1")
    # the message itself names the variable: a browser shows only the message
    assert "SG_TEST_PG_PASSWORD" in info.value.message
    assert "not set in this process" in info.value.message
    assert canary not in str(info.value)
    result = publish(store, ENG, "rel-1", env={"SG_TEST_PG_PASSWORD": canary})
    assert result.rows == 40
    written = read_target(
        f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_target}", "customers_syn"
    )
    assert sorted(written["customer_id"]) == list(range(1, 41))
    store.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("store.db*"))
    assert b"release.published" in raw
    assert canary.encode() not in raw


def test_a_release_whose_expiry_passes_during_the_write_is_not_published(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synthgate.release import _service as service

    make_release(store, tmp_path, status=ReleaseStatus.APPROVED)
    original = service._batches

    def clock_passes_expiry(table: pa.Table) -> Iterator[pa.RecordBatch]:
        yield from original(table)
        with store.engine.begin() as conn:  # the release's time runs out, no sweep runs
            conn.exec_driver_sql("UPDATE releases SET expires_at = '2000-01-01T00:00:00.000000Z'")

    monkeypatch.setattr(service, "_batches", clock_passes_expiry)
    with pytest.raises(ReleaseStateError, match=r"expired at 2000-01-01.* nothing was written"):
        publish(store, ENG, "rel-1")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        assert not sa.inspect(engine).has_table("customers_syn")
    finally:
        engine.dispose()
    release = get_release(store, "rel-1")
    assert (release.status, release.publish_claim) == ("EXPIRED", None)
    assert [e.action for e in AuditLog(store).events(subject="rel-1")] == [
        "release.publish_started",
        "release.publish_stopped",
        "release.expired",
    ]
