"""quotas: each project's own limits

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quotas',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('resource', sa.String(length=255), nullable=False),
    sa.Column('limit', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('project_id', 'resource')
    )


def downgrade() -> None:
    op.drop_table('quotas')
