"""Registered policy packs: ``policy_versions``, and the pack version of each release.

A job may use an installed pack (an entry point) or a pack registered by an
admin or approver (``synthgate policy register``); each registration of a
changed file is a new version, stored with its content and sha256. A release
records the version of its pack, so a pack registered again later does not
change what an earlier release is judged by.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, index=True),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("registered_by", sa.String(128), nullable=False),
        sa.Column("registered_role", sa.String(16)),
        sa.Column("registered_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_policy_versions_name_version"),
    )
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("policy_version", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("policy_version")
    op.drop_table("policy_versions")
