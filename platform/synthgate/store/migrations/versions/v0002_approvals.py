"""Users, approvals, publishing columns, policy versions and the audit head.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_RELEASE_COLUMNS = (
    sa.Column("approvals_required", sa.Integer, nullable=False, server_default="1"),
    sa.Column("artifact_sha256", sa.String(64)),
    sa.Column("target_fingerprint", sa.String(64)),
    sa.Column("publish_claim", sa.String(200)),
    sa.Column("published_at", sa.String(32)),
    sa.Column("published_by", sa.String(128)),
    sa.Column("published_hash", sa.String(64)),
    sa.Column("published_rows", sa.Integer),
    sa.Column("closed_by", sa.String(128)),
    sa.Column("closed_at", sa.String(32)),
    sa.Column("closed_reason", sa.Text),
)


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("spec_path", sa.Text))
    with op.batch_alter_table("releases") as batch:
        for column in _RELEASE_COLUMNS:
            batch.add_column(column)
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "release_id", sa.String(40), sa.ForeignKey("releases.id"), nullable=False, index=True
        ),
        sa.Column("approver", sa.String(128), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("release_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("release_id", "approver", name="uq_approvals_release_approver"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("disabled_at", sa.String(32)),
    )
    op.create_table(
        "policies",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("recorded_by", sa.String(128), nullable=False),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("seal", sa.String(64), nullable=False),
    )
    # anchor the chain that already exists (the runtime is loaded: the store runs this)
    from synthgate.audit._log import GENESIS_HASH, HEAD_ID, audit_key_from_env, seal_head

    last = (
        op.get_bind()
        .execute(sa.text("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"))
        .first()
    )
    seq, digest = (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)
    key = audit_key_from_env()
    algorithm, seal = seal_head(key, seq, digest)
    op.bulk_insert(
        head, [{"id": HEAD_ID, "seq": seq, "hash": digest, "algorithm": algorithm, "seal": seal}]
    )


def downgrade() -> None:
    for table in ("audit_head", "policies", "users", "approvals"):
        op.drop_table(table)
    with op.batch_alter_table("releases") as batch:
        for column in reversed(_RELEASE_COLUMNS):
            batch.drop_column(column.name)
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("spec_path")
