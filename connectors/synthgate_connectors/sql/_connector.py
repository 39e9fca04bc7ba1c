from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from synthgate.contracts import (
    ColumnSchema,
    ForeignKey,
    LogicalType,
    TableSchema,
    WriteMode,
    WriteResult,
    batch_fingerprint,
)
from synthgate.errors import (
    AuthenticationFailed,
    ConfigError,
    ConnectionFailed,
    SinkError,
    SourceError,
    SourceNotFound,
    TableNotFound,
    TargetNotWritable,
    UnsupportedType,
    redact,
    register_secret,
)
from synthgate_connectors._arrow import arrow_schema, frame_to_batch
from synthgate_connectors.sql._types import logical_type, parse_in_list, sql_type

__all__ = ["SqlConnector", "SqlSink", "SqlSource"]

_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb")
_AUTH = re.compile(r"password authentication failed|access denied|authentication failed", re.I)
_NO_DB = re.compile(r"database \S+ does not exist|unknown database", re.I)
_TRANSIENT = re.compile(
    r"connection refused|could not connect|can't connect|timeout|timed out|server closed|"
    r"connection reset|the database system is starting up|deadlock|lost connection|"
    r"too many connections|could not translate host name",
    re.I,
)


def _normalise(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"{redact(url)!r} is not a valid database URL") from None
    if parsed.password:
        register_secret(str(parsed.password))
    driver = parsed.drivername
    if driver in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif driver in {"mysql", "mariadb"}:
        parsed = parsed.set(drivername="mysql+pymysql")
    return parsed


def _safe_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _translate(exc: SQLAlchemyError, url: URL, *, what: str) -> SourceError:
    """Turn a driver error into a one-line, secret-free, typed error."""
    orig = getattr(exc, "orig", None) or exc
    text = redact(str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__)
    where = _safe_url(url)
    if _AUTH.search(text):
        return AuthenticationFailed(
            f"{where} refused the credentials while {what}",
            hint="check the user and the password variable the URL takes it from",
        )
    if _NO_DB.search(text):
        return SourceNotFound(f"{where}: the database does not exist", hint="check the URL")
    if _TRANSIENT.search(text) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return ConnectionFailed(f"cannot reach {where} while {what}: {text}")
    return SourceError(f"{where} failed while {what}: {text}")


def _engine(url: URL) -> Engine:
    try:
        if url.get_backend_name() == "sqlite":
            engine = sa.create_engine(url)
            _transactional_ddl(engine)
            return engine
        return sa.create_engine(url, pool_pre_ping=True, connect_args=_connect_args(url))
    except NoSuchModuleError:
        raise ConfigError(f"no SQLAlchemy driver for {_safe_url(url)}") from None
    except ImportError as exc:
        raise ConfigError(f"the driver for {_safe_url(url)} is not installed: {exc.name}") from None


def _transactional_ddl(engine: Engine) -> None:
    """pysqlite commits before DDL by default; take over BEGIN so that the staging
    table, the swap and the drop are all one transaction."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


def _connect_args(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "postgresql":
        return {"connect_timeout": 10}
    if url.get_backend_name() == "mysql":
        return {"connect_timeout": 10}
    return {}


def _sqlite_path(url: URL) -> Path | None:
    db = url.database
    if url.get_backend_name() != "sqlite" or not db or db == ":memory:":
        return None
    return Path(db)


class SqlSource:
    """Reads tables from a SQL database; schema from reflection, never from rows."""

    def __init__(self, url: str) -> None:
        self.url = _normalise(url)
        path = _sqlite_path(self.url)
        if path is not None and not path.is_file():
            raise SourceNotFound(
                f"SQLite database {path} does not exist", hint="check the path in source.url"
            )
        self.engine = _engine(self.url)

    def _inspector(self) -> sa.Inspector:
        try:
            return sa.inspect(self.engine)
        except SQLAlchemyError as exc:
            raise _translate(exc, self.url, what="connecting") from None

    def list_tables(self) -> list[str]:
        insp = self._inspector()
        try:
            return sorted([*insp.get_table_names(), *insp.get_view_names()])
        except SQLAlchemyError as exc:
            raise _translate(exc, self.url, what="listing tables") from None

    def _require(self, table: str) -> sa.Inspector:
        insp = self._inspector()
        try:
            tables = [*insp.get_table_names(), *insp.get_view_names()]
        except SQLAlchemyError as exc:
            raise _translate(exc, self.url, what="listing tables") from None
        if table not in tables:
            known = ", ".join(sorted(tables)[:20]) or "none"
            raise TableNotFound(
                f"table {table!r} does not exist in {_safe_url(self.url)}; tables there: {known}"
            )
        return insp

    def schema(self, table: str) -> TableSchema:
        insp = self._require(table)
        try:
            raw_cols = insp.get_columns(table)
            pk = tuple(insp.get_pk_constraint(table).get("constrained_columns") or ())
            fks = tuple(
                ForeignKey(
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in insp.get_foreign_keys(table)
            )
            uniques = tuple(tuple(u["column_names"]) for u in insp.get_unique_constraints(table))
            try:
                checks = insp.get_check_constraints(table)
            except NotImplementedError:
                checks = []
        except SQLAlchemyError as exc:
            raise _translate(exc, self.url, what=f"reading the schema of {table!r}") from None
        domains: dict[str, tuple[str, ...]] = {}
        for check in checks:
            parsed = parse_in_list(str(check.get("sqltext", "")))
            if parsed:
                domains[parsed[0]] = parsed[1]
        single_keys = {k[0] for k in (pk, *uniques) if len(k) == 1}
        columns = []
        for raw in raw_cols:
            name = str(raw["name"])
            ltype = logical_type(raw["type"])
            if ltype is None:
                raise UnsupportedType(
                    f"column {name!r} of {table!r} has type {raw['type']} that synthgate "
                    "cannot map without losing data",
                    hint="leave it out with source.columns or cast it in a view",
                )
            domain = domains.get(name)
            if isinstance(raw["type"], sa.Enum):
                domain = tuple(raw["type"].enums)
            if domain is not None and ltype is LogicalType.TEXT:
                ltype = LogicalType.CATEGORICAL
            if name in single_keys and ltype in {LogicalType.INTEGER, LogicalType.TEXT}:
                ltype = LogicalType.IDENTIFIER
            columns.append(
                ColumnSchema(
                    name=name,
                    type=ltype,
                    nullable=bool(raw.get("nullable", True)) and name not in pk,
                    native_type=str(raw["type"]),
                    domain=domain,
                )
            )
        return TableSchema(table, tuple(columns), pk, fks, uniques)

    def row_count(self, table: str) -> int:
        self._require(table)
        tbl = sa.table(table)
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(sa.select(sa.func.count()).select_from(tbl)).scalar_one())
        except SQLAlchemyError as exc:
            raise _translate(exc, self.url, what=f"counting {table!r}") from None

    def read(
        self,
        table: str,
        *,
        chunk_rows: int = 50_000,
        columns: Sequence[str] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        full = self.schema(table)
        if columns is not None:
            missing = [c for c in columns if c not in full.column_names]
            if missing:
                raise ConfigError(
                    f"source.columns names columns that {table!r} does not have: "
                    f"{', '.join(missing)}; columns there: {', '.join(full.column_names)}"
                )
        schema = full.select(columns) if columns is not None else full
        target = arrow_schema(schema)
        tbl = sa.table(table, *(sa.column(c) for c in schema.column_names))
        query = sa.select(*tbl.columns)
        try:
            with self.engine.connect() as conn:
                result = conn.execution_options(
                    stream_results=True, max_row_buffer=chunk_rows
                ).execute(query)
                for rows in result.partitions(chunk_rows):
                    frame = pd.DataFrame.from_records(rows, columns=schema.column_names)
                    yield frame_to_batch(frame, schema, target)
        except SQLAlchemyError as exc:
            raise _translate(exc, self.url, what=f"reading {table!r}") from None

    def close(self) -> None:
        self.engine.dispose()


class SqlSink:
    """Writes a table through a staging table swapped in within one transaction."""

    def __init__(self, url: str) -> None:
        self.url = _normalise(url)
        self._path = _sqlite_path(self.url)
        self.engine: Engine | None = None

    def _engine(self) -> Engine:
        if self.engine is None:
            self.engine = _engine(self.url)
        return self.engine

    def check_writable(self, table: str, *, mode: WriteMode) -> None:
        if self._path is not None:
            parent = self._path.parent
            if not parent.is_dir():
                raise TargetNotWritable(
                    f"target directory {parent} does not exist", hint="create it or fix target.url"
                )
            probe = self._path if self._path.exists() else parent
            if not os.access(probe, os.W_OK):
                raise TargetNotWritable(
                    f"target {probe} is not writable by this user", hint="fix its permissions"
                )
            if not self._path.exists():
                return
        try:
            exists = sa.inspect(self._engine()).has_table(table)
        except SQLAlchemyError as exc:
            err = _translate(exc, self.url, what="checking the target")
            raise TargetNotWritable(str(err)) from None
        if exists and mode is WriteMode.FAIL:
            raise TargetNotWritable(
                f"target table {table!r} already exists and target.mode is 'fail'",
                hint="use mode 'replace' or 'append', or drop the table",
            )

    def write(
        self,
        table: str,
        batches: Iterator[pa.RecordBatch],
        *,
        schema: TableSchema,
        mode: WriteMode,
    ) -> WriteResult:
        self.check_writable(table, mode=mode)
        engine = self._engine()
        staging = f"_sg_stage_{secrets.token_hex(4)}"
        meta = sa.MetaData()
        stage_tbl = sa.Table(
            staging,
            meta,
            *(sa.Column(c.name, sql_type(c), nullable=c.nullable) for c in schema.columns),
        )
        digest = hashlib.sha256()
        rows = 0
        try:
            with engine.begin() as conn:
                stage_tbl.create(conn)
                for batch in batches:
                    records = batch.to_pylist()
                    if records:
                        conn.execute(stage_tbl.insert(), records)
                    rows += batch.num_rows
                    digest.update(batch_fingerprint(batch))
                insp = sa.inspect(conn)
                exists = insp.has_table(table)
                q = conn.dialect.identifier_preparer.quote
                if exists and mode is WriteMode.FAIL:
                    raise TargetNotWritable(f"target table {table!r} already exists")
                if exists and mode is WriteMode.APPEND:
                    cols = ", ".join(q(c) for c in schema.column_names)
                    conn.exec_driver_sql(
                        f"INSERT INTO {q(table)} ({cols}) SELECT {cols} FROM {q(staging)}"
                    )
                    conn.exec_driver_sql(f"DROP TABLE {q(staging)}")
                else:
                    if exists:
                        conn.exec_driver_sql(f"DROP TABLE {q(table)}")
                    conn.exec_driver_sql(f"ALTER TABLE {q(staging)} RENAME TO {q(table)}")
        except (SinkError, ConfigError):
            raise
        except SQLAlchemyError as exc:
            raise SinkError(
                f"writing {table!r} to {_safe_url(self.url)} failed; the target is unchanged: "
                f"{_translate(exc, self.url, what='writing')}"
            ) from None
        return WriteResult(table=table, rows=rows, mode=mode, content_hash=digest.hexdigest())

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


class SqlConnector:
    name: ClassVar[str] = "sql"

    def accepts(self, url: str) -> bool:
        scheme = url.split("://", 1)[0].split("+", 1)[0].lower() if "://" in url else ""
        return scheme in _SCHEMES

    def source(self, url: str, *, options: Mapping[str, Any]) -> SqlSource:
        return SqlSource(url)

    def sink(self, url: str, *, options: Mapping[str, Any]) -> SqlSink:
        return SqlSink(url)
