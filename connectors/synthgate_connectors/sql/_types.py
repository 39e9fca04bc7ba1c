"""SQLAlchemy column types ⇄ synthgate logical types, and declared domains.

How a reflected column is read (:class:`ReadAs`):

* ``NATIVE``: the type maps to a logical type (integer, float, decimal,
  boolean incl. MySQL ``TINYINT(1)``, date, timestamp, text, enum, uuid).
* ``TEXT``: a documented fallback for types with an exact text form but no
  logical type (JSON, arrays, intervals, ``TIME``, ``YEAR``, network
  addresses …). The column is TEXT, its ``native_type`` names the real type,
  and its values are the database's own text representation.
* ``REFUSED``: binary data (``BYTEA``, ``BLOB``, ``BIT``). Reading such a
  column is an :class:`UnsupportedType` error; leave it out with
  ``source.columns``.
"""

from __future__ import annotations

import enum
import re
from typing import Any

import sqlalchemy as sa

from synthgate.contracts import ColumnSchema, LogicalType
from synthgate_connectors._arrow import DEFAULT_DECIMAL, decimal_params, is_zoned

__all__ = ["ReadAs", "classify", "domain_check", "native_name", "parse_in_list", "sql_type"]

_MAX_INT_PRECISION = 18


class ReadAs(enum.Enum):
    NATIVE = "native"
    TEXT = "text"
    REFUSED = "refused"


def _is_binary(sqltype: Any) -> bool:
    if isinstance(sqltype, sa.types._Binary):
        return True
    return type(sqltype).__name__.upper() in {"BIT", "BYTEA", "GEOMETRY", "POINT", "POLYGON"}


def classify(sqltype: Any) -> tuple[LogicalType, ReadAs]:
    """Map a reflected SQLAlchemy type to (logical type, how it is read)."""
    if isinstance(sqltype, sa.Enum):
        return LogicalType.CATEGORICAL, ReadAs.NATIVE
    if isinstance(sqltype, sa.Boolean):
        return LogicalType.BOOLEAN, ReadAs.NATIVE
    if isinstance(sqltype, sa.Integer):
        if type(sqltype).__name__ == "TINYINT" and getattr(sqltype, "display_width", None) == 1:
            return LogicalType.BOOLEAN, ReadAs.NATIVE
        return LogicalType.INTEGER, ReadAs.NATIVE
    if isinstance(sqltype, sa.Float):
        return LogicalType.FLOAT, ReadAs.NATIVE
    if isinstance(sqltype, sa.Numeric):
        precision, scale = sqltype.precision, sqltype.scale
        if precision is not None and not scale and precision <= _MAX_INT_PRECISION:
            return LogicalType.INTEGER, ReadAs.NATIVE
        return LogicalType.DECIMAL, ReadAs.NATIVE
    if isinstance(sqltype, sa.DateTime):
        return LogicalType.DATETIME, ReadAs.NATIVE
    if isinstance(sqltype, sa.Date):
        return LogicalType.DATE, ReadAs.NATIVE
    if isinstance(sqltype, sa.Uuid):
        return LogicalType.IDENTIFIER, ReadAs.NATIVE
    if _is_binary(sqltype):
        return LogicalType.TEXT, ReadAs.REFUSED
    if isinstance(sqltype, sa.String | sa.Text | sa.types.NullType):
        return LogicalType.TEXT, ReadAs.NATIVE
    return LogicalType.TEXT, ReadAs.TEXT


def native_name(sqltype: Any, dialect: sa.Dialect) -> str:
    """The type as the database spells it (``NUMERIC(12, 2)``, ``TIMESTAMP WITH TIME ZONE``)."""
    try:
        return str(sqltype.compile(dialect=dialect))
    except Exception:  # some reflected types cannot compile; their class name will do
        return str(type(sqltype).__name__).upper()


# --------------------------------------------------------------------------- target types

_LENGTH = re.compile(r"(?:VARCHAR|CHARACTER VARYING|CHAR|CHARACTER|NVARCHAR)\s*\((\d+)\)", re.I)
_SMALL = re.compile(r"^\s*(SMALLINT|INT2|TINYINT|MEDIUMINT)\b", re.I)
_INT32 = re.compile(r"^\s*(INTEGER|INT|INT4|SERIAL)\b", re.I)
_REAL = re.compile(r"^\s*(REAL|FLOAT4|FLOAT)\s*$", re.I)
_DECLARED = re.compile(r"\(\s*\d+\s*,\s*\d+\s*\)")
_UUID = re.compile(r"^\s*UUID\b", re.I)


def _text_type(col: ColumnSchema, backend: str) -> sa.types.TypeEngine[Any]:
    match = _LENGTH.search(col.native_type)
    if match:
        return sa.String(int(match[1]))
    if backend == "mysql":
        from sqlalchemy.dialects import mysql

        return mysql.LONGTEXT()
    return sa.Text()


def sql_type(col: ColumnSchema, backend: str) -> sa.types.TypeEngine[Any]:  # noqa: PLR0912
    """The column type a target table gets on *backend* (``postgresql``,
    ``mysql``, ``sqlite``): the source's own type where the backend has it."""
    native = col.native_type
    match col.type:
        case LogicalType.INTEGER:
            if _SMALL.match(native):
                return sa.SmallInteger()
            return sa.Integer() if _INT32.match(native) else sa.BigInteger()
        case LogicalType.FLOAT:
            return sa.REAL() if _REAL.match(native) and backend != "mysql" else sa.Double()
        case LogicalType.DECIMAL:
            declared = _DECLARED.search(native)
            if declared is None and backend == "postgresql":
                return sa.Numeric()  # unconstrained, as declared
            precision, scale = decimal_params(col) or DEFAULT_DECIMAL
            return sa.Numeric(precision, scale, asdecimal=True)
        case LogicalType.BOOLEAN:
            return sa.Boolean()
        case LogicalType.DATE:
            return sa.Date()
        case LogicalType.DATETIME:
            if backend == "mysql":
                from sqlalchemy.dialects import mysql

                return mysql.DATETIME(fsp=6)
            return sa.DateTime(timezone=is_zoned(col))
        case LogicalType.CATEGORICAL if col.domain and backend == "mysql":
            from sqlalchemy.dialects import mysql

            return mysql.ENUM(*col.domain)
        case LogicalType.CATEGORICAL if col.domain and not _LENGTH.search(native):
            return sa.String(max(1, *(len(v) for v in col.domain)))
        case LogicalType.IDENTIFIER if "INT" in native.upper() or "SERIAL" in native.upper():
            return sa.BigInteger()
        case LogicalType.IDENTIFIER if _UUID.match(native):
            return sa.Uuid(as_uuid=False) if backend == "postgresql" else sa.String(36)
        case _:
            return _text_type(col, backend)


def domain_check(col: ColumnSchema, backend: str) -> tuple[str, ...] | None:
    """The declared domain a ``CHECK … IN (…)`` constraint keeps on *backend*
    (MySQL's ENUM type carries it there instead)."""
    if col.type is not LogicalType.CATEGORICAL or not col.domain or backend == "mysql":
        return None
    return col.domain


# --------------------------------------------------------------------------- domains

_ITEM = re.compile(r"'((?:[^'\\]|''|\\.)*)'")
_BACKSLASH = re.compile(r"\\(.)")
_HEAD = re.compile(
    r"""^[\s(]*[\"`]?(?P<col>\w+)[\"`]?\s*\)?\s*(?:::[\w ]+?)?\s*\)?\s*(?P<op>=\s*ANY|IN)\s*\(""",
    re.IGNORECASE,
)
_LOGIC = re.compile(r"\b(AND|OR|NOT|LIKE|BETWEEN)\b|[<>!]", re.IGNORECASE)


def parse_in_list(
    sqltext: str, *, backslash_escapes: bool = False
) -> tuple[str, tuple[str, ...]] | None:
    """A CHECK constraint that limits one column to a list of strings.

    ``status IN ('a', 'b')`` (SQLite, MySQL) and PostgreSQL's normalised
    ``(status)::text = ANY ((ARRAY['a'::character varying, …])::text[])`` →
    ``("status", ("a", "b"))``; any other constraint → ``None``.
    """
    match = _HEAD.match(sqltext)
    if not match:
        return None
    rest = sqltext[match.end() :]
    if _LOGIC.search(_ITEM.sub("", rest)):
        return None
    items = tuple(i.replace("''", "'") for i in _ITEM.findall(rest))
    if backslash_escapes:  # MySQL/MariaDB write 'b\\'c' for b'c
        items = tuple(_BACKSLASH.sub(r"\1", i) for i in items)
    return (match["col"], items) if items else None
