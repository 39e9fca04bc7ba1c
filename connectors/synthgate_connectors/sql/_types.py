"""SQLAlchemy column types ⇄ synthgate logical types."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from synthgate.contracts import ColumnSchema, LogicalType

__all__ = ["logical_type", "parse_in_list", "sql_type"]

_IN_LIST = re.compile(
    r"^\s*\(?\s*[\"`]?(?P<col>\w+)[\"`]?\s*(?:::\w+\s*)?\)?\s+IN\s*\((?P<items>.*)\)\s*\)?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_ITEM = re.compile(r"'((?:[^']|'')*)'")


def logical_type(sqltype: Any) -> LogicalType | None:
    """Map a reflected SQLAlchemy type; ``None`` when it has no safe mapping."""
    if isinstance(sqltype, sa.Enum):
        return LogicalType.CATEGORICAL
    if isinstance(sqltype, sa.Boolean):
        return LogicalType.BOOLEAN
    if isinstance(sqltype, sa.Integer):
        return LogicalType.INTEGER
    if isinstance(sqltype, sa.Float):
        return LogicalType.FLOAT
    if isinstance(sqltype, sa.Numeric):
        return LogicalType.DECIMAL if (sqltype.scale or 0) > 0 else LogicalType.INTEGER
    if isinstance(sqltype, sa.DateTime):
        return LogicalType.DATETIME
    if isinstance(sqltype, sa.Date):
        return LogicalType.DATE
    if isinstance(sqltype, sa.String | sa.Text | sa.Uuid):
        return LogicalType.TEXT
    name = type(sqltype).__name__.upper()
    if name in {"NULLTYPE"}:  # SQLite column declared without a type
        return LogicalType.TEXT
    return None


def sql_type(col: ColumnSchema) -> sa.types.TypeEngine[Any]:
    match col.type:
        case LogicalType.INTEGER:
            return sa.BigInteger()
        case LogicalType.FLOAT | LogicalType.DECIMAL:
            return sa.Float()
        case LogicalType.BOOLEAN:
            return sa.Boolean()
        case LogicalType.DATE:
            return sa.Date()
        case LogicalType.DATETIME:
            return sa.DateTime()
        case LogicalType.IDENTIFIER if "INT" in col.native_type.upper():
            return sa.BigInteger()
        case LogicalType.CATEGORICAL | LogicalType.IDENTIFIER:
            return sa.String(255)
        case _:
            return sa.Text()


def parse_in_list(sqltext: str) -> tuple[str, tuple[str, ...]] | None:
    """``status IN ('a', 'b')`` → ("status", ("a", "b")); anything else → None."""
    match = _IN_LIST.match(sqltext.replace("ARRAY[", "(").replace("]", ")"))
    if not match:
        return None
    items = tuple(i.replace("''", "'") for i in _ITEM.findall(match["items"]))
    return (match["col"], items) if items else None
