from __future__ import annotations

import enum
import hashlib
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
)
from synthgate_connectors._arrow import arrow_schema, logical_from_arrow

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

    def _arrow_schema(self, path: Path) -> pa.Schema:
        try:
            if FileFormat.of(path) is FileFormat.PARQUET:
                return pq.read_schema(path)
            with pacsv.open_csv(path) as reader:
                return reader.schema
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(
                f"{path} cannot be read as {FileFormat.of(path)}: {str(exc).splitlines()[0]}"
            ) from None

    def schema(self, table: str) -> TableSchema:
        path = self._file(table)
        fields = self._arrow_schema(path)
        columns = tuple(
            ColumnSchema(f.name, logical_from_arrow(f.type), f.nullable, str(f.type))
            for f in fields
        )
        return TableSchema(table, columns)

    def row_count(self, table: str) -> int:
        path = self._file(table)
        if FileFormat.of(path) is FileFormat.PARQUET:
            return int(pq.ParquetFile(path).metadata.num_rows)
        return sum(b.num_rows for b in self.read(table))

    def read(
        self,
        table: str,
        *,
        chunk_rows: int = 50_000,
        columns: Sequence[str] | None = None,
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
        try:
            if FileFormat.of(path) is FileFormat.PARQUET:
                yield from pq.ParquetFile(path).iter_batches(
                    batch_size=chunk_rows, columns=list(columns) if columns else None
                )
                return
            convert = pacsv.ConvertOptions(include_columns=list(columns) if columns else None)
            # inference runs on the first block; later blocks must match its types
            with pacsv.open_csv(path, convert_options=convert) as reader:
                for batch in reader:
                    for start in range(0, batch.num_rows, chunk_rows):
                        yield batch.slice(start, chunk_rows)
        except pa.ArrowInvalid as exc:
            raise SourceError(
                f"{path} holds values that do not match the column types inferred from its "
                f"first rows: {str(exc).splitlines()[0]}",
                hint="convert the file to Parquet or clean the column",
            ) from None

    def close(self) -> None:
        return None


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
    ) -> WriteResult:
        self.check_writable(table, mode=mode)
        target = self._target(table)
        fmt = FileFormat.of(target) or FileFormat.PARQUET
        arrow = arrow_schema(schema)
        digest = hashlib.sha256()
        rows = 0
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            previous: list[pa.RecordBatch] = []
            if mode is WriteMode.APPEND and target.exists():
                previous = FileSource(str(target)).read(target.stem)  # type: ignore[assignment]
            writer: Any = (
                pq.ParquetWriter(tmp, arrow)
                if fmt is FileFormat.PARQUET
                else pacsv.CSVWriter(tmp, arrow)
            )
            with writer:
                for batch in previous:
                    writer.write_batch(batch.cast(arrow))
                for raw in batches:
                    batch = raw.select(arrow.names).cast(arrow)
                    writer.write_batch(batch)
                    rows += batch.num_rows
                    digest.update(batch_fingerprint(batch))
            os.replace(tmp, target)
        except OSError as exc:
            raise SinkError(
                f"writing {target} failed ({exc.strerror}); the target is unchanged"
            ) from None
        finally:
            tmp.unlink(missing_ok=True)
        return WriteResult(table=table, rows=rows, mode=mode, content_hash=digest.hexdigest())

    def close(self) -> None:
        return None


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
