"""Two real processes, one job: the second is turned away while the first holds
the job's lock, and the lock goes away with its holder, even after ``kill -9``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from tests._dbservers import pg_database
from tests.conftest import base_spec

from synthgate.pipeline import EXIT_LOCKED, JobLocked, job_lock
from synthgate.store import Store
from synthgate.store.models import RunRow

HOLDER = """
import sys
from pathlib import Path
from synthgate.pipeline import job_lock
from synthgate.store import Store
from synthgate.store.models import RunRow
store = Store(sys.argv[1])
with job_lock(sys.argv[2], store, Path(sys.argv[3])):
    print("held", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


def _env(home: Path, store_url: str | None) -> dict[str, str]:
    env = dict(os.environ, SYNTHGATE_HOME=str(home), SYNTHGATE_USER="alice")
    env.pop("SYNTHGATE_STORE_URL", None)
    if store_url is not None:
        env["SYNTHGATE_STORE_URL"] = store_url
    return env


def _hold(store_url: str, job: str, home: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, store_url, job, str(home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"  # blocks until the lock is taken
    return proc


def _acquire_within(job: str, store: Store, home: Path, seconds: float) -> None:
    """Take and drop the lock, retrying until *seconds* have passed."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with job_lock(job, store, home):
                return
        except JobLocked:
            if time.monotonic() > deadline:
                raise
            # the holder's session may still be closing on the server; give it a moment
            threading.Event().wait(0.05)


@pytest.fixture
def pg_store_url() -> Iterator[str]:
    for db in pg_database():
        yield db.url


def _contend(home: Path, spec: Path, store_url: str, env_store: str | None) -> None:
    store = Store(store_url)
    env = _env(home, env_store)
    holder = _hold(store_url, "test-job", home, env)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "synthgate.cli", "run", str(spec)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert second.returncode == EXIT_LOCKED, second.stderr
        lines = [ln for ln in second.stderr.splitlines() if ln.strip()]
        assert lines[0].startswith(
            f"error: job test-job is running in another process (pid {holder.pid} on "
        ), second.stderr
        assert lines[0].endswith("; skipped")
        # the turned-away process created no run
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(RunRow)) == 0
        with pytest.raises(JobLocked), job_lock("test-job", store, home):
            pass
        # another job is not blocked
        with job_lock("other-job", store, home):
            pass
    finally:
        holder.kill()  # SIGKILL: no cleanup code of the holder runs
        holder.wait(timeout=30)
    assert holder.returncode == -signal.SIGKILL
    _acquire_within("test-job", store, home, 30.0)
    store.dispose()


def test_file_lock_turns_a_second_process_away(home: Path, demo_db: Path, tmp_path: Path) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(yaml.safe_dump(base_spec(demo_db, tmp_path)), "utf-8")
    url = f"sqlite:///{home / 'synthgate.db'}"
    _contend(home, spec, url, None)
    assert (home / "locks" / "job-test-job.lock").exists()


def test_postgresql_advisory_lock_turns_a_second_process_away(
    home: Path, demo_db: Path, tmp_path: Path, pg_store_url: str
) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(yaml.safe_dump(base_spec(demo_db, tmp_path)), "utf-8")
    _contend(home, spec, pg_store_url, pg_store_url)
    assert not (home / "locks").exists()  # PostgreSQL stores use no lock files


def test_lock_released_normally_lets_the_next_worker_in(home: Path) -> None:
    url = f"sqlite:///{home / 'synthgate.db'}"
    store = Store(url)
    holder = _hold(url, "test-job", home, _env(home, None))
    assert holder.stdin is not None
    assert holder.stdout is not None
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "released"
    assert holder.wait(timeout=30) == 0
    with job_lock("test-job", store, home):
        assert (home / "locks" / "job-test-job.owner").read_text("utf-8").startswith('{"pid": ')
    assert not (home / "locks" / "job-test-job.owner").exists()
