"""floating IPs' DNS name and domain (dns-integration)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 02:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN: a batch operation would copy the table on SQLite and
    # lose its tag trigger (neutrino.db.tag_cascade).  Existing floating IPs have no name.
    for column in ('dns_name', 'dns_domain'):
        op.add_column('floatingips', sa.Column(column, sa.String(length=255), nullable=False,
                                               server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('floatingips') as batch_op:
        batch_op.drop_column('dns_domain')
        batch_op.drop_column('dns_name')
