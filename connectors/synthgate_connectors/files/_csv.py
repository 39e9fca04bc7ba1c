"""How a CSV file is read: its column names and types, checked over every row.

Arrow infers a CSV's column types from its first block (about 1 MB) and then
fails on a later value that does not fit: a column empty in its first rows is
typed ``null`` and stops the read at its first value. Here the first block's
types are checked against the whole file in one streaming pass; when a later
value does not fit, the types are inferred again over all rows at once
(up to 2 GiB). A column with no value at all is nullable text; an integer
column with empty cells stays int64, its empty cells null.

Error messages name the file and a column's position, never a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from synthgate.errors import SourceError
from synthgate_connectors.files._names import unique_names

__all__ = ["CsvLayout", "csv_batches", "csv_layout", "reason"]

#: the largest block Arrow accepts: the whole-file inference covers this much
_WHOLE_FILE_BLOCK = 2**31 - 1
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_COLUMN = re.compile(r"column #(\d+)")
_FIELD_COUNT = re.compile(r"Expected \d+ columns, got \d+")


@dataclass(frozen=True)
class CsvLayout:
    """A CSV's header, the names readers see, and types valid for every row."""

    header: tuple[str, ...]
    names: tuple[str, ...]
    types: dict[str, pa.DataType]
    rows: int

    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(n, self.types[n]) for n in self.names])

    def read_options(self, block_size: int | None = None) -> pacsv.ReadOptions:
        size = {} if block_size is None else {"block_size": block_size}
        if self.names == self.header:
            return pacsv.ReadOptions(**size)
        # Arrow skips rows by line breaks, so a header name holding one adds a line
        lines = 1 + sum(len(_LINE_BREAK.findall(name)) for name in self.header)
        return pacsv.ReadOptions(column_names=list(self.names), skip_rows=lines, **size)


def _convert(
    types: dict[str, pa.DataType] | None = None, columns: Sequence[str] | None = None
) -> pacsv.ConvertOptions:
    # an unquoted empty field is NULL, a quoted one ("") the empty string
    return pacsv.ConvertOptions(
        column_types=types,
        include_columns=list(columns) if columns else None,
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )


def reason(exc: pa.ArrowInvalid, names: Sequence[str] = ()) -> str:
    """What went wrong, without the value or row text Arrow's message quotes."""
    text = str(exc)
    fields = _FIELD_COUNT.search(text)
    if fields:
        return f"a row has the wrong number of fields ({fields[0].lower()})"
    column = _COLUMN.search(text)
    if column:
        index = int(column[1])
        name = repr(names[index]) if index < len(names) else f"#{index + 1}"
        return f"column {name} holds values of more than one type"
    return "it is not a well-formed CSV file"


def _unreadable(path: Path, exc: pa.ArrowInvalid, names: Sequence[str] = ()) -> SourceError:
    why = reason(exc, names)
    if _FIELD_COUNT.search(str(exc)):
        row = _bad_row(path, len(names))
        why = (
            why if row is None else f"row {row} (the header is row 1) {why.removeprefix('a row ')}"
        )
        return SourceError(f"{path} cannot be read as csv: {why}", hint="fix or remove that row")
    return SourceError(
        f"{path} cannot be read as csv: {why}",
        hint="convert the file to Parquet or clean the column",
    )


def _bad_row(path: Path, width: int) -> int | None:
    """The number of the first row whose field count is wrong (the header is row 1).

    Arrow numbers rows only when it reads on one thread; the *width* known fields
    are read as text so that no type stops the pass before that row.
    """
    found: list[int | None] = []

    def handler(row: object) -> str:
        found.append(getattr(row, "number", None))
        return "error"

    try:
        with pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False, autogenerate_column_names=True),
            parse_options=pacsv.ParseOptions(invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(width)}
            ),
        ) as reader:
            for _ in reader:
                pass
    except pa.ArrowInvalid:
        pass
    return found[0] if found else None


def csv_layout(path: Path) -> CsvLayout:
    """Names and whole-file types of *path*: one streaming pass, two when the
    first block's types do not hold for every row."""
    try:
        with pacsv.open_csv(path, convert_options=_convert()) as reader:
            first_block = reader.schema
    except pa.ArrowInvalid as exc:
        raise _unreadable(path, exc) from None
    header = tuple(first_block.names)
    names = tuple(unique_names(header))
    types = {name: field.type for name, field in zip(names, first_block, strict=True)}
    layout = CsvLayout(header, names, types, 0)
    rows = _rows_if_valid(path, layout)
    if rows is None:
        layout = _inferred_over_all_rows(path, layout)
    else:
        layout = CsvLayout(header, names, types, rows)
    text = {n: pa.string() if pa.types.is_null(t) else t for n, t in layout.types.items()}
    return CsvLayout(header, names, text, layout.rows)


def _rows_if_valid(path: Path, layout: CsvLayout) -> int | None:
    """The row count when every row fits *layout*'s types, else None."""
    rows = 0
    try:
        with pacsv.open_csv(
            path, read_options=layout.read_options(), convert_options=_convert(layout.types)
        ) as reader:
            for batch in reader:
                rows += batch.num_rows
    except pa.ArrowInvalid:
        return None
    return rows


def _inferred_over_all_rows(path: Path, layout: CsvLayout) -> CsvLayout:
    try:
        table = pacsv.read_csv(
            path,
            read_options=layout.read_options(block_size=_WHOLE_FILE_BLOCK),
            convert_options=_convert(),
        )
    except pa.ArrowInvalid as exc:
        raise _unreadable(path, exc, layout.names) from None
    types = {f.name: f.type for f in table.schema}
    return CsvLayout(layout.header, layout.names, types, table.num_rows)


def csv_batches(
    path: Path, layout: CsvLayout, columns: Sequence[str] | None, chunk_rows: int
) -> Iterator[pa.RecordBatch]:
    """The rows in batches of at most *chunk_rows*, typed by *layout*."""
    try:
        with pacsv.open_csv(
            path,
            read_options=layout.read_options(),
            convert_options=_convert(layout.types, columns),
        ) as reader:
            for batch in reader:
                for start in range(0, batch.num_rows, chunk_rows):
                    yield batch.slice(start, chunk_rows)
    except pa.ArrowInvalid as exc:
        raise SourceError(
            f"{path} changed while it was read: {reason(exc, layout.names)}",
            hint="rerun once the file is complete",
        ) from None
