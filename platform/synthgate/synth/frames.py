"""Frame ⇄ schema helpers shared by synthesizers: model-ready and release-ready dtypes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synthgate.contracts import LogicalType, TableSchema

__all__ = ["SDV_SDTYPES", "as_objects", "to_model_frame", "to_schema_frame"]

#: SDV / SDMetrics "sdtype" of each logical type (keys are never modelled)
SDV_SDTYPES = {
    LogicalType.INTEGER: "numerical",
    LogicalType.FLOAT: "numerical",
    LogicalType.DECIMAL: "numerical",
    LogicalType.BOOLEAN: "boolean",
    LogicalType.CATEGORICAL: "categorical",
    LogicalType.TEXT: "categorical",
    LogicalType.DATE: "datetime",
    LogicalType.DATETIME: "datetime",
}


def as_objects(series: pd.Series[Any]) -> pd.Series[Any]:
    """Object dtype with ``None`` for every missing value."""
    obj: Any = series.astype("object")
    return obj.where(series.notna(), None)  # type: ignore[no-any-return]


def to_model_frame(frame: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """Plain numpy dtypes: float for numbers, datetime64 for dates, object for text."""
    out: dict[str, Any] = {}
    for col in schema.columns:
        s = frame[col.name]
        if col.type.is_numeric:
            out[col.name] = pd.to_numeric(s, errors="coerce").astype("float64")
        elif col.type.is_temporal:
            out[col.name] = pd.to_datetime(s, errors="coerce")
        elif col.type is LogicalType.BOOLEAN:
            out[col.name] = as_objects(s)
        else:
            out[col.name] = as_objects(s)
    return pd.DataFrame(out, index=frame.index)


def to_schema_frame(frame: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """Cast a sampled frame back to the schema's logical types (nullable dtypes)."""
    out: dict[str, Any] = {}
    for col in schema.columns:
        s = frame[col.name]
        match col.type:
            case LogicalType.INTEGER:
                out[col.name] = pd.to_numeric(s, errors="coerce").round().astype("Int64")
            case LogicalType.FLOAT | LogicalType.DECIMAL:
                out[col.name] = pd.to_numeric(s, errors="coerce").astype("float64")
            case LogicalType.BOOLEAN:
                out[col.name] = s.map(
                    lambda v: (
                        None if v is None or (isinstance(v, float) and np.isnan(v)) else bool(v)
                    )
                ).astype("boolean")
            case LogicalType.DATE:
                out[col.name] = pd.to_datetime(s, errors="coerce").dt.date
            case LogicalType.DATETIME:
                out[col.name] = pd.to_datetime(s, errors="coerce")
            case _:
                out[col.name] = as_objects(s)
    return pd.DataFrame(out, index=frame.index)
