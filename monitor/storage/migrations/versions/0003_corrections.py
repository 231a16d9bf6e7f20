"""corrections: labelled examples from the people who read the alerts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("school_id", sa.String(length=64), sa.ForeignKey("schools.id"), nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=True),
        sa.Column("present", sa.Boolean(), nullable=True),
        sa.Column("sentiment", sa.String(length=10), nullable=True),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_corrections_school_id", "corrections", ["school_id"])
    op.create_index("ix_corrections_item_id", "corrections", ["item_id"])


def downgrade() -> None:
    op.drop_index("ix_corrections_item_id", table_name="corrections")
    op.drop_index("ix_corrections_school_id", table_name="corrections")
    op.drop_table("corrections")
