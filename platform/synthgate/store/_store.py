from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from synthgate.errors import StoreError, redact
from synthgate.store.models import ReleaseRow, RunRow, StageRow

__all__ = ["Store", "utcnow"]


def utcnow() -> str:
    """Now, as the store writes times: ISO-8601 UTC with microseconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _alembic_config(connection: Any) -> Config:
    cfg = Config()
    script_location = resources.files("synthgate.store") / "migrations"
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["connection"] = connection
    return cfg


class Store:
    """Opens (and migrates) the metadata store at *url*."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreError(
                f"metadata store URL {redact(url)!r} is not a valid SQLAlchemy URL",
                hint="set SYNTHGATE_STORE_URL to e.g. postgresql+psycopg://user@host/db",
            ) from None
        self._is_sqlite = parsed.get_backend_name() == "sqlite"
        if self._is_sqlite and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        connect_args: dict[str, Any] = {"timeout": 30} if self._is_sqlite else {}
        self.engine: Engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
        if self._is_sqlite:
            self._sqlite_pragmas(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.migrate()

    @staticmethod
    def _sqlite_pragmas(engine: Engine) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # take the write lock up front: two writers never interleave
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (no-op when current)."""
        try:
            with self.engine.begin() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
                cfg = _alembic_config(conn)
                head = ScriptDirectory.from_config(cfg).get_current_head()
                if current != head:
                    command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise StoreError(
                f"metadata store {redact(self.url)} cannot be opened: "
                f"{redact(str(exc.orig)).splitlines()[0]}",
                hint="check SYNTHGATE_STORE_URL / SYNTHGATE_HOME",
            ) from None
        except SQLAlchemyError as exc:
            raise StoreError(f"metadata store migration failed: {type(exc).__name__}") from None

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session inside one transaction, committed on success."""
        with self._sessions() as session, session.begin():
            yield session

    # ------------------------------------------------------------------ runs & stages

    def create_run(self, run: RunRow) -> None:
        with self.session() as s:
            s.add(run)

    def finish_run(
        self, run_id: str, *, status: str, snapshot_id: str | None = None, error: str | None = None
    ) -> None:
        with self.session() as s:
            run = s.get_one(RunRow, run_id)
            run.status = status
            run.finished_at = utcnow()
            if snapshot_id is not None:
                run.snapshot_id = snapshot_id
            run.error = error

    def get_run(self, run_id: str) -> RunRow | None:
        with self.session() as s:
            return s.get(RunRow, run_id)

    def record_stage(
        self,
        run_id: str,
        name: str,
        *,
        status: str,
        started_at: str,
        seconds: float | None,
        artifact: str | None,
        summary: dict[str, Any],
    ) -> None:
        with self.session() as s:
            row = s.scalar(select(StageRow).where(StageRow.run_id == run_id, StageRow.name == name))
            if row is None:
                row = StageRow(run_id=run_id, name=name)
                s.add(row)
            row.status = status
            row.started_at = started_at
            row.finished_at = utcnow()
            row.seconds = seconds
            row.artifact = artifact
            row.summary = json.dumps(summary, sort_keys=True, default=str)

    def stages(self, run_id: str) -> list[StageRow]:
        with self.session() as s:
            return list(
                s.scalars(select(StageRow).where(StageRow.run_id == run_id).order_by(StageRow.id))
            )

    # ------------------------------------------------------------------ releases

    def add_release(self, release: ReleaseRow) -> None:
        with self.session() as s:
            s.add(release)

    def get_release(self, release_id: str) -> ReleaseRow | None:
        with self.session() as s:
            return s.get(ReleaseRow, release_id)

    def list_releases(
        self, *, status: str | None = None, job: str | None = None, limit: int = 100
    ) -> list[ReleaseRow]:
        query = select(ReleaseRow).order_by(ReleaseRow.created_at.desc()).limit(limit)
        if status:
            query = query.where(ReleaseRow.status == status)
        if job:
            query = query.where(ReleaseRow.job_name == job)
        with self.session() as s:
            return list(s.scalars(query))

    def dispose(self) -> None:
        self.engine.dispose()
