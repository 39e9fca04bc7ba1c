"""Logical types ⇄ Arrow types, and coercion of raw chunks to a schema."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

from synthgate.contracts import ColumnSchema, LogicalType, TableSchema
from synthgate.errors import UnsupportedType

__all__ = ["arrow_schema", "arrow_type", "frame_to_batch", "logical_from_arrow"]

_INTEGER_HINTS = ("INT", "SERIAL")


def arrow_type(col: ColumnSchema) -> pa.DataType:
    match col.type:
        case LogicalType.INTEGER:
            return pa.int64()
        case LogicalType.FLOAT | LogicalType.DECIMAL:
            return pa.float64()
        case LogicalType.BOOLEAN:
            return pa.bool_()
        case LogicalType.DATE:
            return pa.date32()
        case LogicalType.DATETIME:
            return pa.timestamp("us")
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


def _coerce(series: pd.Series, col: ColumnSchema, target: pa.DataType) -> pd.Series:
    """Cast one raw column to its logical type; fail loudly, never silently."""
    if series.empty:
        return series
    try:
        if pa.types.is_date(target):
            dates: Any = pd.to_datetime(series, errors="raise").dt.date
            return dates.where(series.notna(), None)  # type: ignore[no-any-return]
        if pa.types.is_timestamp(target):
            return pd.to_datetime(series, errors="raise")
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
        if pa.types.is_floating(target):
            return pd.to_numeric(series, errors="raise").astype("float64")
        if pa.types.is_string(target):
            return series.map(str, na_action="ignore")
    except (ValueError, TypeError, OverflowError):
        raise UnsupportedType(
            f"column {col.name!r} is declared {col.native_type or col.type.value} but holds "
            f"values that are not {col.type.value}",
            hint="clean the column, exclude it with source.columns, or declare its type "
            "under synthesis.columns",
        ) from None
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


def frame_to_batch(frame: pd.DataFrame, schema: TableSchema, target: pa.Schema) -> pa.RecordBatch:
    """Coerce a raw chunk (driver types) into a record batch of *target*."""
    arrays = []
    for col, field in zip(schema.columns, target, strict=True):
        coerced = _coerce(frame[col.name], col, field.type)
        arrays.append(pa.array(coerced, type=field.type, from_pandas=True))
    return pa.RecordBatch.from_arrays(arrays, schema=target)
