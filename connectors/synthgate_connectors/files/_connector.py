from __future__ import annotations

import enum
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from synthgate.contracts import (
    ColumnSchema,
    LogicalType,
    Relationships,
    TableKeys,
    TableSchema,
    WriteMode,
    WriteResult,
    batch_fingerprint,
)
from synthgate.errors import (
    ConfigError,
    SinkError,
    SourceError,
    SourceNotFound,
    TableNotFound,
    TargetNotWritable,
    UnsupportedType,
)
from synthgate_connectors._arrow import arrow_schema, conform, logical_from_arrow
from synthgate_connectors._sample import sample_batches
from synthgate_connectors.files._csv import CsvLayout, csv_batches, csv_layout
from synthgate_connectors.files._names import renamed, unique_names

__all__ = ["FileConnector", "FileSink", "FileSource"]


class FileFormat(enum.StrEnum):
    CSV = "csv"
    PARQUET = "parquet"

    @classmethod
    def of(cls, path: Path) -> FileFormat | None:
        return {".csv": cls.CSV, ".parquet": cls.PARQUET, ".pq": cls.PARQUET}.get(
            path.suffix.lower()
        )


def _path_of(url: str) -> Path:
    if url.startswith("file://"):
        return Path(unquote(urlparse(url).path))
    return Path(url).expanduser()


class FileSource:
    """A file is one table (named by its stem); a directory holds one per file."""

    def __init__(self, url: str) -> None:
        self.root = _path_of(url)
        if not self.root.exists():
            raise SourceNotFound(f"{self.root} does not exist", hint="check source.url")
        self._layouts: dict[Path, tuple[tuple[int, int], CsvLayout]] = {}

    def _files(self) -> dict[str, Path]:
        candidates = sorted(self.root.iterdir()) if self.root.is_dir() else [self.root]
        return {p.stem: p for p in candidates if p.is_file() and FileFormat.of(p)}

    def _file(self, table: str) -> Path:
        files = self._files()
        if table not in files:
            known = ", ".join(files) or "none"
            raise TableNotFound(f"no table {table!r} in {self.root}; tables there: {known}")
        return files[table]

    def list_tables(self) -> list[str]:
        return list(self._files())

    def relationships(self, tables: Sequence[str] | None = None) -> Relationships:
        """Files declare no keys: every table has none, and no foreign key joins them."""
        names = self.list_tables() if tables is None else [*tables]
        for name in names:
            self._file(name)  # an unknown table is an error, as everywhere
        return Relationships(tuple(TableKeys(n) for n in names), ())

    def _csv(self, path: Path) -> CsvLayout:
        """The file's layout, worked out once per version of the file."""
        stat = path.stat()
        version = (stat.st_mtime_ns, stat.st_size)
        cached = self._layouts.get(path)
        if cached is None or cached[0] != version:
            cached = (version, csv_layout(path))
            self._layouts[path] = cached
        return cached[1]

    def _parquet_header(self, path: Path) -> pa.Schema:
        try:
            return pq.read_schema(path)
        except (pa.ArrowInvalid, OSError) as exc:
            # the footer holds min/max statistics: keep Arrow's words up to the detail
            what = str(exc).splitlines()[0].split(":")[0].strip()
            raise SourceError(
                f"{path} cannot be read as parquet: {what}",
                hint="check that the file is a complete Parquet file, or write it again",
            ) from None

    def _arrow_schema(self, path: Path) -> pa.Schema:
        """The schema readers see: unique names, types valid for every row."""
        if FileFormat.of(path) is FileFormat.CSV:
            return self._csv(path).schema()
        header = self._parquet_header(path)
        names = unique_names(header.names)
        return pa.schema([f.with_name(n) for f, n in zip(header, names, strict=True)])

    def renamed_columns(self, table: str) -> dict[str, str]:
        """Columns renamed because their header name was empty or repeated:
        new name → the file's name for it ('' for none)."""
        path = self._file(table)
        if FileFormat.of(path) is FileFormat.CSV:
            layout = self._csv(path)
            return renamed(layout.header, layout.names)
        header = self._parquet_header(path).names
        return renamed(header, unique_names(header))

    def schema(self, table: str) -> TableSchema:
        path = self._file(table)
        fields = self._arrow_schema(path)
        columns = tuple(
            ColumnSchema(f.name, _logical_type(path, f), f.nullable, str(f.type)) for f in fields
        )
        return TableSchema(table, columns)

    def row_count(self, table: str) -> int:
        path = self._file(table)
        if FileFormat.of(path) is FileFormat.PARQUET:
            return int(pq.ParquetFile(path).metadata.num_rows)
        return self._csv(path).rows

    def read(
        self,
        table: str,
        *,
        chunk_rows: int = 50_000,
        columns: Sequence[str] | None = None,
        where: str | None = None,
        sample_rows: int | None = None,
    ) -> Iterator[pa.RecordBatch]:
        if where is not None:
            raise ConfigError(
                "source.where needs a SQL source; the files connector cannot evaluate it",
                hint="filter the file first, or load it into a database",
            )
        batches = self._batches(table, chunk_rows, columns)
        if sample_rows is not None:
            yield from sample_batches(batches, sample_rows, chunk_rows=chunk_rows)
        else:
            yield from batches

    def _batches(
        self, table: str, chunk_rows: int, columns: Sequence[str] | None
    ) -> Iterator[pa.RecordBatch]:
        path = self._file(table)
        names = self._arrow_schema(path).names
        if columns is not None:
            missing = [c for c in columns if c not in names]
            if missing:
                raise ConfigError(
                    f"source.columns names columns that {table!r} does not have: "
                    f"{', '.join(missing)}; columns there: {', '.join(names)}"
                )
        if FileFormat.of(path) is FileFormat.CSV:
            yield from csv_batches(path, self._csv(path), columns, chunk_rows)
        else:
            yield from _parquet_batches(path, names, columns, chunk_rows)

    def close(self) -> None:
        return None


def _logical_type(path: Path, field: pa.Field) -> LogicalType:
    try:
        return logical_from_arrow(field.type)
    except UnsupportedType:
        raise UnsupportedType(
            f"{path}: column {field.name!r} has the Arrow type {field.type}, which synthgate "
            "does not read",
            hint="write the file without that column or with it converted to text",
        ) from None


def _parquet_batches(
    path: Path, names: list[str], columns: Sequence[str] | None, chunk_rows: int
) -> Iterator[pa.RecordBatch]:
    """Batches under the unique *names*; a file whose header needed renaming is read
    whole (its names cannot select columns) and the columns picked after. A damaged
    page is an error naming the rows and the column, never Arrow's words about it."""
    parquet = pq.ParquetFile(path)
    same = parquet.schema_arrow.names == names
    wanted = list(columns) if columns and same else None
    batches = parquet.iter_batches(batch_size=chunk_rows, columns=wanted)
    read = 0
    while True:
        try:
            raw = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError):
            raise _damaged(path, parquet, read, names if same else None) from None
        read += raw.num_rows
        if same:
            yield raw
            continue
        batch = pa.RecordBatch.from_arrays(raw.columns, names=names)
        yield batch.select(list(columns)) if columns else batch


def _damaged(
    path: Path, parquet: pq.ParquetFile, read: int, names: list[str] | None
) -> SourceError:
    """Which rows (the row group after the *read* rows that came out) and, when the
    names allow reading columns one by one, which column cannot be decoded."""
    meta = parquet.metadata
    start, group = 0, 0
    while group < meta.num_row_groups - 1 and start + meta.row_group(group).num_rows <= read:
        start += meta.row_group(group).num_rows
        group += 1
    end = start + (meta.row_group(group).num_rows if meta.num_row_groups else 0)
    what = f"rows {start + 1} to {end} are damaged"
    for name in names or ():
        try:
            parquet.read_row_group(group, columns=[name])
        except (pa.ArrowException, OSError):
            what = f"column {name!r} is damaged in rows {start + 1} to {end}"
            break
    return SourceError(
        f"{path} cannot be read as parquet: {what}",
        hint="write the file again from its source",
    )


class FileSink:
    """Writes to a temporary file beside the target, then renames it over it."""

    def __init__(self, url: str) -> None:
        self.root = _path_of(url)

    def _target(self, table: str) -> Path:
        if FileFormat.of(self.root):
            return self.root
        return self.root / f"{table}.parquet"

    def check_writable(self, table: str, *, mode: WriteMode) -> None:
        target = self._target(table)
        if not target.parent.is_dir():
            raise TargetNotWritable(
                f"target directory {target.parent} does not exist",
                hint="create it or fix target.url",
            )
        if not os.access(target.parent, os.W_OK):
            raise TargetNotWritable(f"target directory {target.parent} is not writable")
        if target.exists() and mode is WriteMode.FAIL:
            raise TargetNotWritable(
                f"target {target} already exists and target.mode is 'fail'",
                hint="use mode 'replace' or 'append'",
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
        self.check_writable(table, mode=WriteMode.REPLACE if idempotency_key else mode)
        target = self._target(table)
        fmt = FileFormat.of(target) or FileFormat.PARQUET
        arrow = arrow_schema(schema)
        records = _write_records(target, fmt)
        if idempotency_key is not None and idempotency_key in records:
            return _repeat(records[idempotency_key], idempotency_key, table, batches, arrow, schema)
        if mode is WriteMode.FAIL and target.exists():
            raise TargetNotWritable(
                f"target {target} already exists and target.mode is 'fail'",
                hint="use mode 'replace' or 'append'",
            )
        digest = hashlib.sha256()
        rows = 0
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        appending = mode is WriteMode.APPEND and target.exists()
        try:
            previous: Iterator[pa.RecordBatch] = iter(())
            if appending:
                previous = FileSource(str(target)).read(target.stem)
            pending = dict(records)
            if idempotency_key is not None:
                pending[idempotency_key] = {}  # filled in below once the hash is known
            writer: Any = (
                pq.ParquetWriter(tmp, arrow.with_metadata(None))
                if fmt is FileFormat.PARQUET
                else pacsv.CSVWriter(tmp, arrow)
            )
            with writer:
                for batch in previous:
                    writer.write_batch(conform(batch, arrow, schema))
                for raw in batches:
                    batch = conform(raw, arrow, schema)
                    writer.write_batch(batch)
                    rows += batch.num_rows
                    digest.update(batch_fingerprint(batch))
                result = WriteResult(table, rows, mode, digest.hexdigest())
                if idempotency_key is not None:
                    pending[idempotency_key] = _as_record(result)
                if fmt is FileFormat.PARQUET and pending:
                    writer.add_key_value_metadata({_WRITES_KEY: json.dumps(pending)})
            os.replace(tmp, target)
            if fmt is FileFormat.CSV:
                _save_sidecar(target, pending)
        except OSError as exc:
            raise SinkError(
                f"writing {target} failed ({exc.strerror or type(exc).__name__}); "
                "the target is unchanged"
            ) from None
        finally:
            tmp.unlink(missing_ok=True)
        return result

    def write_card(self, table: str, release_id: str, card: Mapping[str, Any], html: str) -> str:
        """``<target>.card.json`` and ``<target>.card.html`` beside the written file."""
        target = self._target(table)
        as_json = target.with_name(f"{target.name}.card.json")
        payload = json.dumps({**card, "release": release_id}, indent=2, default=str)
        _replace_text(as_json, payload)
        _replace_text(target.with_name(f"{target.name}.card.html"), html)
        return f"file {as_json}"

    def close(self) -> None:
        return None


def _replace_text(path: Path, text: str) -> None:
    """Write *path* whole or not at all (a temporary file renamed over it)."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


_WRITES_KEY = "synthgate.writes"


def _sidecar(target: Path) -> Path:
    return target.with_name(f".{target.name}.synthgate-writes.json")


def _write_records(target: Path, fmt: FileFormat) -> dict[str, dict[str, Any]]:
    """Idempotency records of earlier writes: Parquet metadata, or a CSV sidecar."""
    try:
        if fmt is FileFormat.PARQUET:
            if not target.exists():
                return {}
            meta = pq.read_metadata(target).metadata or {}
            raw = meta.get(_WRITES_KEY.encode())
            return dict(json.loads(raw)) if raw else {}
        side = _sidecar(target)
        return (
            dict(json.loads(side.read_text("utf-8"))) if side.exists() and target.exists() else {}
        )
    except (OSError, ValueError, pa.ArrowInvalid):
        return {}


def _save_sidecar(target: Path, records: dict[str, dict[str, Any]]) -> None:
    side = _sidecar(target)
    if not records:
        side.unlink(missing_ok=True)
        return
    tmp = side.with_name(side.name + ".tmp")
    tmp.write_text(json.dumps(records), "utf-8")
    os.replace(tmp, side)


def _as_record(result: WriteResult) -> dict[str, Any]:
    return {
        "table": result.table,
        "rows": result.rows,
        "mode": result.mode.value,
        "content_hash": result.content_hash,
    }


def _repeat(
    record: dict[str, Any],
    key: str,
    table: str,
    batches: Iterator[pa.RecordBatch],
    arrow: pa.Schema,
    schema: TableSchema,
) -> WriteResult:
    digest = hashlib.sha256()
    for raw in batches:
        digest.update(batch_fingerprint(conform(raw, arrow, schema)))
    if record.get("table") != table or record.get("content_hash") != digest.hexdigest():
        raise TargetNotWritable(
            f"idempotency key {key!r} already recorded a write of other content",
            hint="a new publish needs a new key",
        )
    return WriteResult(table, int(record["rows"]), WriteMode(record["mode"]), digest.hexdigest())


class FileConnector:
    name: ClassVar[str] = "files"

    def accepts(self, url: str) -> bool:
        if url.startswith("file://"):
            return True
        if "://" in url:
            return False
        path = _path_of(url)
        return FileFormat.of(path) is not None or path.is_dir() or url.endswith("/")

    def source(self, url: str, *, options: Mapping[str, Any]) -> FileSource:
        return FileSource(url)

    def sink(self, url: str, *, options: Mapping[str, Any]) -> FileSink:
        return FileSink(url)
