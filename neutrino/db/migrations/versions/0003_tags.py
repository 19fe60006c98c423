"""tags (standard-attr-tag) of networks, subnets and ports

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

from neutrino.db import tag_cascade

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

TAGGED = ('networks', 'subnets', 'ports')


def upgrade() -> None:
    op.create_table('tags',
    sa.Column('resource_type', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.String(length=36), nullable=False),
    sa.Column('tag', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('resource_type', 'resource_id', 'tag')
    )
    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.create_index('ix_tags_resource_type_tag', ['resource_type', 'tag'], unique=False)
    for table in TAGGED:
        tag_cascade.add(table)


def downgrade() -> None:
    for table in TAGGED:
        tag_cascade.drop(table)
    with op.batch_alter_table('tags', schema=None) as batch_op:
        batch_op.drop_index('ix_tags_resource_type_tag')
    op.drop_table('tags')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION IF EXISTS neutrino_delete_tags()')
