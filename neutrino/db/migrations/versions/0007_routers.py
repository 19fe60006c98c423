"""routers and floating IPs

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

from neutrino.db import tag_cascade

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

TAGGED = ('routers', 'floatingips')


def _standard() -> list[sa.Column]:
    return [sa.Column('id', sa.String(length=36), nullable=False),
            sa.Column('project_id', sa.String(length=255), nullable=False),
            sa.Column('name', sa.String(length=255), nullable=False),
            sa.Column('description', sa.String(length=255), nullable=False),
            sa.Column('revision_number', sa.Integer(), nullable=False),
            sa.Column('created_at', sa.DateTime(), nullable=False),
            sa.Column('updated_at', sa.DateTime(), nullable=False)]


def upgrade() -> None:
    op.create_table('routers', *_standard(),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.String(length=255), nullable=True),
    sa.Column('gw_port_id', sa.String(length=36), nullable=True),
    sa.Column('enable_snat', sa.Boolean(), nullable=False),
    sa.Column('routes', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['gw_port_id'], ['ports.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('routers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routers_project_id'), ['project_id'], unique=False)
    op.create_table('floatingips', *_standard(),
    sa.Column('floating_network_id', sa.String(length=36), nullable=False),
    sa.Column('floating_port_id', sa.String(length=36), nullable=False),
    sa.Column('floating_ip_address', sa.String(length=64), nullable=False),
    sa.Column('fixed_port_id', sa.String(length=36), nullable=True),
    sa.Column('fixed_ip_address', sa.String(length=64), nullable=True),
    sa.Column('router_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['fixed_port_id'], ['ports.id'], ),
    sa.ForeignKeyConstraint(['floating_network_id'], ['networks.id'], ),
    sa.ForeignKeyConstraint(['floating_port_id'], ['ports.id'], ),
    sa.ForeignKeyConstraint(['router_id'], ['routers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('floating_network_id', 'fixed_port_id', 'fixed_ip_address',
                        name='uniq_floatingips_fixed'),
    sa.UniqueConstraint('floating_port_id')
    )
    with op.batch_alter_table('floatingips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_floatingips_project_id'), ['project_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_floatingips_floating_network_id'),
                              ['floating_network_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_floatingips_fixed_port_id'), ['fixed_port_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_floatingips_router_id'), ['router_id'],
                              unique=False)
    for table in TAGGED:
        tag_cascade.add(table)


def downgrade() -> None:
    for table in TAGGED:
        tag_cascade.drop(table)
    op.drop_table('floatingips')
    op.drop_table('routers')
