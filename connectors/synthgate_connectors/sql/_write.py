"""All-or-nothing table writes: staging table, bulk load, swap or append.

1. A staging table ``_sg_stage_<random>`` is created with the target's column
   types, NOT NULL and declared-domain constraints.
2. The rows are loaded in bulk: PostgreSQL ``COPY … FROM STDIN`` (CSV written
   by Arrow), multi-row INSERTs built column-wise on MySQL/MariaDB, batched
   ``executemany`` elsewhere.
3. ``replace`` swaps the staging table in, ``append`` copies it over with
   ``INSERT … SELECT``, ``fail`` refuses an existing table.

PostgreSQL and SQLite run all three steps in one transaction: a failure at
any point, including a lost connection, rolls everything back. MySQL/MariaDB
DDL is not transactional, so there the load is one transaction, the swap is
the atomic ``RENAME TABLE target TO old, staging TO target`` and the append one
``INSERT … SELECT`` transaction; a failure drops the staging table (over a
fresh connection when the first one died) and leaves the target as it was.
A writer that died without cleaning up (``kill -9``) leaves its staging or
swapped-out table behind; each writer holds a server-wide named lock
(``GET_LOCK``) per table name it may create, and the next write drops the
leftovers whose lock is free, never those of a writer still running.

With an *idempotency key* the write is recorded in ``_synthgate_writes``
(key, table, content hash, rows) — in the same transaction as the swap or the
append where the database allows it. A repeat with the same key and content
returns the recorded result and writes nothing; the same key with other
content is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from synthgate.contracts import (
    TableSchema,
    TableWrite,
    WriteMode,
    WriteResult,
    batch_fingerprint,
)
from synthgate.errors import SinkError, SynthgateError, TargetNotWritable
from synthgate_connectors._arrow import arrow_schema, conform
from synthgate_connectors._retry import retry
from synthgate_connectors.sql._catalog import TableName, parse_table
from synthgate_connectors.sql._engine import (
    CONNECT_RETRY,
    backend,
    safe_url,
    sink_error,
)
from synthgate_connectors.sql._mysql_load import insert_statements
from synthgate_connectors.sql._types import domain_check, sql_type

__all__ = ["BOOKKEEPING_TABLE", "STAGING_PREFIX", "write_table", "write_tables"]

STAGING_PREFIX = "_sg_stage_"
OLD_PREFIX = "_sg_old_"
BOOKKEEPING_TABLE = "_synthgate_writes"
_MYSQL_STATEMENT_BYTES = 4 << 20


def _bookkeeping(meta: sa.MetaData) -> sa.Table:
    return sa.Table(
        BOOKKEEPING_TABLE,
        meta,
        sa.Column("idempotency_key", sa.String(191), primary_key=True),
        sa.Column("table_name", sa.String(191), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
    )


@dataclass
class _Job:
    engine: Engine
    url: URL
    table: str
    schema: TableSchema
    mode: WriteMode
    key: str | None
    backend: str
    target: pa.Schema
    name: TableName

    def connect(self) -> Connection:
        def attempt() -> Connection:
            try:
                return self.engine.connect()
            except SQLAlchemyError as exc:
                raise sink_error(exc, self.url, table=self.table) from None

        return retry(attempt, policy=CONNECT_RETRY)

    def quote(self, conn: Connection, name: str) -> str:
        """*name* (the target or a staging table), quoted in the target's schema."""
        return TableName(self.name.schema, name).sql(conn)

    def staging_table(self, name: str) -> sa.Table:
        meta = sa.MetaData()
        columns = [
            sa.Column(c.name, sql_type(c, self.backend), nullable=c.nullable)
            for c in self.schema.columns
        ]
        checks = [
            sa.CheckConstraint(sa.column(col.name).in_(list(domain)))
            for col in self.schema.columns
            if (domain := domain_check(col, self.backend)) is not None
        ]
        return sa.Table(name, meta, *columns, *checks, schema=self.name.schema)


def write_table(
    engine: Engine,
    url: URL,
    table: str,
    batches: Iterator[pa.RecordBatch],
    *,
    schema: TableSchema,
    mode: WriteMode,
    idempotency_key: str | None,
) -> WriteResult:
    job = _Job(
        engine,
        url,
        table,
        schema,
        mode,
        idempotency_key,
        backend(url),
        arrow_schema(schema),
        parse_table(table, what="target table"),
    )
    if idempotency_key is not None:
        _ensure_bookkeeping(job)
        earlier = _recorded(job)
        if earlier is not None:
            return _repeat(job, earlier, batches)
    try:
        if job.backend == "mysql":
            return _write_mysql(job, batches)
        return _write_transactional(job, batches)
    except SinkError:
        if idempotency_key is not None:
            earlier = _recorded(job)
            if earlier is not None and earlier.table == table:
                # a concurrent writer with the same key got there first
                return earlier
        raise


def _table_job(
    engine: Engine, url: URL, part: TableWrite, mode: WriteMode, key: str | None
) -> _Job:
    return _Job(
        engine,
        url,
        part.table,
        part.schema,
        mode,
        key,
        backend(url),
        arrow_schema(part.schema),
        parse_table(part.table, what="target table"),
    )


def write_tables(
    engine: Engine,
    url: URL,
    tables: Sequence[TableWrite],
    *,
    mode: WriteMode,
    idempotency_key: str | None,
) -> list[WriteResult]:
    """Several tables as one write: all staged, then all swapped in (in the order
    given, parents first), in one transaction; a failure anywhere leaves every target
    as it was. PostgreSQL and SQLite (transactional DDL) only."""
    if backend(url) == "mysql" and mode is WriteMode.APPEND:
        raise TargetNotWritable(
            "appending several tables as one is supported on PostgreSQL and SQLite targets; "
            "this target is MySQL/MariaDB",
            hint="use target.mode replace or fail, or a PostgreSQL or SQLite target",
        )
    jobs = [
        _table_job(engine, url, part, mode, f"{idempotency_key}#{i}" if idempotency_key else None)
        for i, part in enumerate(tables)
    ]
    if idempotency_key is not None and jobs:
        _ensure_bookkeeping(jobs[0])
        earlier = [_recorded(job) for job in jobs]
        if all(e is not None for e in earlier):  # recorded together, or not at all
            return [
                _repeat(job, e, part.batches)
                for job, e, part in zip(jobs, earlier, tables, strict=True)
                if e is not None
            ]
    batches = [part.batches for part in tables]
    if jobs and jobs[0].backend == "mysql":
        return _write_mysql_all(jobs, batches)
    return _write_all(jobs, batches)


def _write_all(jobs: list[_Job], batches: list[Iterator[pa.RecordBatch]]) -> list[WriteResult]:
    conn = jobs[0].connect()
    try:
        with _sink_errors(jobs[0]), conn.begin():
            staged = [_stage_one(conn, job, rows) for job, rows in zip(jobs, batches, strict=True)]
            for job, (staging, result) in zip(jobs, staged, strict=True):
                _swap_in_transaction(conn, job, staging)
                _record(job, conn, result)
    finally:
        _close(conn)
    return [result for _, result in staged]


def _stage_one(
    conn: Connection, job: _Job, batches: Iterator[pa.RecordBatch]
) -> tuple[str, WriteResult]:
    staging = f"{STAGING_PREFIX}{secrets.token_hex(6)}"
    job.staging_table(staging).create(conn)
    counter = _Counter()
    rows = counter.feed(job, batches)
    if job.backend == "postgresql":
        _load_postgres(conn, job, staging, rows)
    else:
        _load_generic(conn, job.staging_table(staging), rows)
    return staging, counter.result(job)


# --------------------------------------------------------------------------- idempotency


def _ensure_bookkeeping(job: _Job) -> None:
    conn = job.connect()
    try:
        with conn.begin():
            _bookkeeping(sa.MetaData()).create(conn, checkfirst=True)
    except SQLAlchemyError as exc:
        if not sa.inspect(conn).has_table(BOOKKEEPING_TABLE):  # a concurrent creator is fine
            raise sink_error(exc, job.url, table=job.table) from None
    finally:
        conn.close()


def _recorded(job: _Job) -> WriteResult | None:
    if job.key is None:
        return None
    tbl = _bookkeeping(sa.MetaData())
    conn = job.connect()
    try:
        row = conn.execute(sa.select(tbl).where(tbl.c.idempotency_key == job.key)).first()
    except SQLAlchemyError as exc:
        raise sink_error(exc, job.url, table=job.table) from None
    finally:
        conn.close()
    if row is None:
        return None
    return WriteResult(
        table=str(row.table_name),
        rows=int(row.row_count),
        mode=WriteMode(row.mode),
        content_hash=str(row.content_hash),
    )


def _repeat(job: _Job, earlier: WriteResult, batches: Iterator[pa.RecordBatch]) -> WriteResult:
    digest = hashlib.sha256()
    for raw in batches:
        digest.update(batch_fingerprint(conform(raw, job.target, job.schema)))
    if earlier.table != job.table or earlier.content_hash != digest.hexdigest():
        raise TargetNotWritable(
            f"idempotency key {job.key!r} already recorded a write of other content to "
            f"{earlier.table!r} in {safe_url(job.url)}",
            hint="a new publish needs a new key",
        )
    return earlier


def _record(job: _Job, conn: Connection, result: WriteResult) -> None:
    if job.key is None:
        return
    conn.execute(
        _bookkeeping(sa.MetaData())
        .insert()
        .values(
            idempotency_key=job.key,
            table_name=job.table,
            content_hash=result.content_hash,
            row_count=result.rows,
            mode=result.mode.value,
            written_at=datetime.now(UTC).replace(tzinfo=None),
        )
    )


# --------------------------------------------------------------------------- loading


class _Counter:
    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.rows = 0

    def feed(self, job: _Job, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for raw in batches:
            batch = conform(raw, job.target, job.schema)
            self.digest.update(batch_fingerprint(batch))
            self.rows += batch.num_rows
            yield batch

    def result(self, job: _Job) -> WriteResult:
        return WriteResult(job.table, self.rows, job.mode, self.digest.hexdigest())


def _load_postgres(
    conn: Connection, job: _Job, staging: str, batches: Iterator[pa.RecordBatch]
) -> None:
    quote = conn.dialect.identifier_preparer.quote
    cols = ", ".join(quote(c) for c in job.schema.column_names)
    dbapi: Any = conn.connection.driver_connection
    options = pacsv.WriteOptions(include_header=False)
    with (
        dbapi.cursor() as cur,
        cur.copy(f"COPY {job.quote(conn, staging)} ({cols}) FROM STDIN (FORMAT csv)") as copy,
    ):
        for batch in batches:
            buf = io.BytesIO()
            pacsv.write_csv(batch, buf, options)
            copy.write(buf.getbuffer())


def _load_mysql(
    conn: Connection, job: _Job, staging: str, batches: Iterator[pa.RecordBatch]
) -> None:
    quote = conn.dialect.identifier_preparer.quote
    cols = [quote(c) for c in job.schema.column_names]
    max_packet = int(conn.exec_driver_sql("SELECT @@max_allowed_packet").scalar_one())
    limit = max(64 << 10, min(_MYSQL_STATEMENT_BYTES, max_packet // 2))
    dbapi: Any = conn.connection.driver_connection
    with dbapi.cursor() as cur:
        for batch in batches:
            staged = job.quote(conn, staging)
            for statement in insert_statements(batch, staged, cols, max_bytes=limit):
                cur.execute(statement)


def _load_generic(conn: Connection, stage: sa.Table, batches: Iterator[pa.RecordBatch]) -> None:
    for batch in batches:
        records = batch.to_pylist()
        if records:
            conn.execute(stage.insert(), records)


# --------------------------------------------------------------------------- PostgreSQL, SQLite


def _write_transactional(job: _Job, batches: Iterator[pa.RecordBatch]) -> WriteResult:
    staging = f"{STAGING_PREFIX}{secrets.token_hex(6)}"
    stage = job.staging_table(staging)
    counter = _Counter()
    conn = job.connect()
    try:
        with _sink_errors(job), conn.begin():
            stage.create(conn)
            rows = counter.feed(job, batches)
            if job.backend == "postgresql":
                _load_postgres(conn, job, staging, rows)
            else:
                _load_generic(conn, stage, rows)
            result = counter.result(job)
            _swap_in_transaction(conn, job, staging)
            _record(job, conn, result)
    finally:
        _close(conn)
    return result


def _swap_in_transaction(conn: Connection, job: _Job, staging: str) -> None:
    quote = conn.dialect.identifier_preparer.quote
    target, stage = job.quote(conn, job.name.name), job.quote(conn, staging)
    exists = sa.inspect(conn).has_table(job.name.name, schema=job.name.schema)
    if exists and job.mode is WriteMode.FAIL:
        raise TargetNotWritable(
            f"target table {job.table!r} already exists and target.mode is 'fail'",
            hint="use mode 'replace' or 'append', or drop the table",
        )
    if exists and job.mode is WriteMode.APPEND:
        cols = ", ".join(quote(c) for c in job.schema.column_names)
        conn.exec_driver_sql(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage}")
        conn.exec_driver_sql(f"DROP TABLE {stage}")
        return
    if exists:
        conn.exec_driver_sql(f"DROP TABLE {target}")
    # the new name of a renamed table is unqualified: it stays in its schema
    conn.exec_driver_sql(f"ALTER TABLE {stage} RENAME TO {quote(job.name.name)}")


def _close(conn: Connection) -> None:
    """Close, or discard a connection the server already dropped."""
    try:
        conn.close()
    except Exception:  # the rollback on a dead connection fails; the server rolled back
        with contextlib.suppress(Exception):
            conn.invalidate()


@contextlib.contextmanager
def _sink_errors(job: _Job) -> Iterator[None]:
    """A driver's error as a one-line SinkError naming the target; others as they are."""
    try:
        yield
    except SynthgateError:
        raise
    except Exception as exc:
        if _is_driver_error(exc):
            raise sink_error(exc, job.url, table=job.table) from None
        raise


def _is_driver_error(exc: BaseException) -> bool:
    if isinstance(exc, SQLAlchemyError):
        return True
    return type(exc).__module__.startswith(("psycopg", "pymysql", "sqlite3"))


# --------------------------------------------------------------------------- MySQL / MariaDB


def name_lock(database: str, table: str) -> str:
    """The server-wide lock name that says a live writer owns *table* (≤ 64 chars)."""
    return "synthgate:" + hashlib.sha256(f"{database}.{table}".encode()).hexdigest()[:40]


def _database(conn: Connection, schema: str | None = None) -> str:
    """The database a table lives in: *schema* when named, else the session's."""
    if schema is not None:
        return schema
    return str(conn.exec_driver_sql("SELECT DATABASE()").scalar())


def _own(conn: Connection, schema: str | None, *tables: str) -> None:
    database = _database(conn, schema)
    for table in tables:
        conn.exec_driver_sql("SELECT GET_LOCK(%s, 0)", (name_lock(database, table),))


def _sweep_leftovers(conn: Connection, schema: str | None = None) -> list[str]:
    """Drop the staging and swapped-out tables of writers that died; return their names."""
    database = _database(conn, schema)
    dropped = []
    for table in staging_tables(conn, schema):
        free = conn.exec_driver_sql("SELECT IS_FREE_LOCK(%s)", (name_lock(database, table),))
        if free.scalar() == 1:
            quoted = TableName(schema, table).sql(conn)
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quoted}")
            dropped.append(table)
    return dropped


def _write_mysql(job: _Job, batches: Iterator[pa.RecordBatch]) -> WriteResult:
    staging = f"{STAGING_PREFIX}{secrets.token_hex(6)}"
    old = f"{OLD_PREFIX}{secrets.token_hex(6)}"
    counter = _Counter()
    conn = job.connect()
    created = False
    try:
        with _sink_errors(job):
            quote = conn.dialect.identifier_preparer.quote
            target, stage, swapped = (job.quote(conn, n) for n in (job.name.name, staging, old))
            _own(
                conn, job.name.schema, staging, old
            )  # held until this session ends, even by a crash
            _sweep_leftovers(conn, job.name.schema)
            exists = sa.inspect(conn).has_table(job.name.name, schema=job.name.schema)
            if exists and job.mode is WriteMode.FAIL:
                raise TargetNotWritable(
                    f"target table {job.table!r} already exists and target.mode is 'fail'",
                    hint="use mode 'replace' or 'append', or drop the table",
                )
            job.staging_table(staging).create(conn)  # DDL commits on its own
            conn.commit()
            created = True
            _load_mysql(conn, job, staging, counter.feed(job, batches))
            conn.commit()
            result = counter.result(job)
            if exists and job.mode is WriteMode.APPEND:
                cols = ", ".join(quote(c) for c in job.schema.column_names)
                conn.exec_driver_sql(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {stage}")
                _record(job, conn, result)
                conn.commit()  # the rows and their record, in one transaction
                conn.exec_driver_sql(f"DROP TABLE {stage}")
                created = False
                return result
            if exists:
                conn.exec_driver_sql(f"RENAME TABLE {target} TO {swapped}, {stage} TO {target}")
                created = False
                conn.exec_driver_sql(f"DROP TABLE {swapped}")
            else:
                conn.exec_driver_sql(f"RENAME TABLE {stage} TO {target}")
                created = False
            # a replace is idempotent by itself; it is recorded right after the swap
            _record(job, conn, result)
            conn.commit()
            return result
    finally:
        with contextlib.suppress(Exception):  # a pooled session must not keep the locks
            conn.exec_driver_sql("SELECT RELEASE_ALL_LOCKS()")
        _close(conn)
        if created:
            _drop_quietly(job, staging)


@dataclass
class _Staged:
    job: _Job
    staging: str
    old: str
    exists: bool = False
    created: bool = False
    result: WriteResult | None = None


def _write_mysql_all(
    jobs: list[_Job], batches: list[Iterator[pa.RecordBatch]]
) -> list[WriteResult]:
    """Every table loaded into its staging table, then one atomic ``RENAME TABLE`` swaps
    them all in (parents first); a failure before it leaves every target as it was."""
    staged = [
        _Staged(job, f"{STAGING_PREFIX}{secrets.token_hex(6)}", f"{OLD_PREFIX}{secrets.token_hex(6)}")
        for job in jobs
    ]  # fmt: skip
    conn = jobs[0].connect()
    try:
        with _sink_errors(jobs[0]):
            _claim_targets(conn, staged)
            _load_all(conn, staged, batches)
            _rename_all(conn, staged)
            for one in staged:
                if one.exists:
                    conn.exec_driver_sql(f"DROP TABLE {one.job.quote(conn, one.old)}")
                assert one.result is not None
                _record(one.job, conn, one.result)
            conn.commit()
            return [one.result for one in staged if one.result is not None]
    finally:
        with contextlib.suppress(Exception):  # a pooled session must not keep the locks
            conn.exec_driver_sql("SELECT RELEASE_ALL_LOCKS()")
        _close(conn)
        for one in staged:
            if one.created:
                _drop_quietly(one.job, one.staging)


def _claim_targets(conn: Connection, staged: list[_Staged]) -> None:
    """Own the staging and swapped-out names, sweep dead writers' leftovers, and refuse
    an existing table under mode ``fail`` before anything is created."""
    for one in staged:
        _own(conn, one.job.name.schema, one.staging, one.old)
    for schema in {one.job.name.schema for one in staged}:
        _sweep_leftovers(conn, schema)
    for one in staged:
        one.exists = sa.inspect(conn).has_table(one.job.name.name, schema=one.job.name.schema)
        if one.exists and one.job.mode is WriteMode.FAIL:
            raise TargetNotWritable(
                f"target table {one.job.table!r} already exists and target.mode is 'fail'",
                hint="use mode 'replace', or drop the table",
            )


def _load_all(
    conn: Connection, staged: list[_Staged], batches: list[Iterator[pa.RecordBatch]]
) -> None:
    for one, rows in zip(staged, batches, strict=True):
        one.job.staging_table(one.staging).create(conn)  # DDL commits on its own
        conn.commit()
        one.created = True
        counter = _Counter()
        _load_mysql(conn, one.job, one.staging, counter.feed(one.job, rows))
        conn.commit()
        one.result = counter.result(one.job)


def _rename_all(conn: Connection, staged: list[_Staged]) -> None:
    """One ``RENAME TABLE`` for every table: atomic on MySQL/MariaDB."""
    pairs = []
    for one in staged:
        target = one.job.quote(conn, one.job.name.name)
        if one.exists:
            pairs.append(f"{target} TO {one.job.quote(conn, one.old)}")
        pairs.append(f"{one.job.quote(conn, one.staging)} TO {target}")
    conn.exec_driver_sql("RENAME TABLE " + ", ".join(pairs))
    for one in staged:
        one.created = False


def _drop_quietly(job: _Job, name: str) -> None:
    """Drop a leftover staging table over a fresh connection; best effort."""
    try:
        conn = job.connect()
    except SynthgateError:
        return
    try:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {job.quote(conn, name)}")
        conn.commit()
    except SQLAlchemyError:
        pass
    finally:
        conn.close()


def staging_tables(conn: Connection, schema: str | None = None) -> list[str]:
    """Staging and swap leftovers in *schema* (default: the connection's), for clean-up."""
    names = sa.inspect(conn).get_table_names(schema=schema)
    return [n for n in names if n.startswith((STAGING_PREFIX, OLD_PREFIX))]
