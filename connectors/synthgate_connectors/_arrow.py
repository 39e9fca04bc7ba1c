"""Logical types ⇄ Arrow types, and conversion of raw values to a schema.

Type choices that are not obvious:

* ``DECIMAL`` is exact: ``decimal128(p, s)`` with the precision and scale the
  column declares (``NUMERIC(12, 2)``). A SQL ``NUMERIC`` declared without them
  is read as ``decimal128(38, 9)``; a value that does not fit fails the read
  with :class:`UnsupportedType` instead of being rounded. A ``DECIMAL`` column
  with no SQL declaration at all (a spec hint, a float file column) is float64.
* ``DATETIME`` is ``timestamp[us]``, or ``timestamp[us, tz=UTC]`` when the
  column stores an instant (``TIMESTAMP WITH TIME ZONE``); zoned values are
  converted to UTC.
* ``IDENTIFIER`` is int64 for integer keys and a string otherwise (UUIDs in
  their canonical text form).

Conversion errors never print a value: a message names the column and its
declared type only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
from synthgate.errors import UnsupportedType

__all__ = [
    "DEFAULT_DECIMAL",
    "arrow_schema",
    "arrow_type",
    "column_to_array",
    "conform",
    "decimal_params",
    "first_unreadable",
    "frame_to_batch",
    "is_zoned",
    "logical_from_arrow",
    "unreadable_value",
]

_INTEGER_HINTS = ("INT", "SERIAL")
DEFAULT_DECIMAL = (38, 9)
_DECIMAL_PARAMS = re.compile(r"(?:NUMERIC|DECIMAL|DECIMAL128|DECIMAL256)\s*\(\s*(\d+)\s*,\s*(\d+)")
_DECIMAL_NAME = re.compile(r"^\s*(?:NUMERIC|DECIMAL)\b", re.I)
_ZONED = re.compile(r"WITH TIME ZONE|TIMESTAMPTZ|tz=", re.I)


def decimal_params(col: ColumnSchema) -> tuple[int, int] | None:
    """(precision, scale) a DECIMAL column declares, the default for a bare SQL
    ``NUMERIC``, or ``None`` when nothing is declared."""
    match = _DECIMAL_PARAMS.search(col.native_type.upper())
    if match:
        return int(match[1]), int(match[2])
    if _DECIMAL_NAME.match(col.native_type):
        return DEFAULT_DECIMAL
    return None


def is_zoned(col: ColumnSchema) -> bool:
    return col.type is LogicalType.DATETIME and bool(_ZONED.search(col.native_type))


def arrow_type(col: ColumnSchema) -> pa.DataType:
    match col.type:
        case LogicalType.INTEGER:
            return pa.int64()
        case LogicalType.FLOAT:
            return pa.float64()
        case LogicalType.DECIMAL:
            params = decimal_params(col)
            if params is None:
                return pa.float64()
            precision, scale = params
            return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(*params)
        case LogicalType.BOOLEAN:
            return pa.bool_()
        case LogicalType.DATE:
            return pa.date32()
        case LogicalType.DATETIME:
            return pa.timestamp("us", tz="UTC") if is_zoned(col) else pa.timestamp("us")
        case LogicalType.IDENTIFIER:
            native = col.native_type.upper()
            return pa.int64() if any(h in native for h in _INTEGER_HINTS) else pa.string()
        case _:
            return pa.string()


def arrow_schema(schema: TableSchema) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c), nullable=c.nullable) for c in schema.columns])


def logical_from_arrow(dtype: pa.DataType) -> LogicalType:
    if pa.types.is_boolean(dtype):
        return LogicalType.BOOLEAN
    if pa.types.is_integer(dtype):
        return LogicalType.INTEGER
    if pa.types.is_decimal(dtype):
        return LogicalType.DECIMAL
    if pa.types.is_floating(dtype):
        return LogicalType.FLOAT
    if pa.types.is_date(dtype):
        return LogicalType.DATE
    if pa.types.is_timestamp(dtype):
        return LogicalType.DATETIME
    if pa.types.is_dictionary(dtype):
        return LogicalType.CATEGORICAL
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_null(dtype):
        return LogicalType.TEXT
    raise UnsupportedType(
        f"Arrow type {dtype} has no synthgate logical type",
        hint="select the columns you need with source.columns, or cast it in a view",
    )


def _mismatch(col: ColumnSchema) -> UnsupportedType:
    return UnsupportedType(
        f"column {col.name!r} is declared {col.native_type or col.type.value} but holds "
        f"values that are not {col.type.value} or do not fit its precision",
        hint="clean the column, exclude it with source.columns, or declare its type "
        "under synthesis.columns",
    )


def unreadable_value(table: str, col: ColumnSchema, row: int | None) -> UnsupportedType:
    """A value of *col* in *table* that its type cannot hold: where it is (the row's
    number in read order, from 1), never what it is."""
    at = f" at row {row} of the read" if row is not None else ""
    return UnsupportedType(
        f"table {table!r}: column {col.name!r} is declared {col.native_type or col.type.value} "
        f"but holds a value{at} that is not {col.type.value} or does not fit its precision",
        hint="clean that value, leave the column out with source.columns, or cast it in a view",
    )


def first_unreadable(values: Sequence[Any], col: ColumnSchema, target: pa.DataType) -> int | None:
    """The index of the first value :func:`column_to_array` refuses, found by
    bisecting prefixes (an error path: a few conversions, each vectorised)."""
    low, high = 0, len(values)  # values[:low] convert; values[:high] do not

    def converts(stop: int) -> bool:
        try:
            column_to_array(values[:stop], col, target)
        except UnsupportedType:
            return False
        return True

    if converts(high):
        return None
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if converts(mid) else (low, mid)
    return high - 1


def _coerce(series: pd.Series[Any], col: ColumnSchema, target: pa.DataType) -> pd.Series[Any]:
    """Cast one raw column to its logical type; fail loudly, never silently."""
    if series.empty:
        return series
    try:
        if pa.types.is_date(target):
            dates: Any = pd.to_datetime(series, errors="raise").dt.date
            return dates.where(series.notna(), None)  # type: ignore[no-any-return]
        if pa.types.is_timestamp(target):
            return pd.to_datetime(series, errors="raise", utc=target.tz is not None)
        if pa.types.is_boolean(target):
            if series.dtype == bool:
                return series
            mapped = series.map(_to_bool, na_action="ignore")
            if mapped.notna().sum() != series.notna().sum():
                raise ValueError("non-boolean values")
            return mapped.astype("boolean")
        if pa.types.is_integer(target):
            numeric = pd.to_numeric(series, errors="raise")
            if ((numeric.dropna() % 1) != 0).any():
                raise ValueError("fractional values")
            return numeric.astype("Int64")
        if pa.types.is_decimal(target):
            return series.map(lambda v: Decimal(str(v)), na_action="ignore")
        if pa.types.is_floating(target):
            return pd.to_numeric(series, errors="raise").astype("float64")
        if pa.types.is_string(target):
            return series.map(str, na_action="ignore")
    except (ValueError, TypeError, OverflowError):
        raise _mismatch(col) from None
    return series


_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("not a boolean")


_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)


def column_to_array(values: Sequence[Any], col: ColumnSchema, target: pa.DataType) -> pa.Array:
    """Driver values of one column → an Arrow array of *target*.

    Arrow converts Python ints, floats, Decimals, dates, datetimes and strings
    directly; anything else (SQLite text dates, 0/1 booleans, UUID objects)
    goes through a checked conversion that refuses what it cannot represent.
    """
    try:
        if pa.types.is_boolean(target):
            return _booleans(values, col)
        return pa.array(values, type=target, from_pandas=True)
    except _ARROW_ERRORS:
        pass
    coerced = _coerce(pd.Series(list(values), dtype=object), col, target)
    try:
        return pa.array(coerced, type=target, from_pandas=True)
    except _ARROW_ERRORS:
        raise _mismatch(col) from None


def _booleans(values: Sequence[Any], col: ColumnSchema) -> pa.Array:
    try:
        return pa.array(values, type=pa.bool_(), from_pandas=True)
    except _ARROW_ERRORS:
        ints = pa.array(values, type=pa.int64(), from_pandas=True)
    if len(ints) and ints.null_count < len(ints):
        low, high = pc.min_max(ints).values()
        if low.as_py() < 0 or high.as_py() > 1:
            raise _mismatch(col)
    return ints.cast(pa.bool_())


def frame_to_batch(frame: pd.DataFrame, schema: TableSchema, target: pa.Schema) -> pa.RecordBatch:
    """Coerce a raw chunk (driver types) into a record batch of *target*."""
    arrays = [
        column_to_array(frame[col.name].tolist(), col, field.type)
        for col, field in zip(schema.columns, target, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def conform(batch: pa.RecordBatch, target: pa.Schema, schema: TableSchema) -> pa.RecordBatch:
    """A batch to be written, cast to the target's Arrow types (column order of
    *target*); a value the target type cannot hold is a clear error."""
    missing = [n for n in target.names if n not in batch.schema.names]
    if missing:
        raise UnsupportedType(
            f"the rows to write lack the column(s) {', '.join(missing)} of the table schema",
            hint="write the columns the schema declares",
        )
    arrays = []
    for field in target:
        column = batch.column(field.name)
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except _ARROW_ERRORS:
                raise _mismatch(schema.column(field.name)) from None
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=target)
