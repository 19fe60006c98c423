"""auto-allocated-topology: networks' is_default and each project's topology

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 02:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch would rebuild the table on SQLite and lose its tags
    # trigger (neutrino.db.tag_cascade).
    op.add_column('networks', sa.Column('is_default', sa.Boolean(), nullable=False,
                                        server_default=sa.false()))
    # At most one default external network: a partial unique index settles races.
    op.create_index('uniq_networks_default', 'networks', ['is_default'], unique=True,
                    sqlite_where=sa.text('is_default'), postgresql_where=sa.text('is_default'))
    op.create_table('auto_allocated_topologies',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=False),
    sa.Column('router_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['router_id'], ['routers.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('project_id')
    )
    op.create_index(op.f('ix_auto_allocated_topologies_network_id'),
                    'auto_allocated_topologies', ['network_id'], unique=False)
    op.create_index(op.f('ix_auto_allocated_topologies_router_id'),
                    'auto_allocated_topologies', ['router_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_auto_allocated_topologies_router_id'),
                  table_name='auto_allocated_topologies')
    op.drop_index(op.f('ix_auto_allocated_topologies_network_id'),
                  table_name='auto_allocated_topologies')
    op.drop_table('auto_allocated_topologies')
    op.drop_index('uniq_networks_default', table_name='networks')
    op.drop_column('networks', 'is_default')
