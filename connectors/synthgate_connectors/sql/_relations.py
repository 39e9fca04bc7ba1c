"""Primary keys, unique keys and foreign keys, read from the catalog.

* PostgreSQL: ``pg_index`` (primary and unique indexes over plain columns, no
  partial ones) and ``pg_constraint`` (foreign keys, ``conkey``/``confkey``
  paired position by position).
* MySQL/MariaDB: ``information_schema.TABLE_CONSTRAINTS`` joined with
  ``KEY_COLUMN_USAGE``.
* SQLite: ``PRAGMA table_info``, ``index_list``/``index_info`` and
  ``foreign_key_list`` (a reference without columns means the parent's
  primary key).

Composite keys keep their column order; a self-reference is a relationship
whose parent is its child. Table names are as ``list_tables`` gives them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from synthgate.contracts import Relationship, Relationships, TableKeys
from synthgate_connectors.sql._catalog import TableName

__all__ = ["read_relationships"]

_Key = tuple[str, str]  # (schema, table)

_PG_KEYS = """
SELECT n.nspname, c.relname, i.indexrelid::bigint, i.indisprimary, a.attname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indisunique AND i.indpred IS NULL AND k.ord <= i.indnkeyatts
  AND n.nspname = ANY(:schemas)
ORDER BY n.nspname, c.relname, i.indisprimary DESC, i.indexrelid, k.ord
"""

_PG_FOREIGN = """
SELECT cn.nspname, cc.relname, con.oid::bigint, pn.nspname, pc.relname, ca.attname, pa.attname
FROM pg_constraint con
JOIN pg_class cc ON cc.oid = con.conrelid
JOIN pg_namespace cn ON cn.oid = cc.relnamespace
JOIN pg_class pc ON pc.oid = con.confrelid
JOIN pg_namespace pn ON pn.oid = pc.relnamespace
CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(child, parent, ord)
JOIN pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.child
JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.parent
WHERE con.contype = 'f' AND cn.nspname = ANY(:schemas)
ORDER BY cn.nspname, cc.relname, con.conname, con.oid, k.ord
"""

_MY_KEYS = """
SELECT t.TABLE_SCHEMA, t.TABLE_NAME, t.CONSTRAINT_NAME, t.CONSTRAINT_TYPE, k.COLUMN_NAME,
       k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME
FROM information_schema.TABLE_CONSTRAINTS t
JOIN information_schema.KEY_COLUMN_USAGE k
  ON k.CONSTRAINT_SCHEMA = t.CONSTRAINT_SCHEMA AND k.TABLE_SCHEMA = t.TABLE_SCHEMA
 AND k.TABLE_NAME = t.TABLE_NAME AND k.CONSTRAINT_NAME = t.CONSTRAINT_NAME
WHERE t.CONSTRAINT_TYPE IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
  AND t.TABLE_SCHEMA IN :schemas
ORDER BY t.TABLE_SCHEMA, t.TABLE_NAME, t.CONSTRAINT_TYPE = 'PRIMARY KEY' DESC,
         t.CONSTRAINT_NAME, k.ORDINAL_POSITION
"""


class _Collected:
    """Key and foreign-key columns gathered row by row, grouped by constraint."""

    def __init__(self) -> None:
        self.primary: dict[_Key, list[str]] = defaultdict(list)
        self.unique: dict[_Key, dict[Any, list[str | None]]] = defaultdict(dict)
        self.foreign: dict[Any, tuple[_Key, _Key, list[str], list[str]]] = {}

    def add_unique(self, table: _Key, key: Any, column: str | None) -> None:
        self.unique[table].setdefault(key, []).append(column)

    def add_foreign(self, key: Any, child: _Key, parent: _Key, col: str, ref: str) -> None:
        entry = self.foreign.setdefault(key, (child, parent, [], []))
        entry[2].append(col)
        entry[3].append(ref)

    def result(self, wanted: Sequence[_Key], default: str | None) -> Relationships:
        def name(key: _Key) -> str:
            return TableName(key[0], key[1]).qualified(default)

        keys = tuple(
            TableKeys(
                name(t),
                tuple(self.primary.get(t, ())),
                tuple(
                    tuple(str(c) for c in cols)
                    for cols in self.unique.get(t, {}).values()
                    if None not in cols  # an expression index is no key over columns
                ),
            )
            for t in wanted
        )
        chosen = set(wanted)
        fks = sorted(
            (
                Relationship(name(child), tuple(cols), name(parent), tuple(refs))
                for child, parent, cols, refs in self.foreign.values()
                if child in chosen
            ),
            key=lambda r: (r.child_table, r.child_columns, r.parent_table),
        )
        return Relationships(keys, tuple(fks))


def _postgres(conn: Connection, schemas: list[str], found: _Collected) -> None:
    for schema, table, index, primary, column in conn.execute(
        sa.text(_PG_KEYS), {"schemas": schemas}
    ):
        if primary:
            found.primary[(schema, table)].append(column)
        else:
            found.add_unique((schema, table), index, column)
    for row in conn.execute(sa.text(_PG_FOREIGN), {"schemas": schemas}):
        c_schema, c_table, oid, p_schema, p_table, col, ref = row
        found.add_foreign(oid, (c_schema, c_table), (p_schema, p_table), col, ref)


def _mysql(conn: Connection, schemas: list[str], found: _Collected) -> None:
    query = sa.text(_MY_KEYS).bindparams(sa.bindparam("schemas", expanding=True))
    for row in conn.execute(query, {"schemas": schemas}):
        schema, table, constraint, kind, column, r_schema, r_table, r_column = row
        key = (str(schema), str(table))
        if kind == "PRIMARY KEY":
            found.primary[key].append(str(column))
        elif kind == "UNIQUE":
            found.add_unique(key, constraint, str(column))
        elif r_table is not None:
            parent = (str(r_schema), str(r_table))
            found.add_foreign((key, constraint), key, parent, str(column), str(r_column))


def _pragma(conn: Connection, schema: str, pragma: str, arg: str) -> list[Any]:
    prep = conn.dialect.identifier_preparer
    sql = f"PRAGMA {prep.quote_schema(schema)}.{pragma}({prep.quote(arg)})"
    return list(conn.exec_driver_sql(sql).fetchall())


def _sqlite_primary(conn: Connection, schema: str, table: str) -> list[str]:
    info = _pragma(conn, schema, "table_info", table)  # cid, name, type, notnull, dflt, pk
    return [str(r[1]) for r in sorted((r for r in info if r[5]), key=lambda r: int(r[5]))]


def _sqlite(conn: Connection, tables: Iterable[_Key], found: _Collected) -> None:
    for schema, table in tables:
        key = (schema, table)
        found.primary[key] = _sqlite_primary(conn, schema, table)
        # index_list: seq, name, unique, origin ('pk', 'u', 'c'), partial
        for index in _pragma(conn, schema, "index_list", table):
            if int(index[2]) and str(index[3]) != "pk" and not int(index[4]):
                cols = _pragma(conn, schema, "index_info", str(index[1]))  # seqno, cid, name
                for col in sorted(cols, key=lambda r: int(r[0])):
                    found.add_unique(key, index[1], None if col[2] is None else str(col[2]))
        # foreign_key_list: id, seq, table, from, to, on_update, on_delete, match
        for fk in sorted(_pragma(conn, schema, "foreign_key_list", table), key=lambda r: r[:2]):
            parent = (schema, str(fk[2]))
            ref = fk[4]
            if ref is None:  # REFERENCES parent without columns: its primary key
                primary = _sqlite_primary(conn, schema, parent[1])
                ref = primary[int(fk[1])] if int(fk[1]) < len(primary) else "rowid"
            found.add_foreign((key, fk[0]), key, parent, str(fk[3]), str(ref))


def read_relationships(
    conn: Connection, tables: Sequence[TableName], default: str | None
) -> Relationships:
    """Keys of *tables* and the foreign keys whose child is one of them."""
    wanted = [(t.schema or default or "", t.name) for t in tables]
    wanted = list(dict.fromkeys(wanted))
    schemas = sorted({s for s, _ in wanted})
    found = _Collected()
    if wanted:
        match conn.dialect.name:
            case "postgresql":
                _postgres(conn, schemas, found)
            case "mysql":
                _mysql(conn, schemas, found)
            case "sqlite":
                _sqlite(conn, wanted, found)
            case _:
                pass
    return found.result(wanted, default)
