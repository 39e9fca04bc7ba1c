"""``kill -9`` in the middle of a publish, then a rerun (issue #10, the writing half).

A real ``synthgate publish`` process is held deterministically between loading
its staging table and swapping it in: a second connection holds an ACCESS
EXCLUSIVE lock on the target table, so the publish's ``DROP TABLE`` waits. The
process is killed there. The target must still hold the older version, no
staging table may be left, the release stays APPROVED with its audit chain
intact, and a plain rerun of ``publish`` takes over the dead publish's claim
(its lock died with it) and writes exactly the approved rows, once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa
from tests._dbservers import PG_HOST, PG_PORT, PgDb, pg_database
from tests.unit.test_release_service import make_release, synthetic_frame

from synthgate.audit import AuditLog
from synthgate.release import ReleaseStatus, get_release
from synthgate.store import Store

TABLE = "customers_syn"
OLD_ROWS = [(i, "free", i * 10.0, False) for i in range(100, 107)]  # not the release's rows
DEADLINE = 120.0


@pytest.fixture
def pg() -> Iterator[PgDb]:
    yield from pg_database()


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, SYNTHGATE_HOME=str(home), SYNTHGATE_USER="erin")
    env.pop("SYNTHGATE_STORE_URL", None)
    env.pop("SYNTHGATE_TOKEN", None)  # bootstrap mode: no users in the store
    return env


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "synthgate.cli", *args],
        capture_output=True,
        text=True,
        env=_env(home),
        timeout=DEADLINE,
        check=False,
    )


def _target_state(pg: PgDb) -> tuple[int, str]:
    """Row count and an order-independent md5 of the target's rows."""
    [(rows, digest)] = pg.execute(
        f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
        f"FROM {TABLE} t"
    )
    return int(rows), str(digest)


def _leftovers(pg: PgDb) -> list[str]:
    rows = pg.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s "
        "AND (tablename LIKE '\\_sg\\_stage\\_%%' OR tablename LIKE '\\_sg\\_old\\_%%')",
        (pg.schema,),
    )
    return [str(r[0]) for r in rows]


def _wait_blocked_in_swap(proc: subprocess.Popen[str], pg: PgDb, target_oid: int) -> int:
    """The backend pid of *proc* once it waits for the target's lock after loading its stage."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        rows = pg.execute(
            "SELECT a.pid, a.query, "
            "  (SELECT count(*) FROM pg_locks s WHERE s.pid = a.pid AND s.granted "
            "     AND s.locktype = 'relation' AND s.mode = 'AccessExclusiveLock' "
            "     AND s.relation <> %s) "
            "FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
            "WHERE a.application_name = %s AND NOT l.granted AND l.relation = %s",
            (target_oid, pg.schema, target_oid),
        )
        if rows:
            [(pid, query, own_new_relations)] = rows
            assert query == f"DROP TABLE {TABLE}", query
            # the staging table it created and loaded (invisible to others until commit)
            assert own_new_relations >= 1
            return int(pid)
        try:
            proc.wait(timeout=0.02)  # the pause between polls; also notices an early exit
        except subprocess.TimeoutExpired:
            continue
        _out, err = proc.communicate()
        pytest.fail(f"publish ended (rc {proc.returncode}) before it reached the swap: {err}")
    proc.kill()
    pytest.fail(f"publish did not reach the swap within {DEADLINE}s")


def test_a_publish_killed_mid_write_leaves_the_old_table_and_a_rerun_writes_once(
    pg: PgDb, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    store = Store(f"sqlite:///{home / 'synthgate.db'}")  # migrated before any child opens it
    make_release(store, tmp_path, status=ReleaseStatus.APPROVED, target_url=pg.url)
    pg.execute(
        f"CREATE TABLE {TABLE} (customer_id integer NOT NULL, plan text, "
        "monthly_spend double precision, churned boolean)"
    )
    for row in OLD_ROWS:
        pg.execute(f"INSERT INTO {TABLE} VALUES (%s, %s, %s, %s)", row)
    old = _target_state(pg)
    assert old[0] == len(OLD_ROWS)
    [(target_oid,)] = pg.execute("SELECT %s::regclass::oid", (f'"{pg.schema}".{TABLE}',))

    # 1. hold the target, start the publish, kill it while it waits to swap its stage in
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="test") as holder:
        holder.execute(f'LOCK TABLE "{pg.schema}".{TABLE} IN ACCESS EXCLUSIVE MODE')
        proc = subprocess.Popen(
            [sys.executable, "-m", "synthgate.cli", "publish", "rel-1", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(home),
        )
        backend = _wait_blocked_in_swap(proc, pg, target_oid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        holder.rollback()
        # the orphaned backend now gets the lock, runs its DROP, finds its client gone and
        # rolls back; this read waits behind it (lock_timeout is the deadline)
        holder.execute("SET lock_timeout = '60s'")
        holder.execute(f'SELECT count(*) FROM "{pg.schema}".{TABLE}')
        holder.rollback()
    assert not pg.execute("SELECT 1 FROM pg_locks WHERE pid = %s AND granted", (backend,))

    # 2. nothing of the killed write is visible
    assert _target_state(pg) == old
    assert _leftovers(pg) == []
    assert pg.execute("SELECT count(*) FROM _synthgate_writes") == [(0,)]
    release = get_release(store, "rel-1")
    assert release.status == ReleaseStatus.APPROVED.value
    assert release.publish_claim is not None  # left by the dead process
    assert [e.action for e in AuditLog(store).events(subject="rel-1")] == [
        "release.publish_started"
    ]
    verify = _cli(home, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # 3. a plain rerun: the claim's lock died with its process, so the claim is taken over
    retried = _cli(home, "publish", "rel-1", "--json")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert _leftovers(pg) == []
    engine = sa.create_engine(
        f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/test",
        connect_args={"options": f"-csearch_path={pg.schema}"},
    )
    try:
        written = pd.read_sql_table(TABLE, engine).sort_values("customer_id")
    finally:
        engine.dispose()
    pd.testing.assert_frame_equal(
        written.reset_index(drop=True), synthetic_frame(), check_dtype=False
    )
    release = get_release(store, "rel-1")
    assert release.status == ReleaseStatus.PUBLISHED.value
    assert (release.published_rows, release.publish_claim) == (40, None)
    assert pg.execute("SELECT idempotency_key, row_count, content_hash FROM _synthgate_writes") == [
        ("rel-1", 40, release.published_hash)
    ]
    published = _target_state(pg)
    [(published_oid,)] = pg.execute("SELECT %s::regclass::oid", (f'"{pg.schema}".{TABLE}',))
    assert published_oid != target_oid  # swapped in by the retry

    # 4. a third publish writes nothing ("already published", exit 0): the table is the same one
    again = _cli(home, "publish", "rel-1")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already published rel-1" in again.stdout
    assert "nothing written" in again.stdout
    assert _target_state(pg) == published
    assert pg.execute("SELECT %s::regclass::oid", (f'"{pg.schema}".{TABLE}',)) == [(published_oid,)]
    assert [e.action for e in AuditLog(store).events(subject="rel-1")] == [
        "release.publish_started",
        "release.publish_claim_taken_over",
        "release.publish_started",
        "release.published",
    ]
    verify = _cli(home, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
