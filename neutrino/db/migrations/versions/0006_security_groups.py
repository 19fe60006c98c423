"""security groups and their rules, port security, allowed address pairs

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 17:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

from neutrino.db import tag_cascade

revision = '0006'
down_revision = '0005'
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
    op.create_table('security_groups',
    sa.Column('stateful', sa.Boolean(), nullable=False),
    *_standard(),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('security_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_security_groups_project_id'), ['project_id'],
                              unique=False)
    op.create_table('default_security_groups',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('security_group_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['security_group_id'], ['security_groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id'),
    sa.UniqueConstraint('security_group_id')
    )
    op.create_table('security_group_rules',
    sa.Column('security_group_id', sa.String(length=36), nullable=False),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('ethertype', sa.String(length=40), nullable=False),
    sa.Column('protocol', sa.String(length=40), nullable=True),
    sa.Column('port_range_min', sa.Integer(), nullable=True),
    sa.Column('port_range_max', sa.Integer(), nullable=True),
    sa.Column('remote_ip_prefix', sa.String(length=255), nullable=True),
    sa.Column('remote_group_id', sa.String(length=36), nullable=True),
    sa.Column('fingerprint', sa.String(length=255), nullable=False),
    *_standard(),
    sa.ForeignKeyConstraint(['security_group_id'], ['security_groups.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['remote_group_id'], ['security_groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('security_group_id', 'fingerprint',
                        name='uniq_security_group_rules_fingerprint')
    )
    with op.batch_alter_table('security_group_rules', schema=None) as batch_op:
        for column in ('project_id', 'security_group_id', 'remote_group_id'):
            batch_op.create_index(batch_op.f(f'ix_security_group_rules_{column}'), [column],
                                  unique=False)
    op.create_table('port_security_groups',
    sa.Column('port_id', sa.String(length=36), nullable=False),
    sa.Column('security_group_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['port_id'], ['ports.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['security_group_id'], ['security_groups.id']),
    sa.PrimaryKeyConstraint('port_id', 'security_group_id')
    )
    with op.batch_alter_table('port_security_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_port_security_groups_security_group_id'),
                              ['security_group_id'], unique=False)
    # Plain ALTER TABLE ADD COLUMN: a batch operation would copy the tables on SQLite and
    # lose their tag triggers (neutrino.db.tag_cascade).
    for table in ('networks', 'ports'):
        op.add_column(table, sa.Column('port_security_enabled', sa.Boolean(), nullable=False,
                                       server_default=sa.true()))
    op.add_column('ports', sa.Column('allowed_address_pairs', sa.JSON(), nullable=False,
                                     server_default='[]'))
    tag_cascade.add('security_groups')


def downgrade() -> None:
    tag_cascade.drop('security_groups')
    op.drop_column('ports', 'allowed_address_pairs')
    for table in ('ports', 'networks'):
        op.drop_column(table, 'port_security_enabled')
    op.drop_table('port_security_groups')
    op.drop_table('security_group_rules')
    op.drop_table('default_security_groups')
    op.drop_table('security_groups')
