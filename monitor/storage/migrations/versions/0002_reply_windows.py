"""reply windows: reminders, breaches, notes; outbox rows tied to a window

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("windows") as batch:
        batch.add_column(sa.Column("source_id", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("close_note", sa.Text(), nullable=True))
        batch.create_foreign_key("fk_windows_source_id", "accounts", ["source_id"], ["id"])
        batch.create_index("ix_windows_source_id", ["source_id"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("window_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_outbox_window_id", "windows", ["window_id"], ["id"])
        batch.create_index("ix_outbox_window_id", ["window_id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_window_id")
        batch.drop_constraint("fk_outbox_window_id", type_="foreignkey")
        batch.drop_column("window_id")
    with op.batch_alter_table("windows") as batch:
        batch.drop_index("ix_windows_source_id")
        batch.drop_constraint("fk_windows_source_id", type_="foreignkey")
        for column in ("close_note", "breached_at", "reminded_at", "urgent", "source_id"):
            batch.drop_column(column)
