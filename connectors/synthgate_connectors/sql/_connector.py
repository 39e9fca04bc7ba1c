"""The SQL source and sink behind the ``synthgate.connectors`` contracts."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import SQLAlchemyError

from synthgate.contracts import Relationships, TableSchema, TableWrite, WriteMode, WriteResult
from synthgate.errors import (
    ConfigError,
    SourceNotFound,
    TargetNotWritable,
    UnsupportedType,
)
from synthgate_connectors.sql._card import CARD_TABLE, write_card_row
from synthgate_connectors.sql._catalog import (
    catalog_tables,
    default_schema,
    list_tables,
    parse_table,
    resolve,
    user_schemas,
)
from synthgate_connectors.sql._engine import (
    backend,
    connect,
    make_engine,
    normalise,
    safe_url,
    sink_error,
    source_error,
    sqlite_path,
)
from synthgate_connectors.sql._read import read_rows, select_sql
from synthgate_connectors.sql._reflect import Reflected, reflect
from synthgate_connectors.sql._relations import read_relationships
from synthgate_connectors.sql._types import ReadAs
from synthgate_connectors.sql._where import where_sql
from synthgate_connectors.sql._write import write_table, write_tables

__all__ = ["SqlConnector", "SqlSink", "SqlSource"]

_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb")


class SqlSource:
    """Reads tables from a SQL database; schema from the catalog, never from rows."""

    def __init__(self, url: str) -> None:
        self.url = normalise(url)
        path = sqlite_path(self.url)
        if path is not None and not path.is_file():
            raise SourceNotFound(
                f"SQLite database {path} does not exist", hint="check the path in source.url"
            )
        self.engine = make_engine(self.url)

    def _reflect(self, table: str) -> Reflected:
        with connect(self.engine, self.url, what=f"reading the schema of {table!r}") as conn:
            return reflect(conn, self.url, table)

    def list_tables(self) -> list[str]:
        with connect(self.engine, self.url, what="listing tables") as conn:
            return list_tables(conn, self.url)

    def schema(self, table: str) -> TableSchema:
        return self._reflect(table).schema

    def relationships(self, tables: Sequence[str] | None = None) -> Relationships:
        """Keys of *tables* (every listed table when None) and their foreign keys."""
        with connect(self.engine, self.url, what="reading keys and foreign keys") as conn:
            found = catalog_tables(conn, self.url)
            default = default_schema(conn)
            if tables is None:
                resolved = found
            else:  # a listed name needs no look-up; another one is found or explained
                listed = {t.qualified(default): t for t in found}
                resolved = [listed.get(t) or resolve(conn, self.url, t) for t in tables]
            try:
                return read_relationships(conn, resolved, default)
            except SQLAlchemyError as exc:
                raise source_error(exc, self.url, what="reading keys and foreign keys") from None

    def row_count(self, table: str) -> int:
        with connect(self.engine, self.url, what=f"counting {table!r}") as conn:
            name = reflect(conn, self.url, table).name
            try:
                counted = sa.table(name.name, schema=name.schema)
                count = conn.execute(sa.select(sa.func.count()).select_from(counted))
                return int(count.scalar_one())
            except SQLAlchemyError as exc:
                raise source_error(exc, self.url, what=f"counting {table!r}") from None

    def read(
        self,
        table: str,
        *,
        chunk_rows: int = 50_000,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        sample_rows: int | None = None,
    ) -> Iterator[pa.RecordBatch]:
        if chunk_rows < 1:
            raise ConfigError(f"chunk_rows must be at least 1, got {chunk_rows}")
        if sample_rows is not None and sample_rows < 1:
            raise ConfigError(f"source.sample_rows must be at least 1, got {sample_rows}")
        if where is not None and not where.strip():
            raise ConfigError("source.where is empty; remove it or write a condition")
        condition = None if where is None else where_sql(where, backend(self.url))
        reflected = self._reflect(table)
        full = reflected.schema
        if columns is not None:
            missing = [c for c in columns if c not in full.column_names]
            if missing:
                raise ConfigError(
                    f"source.columns names columns that {table!r} does not have: "
                    f"{', '.join(missing)}; columns there: {', '.join(full.column_names)}"
                )
        schema = full.select(columns) if columns is not None else full
        refused = [c for c in schema.columns if reflected.read_as[c.name] is ReadAs.REFUSED]
        if refused:
            col = refused[0]
            raise UnsupportedType(
                f"column {col.name!r} of {table!r} holds binary data ({col.native_type}) "
                "that synthgate does not read",
                hint="leave it out with source.columns",
            )
        what = f"reading {table!r}"
        with connect(self.engine, self.url, what=what) as conn:
            sql = select_sql(
                conn,
                reflected.name.sql(conn),
                schema,
                reflected.read_as,
                where=condition,
                sample_rows=sample_rows,
            )
            yield from read_rows(conn, self.url, sql, schema, chunk_rows=chunk_rows, what=what)

    def close(self) -> None:
        self.engine.dispose()


class SqlSink:
    """Writes a table through a staging table, swapped in or appended atomically."""

    def __init__(self, url: str) -> None:
        self.url = normalise(url)
        self._path = sqlite_path(self.url)
        self.engine: Engine | None = None

    def _engine(self) -> Engine:
        if self.engine is None:
            self.engine = make_engine(self.url)
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
                parse_table(table, what="target table")
                return
        try:
            with self._engine().connect() as conn:
                exists = _target_exists(conn, self.url, table)
        except SQLAlchemyError as exc:
            raise sink_error(exc, self.url, table=table) from None
        if exists and mode is WriteMode.FAIL:
            raise TargetNotWritable(
                f"target table {table!r} already exists in {safe_url(self.url)} and "
                "target.mode is 'fail'",
                hint="use mode 'replace' or 'append', or drop the table",
            )

    def write(
        self,
        table: str,
        batches: Iterator[pa.RecordBatch],
        *,
        schema: TableSchema,
        mode: WriteMode,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        if idempotency_key is None:
            self.check_writable(table, mode=mode)
        elif self._path is not None:
            self.check_writable(table, mode=WriteMode.REPLACE)
        else:  # the name and its schema; a repeat may find the table written already
            self.check_writable(table, mode=WriteMode.APPEND)
        return write_table(
            self._engine(),
            self.url,
            table,
            batches,
            schema=schema,
            mode=mode,
            idempotency_key=idempotency_key,
        )

    def write_tables(
        self, tables: Sequence[TableWrite], *, mode: WriteMode, idempotency_key: str | None
    ) -> list[WriteResult]:
        """Every table in one transaction, in the order given (parents first)."""
        for part in tables:
            if idempotency_key is None:
                self.check_writable(part.table, mode=mode)
            elif self._path is not None:
                self.check_writable(part.table, mode=WriteMode.REPLACE)
            else:  # a repeat may find the tables written already
                self.check_writable(part.table, mode=WriteMode.APPEND)
        return write_tables(
            self._engine(), self.url, tables, mode=mode, idempotency_key=idempotency_key
        )

    def write_card(self, table: str, release_id: str, card: Mapping[str, Any], html: str) -> str:
        try:
            return write_card_row(self._engine(), table, release_id, card, html)
        except SQLAlchemyError as exc:
            raise sink_error(exc, self.url, table=CARD_TABLE) from None

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def _target_exists(conn: sa.Connection, url: URL, table: str) -> bool:
    """Whether the target table exists; a schema that does not is a one-line error."""
    name = parse_table(table, what="target table")
    if name.schema is not None and name.schema not in (schemas := user_schemas(conn)):
        shown = ", ".join(schemas[:20]) or "none"
        raise TargetNotWritable(
            f"schema {name.schema!r} does not exist in {safe_url(url)} or is a system schema; "
            f"schemas there: {shown}",
            hint="create the schema first (publishing creates tables, not schemas) or fix "
            "target.table",
        )
    return sa.inspect(conn).has_table(name.name, schema=name.schema)


class SqlConnector:
    name: ClassVar[str] = "sql"

    def accepts(self, url: str) -> bool:
        scheme = url.split("://", 1)[0].split("+", 1)[0].lower() if "://" in url else ""
        return scheme in _SCHEMES

    def source(self, url: str, *, options: Mapping[str, Any]) -> SqlSource:
        return SqlSource(url)

    def sink(self, url: str, *, options: Mapping[str, Any]) -> SqlSink:
        return SqlSink(url)
