"""Table names, schemas and the tables a database holds, from its catalog.

A table is named ``table`` (in the connection's default schema: PostgreSQL's
``current_schema()``, the URL's database on MySQL/MariaDB, ``main`` on SQLite)
or ``schema.table``; on MySQL/MariaDB a schema is a database. Each part is
quoted as one identifier when SQL is built, never interpolated raw. A name
with more than one dot, an empty part, a quote, a backtick or a control
character is refused: quotes are not part of a name, and a table whose own
name holds a dot cannot be named (read it through a view).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import SQLAlchemyError

from synthgate.errors import ConfigError, TableNotFound
from synthgate_connectors.sql._engine import safe_url, source_error

__all__ = [
    "INTERNAL_PREFIXES",
    "TableName",
    "catalog_tables",
    "default_schema",
    "list_tables",
    "parse_table",
    "resolve",
    "user_schemas",
]

#: staging, swapped-out and bookkeeping tables of synthgate's own writes
INTERNAL_PREFIXES = ("_sg_stage_", "_sg_old_", "_synthgate_")
_SYSTEM_SCHEMAS = {
    "postgresql": {"information_schema"},
    "mysql": {"information_schema", "mysql", "performance_schema", "sys"},
    "sqlite": {"temp"},
}
_REFUSED = ('"', "`", "'")
_LISTED = 20


@dataclass(frozen=True, slots=True)
class TableName:
    """``schema.name``; ``schema`` None means the connection's default schema."""

    schema: str | None
    name: str

    def qualified(self, default: str | None) -> str:
        """The name as listed: bare in the default schema, ``schema.name`` elsewhere."""
        if self.schema is None or self.schema == default:
            return self.name
        return f"{self.schema}.{self.name}"

    def sql(self, conn: Connection) -> str:
        """Quoted for SQL: ``"schema"."name"`` or ``"name"``."""
        prep = conn.dialect.identifier_preparer
        if self.schema is None:
            return prep.quote(self.name)
        return f"{prep.quote_schema(self.schema)}.{prep.quote(self.name)}"


def parse_table(text: str, *, what: str = "table") -> TableName:
    """``table`` or ``schema.table``, or a one-line ConfigError saying what is wrong."""
    if any(ch in text for ch in _REFUSED) or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ConfigError(
            f"{what} name {text!r} holds a quote or a control character",
            hint="write table or schema.table without quotes; a table whose name holds a "
            "quote or a dot can be read through a view",
        )
    parts = text.split(".")
    if len(parts) > 2 or any(not p.strip() for p in parts):
        raise ConfigError(
            f"{what} name {text!r} is not table or schema.table",
            hint="one dot at most, between a schema and a table; a table whose name holds a "
            "dot can be read through a view",
        )
    if len(parts) == 2:
        return TableName(parts[0], parts[1])
    return TableName(None, parts[0])


def default_schema(conn: Connection) -> str | None:
    """The schema a bare table name resolves to."""
    if conn.dialect.name == "sqlite":
        return "main"
    try:
        return sa.inspect(conn).default_schema_name
    except SQLAlchemyError:
        return None


def user_schemas(conn: Connection) -> list[str]:
    """Non-system schemas, the default one first."""
    names = sa.inspect(conn).get_schema_names()
    system = _SYSTEM_SCHEMAS.get(conn.dialect.name, set())
    keep = sorted(n for n in names if n not in system and not n.startswith("pg_"))
    default = default_schema(conn)
    if default in keep:
        keep.remove(default)
        keep.insert(0, default)
    return keep


def _tables_in(insp: sa.Inspector, schema: str | None) -> list[str]:
    names = [*insp.get_table_names(schema=schema), *insp.get_view_names(schema=schema)]
    return sorted(n for n in names if not n.startswith(INTERNAL_PREFIXES))


def catalog_tables(conn: Connection, url: URL) -> list[TableName]:
    """Tables and views of every non-system schema, the default schema's first."""
    try:
        insp = sa.inspect(conn)
        return [
            TableName(schema, n) for schema in user_schemas(conn) for n in _tables_in(insp, schema)
        ]
    except SQLAlchemyError as exc:
        raise source_error(exc, url, what="listing tables") from None


def list_tables(conn: Connection, url: URL) -> list[str]:
    """Tables and views of every non-system schema: the default schema's bare, first."""
    default = default_schema(conn)
    return [t.qualified(default) for t in catalog_tables(conn, url)]


def _listed(names: list[str]) -> str:
    more = f" (and {len(names) - _LISTED} more)" if len(names) > _LISTED else ""
    return (", ".join(names[:_LISTED]) or "none") + more


def resolve(conn: Connection, url: URL, text: str) -> TableName:
    """The existing table or view *text* names, or a one-line TableNotFound listing
    the schemas or tables there are (a name in another schema is schema-qualified)."""
    name = parse_table(text)
    try:
        insp = sa.inspect(conn)
        schemas = user_schemas(conn)
        if name.schema is not None and name.schema not in schemas:
            raise TableNotFound(
                f"schema {name.schema!r} does not exist in {safe_url(url)} or is a system "
                f"schema; schemas there: {_listed(schemas)}",
                hint="check the schema in the table name (names are case-sensitive)",
            )
        if name.name in _tables_in(insp, name.schema):
            return name
    except SQLAlchemyError as exc:
        raise source_error(exc, url, what=f"looking up {text!r}") from None
    raise TableNotFound(
        f"table {text!r} does not exist in {safe_url(url)}; tables there: "
        f"{_listed(list_tables(conn, url))}",
        hint="check source.table (names are case-sensitive; write schema.table for a table "
        "outside the default schema)",
    )
