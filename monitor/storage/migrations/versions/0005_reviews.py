"""reviews and assessment profiles: paging labels held for the DSL's review, and which profile
made each assessment

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("profile", sa.String(length=20), nullable=True))
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("school_id", sa.String(length=64), sa.ForeignKey("schools.id"), nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id"), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summarised_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("item_id", "label", name="uq_reviews_item_label"),
    )
    op.create_index("ix_reviews_school_summarised", "reviews", ["school_id", "summarised_at"])


def downgrade() -> None:
    op.drop_index("ix_reviews_school_summarised", table_name="reviews")
    op.drop_table("reviews")
    with op.batch_alter_table("assessments") as batch:
        batch.drop_column("profile")
