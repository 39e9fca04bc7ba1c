"""An in-memory connector (``memory://NAME``) that tests use instead of mocks.

Tables live in a process-wide catalog keyed by NAME. Writes are atomic: the
new table replaces the old reference only after every batch was collected.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from synthgate.contracts import (
    ColumnSchema,
    LogicalType,
    TableSchema,
    WriteMode,
    WriteResult,
    batch_fingerprint,
)
from synthgate.errors import ConfigError, SourceNotFound, TableNotFound, TargetNotWritable

__all__ = ["MemoryConnector", "MemorySink", "MemorySource", "catalog"]

_LOCK = threading.Lock()
_CATALOG: dict[str, dict[str, tuple[pa.Table, TableSchema]]] = {}
_WRITES: dict[str, dict[str, WriteResult]] = {}


def catalog(name: str) -> dict[str, tuple[pa.Table, TableSchema]]:
    """The tables of memory database *name* (created on first use)."""
    with _LOCK:
        return _CATALOG.setdefault(name, {})


def put(name: str, table: pa.Table, schema: TableSchema) -> None:
    catalog(name)[schema.name] = (table, schema)


def drop(name: str) -> None:
    with _LOCK:
        _CATALOG.pop(name, None)
        _WRITES.pop(name, None)


def _logical(dtype: pa.DataType) -> LogicalType:
    if pa.types.is_boolean(dtype):
        return LogicalType.BOOLEAN
    if pa.types.is_integer(dtype):
        return LogicalType.INTEGER
    if pa.types.is_floating(dtype):
        return LogicalType.FLOAT
    if pa.types.is_date(dtype):
        return LogicalType.DATE
    if pa.types.is_timestamp(dtype):
        return LogicalType.DATETIME
    return LogicalType.TEXT


def schema_of(name: str, table: pa.Table) -> TableSchema:
    return TableSchema(
        name,
        tuple(ColumnSchema(f.name, _logical(f.type), True, str(f.type)) for f in table.schema),
    )


def _db(url: str) -> str:
    return url.removeprefix("memory://").strip("/") or "default"


class MemorySource:
    def __init__(self, url: str) -> None:
        self.name = _db(url)
        with _LOCK:
            if self.name not in _CATALOG:
                raise SourceNotFound(f"memory database {self.name!r} does not exist")

    def _get(self, table: str) -> tuple[pa.Table, TableSchema]:
        tables = catalog(self.name)
        if table not in tables:
            known = ", ".join(sorted(tables)) or "none"
            raise TableNotFound(f"table {table!r} does not exist; tables there: {known}")
        return tables[table]

    def list_tables(self) -> list[str]:
        return sorted(catalog(self.name))

    def schema(self, table: str) -> TableSchema:
        return self._get(table)[1]

    def row_count(self, table: str) -> int:
        return int(self._get(table)[0].num_rows)

    def read(
        self,
        table: str,
        *,
        chunk_rows: int = 50_000,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        sample_rows: int | None = None,
    ) -> Iterator[pa.RecordBatch]:
        data, _ = self._get(table)
        if where is not None:
            raise ConfigError(
                "source.where needs a SQL source; the memory connector cannot evaluate it",
                hint="filter the table before putting it in memory",
            )
        if columns is not None:
            missing = [c for c in columns if c not in data.column_names]
            if missing:
                raise ConfigError(f"source.columns names unknown columns: {', '.join(missing)}")
            data = data.select(list(columns))
        if sample_rows is not None and sample_rows < data.num_rows:
            picked = np.random.default_rng().choice(data.num_rows, size=sample_rows, replace=False)
            data = data.take(np.sort(picked))
        yield from data.to_batches(max_chunksize=chunk_rows)

    def close(self) -> None:
        return None


class MemorySink:
    def __init__(self, url: str) -> None:
        self.name = _db(url)

    def check_writable(self, table: str, *, mode: WriteMode) -> None:
        if mode is WriteMode.FAIL and table in catalog(self.name):
            raise TargetNotWritable(f"target table {table!r} already exists")

    def write(
        self,
        table: str,
        batches: Iterator[pa.RecordBatch],
        *,
        schema: TableSchema,
        mode: WriteMode,
        idempotency_key: str | None = None,
    ) -> WriteResult:
        self.check_writable(table, mode=mode)
        collected = list(batches)
        digest = hashlib.sha256()
        for batch in collected:
            digest.update(batch_fingerprint(batch))
        rows = sum(b.num_rows for b in collected)
        result = WriteResult(table=table, rows=rows, mode=mode, content_hash=digest.hexdigest())
        new = pa.Table.from_batches(collected) if collected else None
        tables = catalog(self.name)
        with _LOCK:
            writes = _WRITES.setdefault(self.name, {})
            if idempotency_key is not None and idempotency_key in writes:
                earlier = writes[idempotency_key]
                if earlier.content_hash != result.content_hash or earlier.table != table:
                    raise TargetNotWritable(
                        f"idempotency key {idempotency_key!r} already recorded a write of "
                        "other content",
                        hint="a new publish needs a new key",
                    )
                return earlier
            if mode is WriteMode.FAIL and table in tables:
                raise TargetNotWritable(f"target table {table!r} already exists")
            if mode is WriteMode.APPEND and table in tables and new is not None:
                new = pa.concat_tables([tables[table][0], new])
            if new is not None:
                tables[table] = (new, schema)
            if idempotency_key is not None:
                writes[idempotency_key] = result
        return result

    def close(self) -> None:
        return None


class MemoryConnector:
    name: ClassVar[str] = "memory"

    def accepts(self, url: str) -> bool:
        return url.startswith("memory://")

    def source(self, url: str, *, options: Mapping[str, Any]) -> MemorySource:
        return MemorySource(url)

    def sink(self, url: str, *, options: Mapping[str, Any]) -> MemorySink:
        return MemorySink(url)
