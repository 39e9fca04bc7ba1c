"""Sources have a canonical identity: registered sources, and ledger keys rewritten.

Before this revision the budget ledger (and runs and releases) keyed a source
table by the spelling of its URL (``sqlite:///data/./base.db#customers``), so
one table spelled three ways had three budgets. From now on the key is the
table's canonical identity (:func:`synthgate.sources.source_key`): host, port,
database, schema and table for a server, the resolved real path for SQLite
databases and files. This revision rewrites every old key it can resolve; an
old key naming a relative path that does not exist from the folder the store is
opened in is left as it was (``synthgate budget show`` still finds it by that
spelling). It also adds the ``sources`` table of ``synthgate sources add``.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_KEYED = ("budget_ledger", "runs", "releases")


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("source_key", sa.String(512), nullable=False, index=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("table_name", sa.String(256), nullable=False),
        sa.Column("epsilon_limit", sa.Float, nullable=False),
        sa.Column("delta_limit", sa.Float),
        sa.Column("registered_by", sa.String(128), nullable=False),
        sa.Column("registered_role", sa.String(16)),
        sa.Column("registered_at", sa.String(32), nullable=False),
    )
    from synthgate.sources import canonical_key

    bind = op.get_bind()
    spelled: set[str] = set()
    for table in _KEYED:
        spelled.update(bind.execute(sa.text(f"SELECT DISTINCT source_key FROM {table}")).scalars())
    for old in sorted(spelled):
        new = canonical_key(old)
        if new is None or new == old:
            continue
        for table in _KEYED:
            bind.execute(
                sa.text(f"UPDATE {table} SET source_key = :new WHERE source_key = :old"),
                {"new": new, "old": old},
            )


def downgrade() -> None:
    # canonical keys stay: they are valid keys of the older schema too
    op.drop_table("sources")
