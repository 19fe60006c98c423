"""address scopes, subnet pools, and subnets allocated from them

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

from neutrino.db import tag_cascade

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _standard() -> list[sa.Column]:
    return [
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('revision_number', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table('address_scopes',
    sa.Column('ip_version', sa.Integer(), nullable=False),
    *_standard(),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_address_scopes_project_id', 'address_scopes', ['project_id'])
    op.create_table('subnetpools',
    sa.Column('ip_version', sa.Integer(), nullable=False),
    sa.Column('prefixes', sa.JSON(), nullable=False),
    sa.Column('default_prefixlen', sa.Integer(), nullable=False),
    sa.Column('min_prefixlen', sa.Integer(), nullable=False),
    sa.Column('max_prefixlen', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('default_quota', sa.Integer(), nullable=True),
    sa.Column('address_scope_id', sa.String(length=36), nullable=True),
    *_standard(),
    sa.ForeignKeyConstraint(['address_scope_id'], ['address_scopes.id']),
    sa.PrimaryKeyConstraint('id')
    )
    for column in ('project_id', 'address_scope_id'):
        op.create_index(f'ix_subnetpools_{column}', 'subnetpools', [column])
    op.create_index('uniq_subnetpools_default_ip_version', 'subnetpools', ['ip_version'],
                    unique=True, sqlite_where=sa.text('is_default'),
                    postgresql_where=sa.text('is_default'))
    # Plain ALTER TABLE ADD COLUMN: a batch operation would copy the table on SQLite and
    # lose its tag trigger (neutrino.db.tag_cascade).  SQLite takes the foreign key only
    # inline, which Alembic does not write.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE subnets ADD COLUMN subnetpool_id VARCHAR(36) '
                   'REFERENCES subnetpools (id)')
    else:
        op.add_column('subnets', sa.Column('subnetpool_id', sa.String(length=36),
                                           sa.ForeignKey('subnetpools.id'), nullable=True))
    op.create_index('ix_subnets_subnetpool_id', 'subnets', ['subnetpool_id'])
    tag_cascade.add('subnetpools')


def downgrade() -> None:
    tag_cascade.drop('subnetpools')
    op.drop_index('ix_subnets_subnetpool_id', 'subnets')
    op.drop_column('subnets', 'subnetpool_id')
    op.drop_table('subnetpools')
    op.drop_table('address_scopes')
