"""DNS names of ports and DNS domains of networks and ports (dns-integration,
dns-domain-ports)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 23:50:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows have no name and no domain: the server default fills them in.
    with op.batch_alter_table('networks') as batch:
        batch.add_column(sa.Column('dns_domain', sa.String(length=255), nullable=False,
                                   server_default=''))
    with op.batch_alter_table('ports') as batch:
        batch.add_column(sa.Column('dns_name', sa.String(length=255), nullable=False,
                                   server_default=''))
        batch.add_column(sa.Column('dns_domain', sa.String(length=255), nullable=False,
                                   server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('ports') as batch:
        batch.drop_column('dns_domain')
        batch.drop_column('dns_name')
    with op.batch_alter_table('networks') as batch:
        batch.drop_column('dns_domain')
