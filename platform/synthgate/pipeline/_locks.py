"""One worker per job: a lock held for the whole run of a job.

SQLite stores use a file lock under ``$SYNTHGATE_HOME/locks`` (``flock``: the
kernel releases it when the process dies, even by ``kill -9``); PostgreSQL
stores use a session advisory lock on a dedicated connection (released by the
server when the connection or the process goes away). Either way a second
worker finds the job taken and is told which process holds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import text

from synthgate.errors import SynthgateError
from synthgate.store import Store

__all__ = ["EXIT_LOCKED", "JobLocked", "job_lock", "lock_key"]

EXIT_LOCKED = 75  # sysexits EX_TEMPFAIL: another worker has it; try again later


class JobLocked(SynthgateError):
    """The job is running in another process; this one did nothing."""

    exit_code: ClassVar[int] = EXIT_LOCKED


def lock_key(job: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks."""
    digest = hashlib.sha256(f"synthgate.job:{job}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _owner() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _describe(owner: dict[str, Any] | None) -> str:
    if not owner or "pid" not in owner:
        return "pid unknown"
    return f"pid {owner['pid']} on {owner.get('host', '?')}"


def _locked(job: str, owner: dict[str, Any] | None) -> JobLocked:
    return JobLocked(f"job {job} is running in another process ({_describe(owner)}); skipped")


@contextmanager
def _file_lock(job: str, folder: Path) -> Iterator[None]:
    from filelock import FileLock, Timeout

    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", job)
    lock = FileLock(str(folder / f"{safe}.lock"), timeout=0)
    owner_file = folder / f"{safe}.owner"
    try:
        lock.acquire()
    except Timeout:
        try:
            owner = json.loads(owner_file.read_text("utf-8"))
        except (OSError, ValueError):
            owner = None
        raise _locked(job, owner) from None
    try:
        owner_file.write_text(json.dumps(_owner()), "utf-8")
        yield
    finally:
        owner_file.unlink(missing_ok=True)
        lock.release()


@contextmanager
def _pg_lock(job: str, store: Store) -> Iterator[None]:
    key = lock_key(job)
    conn = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        me = _owner()
        conn.execute(
            text("SELECT set_config('application_name', :name, false)"),
            {"name": f"synthgate pid={me['pid']} host={me['host']}"[:63]},
        )
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        if not got:
            unsigned = key & 0xFFFFFFFFFFFFFFFF
            row = conn.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                    "AND l.classid::bigint = :hi AND l.objid::bigint = :lo"
                ),
                {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF},
            ).first()
            owner: dict[str, Any] | None = None
            if row is not None:
                found = dict(re.findall(r"(pid|host)=(\S+)", str(row[0])))
                owner = dict(found) if "pid" in found else None
            raise _locked(job, owner)
        yield
    finally:
        # closing the DBAPI connection ends the session and with it the lock
        conn.invalidate()
        conn.close()


@contextmanager
def job_lock(job: str, store: Store, home: Path) -> Iterator[None]:
    """Hold the job's lock for the ``with`` block, or raise :class:`JobLocked`."""
    if store.dialect == "postgresql":
        with _pg_lock(job, store):
            yield
    else:
        with _file_lock(job, home / "locks"):
            yield
