"""One audit algorithm per store: the head records it with a check value of the key.

Before this revision every append re-sealed the head with the algorithm of the
writing process, so a process without ``SYNTHGATE_AUDIT_KEY`` silently turned a
keyed log into a broken one. From now on ``audit_head.algorithm`` is the
store's algorithm (changed only by ``synthgate audit rekey``) and
``audit_head.key_check`` holds an HMAC of a fixed text under the key, so that a
process can tell it holds the right key before it writes.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("key_check", sa.String(64)))
    # a keyed store migrated by a process holding its key gets the check value now;
    # otherwise the first process whose key verifies the head's seal records it
    from synthgate.audit._log import HMAC_SHA256, audit_key_from_env, key_check, seal_head

    key = audit_key_from_env()
    bind = op.get_bind()
    head = bind.execute(sa.text("SELECT id, seq, hash, algorithm, seal FROM audit_head")).first()
    if key is None or head is None or head.algorithm != HMAC_SHA256:
        return
    if seal_head(key, int(head.seq), str(head.hash))[1] == head.seal:
        bind.execute(
            sa.text("UPDATE audit_head SET key_check = :check WHERE id = :id"),
            {"check": key_check(key), "id": head.id},
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("key_check")
