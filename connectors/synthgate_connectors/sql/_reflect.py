"""Table schemas from the database catalog, never from rows."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from synthgate.contracts import ColumnSchema, ForeignKey, LogicalType, TableSchema
from synthgate_connectors.sql._catalog import TableName, default_schema, list_tables, resolve
from synthgate_connectors.sql._engine import source_error
from synthgate_connectors.sql._relations import read_relationships
from synthgate_connectors.sql._types import ReadAs, classify, native_name, parse_in_list

__all__ = ["Reflected", "list_tables", "reflect"]


@dataclass(frozen=True, slots=True)
class Reflected:
    """A table's schema, plus how each column has to be read."""

    schema: TableSchema
    read_as: dict[str, ReadAs]
    name: TableName


def _check_texts(conn: sa.Connection, insp: sa.Inspector, table: TableName) -> list[str]:
    try:
        checks = insp.get_check_constraints(table.name, schema=table.schema)
        texts = [str(c.get("sqltext", "")) for c in checks]
    except NotImplementedError:
        texts = []
    if not texts and conn.dialect.name == "mysql":
        # MariaDB's column-level CHECKs are not in SQLAlchemy's reflection
        rows = conn.execute(
            sa.text(
                "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                "WHERE CONSTRAINT_SCHEMA = COALESCE(:s, DATABASE()) AND TABLE_NAME = :t"
            ),
            {"s": table.schema, "t": table.name},
        )
        texts = [str(r[0]) for r in rows]
    return texts


def reflect(conn: sa.Connection, url: URL, table: str) -> Reflected:
    located = resolve(conn, url, table)
    insp = sa.inspect(conn)
    try:
        raw_cols = insp.get_columns(located.name, schema=located.schema)
        pk_found = insp.get_pk_constraint(located.name, schema=located.schema)
        pk = tuple(pk_found.get("constrained_columns") or ())
        fks = tuple(
            ForeignKey(r.child_columns, r.parent_table, r.parent_columns)
            for r in read_relationships(conn, [located], default_schema(conn)).foreign_keys
        )
        found = insp.get_unique_constraints(located.name, schema=located.schema)
        uniques = tuple(tuple(u["column_names"]) for u in found)
        checks = _check_texts(conn, insp, located)
    except SQLAlchemyError as exc:
        raise source_error(exc, url, what=f"reading the schema of {table!r}") from None
    domains: dict[str, tuple[str, ...]] = {}
    for check in checks:
        parsed = parse_in_list(check, backslash_escapes=conn.dialect.name == "mysql")
        if parsed:
            domains[parsed[0]] = parsed[1]
    single_keys = {k[0] for k in (pk, *uniques) if len(k) == 1}
    columns = []
    read_as: dict[str, ReadAs] = {}
    for raw in raw_cols:
        name = str(raw["name"])
        sqltype = raw["type"]
        ltype, how = classify(sqltype)
        domain = domains.get(name)
        if isinstance(sqltype, sa.Enum):
            domain = tuple(sqltype.enums)
        if domain is not None and ltype is LogicalType.TEXT and how is ReadAs.NATIVE:
            ltype = LogicalType.CATEGORICAL
        if name in single_keys and ltype in {LogicalType.INTEGER, LogicalType.TEXT}:
            ltype = LogicalType.IDENTIFIER if how is ReadAs.NATIVE else ltype
        read_as[name] = how
        columns.append(
            ColumnSchema(
                name=name,
                type=ltype,
                nullable=bool(raw.get("nullable", True)) and name not in pk,
                native_type=native_name(sqltype, conn.dialect),
                domain=domain if ltype is LogicalType.CATEGORICAL else None,
            )
        )
    return Reflected(TableSchema(table, tuple(columns), pk, fks, uniques), read_as, located)
