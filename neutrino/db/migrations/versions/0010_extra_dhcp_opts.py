"""extra DHCP options of ports

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 20:50:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('extra_dhcp_opts',
    sa.Column('port_id', sa.String(length=36), nullable=False),
    sa.Column('opt_name', sa.String(length=64), nullable=False),
    sa.Column('ip_version', sa.Integer(), nullable=False),
    sa.Column('opt_value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['port_id'], ['ports.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('port_id', 'opt_name', 'ip_version')
    )


def downgrade() -> None:
    op.drop_table('extra_dhcp_opts')
