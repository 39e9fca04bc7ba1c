"""Cross-process locks that die with their holder.

One worker per job (held for the whole run of a job) and one publisher per
release (held while it writes). SQLite stores use a file lock in a ``locks``
folder (``flock``: the kernel releases it when the process dies, even by
``kill -9``); PostgreSQL stores use a session advisory lock on a dedicated
connection (released by the server when the connection or the process goes
away). Either way a second process finds the lock taken and is told which
process holds it; and a record left by a process that died (a run still
"running", a publish claim) is known to be stale when its lock is free.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from synthgate.errors import SynthgateError
from synthgate.store._store import Store

__all__ = ["EXIT_LOCKED", "JobLocked", "job_lock", "lock_key", "process_lock"]

EXIT_LOCKED = 75  # sysexits EX_TEMPFAIL: another worker has it; try again later


class JobLocked(SynthgateError):
    """The job is running in another process; this one did nothing."""

    exit_code: ClassVar[int] = EXIT_LOCKED


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks (*name* is ``kind:id``)."""
    digest = hashlib.sha256(f"synthgate.{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _owner() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _describe(owner: dict[str, Any] | None) -> str:
    if not owner or "pid" not in owner:
        return "pid unknown"
    return f"pid {owner['pid']} on {owner.get('host', '?')}"


Busy = Callable[[str], SynthgateError]  # builds the error from "pid N on HOST"


@contextmanager
def _file_lock(name: str, folder: Path, busy: Busy, wait: float = 0.0) -> Iterator[None]:
    from filelock import FileLock, Timeout

    folder.mkdir(parents=True, exist_ok=True)
    kind, _, ident = name.partition(":")
    safe = kind + "-" + re.sub(r"[^A-Za-z0-9_.-]", "_", ident)
    lock = FileLock(str(folder / f"{safe}.lock"), timeout=wait)
    owner_file = folder / f"{safe}.owner"
    try:
        lock.acquire()
    except Timeout:
        try:
            owner = json.loads(owner_file.read_text("utf-8"))
        except (OSError, ValueError):
            owner = None
        raise busy(_describe(owner)) from None
    try:
        owner_file.write_text(json.dumps(_owner()), "utf-8")
        yield
    finally:
        owner_file.unlink(missing_ok=True)
        lock.release()


def _pg_acquire(conn: Any, key: int, wait: float) -> bool:
    """Take the advisory lock *key*, waiting up to *wait* seconds (0: do not wait)."""
    if wait <= 0:
        return bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
    conn.execute(
        text("SELECT set_config('lock_timeout', :t, false)"), {"t": f"{int(wait * 1000)}ms"}
    )
    try:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
    except OperationalError:  # lock_timeout: the holder kept it longer than *wait*
        return False
    return True


@contextmanager
def _pg_lock(name: str, store: Store, busy: Busy, wait: float = 0.0) -> Iterator[None]:
    key = lock_key(name)
    conn = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        me = _owner()
        conn.execute(
            text("SELECT set_config('application_name', :name, false)"),
            {"name": f"synthgate pid={me['pid']} host={me['host']}"[:63]},
        )
        if not _pg_acquire(conn, key, wait):
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
            raise busy(_describe(owner))
        yield
    finally:
        # closing the DBAPI connection ends the session and with it the lock
        conn.invalidate()
        conn.close()


@contextmanager
def process_lock(
    name: str, store: Store, folder: Path | None, *, busy: Busy, wait: float = 0.0
) -> Iterator[None]:
    """Hold the lock *name* (``kind:id``) for the ``with`` block, or raise ``busy(holder)``.

    SQLite stores lock a file in *folder* (default: ``locks`` beside the store's
    database file); an in-memory store is private to its process and needs none.
    *wait* is how long to wait for a holder to let go (default: not at all).
    """
    if store.dialect == "postgresql":
        with _pg_lock(name, store, busy, wait):
            yield
        return
    if folder is None:
        database = store.engine.url.database
        if not database or database == ":memory:":
            yield
            return
        folder = Path(database).resolve().parent / "locks"
    with _file_lock(name, folder, busy, wait):
        yield


@contextmanager
def job_lock(job: str, store: Store, home: Path) -> Iterator[None]:
    """Hold the job's lock for the ``with`` block, or raise :class:`JobLocked`."""

    def busy(holder: str) -> SynthgateError:
        return JobLocked(f"job {job} is running in another process ({holder}); skipped")

    with process_lock(f"job:{job}", store, home / "locks", busy=busy):
        yield
