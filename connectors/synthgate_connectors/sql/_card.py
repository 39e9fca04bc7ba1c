"""Release cards in a target database: one row per release in ``synthgate_release_cards``,
in the schema of the table the release was written to."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Engine

from synthgate_connectors.sql._catalog import parse_table

CARD_TABLE = "synthgate_release_cards"
_LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _cards(schema: str | None) -> sa.Table:
    return sa.Table(
        CARD_TABLE,
        sa.MetaData(schema=schema),
        sa.Column("release_id", sa.String(64), primary_key=True),
        sa.Column("target_table", sa.String(255), nullable=False),
        sa.Column("written_at", sa.String(32), nullable=False),
        sa.Column("card_json", _LONG_TEXT, nullable=False),
        sa.Column("card_html", _LONG_TEXT, nullable=False),
    )


def write_card_row(
    engine: Engine, table: str, release_id: str, card: Mapping[str, Any], html: str
) -> str:
    """Replace release *release_id*'s card beside *table* in one transaction; say where."""
    name = parse_table(table, what="target table")
    cards = _cards(name.schema)
    row = {
        "release_id": release_id,
        "target_table": name.name,
        "written_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "card_json": json.dumps(dict(card), sort_keys=True, default=str),
        "card_html": html,
    }
    with engine.begin() as conn:
        cards.create(conn, checkfirst=True)
        conn.execute(sa.delete(cards).where(cards.c.release_id == release_id))
        conn.execute(sa.insert(cards).values(**row))
    where = f"{name.schema}.{CARD_TABLE}" if name.schema else CARD_TABLE
    return f"table {where}"
